package qedm

import (
	"testing"

	"github.com/carnet-sante/carnet/synth"
)

// BenchmarkExtract: reading one realistic (20–50 KB) document at filing
// time, by kind: what ITI-65 pays per document for header checks and items.
func BenchmarkExtract(b *testing.B) {
	ds := synth.Generate(synth.Options{Seed: 5, Patients: 10, DocsPerPatient: 20, LargeDocs: true})
	byKind := map[synth.Kind]synth.Document{}
	for _, d := range ds.Documents {
		if _, ok := byKind[d.Kind]; !ok {
			byKind[d.Kind] = d
		}
	}
	for _, k := range []synth.Kind{synth.KindLabN3, synth.KindLabN1, synth.KindPrescription, synth.KindDischarge} {
		d, ok := byKind[k]
		if !ok {
			continue
		}
		b.Run(string(k), func(b *testing.B) {
			b.SetBytes(int64(len(d.Content)))
			for range b.N {
				if _, ok, err := (Extractor{}).Extract("text/xml", d.Content); err != nil || !ok {
					b.Fatal(err)
				}
			}
		})
	}
}
