package carnet

import (
	"context"
	"time"
	"unicode"
	"unicode/utf8"
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
	Org        Identifier `json:"org,omitzero"`         // the organisation acting (FINESS), if any: Orgs[0]
	// Orgs are every organisation the token names (FINESS): software of a
	// group may file for several structures.
	Orgs []Identifier `json:"orgs,omitempty"`
	// Centre15: a regulating physician of a SAMU – centre 15, the only
	// professionals who may use the centre 15 mode (ETREAT).
	Centre15 bool `json:"centre15,omitempty"`
	// LegalRepresentative: a patient actor acting for the patient whose INS
	// is ID (a parent for a minor), not the patient themselves.
	LegalRepresentative bool `json:"legalRepresentative,omitempty"`
	// Operator: a system of the deployment's operator, who manages data
	// permits (with the scope system/Permit.cruds).
	Operator bool `json:"operator,omitempty"`
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
	// Change is what an update of a document changes (ActionUpdate on a
	// document); nil decides whether the actor may change it at all.
	Change *Change
	// Filing is what a document being filed names (ActionCreate with a
	// Document): who may file it depends on its authors and class.
	Filing *Filing
	Now    time.Time
	// Settings are the record's access choices (Patient.Settings).
	Settings AccessSettings
	// Relation is how a patient actor stands to the record.
	Relation PatientRelation
}

// Change is a change of a document's metadata as the policy decides it:
// labels added or removed, a new status, or its replacement by a new
// document.
type Change struct {
	Status       DocumentStatus // "" keeps the status
	AddLabels    []string       // confidentiality codes added
	RemoveLabels []string       // confidentiality codes removed
	Replace      bool           // the document is replaced (relatesTo replaces)
}

// Filing is what the policy reads of a document being filed: the authors
// its metadata names, those its own header names (a CDA's
// ClinicalDocument/author; nil when the content states none) and its class.
type Filing struct {
	Authors       []Author
	HeaderAuthors []Author
	Class         Coding
	// Labels are the document's confidentiality codes as filed.
	Labels []string
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

// AuditPreparer is an Auditor whose events a Store transaction can append
// itself (AuditTx): Prepare returns the row Record would append for ev,
// sealed and with its leaf hash, without writing it. A filing appends its
// event in its own transaction: the event is durable with the documents or
// neither is, and the filing waits for one group commit instead of two.
type AuditPreparer interface {
	Auditor
	Prepare(ctx context.Context, ev AuditEvent) (AuditRow, error)
}

// AuditTx is a Tx that appends audit events as the next entries of the log
// (AuditStore.AppendAudit's contract), durable when the transaction
// commits. A Tx without it leaves the events to the Auditor.
type AuditTx interface {
	AppendAudit(ctx context.Context, rows []AuditRow) (first uint64, err error)
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

// MaxReasonChars bounds a stated access reason (bris de glace).
const MaxReasonChars = 500

// ValidReason accepts a stated access reason that can be shown as one line
// of text: valid UTF-8, at most MaxReasonChars characters, no control or
// format characters (no line break, no bidirectional override, no
// zero-width character). A reason is written into notifications and the
// access history; it is escaped wherever it is shown, and read as typed.
func ValidReason(s string) bool {
	if !utf8.ValidString(s) || utf8.RuneCountInString(s) > MaxReasonChars {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || r == '\u2028' || r == '\u2029' {
			return false
		}
	}
	return true
}
