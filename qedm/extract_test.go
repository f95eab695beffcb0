package qedm

import (
	"encoding/json"
	"testing"

	carnet "github.com/carnet-sante/carnet"
	"github.com/carnet-sante/carnet/synth"
)

// obsView is what a reader of a served Observation sees of one result.
type obsView struct {
	ResourceType string `json:"resourceType"`
	ID           string `json:"id"`
	Subject      struct {
		Reference string `json:"reference"`
	} `json:"subject"`
	Status   string `json:"status"`
	Category []struct {
		Coding []struct{ System, Code string } `json:"coding"`
	} `json:"category"`
	Code struct {
		Coding []struct{ System, Code, Display string } `json:"coding"`
	} `json:"code"`
	ValueQuantity *struct {
		Value  json.Number `json:"value"`
		Unit   string      `json:"unit"`
		System string      `json:"system"`
		Code   string      `json:"code"`
	} `json:"valueQuantity"`
	Interpretation []struct {
		Coding []struct{ System, Code string } `json:"coding"`
	} `json:"interpretation"`
	ReferenceRange []struct {
		Low  *struct{ Value json.Number } `json:"low"`
		High *struct{ Value json.Number } `json:"high"`
	} `json:"referenceRange"`
	EffectiveDateTime string `json:"effectiveDateTime"`
}

func extract(t *testing.T, contentType string, content []byte) carnet.Extraction {
	t.Helper()
	x, ok, err := extractor(t).Extract(contentType, content)
	if err != nil {
		t.Fatalf("Extract: %v", err)
	}
	if !ok {
		t.Fatal("Extract: ok=false for a CDA document")
	}
	return x
}

func serveAs[T any](t *testing.T, it carnet.Item) T {
	t.Helper()
	b, err := Serve(it, "https://carnet.example/fhir")
	if err != nil {
		t.Fatalf("Serve: %v", err)
	}
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("served JSON does not parse: %v\n%s", err, b)
	}
	return v
}

func synthDataset(t *testing.T) synth.Dataset {
	t.Helper()
	ds := synth.Generate(synth.Options{Seed: 1, Patients: 12})
	if len(ds.Documents) == 0 {
		t.Fatal("synth generated no documents")
	}
	return ds
}

// TestSynthLabObservations: every result of every N3 lab report becomes
// one Observation with the code, value, unit and interpretation written
// in the document, and the right abnormal flag.
func TestSynthLabObservations(t *testing.T) {
	ds := synthDataset(t)
	labs := 0
	for i, sd := range ds.Documents {
		if sd.Kind != synth.KindLabN3 {
			continue
		}
		labs++
		x := extract(t, "text/xml", sd.Content)
		var obs []carnet.Item
		for _, it := range x.Items {
			if it.Kind == carnet.ItemObservation {
				obs = append(obs, it)
			}
		}
		if len(obs) != len(sd.Results) {
			t.Fatalf("document %d: %d observations, want %d", i, len(obs), len(sd.Results))
		}
		for j, it := range obs {
			w := sd.Results[j]
			it.ID, it.Patient, it.SourceID = "obs-1", "pat-1", "doc-1"
			if it.Code != (carnet.Coding{System: SystemLOINC, Code: w.LOINC, Display: w.Display}) {
				t.Errorf("document %d result %d: item code %+v, want LOINC %s", i, j, it.Code, w.LOINC)
			}
			if it.Category != "laboratory" {
				t.Errorf("document %d result %d: category %q, want laboratory", i, j, it.Category)
			}
			wantAbnormal := w.Interpretation != "" && w.Interpretation != "N"
			if it.Abnormal != wantAbnormal {
				t.Errorf("document %d result %d: abnormal %v for interpretation %q", i, j, it.Abnormal, w.Interpretation)
			}
			if it.Effective.IsZero() {
				t.Errorf("document %d result %d: no effective time", i, j)
			}
			o := serveAs[obsView](t, it)
			if o.ResourceType != "Observation" || o.ID != "obs-1" || o.Subject.Reference != "Patient/pat-1" || o.Status != "final" {
				t.Errorf("document %d result %d: served header %q %q %q %q", i, j, o.ResourceType, o.ID, o.Subject.Reference, o.Status)
			}
			if len(o.Category) != 1 || len(o.Category[0].Coding) != 1 || o.Category[0].Coding[0].System != SystemObservationCategory || o.Category[0].Coding[0].Code != "laboratory" {
				t.Errorf("document %d result %d: category %+v", i, j, o.Category)
			}
			if len(o.Code.Coding) != 1 || o.Code.Coding[0].Code != w.LOINC || o.Code.Coding[0].System != SystemLOINC {
				t.Errorf("document %d result %d: code %+v, want %s", i, j, o.Code, w.LOINC)
			}
			if o.ValueQuantity == nil {
				t.Fatalf("document %d result %d: no valueQuantity", i, j)
			}
			if o.ValueQuantity.Value.String() != w.Value || o.ValueQuantity.Unit != w.Unit || o.ValueQuantity.Code != w.Unit || o.ValueQuantity.System != SystemUCUM {
				t.Errorf("document %d result %d: value %+v, want %s %s", i, j, *o.ValueQuantity, w.Value, w.Unit)
			}
			gotInterp := ""
			if len(o.Interpretation) == 1 && len(o.Interpretation[0].Coding) == 1 {
				c := o.Interpretation[0].Coding[0]
				gotInterp = c.Code
				if c.System != SystemInterpretation {
					t.Errorf("document %d result %d: interpretation system %q", i, j, c.System)
				}
			}
			if gotInterp != w.Interpretation {
				t.Errorf("document %d result %d: interpretation %q, want %q", i, j, gotInterp, w.Interpretation)
			}
			if w.Low != "" || w.High != "" {
				if len(o.ReferenceRange) != 1 {
					t.Fatalf("document %d result %d: %d reference ranges", i, j, len(o.ReferenceRange))
				}
				rr := o.ReferenceRange[0]
				if (w.Low != "") != (rr.Low != nil) || (rr.Low != nil && rr.Low.Value.String() != w.Low) ||
					(w.High != "") != (rr.High != nil) || (rr.High != nil && rr.High.Value.String() != w.High) {
					t.Errorf("document %d result %d: range %+v, want %s-%s", i, j, rr, w.Low, w.High)
				}
			}
		}
	}
	if labs == 0 {
		t.Fatal("no N3 lab report in the synthetic dataset")
	}
}

// TestSynthDerivedMeta: the header gives back the generator's metadata on
// what the consistency check and ITI-106 rely on.
func TestSynthDerivedMeta(t *testing.T) {
	ds := synthDataset(t)
	for i, sd := range ds.Documents {
		x := extract(t, "text/xml", sd.Content)
		if x.Patient != ds.Patients[sd.Patient].INS {
			t.Errorf("document %d: patient %v, want %v", i, x.Patient, ds.Patients[sd.Patient].INS)
		}
		if x.Derived.Type != sd.Meta.Type {
			t.Errorf("document %d: type %v, want %v", i, x.Derived.Type, sd.Meta.Type)
		}
		if x.Derived.Format.Code != sd.Meta.Format.Code {
			t.Errorf("document %d: format %v, want %v", i, x.Derived.Format, sd.Meta.Format)
		}
		if got, want := rpps(x.Derived.Authors), rpps(sd.Meta.Authors); len(want) == 0 || !equalStrings(got, want) {
			t.Errorf("document %d: author RPPS %v, want %v", i, got, want)
		}
		if !x.Derived.Created.Equal(sd.Meta.Created) || x.Derived.Title != sd.Meta.Title {
			t.Errorf("document %d: created %v %q, want %v %q", i, x.Derived.Created, x.Derived.Title, sd.Meta.Created, sd.Meta.Title)
		}
		if x.Text == "" {
			t.Errorf("document %d: no search text", i)
		}
		if issues := CheckConsistency(sd.Meta, ds.Patients[sd.Patient].INS, x, "DocumentReference"); len(issues) != 0 {
			t.Errorf("document %d: issues for its own metadata: %+v", i, issues)
		}
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestExtractSkipsOtherContent(t *testing.T) {
	ds := synthDataset(t)
	cdaBytes := ds.Documents[0].Content
	tests := []struct {
		name, contentType string
		content           []byte
		wantOK            bool
		wantErr           carnet.Kind
	}{
		{"pdf", "application/pdf", []byte("%PDF-1.4 ClinicalDocument"), false, 0},
		{"CDA declared as PDF is not read", "application/pdf", cdaBytes, false, 0},
		{"xml that is not CDA", "text/xml", []byte(`<?xml version="1.0"?><Bundle xmlns="http://hl7.org/fhir"/>`), false, 0},
		{"CDA without type, sniffed", "", cdaBytes, true, 0},
		{"CDA as octet-stream, sniffed", "application/octet-stream", cdaBytes, true, 0},
		{"CDA with charset parameter", "text/xml; charset=UTF-8", cdaBytes, true, 0},
		{"text without type", "", []byte("hello"), false, 0},
		{"broken CDA", "text/xml", []byte(`<ClinicalDocument xmlns="urn:hl7-org:v3"><id root="1.2"/>`), false, carnet.KindInvalid},
		{"DOCTYPE", "text/xml", []byte(`<!DOCTYPE x [<!ENTITY a "b">]><ClinicalDocument xmlns="urn:hl7-org:v3"/>`), false, carnet.KindInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, ok, err := Extractor{}.Extract(tt.contentType, tt.content)
			if ok != tt.wantOK {
				t.Errorf("ok = %v, want %v", ok, tt.wantOK)
			}
			switch {
			case tt.wantErr == 0 && err != nil:
				t.Errorf("error %v, want none", err)
			case tt.wantErr != 0 && !carnet.IsKind(err, tt.wantErr):
				t.Errorf("error %v, want kind %v", err, tt.wantErr)
			}
		})
	}
	_, _, err := Extractor{Limits: cdaLimits(1000)}.Extract("text/xml", cdaBytes)
	if !carnet.IsKind(err, carnet.KindTooLarge) {
		t.Errorf("over the size limit: %v, want too-large", err)
	}
}
