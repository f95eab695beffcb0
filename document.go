package carnet

import (
	"slices"
	"strings"
	"time"
)

// DocumentStatus is the availability of a document, as in XDS.
type DocumentStatus string

const (
	StatusCurrent    DocumentStatus = "current"    // XDS Approved
	StatusSuperseded DocumentStatus = "superseded" // XDS Deprecated: replaced by a newer document
	StatusArchived   DocumentStatus = "archived"   // urn:asip:ci-sis:2010:StatusType:Archived; reversible
	StatusDeleted    DocumentStatus = "deleted"    // logical deletion by the author; content no longer served
)

// Valid reports whether s is one of the four statuses.
func (s DocumentStatus) Valid() bool {
	switch s {
	case StatusCurrent, StatusSuperseded, StatusArchived, StatusDeleted:
		return true
	}
	return false
}

// Confidentiality codes of TRE_A07 / JDV_J08 with a meaning in Carnet.
const (
	LabelNormal            = "N"
	LabelMasquePS          = "MASQUE_PS"                      // masked to professionals
	LabelInvisiblePatient  = "INVISIBLE_PATIENT"              // hidden from the patient
	LabelInvisibleLegalRep = "INVISIBLE_REPRESENTANTS_LEGAUX" // hidden from legal representatives
)

// Class codes (TRE_A03, JDV_J57): a patient's own documents have their
// class, never a professional's.
const (
	ClassSystem          = "urn:oid:1.2.250.1.213.1.1.4.1"
	ClassPatientDocument = "90" // document du patient
)

// IsPatientClass reports whether c is the class of a patient's own
// documents.
func IsPatientClass(c Coding) bool {
	return c.Code == ClassPatientDocument && (c.System == "" || c.System == ClassSystem || c.System == "1.2.250.1.213.1.1.4.1")
}

// Coding is a code from a code system, as in FHIR.
type Coding struct {
	System  string `json:"system,omitempty"`
	Code    string `json:"code"`
	Display string `json:"display,omitempty"`
}

// Token is the searchable form "system|code" of a coding.
func (c Coding) Token() string { return c.System + "|" + c.Code }

// Period is a time interval; zero ends are open.
type Period struct {
	Start time.Time `json:"start,omitzero"`
	End   time.Time `json:"end,omitzero"`
}

// Author is a document's author: a professional (RPPS), a device or the patient.
type Author struct {
	ID         Identifier `json:"id,omitzero"` // RPPS for professionals
	Family     string     `json:"family,omitempty"`
	Given      []string   `json:"given,omitempty"`
	Profession Coding     `json:"profession,omitzero"` // TRE_G15
	Specialty  Coding     `json:"specialty,omitzero"`  // TRE_R38 / J01
	Role       Coding     `json:"role,omitzero"`
	Org        string     `json:"organization,omitempty"`
	OrgID      Identifier `json:"organizationId,omitzero"` // FINESS
}

// DisplayName is the author as a patient reads it: "Dr Jeanne Martin",
// else the organisation.
func (a Author) DisplayName() string {
	name := strings.TrimSpace(strings.Join(append(slices.Clone(a.Given), a.Family), " "))
	switch {
	case name != "" && a.Profession.Code == "G15_10":
		return "Dr " + name
	case name != "":
		return name
	}
	return a.Org
}

// SpecialtyCode is the author's JDV_J01 code in the one form the callers'
// specialty (Actor.Specialty) and the pastille's affinity table use:
// "G15_10/SM04" for a specialty, also when it comes apart from its
// profession ("SM04" beside profession "G15_10", or TRE_G15 "10", as XDS
// and FHIR may give it) or written "G15_10-SM04" (seen in CDA headers);
// else the profession ("G15_21"); "" when there is neither.
func (a Author) SpecialtyCode() string {
	prof, spec := jdvForm(a.Profession.Code), jdvForm(a.Specialty.Code)
	switch {
	case spec == "":
		return prof
	case prof == "" || strings.Contains(spec, "/") || strings.HasPrefix(spec, "G15_") || strings.HasPrefix(spec, "G16_"):
		return spec
	}
	return prof + "/" + spec
}

// jdvForm writes a TRE_G15 profession ("10") and a dashed JDV_J01 code
// ("G15_10-SM04") as JDV_J01 writes them ("G15_10", "G15_10/SM04").
func jdvForm(code string) string {
	code = strings.TrimSpace(code)
	switch {
	case len(code) == 2 && code[0] >= '0' && code[0] <= '9' && code[1] >= '0' && code[1] <= '9':
		return "G15_" + code
	case len(code) > 7 && (strings.HasPrefix(code, "G15_") || strings.HasPrefix(code, "G16_")) && code[6] == '-':
		return code[:6] + "/" + code[7:]
	}
	return code
}

// Relation links a document to another one.
type Relation struct {
	Code   string `json:"code"`   // replaces, transforms, signs, appends
	Target string `json:"target"` // the target document's FHIR id (entryUUID)
}

// ReferenceID is one identifier of the XDS referenceIdList, typed by the
// CI-SIS value set JDV_J197 (urn:ihe:iti:xds:2015:encounterId,
// urn:ihe:iti:xds:2013:order, urn:ihe:iti:xds:2013:accession,
// urn:ihe:iti:xds:2016:studyInstanceUID, …).
type ReferenceID struct {
	Type string     `json:"type"`
	ID   Identifier `json:"id"`
}

// DocumentMeta is the XDS metadata of a document.
type DocumentMeta struct {
	Title           string       `json:"title,omitempty"`
	Description     string       `json:"description,omitempty"`
	Class           Coding       `json:"class"`           // classCode (TRE_A03)
	Type            Coding       `json:"type"`            // typeCode (LOINC, JDV_J07)
	Format          Coding       `json:"format"`          // formatCode
	Confidentiality []Coding     `json:"confidentiality"` // N, MASQUE_PS, INVISIBLE_PATIENT, …
	Facility        Coding       `json:"facility,omitzero"`
	PracticeSetting Coding       `json:"practiceSetting,omitzero"`
	Events          []Coding     `json:"events,omitempty"`
	Authors         []Author     `json:"authors,omitempty"`
	ServicePeriod   Period       `json:"servicePeriod,omitzero"`
	Created         time.Time    `json:"created,omitzero"` // creationTime
	Language        string       `json:"language,omitempty"`
	ContentType     string       `json:"contentType"`
	Size            int64        `json:"size"`
	SHA1            []byte       `json:"sha1"` // as sent in attachment.hash (MHD uses SHA-1)
	SHA256          []byte       `json:"sha256"`
	Identifiers     []Identifier `json:"identifiers,omitempty"` // other business identifiers
	RelatesTo       []Relation   `json:"relatesTo,omitempty"`
	// LegalAuthenticator is who took responsibility for the content
	// (XDS legalAuthenticator, CDA legalAuthenticator).
	LegalAuthenticator *Author `json:"legalAuthenticator,omitempty"`
	// References are the XDS referenceIdList: the encounter, order,
	// accession or study the document belongs to.
	References []ReferenceID `json:"references,omitempty"`
	// SourcePatient is the patient as the producer knows them (sourcePatientInfo):
	// kept with the document, never shown as the record's identity.
	SourcePatientID  Identifier `json:"sourcePatientId,omitzero"`
	SourcePatientRaw []byte     `json:"sourcePatientInfo,omitempty"` // the producer's Patient resource, as sent
	Original         []byte     `json:"original,omitempty"`          // the DocumentReference JSON as submitted
}

// HasLabel reports whether the metadata carries confidentiality code code.
func (m *DocumentMeta) HasLabel(code string) bool {
	for _, c := range m.Confidentiality {
		if c.Code == code {
			return true
		}
	}
	return false
}

// Document is one metadata version of a document of a patient record.
//
// Three identifier layers, as in XDS: UniqueID comes from the producer and
// never changes; ID (entryUUID, the FHIR id) changes with each metadata
// version; LogicalID is stable across metadata versions and new on
// replacement.
type Document struct {
	Patient       PatientKey     `json:"patient"`
	ID            string         `json:"id"`
	LogicalID     string         `json:"logicalId"`
	UniqueID      string         `json:"uniqueId"`
	Version       int            `json:"version"`
	Latest        bool           `json:"latest"` // false for older metadata versions
	Status        DocumentStatus `json:"status"`
	SubmissionSet string         `json:"submissionSet"` // the List id it was submitted in
	ContentID     string         `json:"contentId"`     // where its bytes are (Binary id)
	Date          time.Time      `json:"date"`          // when Carnet registered this version
	// Filer is who filed the document (FilerOf): what the write rules read
	// (software changes what it filed) and the namespace its uniqueId is
	// unique in.
	Filer string       `json:"filer,omitempty"`
	Meta  DocumentMeta `json:"meta"`
	// Untold: the patient has not been told of this document yet: it was
	// filed invisible to them, and is announced when a professional lifts
	// the label.
	Untold bool `json:"untold,omitempty"`
	// Concepts are what the document carries that a professional must
	// know before acting (ConceptReader, read once at filing from its text
	// and items): the point-of-care ranking reads them, blind-indexed,
	// without opening the document. Kept by every metadata version.
	Concepts []string `json:"concepts,omitempty"`
}

// FilerOf is the filer value of an actor: "professional|RPPS",
// "system|issuer|client id" or "patient" (the patient and their legal
// representatives file into one namespace: the patient's).
func FilerOf(a Actor) string {
	switch a.Kind {
	case ActorProfessional:
		return "professional|" + a.ID.Value
	case ActorSystem:
		return "system|" + a.ID.System + "|" + a.ID.Value
	case ActorPatient:
		return "patient"
	}
	return ""
}

// OrgKey returns the key an organisation identifier is compared by: its
// FINESS when it names one (a 9-digit FINESS, or a Struct_IdNat "1" +
// FINESS), so that the FINESS of a token and the Struct_IdNat of a
// document's author compare equal; otherwise its value; "" for none.
func OrgKey(id Identifier) string {
	v := id.Value
	if oid := id.OID(); oid != "" && oid != OIDStructure {
		return ""
	}
	if len(v) == 10 && v[0] == '1' && isDigits(v) {
		return v[1:]
	}
	return v
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// SubmissionSet is a group of documents submitted together (MHD List).
type SubmissionSet struct {
	Patient     PatientKey `json:"patient"`
	ID          string     `json:"id"`
	UniqueID    string     `json:"uniqueId"`
	SourceID    string     `json:"sourceId"`
	Date        time.Time  `json:"date"`
	Title       string     `json:"title,omitempty"`
	ContentType Coding     `json:"contentType,omitzero"` // List.code extension designationType
	Authors     []Author   `json:"authors,omitempty"`
	Documents   []string   `json:"documents"` // FHIR ids of the DocumentReferences
	Original    []byte     `json:"original,omitempty"`
	// Fingerprint identifies what was filed (documents' uniqueIds and
	// content hashes), so that an identical retry is answered as the first
	// submission was (idempotency) and a different one is refused.
	Fingerprint []byte `json:"fingerprint,omitempty"`
}
