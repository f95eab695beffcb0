// Package pastille decides what a clinician sees first when opening a
// patient's shared record: the badge ("pastille") in their own software,
// served as a CDS Hooks card, and the ranked list behind it. It is a pure
// function of the documents the caller may see (already filtered by the
// access policy), the caller, the date and their last visit: no I/O.
package pastille

import (
	"time"

	carnet "github.com/carnet-sante/carnet"
)

// Caller is the professional the ranking is for.
type Caller struct {
	Profession string // TRE_G15, e.g. G15_10
	Specialty  string // e.g. G15_10/SM04 (cardiology)
}

// Finding is one structured result of an N3 document (a QEDm Observation)
// that is out of range.
type Finding struct {
	Code           carnet.Coding // LOINC of the analyte, e.g. 10839-9 troponin
	Display        string        // e.g. "Troponine I"
	Value          string        // as written, with its unit, e.g. "0,8 µg/L"
	Interpretation string        // HL7 v3 ObservationInterpretation: H, L, HH, LL, A, AA
}

// Critical reports whether the finding is critical (HH, LL, AA).
func (f Finding) Critical() bool {
	return f.Interpretation == "HH" || f.Interpretation == "LL" || f.Interpretation == "AA"
}

// Doc is one document (its latest metadata version) the caller may see.
type Doc struct {
	ID            string // DocumentReference id (entryUUID)
	LogicalID     string
	UniqueID      string // folds versions of one document: its filer's uniqueId (filer|uniqueId in RankView)
	SubmissionSet string
	Status        carnet.DocumentStatus // current, superseded, archived
	Type          carnet.Coding         // LOINC (JDV_J07)
	Class         carnet.Coding         // classCode; "90" is a document of the patient
	Format        carnet.Coding
	Facility      carnet.Coding
	Practice      carnet.Coding // practiceSettingCode
	Title         string
	Created       time.Time // creationTime: when the clinical act was documented
	Date          time.Time // when it was filed into the record
	Labels        []string  // confidentiality codes
	SHA256        []byte
	// Replaces are the ids of the documents this one replaced
	// (relatesTo replaces), Superseded says whether a newer one replaced it.
	Replaces   []string
	Superseded bool
	// LabelsChanged: its confidentiality changed since the caller's last
	// visit (a new metadata version with other labels).
	LabelsChanged bool
	AuthorNames   []string
	// AuthorSpecialties are the authors' profession or specialty codes
	// (JDV_J01, e.g. G15_10/SM04: Author.SpecialtyCode): a letter written
	// by a cardiologist is a cardiology letter. The server knows those the
	// affinity table weighs, read at filing (AuthorSpecialtiesOf). Optional.
	AuthorSpecialties []string
	// Findings are its out-of-range structured results.
	Findings []Finding
	// Concepts are what it carries that some professional must know before
	// acting (concepts.csv: "anticoagulant", "antiresorptive"…), from
	// ConceptsOf; the findings' LOINC codes add theirs when ranked.
	Concepts []string
	// TitleKey stands for the title when the title is not known (the
	// server ranks on clear fields; CareDoc.TitleKey): equal titles, equal
	// keys. Optional.
	TitleKey string
	// TitleWords are the affinity table's title words its title holds
	// (TitleWordsOf), read at filing: what the title's affinity is decided
	// on when the title is not known (the server). Optional.
	TitleWords []string
	// TextScore is the full-text (BM25) score of the caller's query, 0
	// without a query or without a match.
	TextScore float64
}

// Input is everything the ranking decides on.
type Input struct {
	Caller Caller
	Now    time.Time
	// LastVisit is the caller's previous opening of this record; zero for
	// a first visit.
	LastVisit time.Time
	// Query is the caller's full-text query, if any ("" for the card).
	Query string
	Docs  []Doc
	// shared, when not nil, stands for Docs: the documents by pointer, most
	// of them the ViewCache's forms shared with other requests (read only,
	// as Rank reads them), so that a ranking does not copy the record.
	shared []*Doc
}

// Reason says why a document is where it is, in French for the clinician.
type Reason struct {
	Code string  // stable: new, recent, affinity, concept, history, abnormal, critical, summary, text, patient, replaced, labels-changed, duplicate, superseded, archived, window
	Text string  // e.g. "nouveau depuis votre dernière visite"
	Gain float64 // what it added to the score
}

// Ranked is one line of the ranked list.
type Ranked struct {
	// Doc is the line's head document: a pointer into the Input's Docs
	// (a list of 2,000 lines does not copy 2,000 documents).
	Doc     *Doc
	Score   float64
	Reasons []Reason
	New     bool // filed since the last visit (every new document counts in the card)
	Pinned  bool // a summary (VSM, IPS): always on top
	// Collapsed are the ids of the documents folded into this line:
	// superseded versions and duplicates (same uniqueId or same content).
	Collapsed []string
	// Group is the submission set it was filed with; documents of one
	// submission are shown together.
	Group string
}

// Card is the CDS Hooks card, in French.
type Card struct {
	Summary   string // < 140 characters, e.g. "4 nouveaux documents depuis le 12/10 · 2 résultats anormaux"
	Indicator string // "warning" when abnormal or critical results are new, else "info"
	Detail    string // markdown: the top items with their reason
	Link      string // the ranked view (absolute URL or SMART launch), as given to Summarize
	// NewDocuments is the count the summary states: every line of the
	// ranked list filed since the last visit (a line is a document with
	// its folded versions and copies; first visit: every current document
	// of the 2-year window). AbnormalResults is the number of out-of-range
	// results among them, CriticalResults the critical ones.
	NewDocuments    int
	AbnormalResults int
	CriticalResults int
}
