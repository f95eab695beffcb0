package carnet

import (
	"context"
	"slices"
	"strings"
	"time"
)

// PermitKeyRecord is the reserved record whose keys seal the data permits
// (docs/SECONDARY.md).
const PermitKeyRecord PatientKey = "carnet-permits"

// PermitSystem is the identifier system of a permit as an actor in a
// patient's access history: the patient reads that their pseudonymised
// data was used under permit X, not who received it.
const PermitSystem = "urn:carnet:permit"

// ActionSecondaryUse is a record's data used under a data permit.
const ActionSecondaryUse Action = "secondary-use"

// How dates leave under a permit.
const (
	DatesShift = "shift" // shifted by a per-patient, per-permit offset
	DatesMonth = "month" // generalised to the month
)

// How narrative text leaves under a permit.
const (
	NarrativeRemove     = "remove"     // no text leaves
	NarrativeDeidentify = "deidentify" // the CDA narrative, names and identifiers removed
)

// Permit is a data permit for secondary use, issued by a health data
// access body and entered by an operator (docs/SECONDARY.md). It is sealed
// at rest; Secret never leaves the server.
type Permit struct {
	ID        string `json:"id"`
	Purpose   string `json:"purpose"`
	Recipient string `json:"recipient"` // who receives the data: operators and auditors only
	// Client is the client id of the recipient's backend service: the only
	// client that may use the permit.
	Client string `json:"client"`
	// Issuer is the token issuer of Client: client ids are unique per
	// issuer only. Empty on a permit made before it was recorded (any
	// issuer's Client then matches).
	Issuer string `json:"issuer,omitempty"`
	// DocumentTypes are the type codes ("system|code") whose documents may
	// leave; ItemTypes the extracted item kinds; Codes, when not empty, the
	// only item codes ("system|code") that may leave.
	DocumentTypes []string   `json:"documentTypes,omitempty"`
	ItemTypes     []ItemKind `json:"itemTypes,omitempty"`
	Codes         []string   `json:"codes,omitempty"`
	// Cohort, when not empty, is the permit's Group: the records having an
	// item with one of these codes.
	Cohort []string `json:"cohort,omitempty"`
	// Period bounds the data (documents' creation date, items' effective
	// date); zero ends are open.
	Period    TimeRange `json:"period,omitzero"`
	Expires   time.Time `json:"expires"`
	MinK      int       `json:"minK"`
	Dates     string    `json:"dates"`               // DatesShift or DatesMonth
	ShiftDays int       `json:"shiftDays,omitempty"` // bound of the shift, days
	Narrative string    `json:"narrative"`           // NarrativeRemove or NarrativeDeidentify
	// Epsilon is the privacy budget of the statistics; EpsilonSpent what
	// requests spent of it.
	Epsilon      float64   `json:"epsilon,omitempty"`
	EpsilonSpent float64   `json:"epsilonSpent,omitempty"`
	Secret       []byte    `json:"secret"`
	Created      time.Time `json:"created"`
	CreatedBy    string    `json:"createdBy,omitempty"`
	Revoked      time.Time `json:"revoked,omitzero"`
	Version      int       `json:"version"`
}

// Valid reports why a permit cannot be used at now ("" when it can).
func (p *Permit) Valid(now time.Time) string {
	switch {
	case !p.Revoked.IsZero():
		return "the permit was revoked"
	case !now.Before(p.Expires):
		return "the permit has expired"
	}
	return ""
}

// CoversType reports whether resource type t may leave under the permit.
func (p *Permit) CoversType(t string) bool {
	switch t {
	case "Patient":
		return true
	case "DocumentReference":
		return len(p.DocumentTypes) > 0
	}
	return slices.Contains(p.ItemTypes, ItemKind(t))
}

// CoversDocumentType reports whether documents of type c may leave.
func (p *Permit) CoversDocumentType(c Coding) bool {
	return slices.Contains(p.DocumentTypes, c.Token())
}

// CoversCode reports whether an item with code c may leave (its kind
// aside).
func (p *Permit) CoversCode(c Coding) bool {
	return len(p.Codes) == 0 || slices.Contains(p.Codes, c.Token())
}

// Check returns the issues of a permit as an operator submits it.
func (p *Permit) Check() []Issue {
	var issues []Issue
	bad := func(code, msg, expr string) {
		issues = append(issues, Issue{Severity: "error", Code: code, Diagnostics: msg, Expression: expr})
	}
	if strings.TrimSpace(p.Purpose) == "" || len(p.Purpose) > 500 {
		bad("required", "a permit states its purpose (at most 500 characters)", "purpose")
	}
	if strings.TrimSpace(p.Recipient) == "" || len(p.Recipient) > 500 {
		bad("required", "a permit names its recipient (at most 500 characters)", "recipient")
	}
	if len(p.Issuer) > 512 {
		bad("invalid", "the issuer is at most 512 characters", "issuer")
	}
	if p.Client == "" || len(p.Client) > 200 {
		bad("required", "a permit names the client id of its recipient's backend service", "client")
	}
	if len(p.DocumentTypes) == 0 && len(p.ItemTypes) == 0 {
		bad("required", "a permit names the data it covers: document types or item types", "documentTypes")
	}
	for _, k := range p.ItemTypes {
		if !slices.Contains(ItemKinds, k) {
			bad("value", "unknown item type "+string(k), "itemTypes")
		}
	}
	for _, c := range append(append(slices.Clone(p.DocumentTypes), p.Codes...), p.Cohort...) {
		if sys, code, ok := strings.Cut(c, "|"); !ok || sys == "" || code == "" {
			bad("value", "a code is written system|code: "+c, "codes")
		}
	}
	if len(p.DocumentTypes)+len(p.Codes)+len(p.Cohort) > 1000 {
		bad("too-costly", "at most 1000 codes", "codes")
	}
	if p.Expires.IsZero() {
		bad("required", "a permit has an expiry", "expires")
	}
	if p.MinK < 2 || p.MinK > 1000 {
		bad("value", "minK is between 2 and 1000", "minK")
	}
	if p.Dates != DatesShift && p.Dates != DatesMonth {
		bad("value", "dates is shift or month", "dates")
	}
	if p.ShiftDays < 0 || p.ShiftDays > 3650 {
		bad("value", "shiftDays is between 1 and 3650", "shiftDays")
	}
	if p.Narrative != NarrativeRemove && p.Narrative != NarrativeDeidentify {
		bad("value", "narrative is remove or deidentify", "narrative")
	}
	if !(p.Epsilon >= 0 && p.Epsilon <= 10) {
		bad("value", "epsilon is between 0 and 10", "epsilon")
	}
	return issues
}

// ItemKinds lists every extracted item kind.
var ItemKinds = []ItemKind{ItemObservation, ItemMedicationRequest, ItemImmunization, ItemAllergy, ItemCondition, ItemMedicationStatement, ItemProcedure}

// PermitRow is a permit as stored: Version is the compare-and-set of
// every change (a revocation, the privacy budget spent).
type PermitRow struct {
	ID      string
	Version int
	Sealed  []byte // the Permit, sealed with PermitKeyRecord's keys
	Created time.Time
}

// PermitStore keeps the data permits (SQLite and PostgreSQL implement it;
// storetest's TestPermits is the contract).
type PermitStore interface {
	// PutPermit stores a permit: a new one with Version 1 (an id in use is
	// KindConflict), a change with the stored version plus one
	// (KindConflict otherwise: someone else changed it meanwhile).
	PutPermit(ctx context.Context, row PermitRow) error
	// Permit returns one permit, KindNotFound when there is none.
	Permit(ctx context.Context, id string) (PermitRow, error)
	// Permits returns every permit, oldest first.
	Permits(ctx context.Context) ([]PermitRow, error)
}
