package record

import (
	"context"
	"encoding/json"
	"fmt"

	carnet "github.com/carnet-sante/carnet"
)

func (s *Service) identityToken(id carnet.Identifier) (string, error) {
	return s.Sealer.IdentityToken("ins", carnet.NormalizeIdentifier(id.System)+"|"+id.Value)
}

// checkINS validates an identifier used to file or find a record.
func (s *Service) checkINS(id carnet.Identifier, path string) []carnet.Issue {
	ins, test := id.IsINS()
	switch {
	case id.Value == "":
		return []carnet.Issue{{Severity: "error", Code: "required", Diagnostics: "the patient must be identified by an INS (system urn:oid:1.2.250.1.213.1.4.8 or .9)", Expression: path}}
	case !ins:
		return []carnet.Issue{{Severity: "error", Code: "value", Diagnostics: fmt.Sprintf("the patient identifier system %q is not an INS (urn:oid:1.2.250.1.213.1.4.8 or .9)", id.System), Expression: path}}
	case test && !s.AllowTestINS:
		return []carnet.Issue{{Severity: "error", Code: "business-rule", Diagnostics: "a test INS (OID 1.2.250.1.213.1.4.10 or .11) is accepted only in demo or test mode", Expression: path}}
	case !validINSValue(id.Value):
		return []carnet.Issue{{Severity: "error", Code: "value", Diagnostics: "the INS value must be 15 characters: 13 digits (or 2A/2B for Corsica) and a 2-digit key", Expression: path}}
	}
	return nil
}

func validINSValue(v string) bool {
	if len(v) != 15 {
		return false
	}
	for i, r := range v {
		if (r >= '0' && r <= '9') || (i == 6 && (r == 'A' || r == 'B')) {
			continue
		}
		return false
	}
	return true
}

// findPatient returns the record of an INS, or KindNotFound.
func (s *Service) findPatient(ctx context.Context, id carnet.Identifier) (carnet.PatientRow, error) {
	tok, err := s.identityToken(id)
	if err != nil {
		return carnet.PatientRow{}, err
	}
	return s.Store.PatientByToken(ctx, tok)
}

// resolvePatient finds the record a search names, by key or by INS.
func (s *Service) resolvePatient(ctx context.Context, key carnet.PatientKey, id carnet.Identifier) (carnet.PatientRow, error) {
	if key != "" {
		return s.Store.Patient(ctx, key)
	}
	if id.Value == "" {
		return carnet.PatientRow{}, carnet.Invalid(carnet.Issue{Severity: "error", Code: "required", Diagnostics: "a search needs patient or patient.identifier", Expression: "patient"})
	}
	return s.findPatient(ctx, id)
}

func (s *Service) openPatient(ctx context.Context, row carnet.PatientRow) (carnet.Patient, error) {
	pt, err := s.Sealer.Open(ctx, row.Key, carnet.Binding{Kind: "patient", ID: string(row.Key), Version: row.Version}, row.Sealed)
	if err != nil {
		return carnet.Patient{}, err
	}
	var p carnet.Patient
	if err := json.Unmarshal(pt, &p); err != nil {
		return carnet.Patient{}, carnet.WrapError(carnet.KindInternal, "open patient", err)
	}
	p.Key, p.State, p.Version, p.Created, p.Updated = row.Key, row.State, row.Version, row.Created, row.Updated
	return p, nil
}

func (s *Service) sealPatient(ctx context.Context, p carnet.Patient) (carnet.PatientRow, error) {
	row := carnet.PatientRow{Key: p.Key, State: p.State, Version: p.Version, Created: p.Created, Updated: p.Updated}
	for _, id := range p.Identifiers {
		tok, err := s.identityToken(id)
		if err != nil {
			return row, err
		}
		row.IdentifierTokens = append(row.IdentifierTokens, tok)
	}
	pt, err := json.Marshal(p)
	if err != nil {
		return row, carnet.WrapError(carnet.KindInternal, "seal patient", err)
	}
	row.Sealed, err = s.Sealer.Seal(ctx, p.Key, carnet.Binding{Kind: "patient", ID: string(p.Key), Version: p.Version}, pt)
	return row, err
}

// Patient returns the record with key k.
func (s *Service) Patient(ctx context.Context, r carnet.Request, k carnet.PatientKey) (carnet.Patient, error) {
	row, err := s.Store.Patient(ctx, k)
	if err != nil {
		return carnet.Patient{}, s.recordAbsent(ctx, r, carnet.ActionRead, err)
	}
	a, err := s.access(ctx, r, &row)
	if err != nil {
		return carnet.Patient{}, err
	}
	if _, err := a.check(ctx, carnet.ActionRead, nil); err != nil {
		return carnet.Patient{}, err
	}
	return a.patient, a.served(ctx, carnet.ActionRead, nil)
}

// PatientByINS returns the record of an INS.
func (s *Service) PatientByINS(ctx context.Context, r carnet.Request, id carnet.Identifier) (carnet.Patient, error) {
	row, err := s.findPatient(ctx, id)
	if err != nil {
		return carnet.Patient{}, err
	}
	return s.Patient(ctx, r, row.Key)
}

// PutPatient creates or updates a record ahead of documents, from an
// identity feed (conditional update on the INS). It returns the record and
// whether it was created.
func (s *Service) PutPatient(ctx context.Context, r carnet.Request, id carnet.Identifier, ident carnet.Identity) (carnet.Patient, bool, error) {
	if issues := s.checkINS(id, "Patient.identifier"); len(issues) > 0 {
		return carnet.Patient{}, false, carnet.Invalid(issues...)
	}
	if r.Actor.Kind != carnet.ActorSystem {
		// Only identity-feed software creates or updates a record's
		// identity; anyone else is refused before the INS is looked up,
		// so that the answer says nothing of whether it has a record.
		ev := carnet.AuditEvent{Time: s.now(), RequestID: r.RequestID, Actor: r.Actor, Action: carnet.ActionUpdate, Mode: r.Mode,
			Outcome: carnet.OutcomeDenied, Detail: []string{"identity feed: software only"}}
		if err := s.Audit.Record(ctx, ev); err != nil {
			return carnet.Patient{}, false, carnet.WrapError(carnet.KindUnavailable, "audit", err)
		}
		return carnet.Patient{}, false, &carnet.Error{Kind: carnet.KindForbidden, Msg: "only identity-feed software creates or updates a patient's identity"}
	}
	for range 3 {
		now := s.now()
		row, err := s.findPatient(ctx, id)
		created := carnet.IsKind(err, carnet.KindNotFound)
		var p carnet.Patient
		switch {
		case created:
			p = carnet.Patient{Key: carnet.PatientKey(carnet.NewID()), Identifiers: []carnet.Identifier{id}, State: carnet.RecordOpen, Version: 1, Created: now, Updated: now}
		case err != nil:
			return carnet.Patient{}, false, err
		default:
			if p, err = s.openPatient(ctx, row); err != nil {
				return carnet.Patient{}, false, err
			}
			p.Version++
			p.Updated = now
		}
		p.Identity = ident
		act := carnet.ActionUpdate
		if created {
			act = carnet.ActionCreate
		}
		if created {
			row = carnet.PatientRow{Key: p.Key, State: carnet.RecordOpen}
		}
		a, err := s.access(ctx, r, &row)
		if err != nil {
			return carnet.Patient{}, false, err
		}
		if _, err := a.check(ctx, act, nil); err != nil {
			return carnet.Patient{}, false, err
		}
		newRow, err := s.sealPatient(ctx, p)
		if err != nil {
			return carnet.Patient{}, false, err
		}
		err = s.Store.Update(ctx, func(tx carnet.Tx) error { return tx.PutPatient(ctx, newRow) })
		if carnet.IsKind(err, carnet.KindConflict) {
			continue // a concurrent feed or first document won; read again
		}
		if err != nil {
			return carnet.Patient{}, false, err
		}
		return p, created, s.audit(ctx, r, act, p.Key, nil)
	}
	return carnet.Patient{}, false, carnet.Errorf(carnet.KindConflict, "the patient record changed concurrently; retry")
}
