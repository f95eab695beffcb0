package policy

import (
	"slices"

	carnet "github.com/carnet-sante/carnet"
)

// Secondary use (docs/SECONDARY.md) is not a person's access: no actor of
// the access matrix reads the record. What may leave under a data permit
// is decided here all the same, as a pure function, so that the rules
// stay in one package.

// SecondaryRecord reports whether a record's data may be used under a
// data permit at all: not when the patient opted out, nor when the record
// is closed.
func SecondaryRecord(state carnet.RecordState, s carnet.AccessSettings) (bool, string) {
	switch {
	case state == carnet.RecordClosed:
		return false, "record closed"
	case s.OptOutSecondary:
		return false, "the patient opted out of secondary use"
	}
	return true, ""
}

// secondaryHidden are the labels that keep a document out of secondary
// use: masked to professionals, invisible to the patient or to the legal
// representatives.
var secondaryHidden = []string{carnet.LabelMasquePS, carnet.LabelInvisiblePatient, carnet.LabelInvisibleLegalRep}

// SecondaryDocument reports whether a document (its clear row) may leave
// under a permit: current, without a hiding label, not restricted by the
// patient. Its extracted items follow it.
func SecondaryDocument(s carnet.AccessSettings, d *carnet.DocumentRow) (bool, string) {
	if d.Status != carnet.StatusCurrent || !d.Latest {
		return false, "not a current document"
	}
	for _, t := range d.Tokens {
		if t.Kind == carnet.TokLabel && slices.Contains(secondaryHidden, t.Value) {
			return false, "label " + t.Value
		}
	}
	if slices.Contains(s.Restricted, d.LogicalID) {
		return false, "restricted by the patient"
	}
	return true, ""
}
