package cda

import (
	"testing"

	"github.com/carnet-sante/carnet/synth"
)

// TestSynthDocuments: every generated document is read back to the
// metadata the generator says its header carries, and N3 lab reports give
// back exactly the results written into them.
func TestSynthDocuments(t *testing.T) {
	ds := synth.Generate(synth.Options{Seed: 1})
	if len(ds.Documents) == 0 {
		t.Fatal("synth generated no documents")
	}
	ft := formatTable(t)
	labs := 0
	for i, sd := range ds.Documents {
		d, err := Parse(sd.Content, Limits{})
		if err != nil {
			t.Fatalf("document %d (%s): %v", i, sd.Kind, err)
		}
		m, want := d.Metadata(), sd.Meta
		if m.Type != want.Type {
			t.Errorf("document %d (%s): type %v, want %v", i, sd.Kind, m.Type, want.Type)
		}
		if f := ft.Match(d); f.Code.Code != want.Format.Code || f.Code.System != want.Format.System {
			t.Errorf("document %d (%s): format %v (%s), want %v", i, sd.Kind, f.Code, f.Reason, want.Format)
		}
		if m.SourcePatientID != ds.Patients[sd.Patient].INS {
			t.Errorf("document %d: patient %v, want %v", i, m.SourcePatientID, ds.Patients[sd.Patient].INS)
		}
		if len(m.Authors) != len(want.Authors) {
			t.Fatalf("document %d: %d authors, want %d", i, len(m.Authors), len(want.Authors))
		}
		for j, a := range m.Authors {
			w := want.Authors[j]
			if a.ID != w.ID || a.Family != w.Family || a.Profession.Code != w.Profession.Code || a.Specialty.Code != w.Specialty.Code || a.OrgID != w.OrgID {
				t.Errorf("document %d author %d = %+v, want %+v", i, j, a, w)
			}
		}
		if !m.Created.Equal(want.Created) || m.Title != want.Title {
			t.Errorf("document %d: created %v title %q, want %v %q", i, m.Created, m.Title, want.Created, want.Title)
		}
		if m.Facility != want.Facility || m.PracticeSetting.Code != want.PracticeSetting.Code {
			t.Errorf("document %d: facility %v setting %v, want %v %v", i, m.Facility, m.PracticeSetting, want.Facility, want.PracticeSetting)
		}
		if !m.ServicePeriod.Start.Equal(want.ServicePeriod.Start) || !m.ServicePeriod.End.Equal(want.ServicePeriod.End) {
			t.Errorf("document %d: service period %v, want %v", i, m.ServicePeriod, want.ServicePeriod)
		}
		if sd.Kind != synth.KindLabN3 {
			continue
		}
		labs++
		if len(d.LabResults) != len(sd.Results) {
			t.Fatalf("document %d: %d results, want %d", i, len(d.LabResults), len(sd.Results))
		}
		for j, r := range d.LabResults {
			w := sd.Results[j]
			got := synth.LabResult{LOINC: r.Code.Code, Display: r.Code.Display, Interpretation: r.Interpretation}
			if r.Quantity != nil {
				got.Value, got.Unit = r.Quantity.Value, r.Quantity.Unit
			}
			if r.RangeLow != nil {
				got.Low = r.RangeLow.Value
			}
			if r.RangeHigh != nil {
				got.High = r.RangeHigh.Value
			}
			if got != w {
				t.Errorf("document %d result %d = %+v, want %+v", i, j, got, w)
			}
		}
	}
	if labs == 0 {
		t.Error("no N3 lab report among the synthetic documents")
	}
}
