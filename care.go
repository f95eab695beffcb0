package carnet

import (
	"context"
	"time"
)

// TextIndexer is the full-text analysis the Service indexes and searches
// with (package fulltext): one analyzer for documents and queries, and
// BM25 scoring. Terms become blind tokens (Sealer.Token) before the Store
// sees them.
type TextIndexer interface {
	// TermCounts returns the terms of text with their frequencies, and the
	// text's length in terms.
	TermCounts(text string) (tf map[string]int, length int)
	// QueryTerms returns the distinct terms of a query.
	QueryTerms(q string) []string
	// Score returns the BM25 score of each document (by LogicalID) for a
	// query whose terms' tokens are query, given their postings and the
	// record's statistics.
	Score(query []string, postings []Posting, docs int, totalLen int64) map[string]float64
}

// CareFinding is an out-of-range result of a document, from clear fields.
type CareFinding struct {
	ItemID         string
	Code           Coding
	Interpretation string // H, L, HH, LL, A, AA ("A" when only known abnormal)
}

// CareDoc is one document the caller may see, for the point-of-care view:
// its row without the sealed part, its abnormal results, its text score.
type CareDoc struct {
	// Row is shared with the Service's cache of the record: read only.
	Row *DocumentRow
	// Pos is the row's place among the record's rows as of the view's
	// stamp (0 to CareView.Rows-1): what derives from one row can be kept
	// by position under the stamp.
	Pos int
	// Filed is when the document was first filed: Row.Date is when its
	// latest metadata version was made (a mask, an archiving), which is no
	// news of a document.
	Filed         time.Time
	Findings      []CareFinding
	TextScore     float64
	LabelsChanged bool // its confidentiality changed since the caller's last visit
	// Concepts are the document's concepts (Document.Concepts), read from
	// their blind tokens; TitleKey stands for its title (equal titles,
	// equal keys) when the title is more than its type's name: what a
	// series of the same analysis is recognised by.
	Concepts []string
	TitleKey string
	// TitleWords are the ranking's title words its title holds
	// (TitleWordReader), read from their blind tokens.
	TitleWords []string
	// AuthorSpecialties are its authors' specialties the ranking weighs
	// (AuthorSpecialtyReader), read from their blind tokens.
	AuthorSpecialties []string
}

// TitleWordReader, when the ConceptReader is one too, reads at filing the
// words of a title the ranking weighs ("ecg", "panoramique"…), kept as blind
// tokens (TokTitleWord) so that the ranking reads them without opening the
// document; TitleWordNames lists every word it may give.
type TitleWordReader interface {
	TitleWords(title string) []string
	TitleWordNames() []string
}

// AuthorSpecialtyReader, when the ConceptReader is one too, reads at filing
// the specialties of a document's authors the ranking weighs
// (Author.SpecialtyCode: a cardiologist's letter is a cardiology letter,
// whatever its title), kept as blind tokens (TokAuthorSpecialty) so that the
// ranking reads them without opening the document; AuthorSpecialtyNames
// lists every code it may give.
type AuthorSpecialtyReader interface {
	AuthorSpecialties(authors []Author) []string
	AuthorSpecialtyNames() []string
}

// ConceptReader reads, at filing, what a document carries that some
// professional must know before acting (an anticoagulant, a valve
// prosthesis, an HbA1c…), from its text (title, narrative) and its
// structured items; ConceptNames lists every concept it may give (package
// pastille).
type ConceptReader interface {
	Concepts(text string, items []Item) []string
	ConceptNames() []string
}

// CareView is what the pastille ranks: the record's documents the caller
// may see, and when the caller last opened the record.
type CareView struct {
	// Stamp is the record's stamp (Store.RecordStamp) the view was read at:
	// callers may cache what they derive from the same rows under it.
	Stamp     string
	Patient   PatientKey
	INS       Identifier
	Now       time.Time
	LastVisit time.Time // zero: first visit
	Query     string
	Docs      []CareDoc
	// Rows is the number of the record's rows as of Stamp, visible or not.
	Rows int
}

// CareDetails are the documents and results the caller is shown in full
// (the ones the ranking put on top), opened.
type CareDetails struct {
	Documents map[string]Document // by id
	Items     map[string]Item     // abnormal results of those documents, by item id
}

// CareFormStore keeps each record's point-of-care form: what the card and
// $relevant read of a record, sealed, as of the record's stamp
// (Store.RecordStamp), so that the first opening of a record reads one
// row instead of every document. A cache: the Service rebuilds it from
// the documents whenever its stamp is not the record's. SQLite and
// PostgreSQL implement it (storetest's CareForms is the contract).
type CareFormStore interface {
	// PutCareForm replaces p's form (the last write wins).
	PutCareForm(ctx context.Context, p PatientKey, stamp string, sealed []byte) error
	// CareForm returns p's form and the stamp it was read at,
	// KindNotFound when there is none.
	CareForm(ctx context.Context, p PatientKey) (stamp string, sealed []byte, err error)
}
