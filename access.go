package carnet

import (
	"context"
	"time"
)

// ActorKind says who is calling.
type ActorKind string

const (
	ActorProfessional ActorKind = "professional" // a health professional (RPPS)
	ActorPatient      ActorKind = "patient"      // the patient (INS) or a legal representative
	ActorSystem       ActorKind = "system"       // producing software, by client credentials
)

// Actor is an authenticated caller.
type Actor struct {
	Kind       ActorKind  `json:"kind"`
	ID         Identifier `json:"id"`                   // RPPS for professionals, INS for patients, client id for systems
	Name       string     `json:"name,omitempty"`       // display name, for the audit trail
	Profession string     `json:"profession,omitempty"` // TRE_G15 code, e.g. G15_10
	Specialty  string     `json:"specialty,omitempty"`  // e.g. G15_10/SM04
	Scopes     []string   `json:"-"`                    // SMART v2 scopes granted
	Org        Identifier `json:"org,omitzero"`         // the organisation acting (FINESS), if any
	// LegalRepresentative: a patient actor acting for the patient whose INS
	// is ID (a parent for a minor), not the patient themselves.
	LegalRepresentative bool `json:"legalRepresentative,omitempty"`
}

// Action is what an actor wants to do.
type Action string

const (
	ActionCreate Action = "create"
	ActionRead   Action = "read"
	ActionSearch Action = "search"
	ActionUpdate Action = "update"
	ActionDelete Action = "delete"
	// ActionConsent changes the record's consents: the patient's choices,
	// or a professional declaring a care relationship.
	ActionConsent Action = "consent"
)

// Mode is how access is requested.
type Mode string

const (
	ModeNormal     Mode = "normal"
	ModeBreakGlass Mode = "btg"    // bris de glace, with a stated reason
	ModeCentre15   Mode = "etreat" // régulation / centre 15 (SAMU)
)

// AccessRequest is everything the policy decides on. Document is nil for
// record-level requests (file into the record, search it).
type AccessRequest struct {
	Actor    Actor
	Action   Action
	Mode     Mode
	Reason   string
	Patient  *PatientRow
	Document *DocumentRow
	Now      time.Time
	// Settings are the record's access choices (Patient.Settings).
	Settings AccessSettings
	// Relation is how a patient actor stands to the record.
	Relation PatientRelation
}

// Decision is the policy's answer. Reasons are for the audit trail only,
// never for the caller.
type Decision struct {
	Permit   bool
	Reasons  []string
	Warnings []string // shown to the caller, e.g. "document invisible to the patient"
	// Notify: a permitted emergency access, which the patient is told of.
	Notify bool
}

// Policy decides access. Implementations are pure functions: no I/O.
type Policy interface {
	Decide(AccessRequest) Decision
}

// PermitChecker is a Policy that can answer Decide(req).Permit without
// building the reasons: what filtering thousands of documents needs.
type PermitChecker interface {
	Permits(AccessRequest) bool
}

// PermitAllPolicy permits everything. It is the seam where the DMP access
// rules plug in (issue 4); until then it is what the Service uses, and its
// name says so wherever it is wired.
type PermitAllPolicy struct{}

func (PermitAllPolicy) Decide(AccessRequest) Decision {
	return Decision{Permit: true, Reasons: []string{"permit-all policy (access rules not yet enforced)"}}
}

// AuditEvent records one access to patient data (IHE BALP shapes: who,
// what, when, how, outcome). It is sealed with the patient's key
// (SealAuditEvent); only its digest enters the tamper-evident log.
type AuditEvent struct {
	ID        string     `json:"id"`
	Time      time.Time  `json:"time"`
	RequestID string     `json:"requestId,omitempty"`
	Actor     Actor      `json:"actor"`
	Action    Action     `json:"action"`
	Mode      Mode       `json:"mode,omitempty"`
	Reason    string     `json:"reason,omitempty"`
	Patient   PatientKey `json:"patient,omitempty"`
	Documents []string   `json:"documents,omitempty"` // FHIR ids touched
	Outcome   string     `json:"outcome"`             // success, denied, error
	Detail    []string   `json:"detail,omitempty"`    // decision reasons, for auditors
}

// Auditor records audit events. Record must return only once the event is
// durable; when it fails, the request fails and nothing is served.
type Auditor interface {
	Record(ctx context.Context, ev AuditEvent) error
}

// NoAuditor records nothing. It is the seam where the tamper-evident audit
// log plugs in (issue 5).
type NoAuditor struct{}

func (NoAuditor) Record(context.Context, AuditEvent) error { return nil }

// Clock tells the time; tests inject a fixed one.
type Clock interface{ Now() time.Time }

// SystemClock is the real clock, in UTC.
type SystemClock struct{}

func (SystemClock) Now() time.Time { return time.Now().UTC() }

// Terminology answers whether a code belongs to a value set at a date.
type Terminology interface {
	// Lookup returns the concept of valueSet with system and code, and
	// whether it exists and is valid at time at (retired codes stay
	// readable but are refused for new submissions).
	Lookup(valueSet, system, code string, at time.Time) (c Coding, known, valid bool)
}

// Request carries who asks and how, for one call of the Service.
type Request struct {
	Actor     Actor
	Mode      Mode
	Reason    string
	RequestID string
}
