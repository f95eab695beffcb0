package qedm

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/carnet-sante/carnet/internal/cputime"
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

// BenchmarkExtractANS: the ANS examples whose entries are histories,
// dispensations and simple observations (reimbursement history,
// dispensation, certificate, discharge letter, IPS), one sub-benchmark
// each, with the process CPU time per document (cpu-µs/doc): the machine
// is shared, wall time alone says little.
func BenchmarkExtractANS(b *testing.B) {
	dir := corpusDir(b)
	for _, name := range []string{"CNAM-HR_2021.01.xml", "eDISP-MED_2024.01.xml", "CSE-CS8_2024.01.xml", "LDL-SES_2022.01.xml", "IPS-FR_2024.01.xml"} {
		content, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			b.Fatal(err)
		}
		b.Run(strings.TrimSuffix(name, ".xml"), func(b *testing.B) {
			b.SetBytes(int64(len(content)))
			cpu0 := cputime.Process()
			for range b.N {
				if _, ok, err := (Extractor{}).Extract("text/xml", content); err != nil || !ok {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64((cputime.Process()-cpu0).Microseconds())/float64(b.N), "cpu-µs/doc")
		})
	}
}
