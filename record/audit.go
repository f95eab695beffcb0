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
	// The patient side is shown only the documents it may see: an event
	// about hidden documents only (a filing, a change) is left out; an
	// access whose documents are hidden is shown without them.
	var latest map[string]carnet.DocumentRow
	if r.Actor.Kind == carnet.ActorPatient {
		if latest, err = s.latestRows(ctx, a.row.Key); err != nil {
			return nil, err
		}
	}
	out := make([]carnet.AuditEntry, 0, len(rows))
	for _, row := range rows {
		e := carnet.AuditEntry{Seq: row.Seq, Digest: row.Digest, Event: carnet.AuditEvent{ID: row.ID, Time: row.Time, Patient: row.Patient}}
		if row.Sealed == nil {
			e.Pruned = true
		} else if e.Event, err = carnet.OpenAuditEvent(ctx, s.Sealer, row); err != nil {
			return nil, err
		}
		if latest != nil && !shownInHistory(&e.Event, latest, a) {
			continue
		}
		out = append(out, e)
	}
	return out, s.audit(ctx, r, carnet.ActionRead, a.row.Key, nil)
}

// shownInHistory keeps of ev the documents a patient-side reader may see,
// and says whether the event is shown at all.
func shownInHistory(ev *carnet.AuditEvent, latest map[string]carnet.DocumentRow, a *access) bool {
	if len(ev.Documents) == 0 {
		return true
	}
	var kept []string
	for _, id := range ev.Documents {
		if row, ok := latest[id]; ok && a.permits(carnet.ActionRead, &row) {
			kept = append(kept, id)
		}
	}
	hidden := len(kept) == 0
	ev.Documents = kept
	switch ev.Action {
	case carnet.ActionCreate, carnet.ActionUpdate, carnet.ActionDelete:
		return !hidden
	}
	return true
}
