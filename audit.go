package carnet

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"time"
)

// AuditKeyRecord is the reserved record whose keys seal the audit events
// that name no patient record (a search for an unknown patient).
const AuditKeyRecord PatientKey = "carnet-audit"

// Outcomes of an AuditEvent.
const (
	OutcomeSuccess = "success"
	OutcomeDenied  = "denied"
)

func auditKey(p PatientKey) PatientKey {
	if p == "" {
		return AuditKeyRecord
	}
	return p
}

// SealAuditEvent turns an event into its stored row, all but the log's
// leaf hash: it gets an id if it has none, its time is kept to the
// microsecond (what the Stores keep), the event is sealed with the
// patient's key and the actor blind-indexed for the history's filter.
func SealAuditEvent(ctx context.Context, s Sealer, ev AuditEvent) (AuditRow, AuditEvent, error) {
	if ev.ID == "" {
		ev.ID = NewID()
	}
	ev.Time = ev.Time.UTC().Truncate(time.Microsecond)
	b, err := json.Marshal(ev)
	if err != nil {
		return AuditRow{}, ev, WrapError(KindInternal, "seal audit event", err)
	}
	key := auditKey(ev.Patient)
	sealed, err := s.Seal(ctx, key, Binding{Kind: "audit", ID: ev.ID, Version: 1}, b)
	if err != nil {
		return AuditRow{}, ev, err
	}
	actor, err := AuditActorToken(ctx, s, ev.Patient, ev.Actor.ID)
	if err != nil {
		return AuditRow{}, ev, err
	}
	sum := sha256.Sum256(sealed)
	return AuditRow{ID: ev.ID, Patient: ev.Patient, Time: ev.Time, Actor: actor, Digest: sum[:], Sealed: sealed}, ev, nil
}

// AuditActorToken is the blind-index token under which an actor's events
// about record p are found.
func AuditActorToken(ctx context.Context, s Sealer, p PatientKey, actor Identifier) (string, error) {
	return s.Token(ctx, auditKey(p), "audit-actor", NormalizeIdentifier(actor.System)+"|"+actor.Value)
}

// OpenAuditEvent unseals a stored event. A pruned event (retention) is
// KindGone.
func OpenAuditEvent(ctx context.Context, s Sealer, row AuditRow) (AuditEvent, error) {
	if row.Sealed == nil {
		return AuditEvent{}, Errorf(KindGone, "audit event %s is past its retention", row.ID)
	}
	b, err := s.Open(ctx, auditKey(row.Patient), Binding{Kind: "audit", ID: row.ID, Version: 1}, row.Sealed)
	if err != nil {
		return AuditEvent{}, err
	}
	var ev AuditEvent
	if err := json.Unmarshal(b, &ev); err != nil {
		return AuditEvent{}, WrapError(KindInternal, "open audit event", err)
	}
	if ev.ID != row.ID || ev.Patient != row.Patient {
		return AuditEvent{}, Errorf(KindInternal, "audit event %s does not match its row", row.ID)
	}
	return ev, nil
}

// AuditEntry is one event of a record's access history as shown: the event
// and where it sits in the tamper-evident log, so that a client can check
// its inclusion.
type AuditEntry struct {
	Event  AuditEvent
	Seq    uint64
	Digest []byte // SHA-256 of the sealed event, committed to by the log leaf
	Pruned bool   // past its retention: only the log entry remains
}
