package qedm

import (
	"fmt"
	"net/url"
	"strings"

	carnet "github.com/carnet-sante/carnet"
	"github.com/carnet-sante/carnet/fhir"
)

// Token kinds items are indexed under (carnet.ItemRow.Tokens).
const (
	TokCode     = carnet.TokCode     // the item's code: "system|code" and "code"
	TokCategory = "category"         // Observation category: "system|laboratory" and "laboratory"
	TokAbnormal = carnet.TokAbnormal // "true" when the interpretation is out of range
	// TokInterpretation is the result's interpretation code (H, HH, L, …):
	// what the pastille reads to tell critical results without unsealing.
	TokInterpretation = carnet.TokInterpretation
)

// Paging bounds of QEDm searches (the same as MHD's).
const (
	DefaultCount = 20
	MaxCount     = 200
)

// ItemTokens returns the tokens an item is indexed under: the one place
// that says how items are found; ParseItemSearch produces the same forms.
//
//	code      the item's code (CodingTokens: system|code and code), the
//	          system in the form normCoding gives (LOINC and SNOMED CT by URI)
//	category  laboratory, with and without the observation-category system
//	abnormal  "true" for a result flagged H, L, HH, LL, A, …
func ItemTokens(it carnet.Item) []carnet.Token {
	ts := carnet.CodingTokens(TokCode, normCoding(it.Code))
	if it.Category != "" {
		sys := ""
		if it.Kind == carnet.ItemObservation {
			sys = SystemObservationCategory
		}
		ts = append(ts, carnet.CodingTokens(TokCategory, carnet.Coding{System: sys, Code: it.Category})...)
	}
	if it.Abnormal {
		ts = append(ts, carnet.Token{Kind: TokAbnormal, Value: "true"})
	}
	if it.Interpretation != "" {
		ts = append(ts, carnet.Token{Kind: TokInterpretation, Value: it.Interpretation})
	}
	return ts
}

// ItemSearch is a QEDm search in domain terms. Exactly one of PatientKey
// and PatientID is set; Filter.Kinds holds the one kind searched.
type ItemSearch struct {
	PatientKey           carnet.PatientKey
	PatientID            carnet.Identifier
	Filter               carnet.ItemFilter
	RevIncludeProvenance bool // _revinclude=Provenance:target
	Chronological        bool // _sort=date: oldest first
	Total                bool // _total=accurate: count every match the caller may see
	Count                int
	Page                 string
}

// ParseItemSearch reads the query of a QEDm search on kind:
//
//	patient             Patient/{id} or {id}
//	patient.identifier  system|value (an INS)
//	code                token, any kind (vaccine-code too for Immunization)
//	category            token, Observation only
//	date                Observation, Immunization, Procedure, MedicationStatement:
//	                    effective time, with prefixes (effective too on
//	                    MedicationStatement, as R4 names it)
//	_revinclude         Provenance:target
//	_count, _page
//	_total              accurate counts every match; otherwise the total
//	                    is given only when one page holds them all
//
// Token values are system|code or code; a system given as an OID (bare or
// urn:oid:) is written as items are indexed, so that
// urn:oid:2.16.840.1.113883.6.1|718-7 finds the LOINC 718-7. Commas
// separate values of which any may match; a repeated parameter must match
// each time. Parameters that do not apply are ignored and named in the
// warnings; modifiers, malformed values or a missing patient are one
// KindInvalid error listing every problem.
func ParseItemSearch(kind carnet.ItemKind, q url.Values) (ItemSearch, []string, error) {
	sp := parser{}
	s := ItemSearch{Count: DefaultCount}
	switch kind {
	case carnet.ItemObservation, carnet.ItemMedicationRequest, carnet.ItemImmunization, carnet.ItemAllergy, carnet.ItemCondition,
		carnet.ItemMedicationStatement, carnet.ItemProcedure:
		s.Filter.Kinds = []carnet.ItemKind{kind}
	default:
		return ItemSearch{}, nil, carnet.Errorf(carnet.KindNotFound, "no QEDm search on this resource type")
	}
	for _, name := range fhir.ParamNames(q) {
		param, modifier, _ := strings.Cut(name, ":")
		values := q[name]
		switch {
		case fhir.TransportParam(param):
			continue
		case param == "_revinclude":
			// The modifier syntax does not apply: Provenance:target is the value.
			for _, v := range values {
				for _, part := range fhir.SplitValues(v) {
					if part == "Provenance:target" {
						s.RevIncludeProvenance = true
					} else {
						sp.warn(name + "=" + part)
					}
				}
			}
			continue
		}
		switch {
		case param == "patient":
			if sp.NoModifier(name, modifier) {
				s.PatientKey = sp.patient(name, values)
			}
		case param == "patient.identifier":
			if sp.NoModifier(name, modifier) {
				s.PatientID = sp.patientIdentifier(name, values)
			}
		case param == "code" || (param == "vaccine-code" && kind == carnet.ItemImmunization):
			if sp.NoModifier(name, modifier) {
				sp.tokens(&s.Filter.Tokens, name, TokCode, values)
			}
		case param == "category" && kind == carnet.ItemObservation:
			if sp.NoModifier(name, modifier) {
				sp.tokens(&s.Filter.Tokens, name, TokCategory, values)
			}
		case param == "date" && datedKind(kind), param == "effective" && kind == carnet.ItemMedicationStatement:
			if sp.NoModifier(name, modifier) {
				s.Filter.Effective = sp.DateRange(name, values, s.Filter.Effective)
			}
		case param == "_sort":
			switch strings.Join(values, ",") {
			case "date":
				s.Chronological = true
			case "-date":
			default:
				sp.Add("not-supported", name, "_sort takes date (oldest first, for a chart) or -date (newest first, the default)")
			}
		case param == "_count":
			// QEDm has always tolerated blanks around the number.
			s.Count = sp.Count(name, trimAll(values), DefaultCount, MaxCount)
		case param == "_total":
			if sp.NoModifier(name, modifier) {
				s.Total = sp.Total(name, values)
			}
		case param == "_page":
			if len(values) == 1 && values[0] == "" {
				// Unlike MHD, an empty _page is refused, not read as the first page.
				sp.Add("value", name, "_page is not a cursor given by this server")
				continue
			}
			s.Page = sp.Page(name, values)
		default:
			sp.warn(name)
		}
	}
	sp.RequirePatient(s.PatientKey, s.PatientID)
	if err := sp.Err("qedm.ParseItemSearch"); err != nil {
		return ItemSearch{}, sp.Warnings, err
	}
	return s, sp.Warnings, nil
}

// datedKind reports whether date searches kind's effective time: the
// resources IHE QEDm searches by date (Observation, Immunization,
// Procedure, MedicationStatement).
func datedKind(k carnet.ItemKind) bool {
	switch k {
	case carnet.ItemObservation, carnet.ItemImmunization, carnet.ItemProcedure, carnet.ItemMedicationStatement:
		return true
	}
	return false
}

// parser adds to fhir.SearchParams what is specific to QEDm: how a patient
// is named, token normalisation and the wording of warnings.
type parser struct {
	fhir.SearchParams
}

func (sp *parser) warn(name string) {
	sp.Warn(fmt.Sprintf("the search parameter %q is not supported here and was ignored", fhir.Clip(name, 60)))
}

func (sp *parser) patient(name string, values []string) carnet.PatientKey {
	v, ok := sp.Single(name, values)
	if !ok {
		return ""
	}
	v = strings.TrimSpace(v)
	if id, ok := strings.CutPrefix(v, "Patient/"); ok {
		v = id
	}
	if !fhir.ValidID(v) {
		sp.Add("value", name, "patient is Patient/{id} or {id}")
		return ""
	}
	return carnet.PatientKey(v)
}

func (sp *parser) patientIdentifier(name string, values []string) carnet.Identifier {
	v, ok := sp.Single(name, values)
	if !ok {
		return carnet.Identifier{}
	}
	sys, val, found := strings.Cut(v, "|")
	sys, val = strings.TrimSpace(sys), strings.TrimSpace(val)
	if carnet.IsOID(sys) {
		sys = "urn:oid:" + sys
	}
	if !found || sys == "" || val == "" || len(v) > fhir.MaxParamValueLen || strings.Contains(val, "|") {
		sp.Add("value", name, "patient.identifier is system|value, e.g. urn:oid:%s|…", carnet.OIDInsNIR)
		return carnet.Identifier{}
	}
	return carnet.Identifier{System: sys, Value: val}
}

// tokens reads a token parameter in the forms ItemTokens indexes.
func (sp *parser) tokens(dst *[]carnet.TokenFilter, name, kind string, values []string) {
	sp.Tokens(dst, name, kind, values, tokenValue, fhir.Clip(name, 40)+" takes system|code or code")
}

// tokenValue normalises a token search value to an indexed form: code
// alone, |code (no system), or system|code with the system as normSystem
// writes it.
func tokenValue(v string) (string, bool) {
	sys, code, found := strings.Cut(v, "|")
	if !found {
		return strings.TrimSpace(v), true
	}
	code = strings.TrimSpace(code)
	if code == "" || strings.Contains(code, "|") {
		return "", false // system| (any code of a system) is not indexed
	}
	return normSystem(sys) + "|" + code, true
}

func trimAll(values []string) []string {
	out := make([]string, len(values))
	for i, v := range values {
		out[i] = strings.TrimSpace(v)
	}
	return out
}
