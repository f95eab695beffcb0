package qedm

import (
	"strings"
	"testing"

	carnet "github.com/carnet-sante/carnet"
	"github.com/carnet-sante/carnet/synth"
)

// TestConsistencyContradictions: each contradiction between the declared
// metadata and the CDA header gives one precise issue naming both values.
func TestConsistencyContradictions(t *testing.T) {
	ds := synthDataset(t)
	var sd synth.Document
	for _, d := range ds.Documents {
		if d.Kind == synth.KindLabN3 {
			sd = d
			break
		}
	}
	x := extract(t, "text/xml", sd.Content)
	ins := ds.Patients[sd.Patient].INS
	other := ds.Patients[(sd.Patient+1)%len(ds.Patients)].INS
	headerRPPS := sd.Meta.Authors[0].ID.Value

	tests := []struct {
		name    string
		edit    func(m *carnet.DocumentMeta, p *carnet.Identifier)
		expr    string
		mention []string
	}{
		{"other patient", func(m *carnet.DocumentMeta, p *carnet.Identifier) { *p = other }, "DocumentReference.subject",
			[]string{ins.Value[len(ins.Value)-4:], other.Value[len(other.Value)-4:]}},
		{"other type", func(m *carnet.DocumentMeta, p *carnet.Identifier) {
			m.Type = carnet.Coding{System: "http://loinc.org", Code: "11488-4"}
		}, "DocumentReference.type", []string{"11502-2", "11488-4"}},
		{"other author", func(m *carnet.DocumentMeta, p *carnet.Identifier) {
			m.Authors = []carnet.Author{{ID: carnet.Identifier{System: "urn:oid:" + carnet.OIDRPPS, Value: "810000000009"}}}
		}, "DocumentReference.author", []string{headerRPPS, "810000000009"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, p := sd.Meta, ins
			tt.edit(&m, &p)
			issues := CheckConsistency(m, p, x, "DocumentReference")
			if len(issues) != 1 {
				t.Fatalf("got %d issues, want 1: %+v", len(issues), issues)
			}
			is := issues[0]
			if is.Expression != tt.expr || is.Severity != "error" || is.Code != "business-rule" {
				t.Errorf("issue %+v, want expression %s, error, business-rule", is, tt.expr)
			}
			for _, s := range tt.mention {
				if !strings.Contains(is.Diagnostics, s) {
					t.Errorf("diagnostics %q do not name %q", is.Diagnostics, s)
				}
			}
			if tt.name == "other patient" && (strings.Contains(is.Diagnostics, ins.Value) || strings.Contains(is.Diagnostics, other.Value)) {
				t.Errorf("diagnostics %q carry a whole INS", is.Diagnostics)
			}
		})
	}
	if !strings.Contains(CheckConsistency(carnet.DocumentMeta{Type: carnet.Coding{Code: "11488-4"}}, ins, x, "p")[0].Diagnostics, "CR d'examens biologiques") {
		t.Error("the type diagnostic does not show the header's display name")
	}
}

func TestConsistencyMissingIsNotContradiction(t *testing.T) {
	ds := synthDataset(t)
	sd := ds.Documents[0]
	x := extract(t, "text/xml", sd.Content)
	tests := []struct {
		name    string
		meta    carnet.DocumentMeta
		patient carnet.Identifier
		x       carnet.Extraction
	}{
		{"nothing declared", carnet.DocumentMeta{}, carnet.Identifier{}, x},
		{"nothing in the header", sd.Meta, ds.Patients[sd.Patient].INS, carnet.Extraction{}},
		{"INS in another system (NIA)", sd.Meta, carnet.Identifier{System: "urn:oid:" + carnet.OIDInsTestNIA, Value: "1234567890123"}, x},
		{"bare OID system", sd.Meta, carnet.Identifier{System: carnet.OIDInsTestNIR, Value: ds.Patients[sd.Patient].INS.Value}, x},
		{"one shared author among several", func() carnet.DocumentMeta {
			m := sd.Meta
			m.Authors = append([]carnet.Author{{ID: carnet.Identifier{System: "urn:oid:" + carnet.OIDRPPS, Value: "810000000009"}}}, m.Authors...)
			return m
		}(), ds.Patients[sd.Patient].INS, x},
		{"declared author without RPPS", func() carnet.DocumentMeta {
			m := sd.Meta
			m.Authors = []carnet.Author{{Family: "X"}}
			return m
		}(), ds.Patients[sd.Patient].INS, x},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if issues := CheckConsistency(tt.meta, tt.patient, tt.x, "DocumentReference"); len(issues) != 0 {
				t.Errorf("issues %+v, want none", issues)
			}
		})
	}
}
