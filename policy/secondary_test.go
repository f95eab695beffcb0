package policy

import (
	"testing"

	carnet "github.com/carnet-sante/carnet"
)

func TestSecondaryUse(t *testing.T) {
	doc := func(status carnet.DocumentStatus, latest bool, labels ...string) *carnet.DocumentRow {
		d := &carnet.DocumentRow{LogicalID: "d1", Status: status, Latest: latest}
		for _, l := range labels {
			d.Tokens = append(d.Tokens, carnet.Token{Kind: carnet.TokLabel, Value: l})
		}
		return d
	}
	open := carnet.AccessSettings{}
	restricted := carnet.AccessSettings{Restricted: []string{"d1"}}
	for _, tc := range []struct {
		name string
		s    carnet.AccessSettings
		d    *carnet.DocumentRow
		want bool
	}{
		{"current, normal", open, doc(carnet.StatusCurrent, true, "N"), true},
		{"masked to professionals", open, doc(carnet.StatusCurrent, true, carnet.LabelMasquePS), false},
		{"invisible to the patient", open, doc(carnet.StatusCurrent, true, carnet.LabelInvisiblePatient), false},
		{"invisible to legal representatives", open, doc(carnet.StatusCurrent, true, carnet.LabelInvisibleLegalRep), false},
		{"restricted", restricted, doc(carnet.StatusCurrent, true), false},
		{"archived", open, doc(carnet.StatusArchived, true), false},
		{"deleted", open, doc(carnet.StatusDeleted, true), false},
		{"superseded", open, doc(carnet.StatusSuperseded, true), false},
		{"older metadata version", open, doc(carnet.StatusCurrent, false), false},
	} {
		if got, _ := SecondaryDocument(tc.s, tc.d); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
	for _, tc := range []struct {
		name  string
		state carnet.RecordState
		s     carnet.AccessSettings
		want  bool
	}{
		{"open", carnet.RecordOpen, open, true},
		{"opted out", carnet.RecordOpen, carnet.AccessSettings{OptOutSecondary: true}, false},
		{"closed", carnet.RecordClosed, open, false},
	} {
		if got, _ := SecondaryRecord(tc.state, tc.s); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}
