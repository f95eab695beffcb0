package policy

import (
	"slices"
	"strings"

	"github.com/carnet-sante/carnet"
)

// Visibility implements carnet.VisibilityCompiler: for a record-level read
// or search (req.Document nil), the condition on a document row under which
// Decide would permit req on that document. It applies the rules of
// evaluate in the same order (docs/ACCESS.md), with what depends on the
// request alone (actor, mode, blocked, closed, relationship, designation)
// decided now, and what depends on the document (status, restriction,
// authorship, type through the matrix, labels) left as a condition on its
// clear fields. TestVisibilityAgrees holds the two to the same answer on
// every generated case; the Service still decides every row it serves.
//
// ok is false for requests it does not compile (anything but a read or
// search of documents without a change or filing): callers then decide
// every row.
func (e *Engine) Visibility(req carnet.AccessRequest) (carnet.Cond, bool) {
	if req.Document != nil || req.Change != nil || req.Filing != nil {
		return carnet.Cond{}, false
	}
	switch req.Action {
	case carnet.ActionRead, carnet.ActionSearch:
	default:
		return carnet.Cond{}, false
	}
	in := Input{Request: req, Settings: req.Settings, Relation: req.Relation}
	mode := req.Mode
	if mode == "" {
		mode = carnet.ModeNormal
	}
	switch mode {
	case carnet.ModeNormal, carnet.ModeBreakGlass, carnet.ModeCentre15:
	default:
		return carnet.False(), true
	}
	closed := in.Settings.Closed || (req.Patient != nil && req.Patient.State == carnet.RecordClosed)
	switch req.Actor.Kind {
	case carnet.ActorProfessional:
		return e.professionalVisibility(in, mode, closed), true
	case carnet.ActorPatient:
		if mode != carnet.ModeNormal {
			return carnet.False(), true
		}
		return patientVisibility(in), true
	}
	// Systems do not read records; unknown actors nothing.
	return carnet.False(), true
}

var notDeleted = carnet.Not(carnet.StatusIn(carnet.StatusDeleted))

func (e *Engine) professionalVisibility(in Input, mode carnet.Mode, closed bool) carnet.Cond {
	req, s := in.Request, &in.Settings
	id := req.Actor.ID.Value
	switch {
	case id == "", has(s.Blocked, id), closed:
		return carnet.False()
	}
	emergency := mode != carnet.ModeNormal
	switch mode {
	case carnet.ModeBreakGlass:
		if strings.TrimSpace(req.Reason) == "" || s.RefuseBTG {
			return carnet.False()
		}
	case carnet.ModeCentre15:
		if !req.Actor.Centre15 || s.RefuseCentre15 {
			return carnet.False()
		}
	}
	// Deleted and restricted documents: denied to everyone, author
	// included. Then the author reads their own.
	base := carnet.All(notDeleted, carnet.Not(carnet.LogicalIDIn(s.Restricted...)))
	author := carnet.Has(carnet.TokAuthor, id)
	related := has(s.CareTeam, id) || has(s.Consented, id) || mode == carnet.ModeBreakGlass || mode == carnet.ModeCentre15
	if !related || (req.Actor.Profession == "" && req.Actor.Specialty == "") || e.Matrix == nil {
		return carnet.All(base, author)
	}
	masked := carnet.True()
	if !has(s.Designated, id) && !(emergency && s.MaskedInEmergency) {
		masked = carnet.Not(carnet.HasCode(carnet.TokLabel, carnet.LabelMasquePS))
	}
	return carnet.All(base, carnet.Any(author, carnet.All(e.Matrix.allows(req.Actor.Profession, req.Actor.Specialty), masked)))
}

// allows is the condition on a document's type tokens under which Lookup
// (and DenyByDefault) let a professional of profession and specialty read
// it: the specialty's rules first, then the profession's, a deny winning
// among the type values of one level.
func (m *Matrix) allows(profession, specialty string) carnet.Cond {
	levels := []string{specialty, profession}
	// The fallback when no level has a rule for the document's types.
	c := carnet.True()
	if m.DenyByDefault {
		c = carnet.False()
	}
	// From the last level to the first: a level with a matching rule
	// decides, otherwise the next one (already built into c) does.
	for i := len(levels) - 1; i >= 0; i-- {
		p := levels[i]
		if p == "" {
			continue
		}
		var deny, allow []string
		for k, j := range m.index {
			if k.profession != p {
				continue
			}
			if m.Rules[j].Effect == Deny {
				deny = append(deny, k.document)
			} else {
				allow = append(allow, k.document)
			}
		}
		slices.Sort(deny)
		slices.Sort(allow)
		c = carnet.All(carnet.Not(carnet.Has(carnet.TokType, deny...)),
			carnet.Any(carnet.Has(carnet.TokType, allow...), c))
	}
	return c
}

func patientVisibility(in Input) carnet.Cond {
	switch in.Relation {
	case RelationSelf, RelationLegalRep:
	default:
		return carnet.False()
	}
	c := carnet.All(notDeleted, carnet.Not(carnet.HasCode(carnet.TokLabel, carnet.LabelInvisiblePatient)))
	if in.Relation == RelationLegalRep {
		c = carnet.All(c, carnet.Not(carnet.HasCode(carnet.TokLabel, carnet.LabelInvisibleLegalRep)))
	}
	return c
}
