package carnet

import "context"

// AuditEntry is one event of a record's access history as shown: the event
// and where it sits in the tamper-evident log, so that a client can check
// its inclusion.
type AuditEntry struct {
	Event  AuditEvent
	Seq    uint64
	Digest []byte // SHA-256 of the sealed event, committed to by the log leaf
	Pruned bool   // past its retention: only the log entry remains
}

// AuditHistory returns who accessed a record, newest first: for the
// patient, a legal representative, and auditors (systems whose token grants
// AuditEvent; the transport checks the scope). f.Actors holds identifiers
// "system|value" of actors, blind-indexed here. Reading the history is
// itself audited.
func (s *Service) AuditHistory(ctx context.Context, r Request, id Identifier, f AuditFilter, actors []Identifier) ([]AuditEntry, error) {
	a, err := s.ownRecord(ctx, r, id)
	if err != nil {
		return nil, err
	}
	if r.Actor.Kind != ActorSystem {
		if err := a.patientSide(ctx, ActionRead); err != nil {
			return nil, err
		}
	}
	for _, act := range actors {
		tok, err := AuditActorToken(ctx, s.Sealer, a.row.Key, act)
		if err != nil {
			return nil, err
		}
		f.Actors = append(f.Actors, tok)
	}
	rows, err := s.Store.FindAudit(ctx, a.row.Key, f)
	if err != nil {
		return nil, err
	}
	out := make([]AuditEntry, 0, len(rows))
	for _, row := range rows {
		e := AuditEntry{Seq: row.Seq, Digest: row.Digest, Event: AuditEvent{ID: row.ID, Time: row.Time, Patient: row.Patient}}
		if row.Sealed == nil {
			e.Pruned = true
		} else if e.Event, err = OpenAuditEvent(ctx, s.Sealer, row); err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, s.audit(ctx, r, ActionRead, a.row.Key, nil)
}
