package qedm

import (
	"encoding/json"

	"github.com/carnet-sante/carnet/fhir"
)

// The QEDm resources, with the elements Carnet writes. They live here and
// not in package fhir because only qedm produces them and nothing parses
// them back from producers.

// Code systems and URIs of the mapping.
const (
	SystemLOINC                 = "http://loinc.org"
	SystemSNOMED                = "http://snomed.info/sct"
	SystemUCUM                  = "http://unitsofmeasure.org"
	SystemObservationCategory   = "http://terminology.hl7.org/CodeSystem/observation-category"
	SystemInterpretation        = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
	SystemAllergyClinical       = "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical"
	SystemConditionClinical     = "http://terminology.hl7.org/CodeSystem/condition-clinical"
	SystemProvenanceAgentType   = "http://terminology.hl7.org/CodeSystem/provenance-participant-type"
	SystemW3CProvenanceActivity = "http://hl7.org/fhir/w3c-provenance-activity-type"
	PolicyDocumentProvenance    = "urn:ihe:iti:mxde:2023:document-provenance-policy"
	ProfileMXDEProvenance       = "https://profiles.ihe.net/ITI/mXDE/StructureDefinition/IHE.ITI.mXDE.Provenance"
	oidLOINC                    = "2.16.840.1.113883.6.1"
	oidSNOMED                   = "2.16.840.1.113883.6.96"
	oidEDQM                     = "0.4.0.127.0.16.1.1.2.1"
	// oidAbsentUnknown is HL7's absent-or-unknown code system (IPS): an
	// entry coded "no-known-procedures" states there is none.
	oidAbsentUnknown   = "2.16.840.1.113883.5.1150.1"
	categoryLaboratory = "laboratory"
	categoryVitalSigns = "vital-signs"
)

// Quantity is the FHIR Quantity (value kept as the decimal text the
// laboratory wrote, so that "1.950" is not served as 1.95).
type Quantity struct {
	Value  json.Number `json:"value,omitempty"`
	Unit   string      `json:"unit,omitempty"`
	System string      `json:"system,omitempty"`
	Code   string      `json:"code,omitempty"`
}

// Annotation is the FHIR Annotation, text only.
type Annotation struct {
	Text string `json:"text"`
}

// Observation is the R4 Observation of a laboratory result.
type Observation struct {
	fhir.Resource
	Status            string                 `json:"status"`
	Category          []fhir.CodeableConcept `json:"category,omitempty"`
	Code              fhir.CodeableConcept   `json:"code"`
	Subject           *fhir.Reference        `json:"subject,omitempty"`
	EffectiveDateTime string                 `json:"effectiveDateTime,omitempty"`
	ValueQuantity     *Quantity              `json:"valueQuantity,omitempty"`
	ValueCodeable     *fhir.CodeableConcept  `json:"valueCodeableConcept,omitempty"`
	ValueString       string                 `json:"valueString,omitempty"`
	ValueBoolean      *bool                  `json:"valueBoolean,omitempty"`
	Interpretation    []fhir.CodeableConcept `json:"interpretation,omitempty"`
	Note              []Annotation           `json:"note,omitempty"`
	Specimen          *fhir.Reference        `json:"specimen,omitempty"`
	ReferenceRange    []ReferenceRange       `json:"referenceRange,omitempty"`
}

// ReferenceRange is Observation.referenceRange.
type ReferenceRange struct {
	Low  *Quantity `json:"low,omitempty"`
	High *Quantity `json:"high,omitempty"`
	Text string    `json:"text,omitempty"`
}

// MedicationRequest is the R4 MedicationRequest of a prescribed product.
type MedicationRequest struct {
	fhir.Resource
	Status                    string               `json:"status"`
	Intent                    string               `json:"intent"`
	MedicationCodeableConcept fhir.CodeableConcept `json:"medicationCodeableConcept"`
	Subject                   *fhir.Reference      `json:"subject,omitempty"`
	AuthoredOn                string               `json:"authoredOn,omitempty"`
	DosageInstruction         []Dosage             `json:"dosageInstruction,omitempty"`
	DispenseRequest           *DispenseRequest     `json:"dispenseRequest,omitempty"`
}

// MedicationStatement is the R4 MedicationStatement of a medication taken,
// dispensed or reimbursed. A dispensation it is derived from is contained
// (a MedicationDispense with the quantity handed over).
type MedicationStatement struct {
	fhir.Resource
	Contained                 []MedicationDispense `json:"contained,omitempty"`
	Status                    string               `json:"status"`
	MedicationCodeableConcept fhir.CodeableConcept `json:"medicationCodeableConcept"`
	Subject                   *fhir.Reference      `json:"subject,omitempty"`
	EffectiveDateTime         string               `json:"effectiveDateTime,omitempty"`
	EffectivePeriod           *fhir.Period         `json:"effectivePeriod,omitempty"`
	DateAsserted              string               `json:"dateAsserted,omitempty"`
	DerivedFrom               []fhir.Reference     `json:"derivedFrom,omitempty"`
	Dosage                    []Dosage             `json:"dosage,omitempty"`
}

// MedicationDispense is the R4 MedicationDispense, as contained in a
// MedicationStatement: what was handed over, how much, when, by whom.
type MedicationDispense struct {
	fhir.Resource
	Status                    string               `json:"status"`
	MedicationCodeableConcept fhir.CodeableConcept `json:"medicationCodeableConcept"`
	Performer                 []DispensePerformer  `json:"performer,omitempty"`
	Quantity                  *Quantity            `json:"quantity,omitempty"`
	WhenHandedOver            string               `json:"whenHandedOver,omitempty"`
}

// DispensePerformer is MedicationDispense.performer (a display-only actor).
type DispensePerformer struct {
	Actor fhir.Reference `json:"actor"`
}

// Procedure is the R4 Procedure of an act performed.
type Procedure struct {
	fhir.Resource
	Status            string                `json:"status"`
	Code              *fhir.CodeableConcept `json:"code,omitempty"`
	Subject           *fhir.Reference       `json:"subject,omitempty"`
	PerformedDateTime string                `json:"performedDateTime,omitempty"`
	PerformedPeriod   *fhir.Period          `json:"performedPeriod,omitempty"`
}

// Dosage is the FHIR Dosage, with what the CDA gives.
type Dosage struct {
	Sequence    int                   `json:"sequence,omitempty"`
	Text        string                `json:"text,omitempty"`
	Timing      *Timing               `json:"timing,omitempty"`
	Route       *fhir.CodeableConcept `json:"route,omitempty"`
	DoseAndRate []DoseAndRate         `json:"doseAndRate,omitempty"`
}

// Timing is the FHIR Timing of a dosage (repeat only).
type Timing struct {
	Repeat TimingRepeat `json:"repeat"`
}

// TimingRepeat is Timing.repeat: a period (frequency 1 every period
// periodUnit), an event (when) and bounds.
type TimingRepeat struct {
	BoundsPeriod   *fhir.Period `json:"boundsPeriod,omitempty"`
	BoundsDuration *Quantity    `json:"boundsDuration,omitempty"`
	Frequency      int          `json:"frequency,omitempty"`
	Period         json.Number  `json:"period,omitempty"`
	PeriodUnit     string       `json:"periodUnit,omitempty"`
	When           []string     `json:"when,omitempty"`
}

// DoseAndRate is Dosage.doseAndRate with a dose quantity.
type DoseAndRate struct {
	DoseQuantity *Quantity `json:"doseQuantity,omitempty"`
}

// DispenseRequest is MedicationRequest.dispenseRequest.
type DispenseRequest struct {
	ValidityPeriod *fhir.Period `json:"validityPeriod,omitempty"`
}

// Immunization is the R4 Immunization.
type Immunization struct {
	fhir.Resource
	Status             string               `json:"status"`
	VaccineCode        fhir.CodeableConcept `json:"vaccineCode"`
	Patient            *fhir.Reference      `json:"patient,omitempty"`
	OccurrenceDateTime string               `json:"occurrenceDateTime,omitempty"`
	OccurrenceString   string               `json:"occurrenceString,omitempty"`
	LotNumber          string               `json:"lotNumber,omitempty"`
	ProtocolApplied    []ProtocolApplied    `json:"protocolApplied,omitempty"`
}

// ProtocolApplied is Immunization.protocolApplied with the dose number.
type ProtocolApplied struct {
	DoseNumberString string `json:"doseNumberString"`
}

// AllergyIntolerance is the R4 AllergyIntolerance.
type AllergyIntolerance struct {
	fhir.Resource
	ClinicalStatus *fhir.CodeableConcept `json:"clinicalStatus,omitempty"`
	Type           string                `json:"type,omitempty"`
	Code           *fhir.CodeableConcept `json:"code,omitempty"`
	Patient        *fhir.Reference       `json:"patient,omitempty"`
	OnsetDateTime  string                `json:"onsetDateTime,omitempty"`
	Reaction       []AllergyReaction     `json:"reaction,omitempty"`
}

// AllergyReaction is AllergyIntolerance.reaction.
type AllergyReaction struct {
	Manifestation []fhir.CodeableConcept `json:"manifestation"`
}

// Condition is the R4 Condition of a problem list entry.
type Condition struct {
	fhir.Resource
	ClinicalStatus    *fhir.CodeableConcept  `json:"clinicalStatus,omitempty"`
	Category          []fhir.CodeableConcept `json:"category,omitempty"`
	Code              *fhir.CodeableConcept  `json:"code,omitempty"`
	Subject           *fhir.Reference        `json:"subject,omitempty"`
	OnsetDateTime     string                 `json:"onsetDateTime,omitempty"`
	AbatementDateTime string                 `json:"abatementDateTime,omitempty"`
}

// ProvenanceResource is the R4 Provenance as the mXDE profile shapes it.
type ProvenanceResource struct {
	fhir.Resource
	Target   []fhir.Reference      `json:"target"`
	Recorded string                `json:"recorded,omitempty"`
	Policy   []string              `json:"policy,omitempty"`
	Activity *fhir.CodeableConcept `json:"activity,omitempty"`
	Agent    []ProvenanceAgent     `json:"agent"`
	Entity   []ProvenanceEntity    `json:"entity,omitempty"`
}

// ProvenanceAgent is Provenance.agent.
type ProvenanceAgent struct {
	Type *fhir.CodeableConcept `json:"type,omitempty"`
	Who  fhir.Reference        `json:"who"`
}

// ProvenanceEntity is Provenance.entity.
type ProvenanceEntity struct {
	Role string         `json:"role"`
	What fhir.Reference `json:"what"`
}
