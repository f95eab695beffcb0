package qedm

import (
	"strings"
	"testing"

	"github.com/carnet-sante/carnet/synth"
)

// Extraction.Text carries what a reader would search for: the narrative of
// structured documents and the text of an N1 document's PDF.
func TestExtractionText(t *testing.T) {
	ds := synth.Generate(synth.Options{Seed: 3, Patients: 4, DocsPerPatient: 20})
	var sawN1, sawN3 bool
	for _, d := range ds.Documents {
		x, ok, err := Extractor{}.Extract("text/xml", d.Content)
		if err != nil || !ok {
			t.Fatalf("%s: %v", d.UniqueID, err)
		}
		switch d.Kind {
		case synth.KindLabN1, synth.KindImaging, synth.KindConsultation:
			if len(strings.Fields(x.Text)) > len(strings.Fields(d.Meta.Title))+5 {
				sawN1 = true
			}
		case synth.KindLabN3:
			if len(d.Results) > 0 && strings.Contains(x.Text, d.Results[0].Display) {
				sawN3 = true
			}
		}
	}
	if !sawN1 {
		t.Error("no N1 document gave the text of its PDF")
	}
	if !sawN3 {
		t.Error("no N3 lab report gave its results' names in its text")
	}
}
