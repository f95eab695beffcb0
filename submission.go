package carnet

import (
	"crypto/sha256"
	"math/big"
)

// Submission is one ITI-65 Provide Document Bundle (or one ITI-105 Simplified
// Publish) turned into domain terms: documents filed together, atomically,
// for one patient. Path fields are FHIRPath locations in the request, so that
// every issue names the element at fault.
type Submission struct {
	Patient     Identifier // the INS the documents are filed for (from the subject)
	PatientPath string     // where the subject was read, e.g. Bundle.entry[0].resource.subject
	Set         SubmissionSet
	SetPath     string
	Documents   []SubmittedDocument
	// Changes are PDSm/MHD metadata changes carried in the same transaction
	// (e.g. a PATCH entry marking a replaced document superseded).
	Changes []DocumentChange
}

// SubmittedDocument is one document of a submission.
type SubmittedDocument struct {
	Path     string // FHIRPath of the DocumentReference in the request
	FullURL  string // the entry's fullUrl (urn:uuid:…), to match the response
	UniqueID string // masterIdentifier
	Meta     DocumentMeta
	Content  []byte // the exact bytes, already checked against Meta.Size/SHA1
}

// DocumentChange is a metadata change of an existing document (PDSm PATCH).
// Zero-valued fields change nothing.
type DocumentChange struct {
	Path         string
	DocumentID   string         // the document's FHIR id (or the entryUUID of one of its versions)
	IfMatch      int            // the version the change was made from (If-Match); 0: the latest, whichever
	Status       DocumentStatus // new status: current (unarchive), archived, deleted, superseded
	AddLabels    []Coding       // confidentiality codes to add (MASQUE_PS, INVISIBLE_PATIENT, …)
	RemoveLabels []string       // confidentiality codes to remove
}

// SubmissionResult says where each submitted item now lives.
type SubmissionResult struct {
	SetID       string
	DocumentIDs []string // in the order of Submission.Documents
	ContentIDs  []string // in the order of Submission.Documents
	ChangedIDs  []string // new ids of the documents changed by Submission.Changes, in order
	Replayed    bool     // an identical submission had already been filed: nothing new stored
	// Documents are the documents filed (or found again on a replay), in
	// order, for the answer: the submitter may not be one who reads them.
	Documents []Document
	// Readable says, for each of Documents, whether the caller may read
	// it: only then does an answer carry it (software never reads).
	Readable []bool
	// Warnings are, per document in the order of Submission.Documents,
	// what was accepted but the submitter should know (severity warning):
	// a formatCode taken by a fallback rule, say. The answer carries them
	// in an OperationOutcome.
	Warnings [][]Issue
}

// DerivedSetUniqueID is the uniqueId of the submission set Carnet makes for
// a document filed alone (ITI-105, ITI-106): an OID under 2.25 derived from
// the document's uniqueId, so that a retried publication is recognised as
// the same submission.
func DerivedSetUniqueID(docUniqueID string) string {
	h := sha256.Sum256([]byte("carnet iti-105 submission set\x00" + docUniqueID))
	return "2.25." + new(big.Int).SetBytes(h[:16]).String()
}
