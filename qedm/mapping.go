package qedm

import (
	"encoding/json"
	"strings"
	"time"

	carnet "github.com/carnet-sante/carnet"
	"github.com/carnet-sante/carnet/cda"
	"github.com/carnet-sante/carnet/fhir"
)

// normCoding puts a CDA coding in the FHIR systems QEDm consumers expect:
// LOINC and SNOMED CT by their URIs, every other OID as urn:oid:.
func normCoding(c carnet.Coding) carnet.Coding {
	c.System = normSystem(c.System)
	c.Code = strings.TrimSpace(c.Code)
	return c
}

// normSystem maps a code system (bare OID, urn:oid: or URI) to the form
// items are indexed under; search values go through it too.
func normSystem(s string) string {
	s = strings.TrimSpace(s)
	oid := carnet.NormalizeIdentifier(s)
	if !carnet.IsOID(oid) {
		return s
	}
	switch oid {
	case oidLOINC:
		return SystemLOINC
	case oidSNOMED:
		return SystemSNOMED
	}
	return "urn:oid:" + oid
}

func fhirCoding(c carnet.Coding) fhir.Coding {
	return fhir.Coding{System: c.System, Code: c.Code, Display: c.Display}
}

// concept is a CodeableConcept of c, with text when there is no code; nil
// when there is neither.
func concept(c carnet.Coding, text string) *fhir.CodeableConcept {
	cc := &fhir.CodeableConcept{}
	if c.Code != "" {
		cc.Coding = []fhir.Coding{fhirCoding(c)}
	}
	if text != "" && text != c.Display {
		cc.Text = text
	}
	if len(cc.Coding) == 0 && cc.Text == "" {
		return nil
	}
	return cc
}

// dateTime writes a CDA time as a FHIR dateTime with the precision it was
// given: a day stays a date, a time of day carries its offset (UTC).
func dateTime(t cda.Time) string {
	if t.IsZero() {
		return ""
	}
	switch t.Precision {
	case cda.PrecisionYear:
		return t.Time.Format("2006")
	case cda.PrecisionMonth:
		return t.Time.Format("2006-01")
	case cda.PrecisionDay:
		return t.Time.Format(time.DateOnly)
	}
	return fhir.FormatDateTime(t.Time)
}

// quantity maps a CDA PQ to a FHIR Quantity with its UCUM unit. A value
// that is not a JSON number is nil: the caller falls back to text.
func quantity(q *cda.Quantity) *Quantity {
	if q == nil {
		return nil
	}
	v := strings.TrimSpace(q.Value)
	if !isDecimal(v) {
		return nil
	}
	out := &Quantity{Value: json.Number(canonicalDecimal(v))}
	if u := strings.TrimSpace(q.Unit); u != "" && u != "1" {
		out.Unit, out.System, out.Code = u, SystemUCUM, u
	}
	return out
}

// isDecimal reports whether s is a FHIR decimal: -?(0|[1-9][0-9]*)(\.[0-9]+)?,
// leniently accepting leading zeros and a leading "+" or ".", which
// canonicalDecimal repairs.
func isDecimal(s string) bool {
	s = strings.TrimPrefix(strings.TrimPrefix(s, "-"), "+")
	if s == "" || len(s) > 64 {
		return false
	}
	dot, digits := false, 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			digits++
		case c == '.' && !dot:
			dot = true
		default:
			return false
		}
	}
	return digits > 0 && !strings.HasSuffix(s, ".")
}

// canonicalDecimal makes a decimal valid JSON while keeping its precision
// ("+.50" -> "0.50", "007" -> "7").
func canonicalDecimal(s string) string {
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(strings.TrimPrefix(s, "-"), "+")
	intPart, frac, hasFrac := strings.Cut(s, ".")
	intPart = strings.TrimLeft(intPart, "0")
	if intPart == "" {
		intPart = "0"
	}
	if hasFrac {
		intPart += "." + frac
	}
	if neg && strings.Trim(intPart, "0.") != "" {
		return "-" + intPart
	}
	return intPart
}

// abnormalCodes are the interpretations (v3 ObservationInterpretation)
// that flag a result out of its normal range.
var abnormalCodes = map[string]bool{"H": true, "HH": true, "HU": true, "L": true, "LL": true, "LU": true, "A": true, "AA": true}

// IsAbnormal reports whether a lab interpretation code says the result is
// outside its normal range (H, HH, HU, L, LL, LU, A, AA). N, susceptibility
// codes (S, I, R) and off-scale markers are not.
func IsAbnormal(interpretation string) bool {
	return abnormalCodes[strings.ToUpper(strings.TrimSpace(interpretation))]
}

var interpretationDisplay = map[string]string{
	"N": "Normal", "H": "High", "HH": "Critical high", "HU": "Significantly high",
	"L": "Low", "LL": "Critical low", "LU": "Significantly low", "A": "Abnormal",
	"AA": "Critical abnormal", "S": "Susceptible", "I": "Intermediate", "R": "Resistant",
	"POS": "Positive", "NEG": "Negative", "IND": "Indeterminate",
}

// categoryDisplay names the observation categories Carnet writes.
var categoryDisplay = map[string]string{categoryLaboratory: "Laboratory", categoryVitalSigns: "Vital Signs"}

func observation(r cda.LabResult, category string) Observation {
	o := Observation{
		Resource:          fhir.Resource{ResourceType: string(carnet.ItemObservation)},
		Status:            observationStatus(r.Status),
		EffectiveDateTime: dateTime(r.Effective),
	}
	if category != "" {
		o.Category = []fhir.CodeableConcept{{Coding: []fhir.Coding{{System: SystemObservationCategory, Code: category, Display: categoryDisplay[category]}}}}
	}
	if cc := concept(normCoding(r.Code), ""); cc != nil {
		o.Code = *cc
	}
	switch {
	case r.Quantity != nil:
		if q := quantity(r.Quantity); q != nil {
			o.ValueQuantity = q
		} else {
			o.ValueString = strings.TrimSpace(r.Quantity.Value + " " + r.Quantity.Unit)
		}
	case r.Coded != nil:
		o.ValueCodeable = concept(normCoding(*r.Coded), "")
	case r.Boolean != nil:
		b := *r.Boolean
		o.ValueBoolean = &b
	case r.Text != "":
		o.ValueString = r.Text
	}
	if code := strings.TrimSpace(r.Interpretation); code != "" {
		o.Interpretation = []fhir.CodeableConcept{{Coding: []fhir.Coding{{System: SystemInterpretation, Code: code, Display: interpretationDisplay[code]}}}}
	}
	rr := ReferenceRange{Low: quantity(r.RangeLow), High: quantity(r.RangeHigh), Text: r.RangeText}
	if rr.Low != nil || rr.High != nil || rr.Text != "" {
		o.ReferenceRange = []ReferenceRange{rr}
	}
	if sp := normCoding(r.Specimen); sp.Code != "" {
		// The specimen is not a resource of its own in Carnet: a display
		// reference says what was sampled without a dangling link.
		disp := sp.Display
		if disp == "" {
			disp = sp.Code
		}
		o.Specimen = &fhir.Reference{Display: disp}
	}
	return o
}

func observationStatus(cdaStatus string) string {
	switch cdaStatus {
	case "active":
		return "preliminary"
	case "aborted", "cancelled":
		return "cancelled"
	}
	return "final"
}

// medicationRequest maps a prescribed substanceAdministration. The status
// is as of the document's date (the extraction has no clock): completed
// when the period ended before the document was written, cancelled when
// the CDA says aborted, active otherwise.
func medicationRequest(m cda.Medication, docDate time.Time) MedicationRequest {
	mr := MedicationRequest{
		Resource:   fhir.Resource{ResourceType: string(carnet.ItemMedicationRequest)},
		Status:     "active",
		Intent:     "order",
		AuthoredOn: fhir.FormatDateTime(docDate),
	}
	// A prescription's statusCode is "completed" once written, whatever
	// its period: only the period says whether the treatment is over.
	if !m.End.IsZero() && !docDate.IsZero() && m.End.Time.Before(docDate) {
		mr.Status = "completed"
	}
	if m.Status == "aborted" || m.Status == "cancelled" {
		mr.Status = "cancelled"
	}
	if cc := concept(normCoding(m.Product), m.Name); cc != nil {
		mr.MedicationCodeableConcept = *cc
	}
	mr.DosageInstruction = dosages(m)
	if !m.Start.IsZero() || !m.End.IsZero() {
		mr.DispenseRequest = &DispenseRequest{ValidityPeriod: &fhir.Period{Start: dateTime(m.Start), End: dateTime(m.End)}}
	}
	return mr
}

// dosages are the dosage instructions of a substanceAdministration: its
// own (sequence 0, the whole) and, for a split posology, each step in
// order.
func dosages(m cda.Medication) []Dosage {
	var out []Dosage
	route := concept(normCoding(m.Route), "")
	d := Dosage{Text: m.Frequency, Route: route, Timing: timing(m.Timing)}
	if q := quantity(m.Dose); q != nil {
		d.DoseAndRate = []DoseAndRate{{DoseQuantity: q}}
	}
	if d.Text != "" || d.Route != nil || d.DoseAndRate != nil || d.Timing != nil {
		out = []Dosage{d}
	}
	for i, st := range m.Steps {
		sd := Dosage{Sequence: i + 1, Text: st.Text, Route: route, Timing: timing(st.Timing)}
		if q := quantity(st.Dose); q != nil {
			sd.DoseAndRate = []DoseAndRate{{DoseQuantity: q}}
		}
		out = append(out, sd)
	}
	return out
}

// medicationStatement maps a medication taken, dispensed or reimbursed
// (substanceAdministration in moodCode EVN, a dispensation's supply). The
// status is the one the entry states when it says more than "completed"
// (active, aborted → stopped, suspended → on-hold, cancelled → not-taken,
// nullified → entered-in-error); otherwise, as of the document's date,
// completed when the period ended before it, active when the period is
// open or ends later (an IPS or VSM treatment "since"), completed for a
// completed entry with no period (a reimbursed dispensation), unknown when
// nothing is stated. The period is effectivePeriod; without one, the
// dispensation date is effectiveDateTime (a reimbursement history dates
// a medication by it only). The dispensation itself is a contained
// MedicationDispense the statement is derivedFrom, with the quantity
// handed over.
func medicationStatement(m cda.Medication, docDate time.Time) MedicationStatement {
	ms := MedicationStatement{
		Resource:     fhir.Resource{ResourceType: string(carnet.ItemMedicationStatement)},
		Status:       medicationStatementStatus(m, docDate),
		DateAsserted: fhir.FormatDateTime(docDate),
	}
	if cc := concept(normCoding(m.Product), m.Name); cc != nil {
		ms.MedicationCodeableConcept = *cc
	}
	switch {
	case !m.Start.IsZero() || !m.End.IsZero():
		ms.EffectivePeriod = &fhir.Period{Start: dateTime(m.Start), End: dateTime(m.End)}
	case m.Supply != nil:
		ms.EffectiveDateTime = dateTime(m.Supply.Time)
	}
	ms.Dosage = dosages(m)
	if s := m.Supply; s != nil {
		md := MedicationDispense{
			Resource:                  fhir.Resource{ResourceType: "MedicationDispense", ID: "dispense"},
			Status:                    "completed",
			MedicationCodeableConcept: ms.MedicationCodeableConcept,
			Quantity:                  supplyQuantity(s),
			WhenHandedOver:            dateTime(s.Time),
		}
		if md.WhenHandedOver == "" {
			// A dispensation document (eDISP) dates its supplies by
			// itself: it is written when they are handed over.
			md.WhenHandedOver = fhir.FormatDateTime(docDate)
		}
		if d := strings.TrimSpace(s.Dispenser); d != "" {
			md.Performer = []DispensePerformer{{Actor: fhir.Reference{Display: d}}}
		}
		ms.Contained = []MedicationDispense{md}
		ms.DerivedFrom = []fhir.Reference{{Reference: "#dispense"}}
	}
	return ms
}

func medicationStatementStatus(m cda.Medication, docDate time.Time) string {
	switch m.Status {
	case "active":
		return "active"
	case "aborted":
		return "stopped"
	case "suspended":
		return "on-hold"
	case "cancelled":
		return "not-taken"
	case "nullified":
		return "entered-in-error"
	}
	// IHE PCC fixes a medication entry's statusCode at "completed" (the
	// record is complete), so the period says whether it is still taken.
	switch {
	case !m.End.IsZero() && !docDate.IsZero() && m.End.Time.Before(docDate):
		return "completed"
	case !m.Start.IsZero() || !m.End.IsZero():
		return "active"
	case m.Status == "completed":
		return "completed" // no period: a dispensation or reimbursement, done
	}
	return "unknown"
}

// supplyQuantity is the quantity handed over: a number of boxes. A unit
// of digits only is an EDQM packaging code (eDISP: 30009000, "Boîte"),
// served with the EDQM system and the name the product gives it; any
// other unit is UCUM.
func supplyQuantity(s *cda.Supply) *Quantity {
	q := quantity(s.Quantity)
	if q == nil || q.Unit == "" || !allDigits(q.Unit) {
		return q
	}
	code := q.Unit
	q.System, q.Code, q.Unit = "urn:oid:"+oidEDQM, code, strings.TrimSpace(s.UnitName)
	if q.Unit == "" {
		q.Unit = code
	}
	return q
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// procedure maps an act performed (IHE PCC Procedure Entry in moodCode
// EVN): status from the entry (completed unless it says active, aborted
// or cancelled), the date as performedDateTime, a period with two ends
// as performedPeriod.
func procedure(p cda.Procedure) Procedure {
	out := Procedure{
		Resource: fhir.Resource{ResourceType: string(carnet.ItemProcedure)},
		Status:   "completed",
		Code:     concept(normCoding(p.Code), p.Name),
	}
	switch p.Status {
	case "active":
		out.Status = "in-progress"
	case "aborted":
		out.Status = "stopped"
	case "cancelled":
		out.Status = "not-done"
	}
	if !p.End.IsZero() && !p.Start.IsZero() && !p.End.Time.Equal(p.Start.Time) {
		out.PerformedPeriod = &fhir.Period{Start: dateTime(p.Start), End: dateTime(p.End)}
	} else {
		out.PerformedDateTime = dateTime(p.Start)
	}
	return out
}

// screeningInterpretation reads the result of a screening test coded in
// the CI-SIS JDV_ResultatDepistage_CISIS (SNOMED CT: positif, négatif,
// indéterminé) as the interpretation the document does not state: a
// rapid test (TROD) gives no interpretationCode, its value is the
// interpretation. "Échantillon insatisfaisant" (125154007) is none.
var screeningInterpretation = map[string]string{"10828004": "POS", "260385009": "NEG", "373068000": "IND"}

// interpretationOf is the result's interpretationCode, else the one its
// screening value states.
func interpretationOf(r cda.LabResult) string {
	if code := strings.TrimSpace(r.Interpretation); code != "" {
		return code
	}
	if r.Coded != nil && normSystem(r.Coded.System) == SystemSNOMED {
		return screeningInterpretation[strings.TrimSpace(r.Coded.Code)]
	}
	return ""
}

// periodUnits are the UCUM units of a PIVL_TS period that FHIR's
// Timing.periodUnit accepts as they are.
var periodUnits = map[string]bool{"s": true, "min": true, "h": true, "d": true, "wk": true, "mo": true, "a": true}

// timing maps a CDA schedule to a FHIR Timing; nil when it says nothing
// FHIR can hold.
func timing(t cda.Timing) *Timing {
	var r TimingRepeat
	if p := t.Period; p != nil && isDecimal(strings.TrimSpace(p.Value)) && periodUnits[p.Unit] {
		r.Frequency, r.Period, r.PeriodUnit = 1, json.Number(canonicalDecimal(strings.TrimSpace(p.Value))), p.Unit
	}
	if ev := strings.TrimSpace(t.Event); ev != "" && len(ev) <= 8 {
		r.When = []string{ev}
	}
	if !t.Start.IsZero() || !t.End.IsZero() {
		r.BoundsPeriod = &fhir.Period{Start: dateTime(t.Start), End: dateTime(t.End)}
	}
	if t.Duration != nil && periodUnits[t.Duration.Unit] {
		r.BoundsDuration = quantity(t.Duration)
	}
	if r.Frequency == 0 && r.When == nil && r.BoundsPeriod == nil && r.BoundsDuration == nil {
		return nil
	}
	return &Timing{Repeat: r}
}

func immunization(im cda.Immunization) Immunization {
	out := Immunization{
		Resource:           fhir.Resource{ResourceType: string(carnet.ItemImmunization)},
		Status:             "completed",
		OccurrenceDateTime: dateTime(im.Date),
		LotNumber:          strings.TrimSpace(im.Lot),
	}
	if im.Refused {
		out.Status = "not-done"
	}
	if cc := concept(normCoding(im.Vaccine), im.Name); cc != nil {
		out.VaccineCode = *cc
	}
	if out.OccurrenceDateTime == "" {
		out.OccurrenceString = "unknown" // occurrence[x] is required
	}
	if d := strings.TrimSpace(im.Dose); d != "" {
		out.ProtocolApplied = []ProtocolApplied{{DoseNumberString: d}}
	}
	return out
}

func allergyIntolerance(a cda.Allergy) AllergyIntolerance {
	out := AllergyIntolerance{
		Resource:      fhir.Resource{ResourceType: string(carnet.ItemAllergy)},
		Code:          concept(normCoding(a.Agent), a.Name),
		OnsetDateTime: dateTime(a.Start),
	}
	if st := clinicalStatus(a.Status, a.End); st != "" {
		out.ClinicalStatus = &fhir.CodeableConcept{Coding: []fhir.Coding{{System: SystemAllergyClinical, Code: st}}}
	}
	t := strings.ToLower(a.Type.Display + " " + a.Type.Code)
	switch {
	case strings.Contains(t, "intol"):
		out.Type = "intolerance"
	case strings.Contains(t, "allerg"):
		out.Type = "allergy"
	}
	if r := strings.TrimSpace(a.Reaction); r != "" {
		out.Reaction = []AllergyReaction{{Manifestation: []fhir.CodeableConcept{{Text: r}}}}
	}
	return out
}

func condition(p cda.Problem) Condition {
	out := Condition{
		Resource:          fhir.Resource{ResourceType: string(carnet.ItemCondition)},
		Category:          []fhir.CodeableConcept{{Coding: []fhir.Coding{{System: "http://terminology.hl7.org/CodeSystem/condition-category", Code: "problem-list-item"}}}},
		Code:              concept(normCoding(p.Code), p.Name),
		OnsetDateTime:     dateTime(p.Start),
		AbatementDateTime: dateTime(p.End),
	}
	if st := clinicalStatus(p.Status, p.End); st != "" {
		out.ClinicalStatus = &fhir.CodeableConcept{Coding: []fhir.Coding{{System: SystemConditionClinical, Code: st}}}
	}
	return out
}

// clinicalStatus reads a PCC entry: an end date means resolved, otherwise
// active. The entry's own statusCode is "completed" as soon as it is
// recorded, so it says nothing of the patient's state; an aborted entry
// has no status.
func clinicalStatus(status string, end cda.Time) string {
	switch {
	case status == "aborted" || status == "cancelled":
		return ""
	case !end.IsZero():
		return "resolved"
	}
	return "active"
}
