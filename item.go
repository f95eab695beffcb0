package carnet

import (
	"context"
	"time"
)

// ItemKind is the kind of a structured item extracted from a document
// (IHE QEDm resources).
type ItemKind string

const (
	ItemObservation       ItemKind = "Observation"       // lab results and other measurements
	ItemMedicationRequest ItemKind = "MedicationRequest" // prescribed medications
	ItemImmunization      ItemKind = "Immunization"      // vaccinations
	ItemAllergy           ItemKind = "AllergyIntolerance"
	ItemCondition         ItemKind = "Condition" // problems
	// ItemMedicationStatement is a medication taken, dispensed or
	// reimbursed (IPS and VSM treatments, eDISP, CNAM-HR).
	ItemMedicationStatement ItemKind = "MedicationStatement"
	ItemProcedure           ItemKind = "Procedure" // acts performed, reimbursed acts
)

// Item is one structured item extracted from an N3 document (IHE mXDE):
// a FHIR resource whose Provenance points to its source document.
type Item struct {
	Patient PatientKey `json:"patient"`
	ID      string     `json:"id"` // the FHIR id of the resource
	Kind    ItemKind   `json:"kind"`
	// Source is the document it was extracted from: the FHIR id of the
	// metadata version at extraction, and the logicalId that stays with the
	// document across metadata versions (masking, archiving).
	SourceID        string    `json:"sourceId"`
	SourceLogicalID string    `json:"sourceLogicalId"`
	Code            Coding    `json:"code"`               // LOINC, product or vaccine code, …
	Category        string    `json:"category,omitempty"` // e.g. laboratory
	Effective       time.Time `json:"effective,omitzero"` // when it happened or was measured
	// Recorded is when Carnet extracted it: the source document's filing
	// date (zero for items extracted before it was kept).
	Recorded time.Time `json:"recorded,omitzero"`
	Abnormal bool      `json:"abnormal,omitempty"` // an interpretation other than N (H, L, HH, LL, A)
	// Interpretation is the HL7 v3 interpretation code of a result (H, L,
	// HH, LL, A, AA, N), "" when none.
	Interpretation string `json:"interpretation,omitempty"`
	// Resource is the FHIR JSON of the item as served (without id and
	// subject, which are set when served).
	Resource []byte `json:"resource"`
	// Tokens are what the item is found under, decided by the Extractor
	// that also parses the searches for it (qedm); stored in clear.
	Tokens []Token `json:"-"`
}

// ItemRow is an item as stored: searchable fields in clear, the rest sealed.
type ItemRow struct {
	Patient         PatientKey
	ID              string
	Kind            ItemKind
	SourceLogicalID string
	Effective       time.Time // zero if unknown
	Tokens          []Token   // kinds: code, category, abnormal
	Sealed          []byte    // the Item, sealed
	// Source is the latest row of the source document (clear fields,
	// Sealed nil) that ItemFilter.Visible was evaluated on; nil when the
	// filter has no Visible.
	Source *DocumentRow
}

// ItemPosition is where an items page ends: the last item served, by its
// effective time (zero: unknown) and id.
type ItemPosition struct {
	Effective time.Time
	ID        string
}

// ItemFilter selects items of one patient; all conditions hold together.
type ItemFilter struct {
	Kinds     []ItemKind // empty: any kind
	Tokens    []TokenFilter
	Effective TimeRange
	Sources   []string // source logicalIds; empty: any
	// WithoutSealed returns rows with Sealed nil, for callers that decide
	// on the clear fields only.
	WithoutSealed bool
	// Limit > 0 returns at most Limit rows, the first in FindItems' order.
	Limit int
	// Visible, when set, keeps only the items whose source document the
	// condition shows: the latest row of the document with logicalId
	// SourceLogicalID, of status current or archived, matching it
	// (Cond.Match). An item is visible exactly when its source document
	// is; the policy's compiled condition (VisibilityCompiler) is thus
	// evaluated in the query, and a page reads only what it returns. Each
	// row then carries that document row (ItemRow.Source).
	Visible *Cond
	// Chronological orders the dated items oldest first (ties by id
	// descending: the default order of the dated items, reversed), the
	// items of unknown time still last, by id.
	Chronological bool
	// After, when set, keeps only the items after it in the search order
	// (keyset paging: the last item of the previous page).
	After *ItemPosition
}

// ItemStore is the part of the Store that keeps extracted items. Items are
// replaced as a whole per source document: a replaced or deleted document
// takes its items with it.
type ItemStore interface {
	// FindItems returns p's items matching f, newest Effective first (zero
	// last), then by id (f.Chronological reverses the dated ones; f.After
	// and f.Limit page them).
	FindItems(ctx context.Context, p PatientKey, f ItemFilter) ([]ItemRow, error)
}

// ItemTx is the write side of ItemStore, inside Store.Update.
type ItemTx interface {
	// InsertItems stores items and registers their ids for Route; an id in
	// use (by any patient) is KindConflict and nothing of the call is stored.
	InsertItems(ctx context.Context, rows []ItemRow) error
	// DeleteItems removes every item of p extracted from the document with
	// logicalId source (and their routes), and returns how many.
	DeleteItems(ctx context.Context, p PatientKey, source string) (int, error)
}

// Extractor reads documents for what their content says, so that declared
// metadata can be checked and structured items served (cda, qedm).
type Extractor interface {
	// Extract reads a document's content. It returns ok=false (and no
	// error) for content it does not read (not CDA); an error for CDA it
	// cannot read safely. Derived holds the metadata the content states;
	// Patient the INS it names.
	Extract(contentType string, content []byte) (x Extraction, ok bool, err error)
	// Check compares what a producer declared about a document (its
	// metadata, and the patient it files it for) with what the content
	// states, and returns one issue per contradiction (other patient, other
	// type, other authors), located under path and naming both values.
	Check(declared DocumentMeta, patient Identifier, x Extraction, path string) []Issue
}

// Extraction is what an Extractor found in a document.
type Extraction struct {
	UniqueID string       // the document's own id (CDA ClinicalDocument/id)
	Patient  Identifier   // the INS named by the document, if any
	Derived  DocumentMeta // metadata stated by the content (header)
	Items    []Item       // structured items (N3); Patient, ID and Source* unset
	Text     string       // plain text for search (narrative, N1 PDF text)
	// Notes say how a derived field was found when the rule was a fallback
	// (severity "warning": the filing goes through and its answer says so)
	// or why a field could not be derived at all (severity "information":
	// it explains a "required" refusal when the producer left it out).
	// Expression is relative to the DocumentReference, e.g.
	// "content[0].format".
	Notes []Issue
}
