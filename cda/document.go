package cda

import (
	"slices"
	"time"

	carnet "github.com/carnet-sante/carnet"
)

// Level is the CI-SIS structuring level of a document.
type Level string

const (
	LevelN1 Level = "N1" // unstructured body: a PDF (or other file) inside the CDA
	LevelN3 Level = "N3" // structured body, with coded entries
)

// Document is what Parse reads from a CDA R2 document.
type Document struct {
	// UniqueID is ClinicalDocument/id: root, or root^extension.
	UniqueID        string
	TemplateIDs     []string     // ClinicalDocument/templateId roots, in order
	Templates       []TemplateID // the same with their extensions (volet versions)
	Type            carnet.Coding
	Title           string
	Effective       Time
	Confidentiality carnet.Coding
	Language        string
	SetID           string // root, or root^extension
	Version         int    // versionNumber; 0 when absent
	// Replaces are the ids of the documents this one replaces
	// (relatedDocument typeCode RPLC).
	Replaces []string

	Patient            Patient
	Authors            []Author
	Custodian          Organization
	LegalAuthenticator *Participant
	ServiceEvents      []ServiceEvent
	Encounter          Encounter
	// Orders are inFulfillmentOf/order/id: the order (or, for imaging,
	// the accession number) the document answers.
	Orders []carnet.Identifier

	Level Level
	// Attachment is the file of an N1 body, or the PDF copy an N3 document
	// may carry (FR-Document-PDF-copie); nil when there is none.
	Attachment *Attachment

	Sections      []Section // depth-first, nested sections flattened with their Depth
	LabResults    []LabResult
	VitalSigns    []LabResult // IHE PCC vital signs (weight, height, blood pressure, …)
	Medications   []Medication
	Immunizations []Immunization
	Allergies     []Allergy
	Problems      []Problem
	Procedures    []Procedure
	// Observations are the CI-SIS simple observations (FR-Simple-Observation,
	// 1.2.250.1.213.1.1.3.48) that stand as entries of their own: a
	// section's entries and organizer components, not those qualifying
	// another statement through an entryRelationship (a medication's
	// "déconditionné", a problem's certainty).
	Observations []LabResult

	root *node
}

// Patient is recordTarget/patientRole.
type Patient struct {
	IDs       []carnet.Identifier // INS and local ids, systems urn:oid:
	Family    string              // birth name (qualifier BR) when given, else the first family
	Given     []string
	Gender    string // CDA administrativeGenderCode: F, M, U
	BirthDate Time
	// Address is patientRole/addr: the postcode (for a département, in
	// secondary use), the city and street lines; Telecom its telecom values
	// (tel:, mailto:), so that de-identification knows what to remove.
	PostalCode string
	City       string
	Street     []string
	Telecom    []string
}

// Author is one author of the document.
type Author struct {
	Time       Time
	ID         carnet.Identifier // RPPS (urn:oid:1.2.250.1.71.4.2.1) or other
	Family     string
	Given      []string
	Profession carnet.Coding // TRE_G15 (JDV_J01), e.g. G15_10
	Specialty  carnet.Coding // JDV_J01 specialty, e.g. G15_10/SM04
	Device     string        // software name when the author is a device
	Role       carnet.Coding // functionCode: the author's role for this patient
	Org        Organization
}

// TemplateID is a templateId: root and, for versioned volets, extension.
type TemplateID struct {
	Root, Extension string
}

// Organization is a represented or custodian organisation.
type Organization struct {
	ID              carnet.Identifier
	Name            string
	PracticeSetting carnet.Coding // standardIndustryClassCode (JDV_J04)
}

// Participant is a person acting for an organisation (legal authenticator).
type Participant struct {
	Time       Time
	ID         carnet.Identifier
	Family     string
	Given      []string
	Profession carnet.Coding // assignedEntity/code, split as an author's
	Specialty  carnet.Coding
	Org        Organization
}

// ServiceEvent is documentationOf/serviceEvent.
type ServiceEvent struct {
	IDs        []carnet.Identifier
	Code       carnet.Coding
	Start, End Time
	// PracticeSetting is the performing organisation's
	// standardIndustryClassCode (JDV_J04): the CI-SIS header requires it
	// and the ANS maps it to XDS practiceSettingCode.
	PracticeSetting carnet.Coding
}

// Encounter is componentOf/encompassingEncounter.
type Encounter struct {
	IDs        []carnet.Identifier
	Code       carnet.Coding
	Start, End Time
	Facility   carnet.Coding // location/healthCareFacility/code (JDV_J02)
}

// Attachment is an embedded file.
type Attachment struct {
	MediaType string
	Data      []byte
}

// Section is one section of a structured body.
type Section struct {
	Depth       int // 0 for top-level sections
	TemplateIDs []string
	Code        carnet.Coding
	Title       string
	narrative   *node
}

// Text is the section's narrative as plain text (white space collapsed),
// for full-text search.
func (s Section) Text() string { return s.narrative.textContent() }

// Source says where an extracted item comes from in the document, so that
// a Provenance can point at it.
type Source struct {
	ID          carnet.Identifier // the entry's id (root, extension), if any
	TemplateIDs []string
	Section     int // index in Document.Sections
}

// Quantity is a PQ value: Value as written (decimal text), UCUM unit.
type Quantity struct {
	Value string
	Unit  string
}

// LabResult is a laboratory observation (IHE PaLM Laboratory Observation).
type LabResult struct {
	Code carnet.Coding // LOINC when the laboratory coded it so
	// One of Quantity, Coded or Text is set, after the value's xsi:type.
	Quantity       *Quantity
	Coded          *carnet.Coding
	Text           string
	Boolean        *bool  // a BL value (true or false)
	ValueType      string // xsi:type as written: PQ, CD, CE, ST, ED, INT, RTO, BL, …
	RangeLow       *Quantity
	RangeHigh      *Quantity
	RangeText      string
	Interpretation string // H, L, HH, LL, A, N, …
	Effective      Time
	Specimen       carnet.Coding
	Status         string
	Source         Source
}

// Medication is a substanceAdministration (prescribed, dispensed or taken),
// or the supply of a dispensation document (Mood EVN, Supply set).
type Medication struct {
	Mood    string        // INT: prescribed; EVN: taken, dispensed or reimbursed
	Product carnet.Coding // manufacturedMaterial/code (CIS, ATC, …)
	// Class is the generic class the product belongs to, when stated
	// (pharm:asSpecializedKind/pharm:generalizedMedicineClass/pharm:code:
	// ATC in the ANS volets).
	Class     carnet.Coding
	Name      string    // manufacturedMaterial/name or the code's display
	Dose      *Quantity // doseQuantity (value, or low of a range)
	Route     carnet.Coding
	Frequency string // the dosage instructions as text
	Start     Time
	End       Time
	// Timing is the structured schedule of the whole prescription
	// (PIVL_TS, EIVL_TS), Steps its successive dosages when the
	// posology is split (subordinate substanceAdministrations, e.g.
	// "1 tablet every 8 h for 2 days, then every 12 h for 4 days").
	Timing Timing
	Steps  []Dosage
	Status string
	// Supply is the dispensation (supply moodCode EVN): the entry of a
	// dispensation document (eDISP), or the one a reimbursement history
	// (CNAM-HR) nests under the medication; nil when none is stated.
	Supply *Supply
	Source Source
}

// Supply is a dispensation: how much, when and by whom.
type Supply struct {
	// Quantity is supply/quantity as written: a number of boxes, its
	// unit an EDQM packaging code (30009000 "Boîte") in eDISP, none in
	// CNAM-HR.
	Quantity *Quantity
	// UnitName names the quantity's unit when the product states it (the
	// EDQM form of its container package).
	UnitName  string
	Time      Time   // when dispensed: effectiveTime, else performer/time, else author/time
	Dispenser string // the dispensing organisation's name
	Lot       string
}

// Timing is a structured administration schedule.
type Timing struct {
	Period   *Quantity // PIVL_TS period: once every Period (8 h, 1 d)
	Event    string    // EIVL_TS event: ACM (before breakfast), HS (bedtime), …
	Start    Time      // bounds (IVL_TS low)
	End      Time      // bounds (IVL_TS high)
	Duration *Quantity // bounds (IVL_TS width): for how long
}

// IsZero reports whether t says nothing.
func (t Timing) IsZero() bool {
	return t.Period == nil && t.Event == "" && t.Start.IsZero() && t.End.IsZero() && t.Duration == nil
}

// Dosage is one step of a split posology.
type Dosage struct {
	Timing Timing
	Dose   *Quantity
	Text   string
}

// Immunization is a vaccination (IHE PCC Immunization).
type Immunization struct {
	Vaccine carnet.Coding
	Name    string
	Date    Time
	Dose    string // doseNumber / sequence, as written
	Lot     string
	Refused bool // negationInd
	Status  string
	Source  Source
}

// Allergy is an allergy or intolerance (IHE PCC Allergy and Intolerance).
type Allergy struct {
	Type     carnet.Coding // allergy, intolerance, …
	Agent    carnet.Coding // participant/playingEntity/code
	Name     string
	Reaction string
	Start    Time
	End      Time
	Status   string
	Source   Source
}

// Problem is a problem or diagnosis (IHE PCC Problem Entry).
type Problem struct {
	Code   carnet.Coding // observation/value (CIM-10, SNOMED CT, …)
	Kind   carnet.Coding // observation/code: problem, diagnosis, symptom…
	Name   string
	Start  Time
	End    Time
	Status string
	Source Source
}

// Procedure is an act performed (IHE PCC Procedure Entry): a surgical
// history entry, a reimbursed act (CCAM, NGAP, NABM).
type Procedure struct {
	Mood   string        // EVN: done; INT: planned
	Code   carnet.Coding // CCAM, the CNAM-HR act lists, SNOMED CT, …
	Name   string
	Start  Time
	End    Time
	Status string
	Source Source
}

// PatientINS returns the patient's INS (NIR or NIA, real or test OIDs).
func (d *Document) PatientINS() (carnet.Identifier, bool) {
	for _, id := range d.Patient.IDs {
		if ins, _ := id.IsINS(); ins {
			return id, true
		}
	}
	return carnet.Identifier{}, false
}

// Metadata returns the XDS metadata the header states, field by field as
// the ANS maps a CI-SIS header to XDS (docs/CDA.md). Class, format, size
// and hashes are not in the header: they are the caller's (the format from
// the CI-SIS table, FormatTable.Match).
func (d *Document) Metadata() carnet.DocumentMeta {
	m := carnet.DocumentMeta{
		Title:       d.Title,
		Type:        d.Type,
		Language:    d.Language,
		Created:     d.Effective.Time,
		ContentType: "text/xml",
		Facility:    d.Encounter.Facility,
	}
	if d.Confidentiality.Code != "" {
		m.Confidentiality = []carnet.Coding{d.Confidentiality}
	}
	var start, end time.Time
	for i, ev := range d.ServiceEvents {
		if ev.Code.Code != "" {
			m.Events = append(m.Events, ev.Code)
		}
		if i == 0 {
			start, end = ev.Start.Time, ev.End.Time
		}
		if m.PracticeSetting.Code == "" {
			m.PracticeSetting = ev.PracticeSetting
		}
	}
	m.ServicePeriod = carnet.Period{Start: start, End: end}
	for _, a := range d.Authors {
		m.Authors = append(m.Authors, carnet.Author{
			ID:         a.ID,
			Family:     a.Family,
			Given:      a.Given,
			Profession: a.Profession,
			Specialty:  a.Specialty,
			Role:       a.Role,
			Org:        a.Org.Name,
			OrgID:      a.Org.ID,
		})
		if m.PracticeSetting.Code == "" {
			// Headers written before the CI-SIS required the performer's
			// sector give it on the author's organisation.
			m.PracticeSetting = a.Org.PracticeSetting
		}
	}
	if la := d.LegalAuthenticator; la != nil && (la.ID.Value != "" || la.Family != "") {
		m.LegalAuthenticator = &carnet.Author{ID: la.ID, Family: la.Family, Given: la.Given,
			Profession: la.Profession, Specialty: la.Specialty, Org: la.Org.Name, OrgID: la.Org.ID}
	}
	m.References = d.references()
	// sourcePatientId is the producer's own id of the patient (its IPP),
	// or the INS when the header gives no other.
	for _, id := range d.Patient.IDs {
		if ins, _ := id.IsINS(); !ins {
			m.SourcePatientID = id
			break
		}
	}
	if m.SourcePatientID.Value == "" {
		m.SourcePatientID, _ = d.PatientINS()
	}
	return m
}

// XDS referenceIdList types (JDV_J197).
const (
	RefEncounter = "urn:ihe:iti:xds:2015:encounterId"
	RefOrder     = "urn:ihe:iti:xds:2013:order"
	RefAccession = "urn:ihe:iti:xds:2013:accession"
	RefStudy     = "urn:ihe:iti:xds:2016:studyInstanceUID"
)

// Imaging report templates: CI-SIS IMG-CR-IMG and the DICOM imaging report.
var imagingReports = []string{"1.2.250.1.213.1.1.1.45", "1.2.840.10008.9.1"}

// references is the referenceIdList the header states: the encounter's
// ids, the orders it fulfils and, for an imaging report, the accession
// numbers (its orders) and the studies (its service events' ids), as
// IHE XDS-I and the CI-SIS imaging volet place them.
func (d *Document) references() []carnet.ReferenceID {
	var out []carnet.ReferenceID
	add := func(typ string, ids []carnet.Identifier) {
		for _, id := range ids {
			if id.Value != "" {
				out = append(out, carnet.ReferenceID{Type: typ, ID: id})
			}
		}
	}
	imaging := false
	for _, t := range imagingReports {
		imaging = imaging || slices.Contains(d.TemplateIDs, t)
	}
	add(RefEncounter, d.Encounter.IDs)
	if imaging {
		add(RefAccession, d.Orders)
		for _, ev := range d.ServiceEvents {
			add(RefStudy, ev.IDs)
		}
	} else {
		add(RefOrder, d.Orders)
	}
	return out
}
