package record

import (
	"context"

	carnet "github.com/carnet-sante/carnet"
)

// AuditHistory returns who accessed a record, newest first: for the
// patient, a legal representative, and auditors (systems whose token grants
// AuditEvent; the transport checks the scope). f.Actors holds identifiers
// "system|value" of actors, blind-indexed here. Reading the history is
// itself audited.
func (s *Service) AuditHistory(ctx context.Context, r carnet.Request, id carnet.Identifier, f carnet.AuditFilter, actors []carnet.Identifier) ([]carnet.AuditEntry, error) {
	a, err := s.ownRecord(ctx, r, id)
	if err != nil {
		return nil, err
	}
	if r.Actor.Kind != carnet.ActorSystem {
		if err := a.patientSide(ctx, carnet.ActionRead); err != nil {
			return nil, err
		}
	}
	for _, act := range actors {
		tok, err := carnet.AuditActorToken(ctx, s.Sealer, a.row.Key, act)
		if err != nil {
			return nil, err
		}
		f.Actors = append(f.Actors, tok)
	}
	rows, err := s.Store.FindAudit(ctx, a.row.Key, f)
	if err != nil {
		return nil, err
	}
	out := make([]carnet.AuditEntry, 0, len(rows))
	for _, row := range rows {
		e := carnet.AuditEntry{Seq: row.Seq, Digest: row.Digest, Event: carnet.AuditEvent{ID: row.ID, Time: row.Time, Patient: row.Patient}}
		if row.Sealed == nil {
			e.Pruned = true
		} else if e.Event, err = carnet.OpenAuditEvent(ctx, s.Sealer, row); err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, s.audit(ctx, r, carnet.ActionRead, a.row.Key, nil)
}
