package carnet

import (
	"context"
	"time"
)

// The Store keeps rows: searchable fields in clear, everything identifying or
// clinical sealed by the Sealer before it reaches the Store. A Store never
// sees a name, an INS, a title or a document byte in clear.

// Token is one searchable value of a row: Kind names the search parameter
// ("type", "class", "format", "facility", "setting", "event", "label",
// "author", "author.family", "author.given", "identifier", "related",
// "code", "source"), Value is what is matched exactly. Codes are stored
// twice, as "system|code" and as "|code"... see CodingTokens. Names and
// identifiers that are themselves identifying are blind-indexed
// (Sealer.Token) before they become tokens.
type Token struct {
	Kind  string
	Value string
}

// CodingTokens returns the tokens under which c is found: "system|code" and
// "code" alone, so that both FHIR token forms match.
func CodingTokens(kind string, c Coding) []Token {
	if c.Code == "" {
		return nil
	}
	return []Token{{kind, c.System + "|" + c.Code}, {kind, c.Code}}
}

// PatientRow is a patient record as stored.
type PatientRow struct {
	Key     PatientKey
	State   RecordState
	Version int
	// IdentifierTokens are the blind-index tokens of the record's INS
	// (Sealer.IdentityToken): each is bound to at most one record.
	IdentifierTokens []string
	Sealed           []byte // the Patient, sealed
	Created          time.Time
	Updated          time.Time
}

// DocumentRow is one metadata version of a document as stored.
type DocumentRow struct {
	Patient       PatientKey
	ID            string // entryUUID, the FHIR id
	LogicalID     string
	UniqueID      string
	Version       int
	Latest        bool
	Status        DocumentStatus
	SubmissionSet string
	ContentID     string
	Date          time.Time // registration of this version (DocumentReference.date)
	Created       time.Time // creationTime, zero if unknown
	PeriodStart   time.Time // service period, zero ends are open
	PeriodEnd     time.Time
	Tokens        []Token // searchable values; also what the policy reads (labels, type, authors)
	Sealed        []byte  // the Document, sealed
	// Filer is who filed the document (FilerOf): uniqueIds are unique per
	// record and filer.
	Filer string
}

// SubmissionSetRow is a submission set as stored.
type SubmissionSetRow struct {
	Patient  PatientKey
	ID       string
	UniqueID string
	Filer    string // who filed it (FilerOf): uniqueIds are unique per record and filer
	Date     time.Time
	Tokens   []Token
	Sealed   []byte // the SubmissionSet, sealed
}

// WrappedKey is a patient's data key, wrapped by a key-encryption key.
type WrappedKey struct {
	ID      string // data key id, named in every ciphertext sealed with it
	KEKID   string // which key-encryption key wrapped it
	Wrapped []byte
	Created time.Time
}

// KeyChange is a record whose keys changed (Tx.NoteKeyChange): Seq orders
// the changes of a store.
type KeyChange struct {
	Seq     uint64
	Patient PatientKey
}

// TokenFilter matches rows having at least one token of Kind among Values.
type TokenFilter struct {
	Kind   string
	Values []string
}

// TimeRange is [From, To): zero ends are open.
type TimeRange struct {
	From, To time.Time
}

// IsZero reports whether the range is open at both ends.
func (r TimeRange) IsZero() bool { return r.From.IsZero() && r.To.IsZero() }

// DocumentFilter selects documents of one patient. All conditions hold
// together; within a TokenFilter, any value matches.
type DocumentFilter struct {
	Statuses    []DocumentStatus // empty: any status
	Tokens      []TokenFilter
	Created     TimeRange // creationTime within
	Date        TimeRange // registration date within
	Period      TimeRange // service period overlaps
	AllVersions bool      // include older metadata versions (Latest false)
	// WithoutSealed returns rows with Sealed nil: for callers that decide on
	// the clear fields of every match and unseal only a page (Document
	// fetches one row whole). Searches then read a fraction of the bytes.
	WithoutSealed bool
	LogicalID     string
	SubmissionSet string
	// Visible, when set, keeps only the rows it matches (Cond.Match): the
	// caller's access condition (VisibilityCompiler), evaluated in the
	// query so that a page reads only what it returns.
	Visible *Cond
	// After, when set, keeps only the rows after it in the search order
	// (keyset paging: the last row of the previous page).
	After *Position
	// Limit, when positive, returns at most that many rows, the first in
	// the search order.
	Limit int
}

// SubmissionSetFilter selects submission sets of one patient.
type SubmissionSetFilter struct {
	Tokens []TokenFilter
	Date   TimeRange
}

// Reader is the read side of a Store. Every method is safe for concurrent
// use. Not-found cases return an *Error of KindNotFound.
type Reader interface {
	// Patient returns the record with key p.
	Patient(ctx context.Context, p PatientKey) (PatientRow, error)
	// PatientByToken returns the record bound to an identifier token.
	PatientByToken(ctx context.Context, token string) (PatientRow, error)
	// DataKeys returns the patient's wrapped data keys, oldest first
	// (empty, not an error, for a patient with none).
	DataKeys(ctx context.Context, p PatientKey) ([]WrappedKey, error)
	// Route returns the patient owning a document, content or submission
	// set id. Ids are unique across patients.
	Route(ctx context.Context, id string) (PatientKey, error)
	// UniqueIDRecords returns, sorted, at most limit records holding a
	// latest document version with this uniqueId (whatever its filer and
	// status). A uniqueId is unique per record and filer only, so it may be
	// in several records; ITI-43 names no patient and starts here.
	UniqueIDRecords(ctx context.Context, uniqueID string, limit int) ([]PatientKey, error)
	// SetUniqueIDRecords returns, sorted, at most limit records holding a
	// submission set with this uniqueId (whatever its filer): XDS.b's
	// GetSubmissionSetAndContents names a set by uniqueId and no patient.
	SetUniqueIDRecords(ctx context.Context, uniqueID string, limit int) ([]PatientKey, error)
	// Document returns one metadata version by its id.
	Document(ctx context.Context, p PatientKey, id string) (DocumentRow, error)
	// FindDocuments returns p's documents that match f, newest
	// registration date first, then by id (f.After and f.Limit page them).
	FindDocuments(ctx context.Context, p PatientKey, f DocumentFilter) ([]DocumentRow, error)
	// Content returns a document's sealed bytes.
	Content(ctx context.Context, p PatientKey, contentID string) ([]byte, error)
	// SubmissionSet returns one submission set by id.
	SubmissionSet(ctx context.Context, p PatientKey, id string) (SubmissionSetRow, error)
	// SubmissionSetByUniqueID returns the submission set filer filed under
	// uniqueID.
	SubmissionSetByUniqueID(ctx context.Context, p PatientKey, filer, uniqueID string) (SubmissionSetRow, error)
	// FindSubmissionSets returns p's submission sets matching f, newest first.
	FindSubmissionSets(ctx context.Context, p PatientKey, f SubmissionSetFilter) ([]SubmissionSetRow, error)
	ItemStore
	NotificationReader
	TermReader
}

// Tx is a write transaction: its reads see its own writes. A write it
// refuses (KindConflict, KindNotFound) changes nothing and leaves the
// transaction usable: fn may go on and decide.
type Tx interface {
	Reader
	// PutPatient inserts the record or replaces it. On update, row.Version
	// must be the stored version plus one (KindConflict otherwise). An
	// identifier token already bound to another record is KindConflict.
	PutPatient(ctx context.Context, row PatientRow) error
	// PutDataKey stores a wrapped data key for p (ids are unique per patient).
	PutDataKey(ctx context.Context, p PatientKey, k WrappedKey) error
	// DropUnusedDataKeys deletes p's data keys when no record has key p
	// (a record creation that lost a race to another, whose keys would
	// otherwise stay, unused), and returns how many it deleted.
	DropUnusedDataKeys(ctx context.Context, p PatientKey) (int, error)
	// ShredDataKeys deletes every data key of p (crypto-shredding: what
	// was sealed with them can no longer be opened) and notes the change
	// (NoteKeyChange). It returns how many keys it deleted.
	ShredDataKeys(ctx context.Context, p PatientKey) (int, error)
	// NoteKeyChange records that p's keys changed (a data key rotated, or
	// the stored keyring), so that every process sharing the store drops
	// what it cached (Store.KeyChanges).
	NoteKeyChange(ctx context.Context, p PatientKey) error
	// InsertDocument stores a new document version. A latest document of the
	// same patient and Filer with the same UniqueID is KindConflict; so is an
	// id in use.
	InsertDocument(ctx context.Context, row DocumentRow) error
	// UpdateDocument rewrites the row with row.ID in place (status,
	// latest flag, tokens, sealed metadata). Unknown id: KindNotFound.
	UpdateDocument(ctx context.Context, row DocumentRow) error
	// PutContent stores sealed bytes under a new content id (KindConflict if used).
	PutContent(ctx context.Context, p PatientKey, contentID string, sealed []byte) error
	// InsertSubmissionSet stores a submission set; a duplicate id, or a
	// uniqueId the same filer used for the patient, is KindConflict.
	InsertSubmissionSet(ctx context.Context, row SubmissionSetRow) error
	ItemTx
	NotificationTx
	TermTx
}

// Store is where Carnet keeps its data: SQLite by default, PostgreSQL at
// scale. Both pass the same conformance suite (storetest), which also fixes:
//   - Update is serializable: a read-modify-write inside one Update never
//     loses to a concurrent one;
//   - fn must not call Update;
//   - an id (document, content, submission set) is unique across patients,
//     and a data key id per patient: reusing one is KindConflict;
//   - UpdateDocument makes the stored row equal to the given one;
//   - DataKeys come oldest first (by Created); tokens come back as a set;
//   - a document without a service period never matches a Period filter;
//     an open end of either period is unbounded;
//   - times come back in UTC, to the microsecond at least.
type Store interface {
	Reader
	// Update runs fn in one transaction. If fn returns nil the transaction
	// commits and Update returns only once it is durable (fsynced); if fn or
	// the commit fails, nothing of it is visible and the error is returned.
	// fn may be called more than once (retries on serialization failures),
	// so it must not have effects outside tx.
	Update(ctx context.Context, fn func(tx Tx) error) error
	// PatientKeys returns up to limit record keys greater than after, in
	// order: how whole-store tools (carnet fsck) visit every record.
	PatientKeys(ctx context.Context, after PatientKey, limit int) ([]PatientKey, error)
	// RecordStamp changes whenever p's documents or items change (a
	// document version inserted or rewritten, items replaced): how a cache
	// of a record's clear fields knows it is current. Its form is the
	// Store's own; compare stamps for equality only.
	RecordStamp(ctx context.Context, p PatientKey) (string, error)
	// KeyChanges returns up to limit key changes noted after seq after,
	// in order (after 0: from the first). Sequence numbers follow commit
	// order: a reader that goes on from the last seq it saw misses none.
	KeyChanges(ctx context.Context, after uint64, limit int) ([]KeyChange, error)
	AuditStore
	// Close releases the store.
	Close() error
}
