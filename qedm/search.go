package qedm

import (
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"

	carnet "github.com/carnet-sante/carnet"
	"github.com/carnet-sante/carnet/fhir"
)

// Token kinds items are indexed under (carnet.ItemRow.Tokens).
const (
	TokCode     = carnet.TokCode // the item's code: "system|code" and "code"
	TokCategory = "category"     // Observation category: "system|laboratory" and "laboratory"
	TokAbnormal = "abnormal"     // "true" when the interpretation is out of range
)

// Paging bounds of QEDm searches (the same as MHD's).
const (
	DefaultCount = 20
	MaxCount     = 200
	maxCursor    = 512
	maxValues    = 32
	maxValueLen  = 256
	maxWarnings  = 20
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
	return ts
}

// ItemSearch is a QEDm search in domain terms. Exactly one of PatientKey
// and PatientID is set; Filter.Kinds holds the one kind searched.
type ItemSearch struct {
	PatientKey           carnet.PatientKey
	PatientID            carnet.Identifier
	Filter               carnet.ItemFilter
	RevIncludeProvenance bool // _revinclude=Provenance:target
	Count                int
	Page                 string
}

// ParseItemSearch reads the query of a QEDm search on kind:
//
//	patient             Patient/{id} or {id}
//	patient.identifier  system|value (an INS)
//	code                token, any kind (vaccine-code too for Immunization)
//	category            token, Observation only
//	date                Observation and Immunization: effective time, with prefixes
//	_revinclude         Provenance:target
//	_count, _page
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
	case carnet.ItemObservation, carnet.ItemMedicationRequest, carnet.ItemImmunization, carnet.ItemAllergy, carnet.ItemCondition:
		s.Filter.Kinds = []carnet.ItemKind{kind}
	default:
		return ItemSearch{}, nil, carnet.Errorf(carnet.KindNotFound, "no QEDm search on this resource type")
	}
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, name := range keys {
		param, modifier, _ := strings.Cut(name, ":")
		values := q[name]
		switch {
		case param == "_format" || param == "_pretty":
			continue
		case param == "_revinclude":
			// The modifier syntax does not apply: Provenance:target is the value.
			for _, v := range values {
				for _, part := range splitValues(v) {
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
			if sp.noModifier(name, modifier) {
				s.PatientKey = sp.patient(name, values)
			}
		case param == "patient.identifier":
			if sp.noModifier(name, modifier) {
				s.PatientID = sp.patientIdentifier(name, values)
			}
		case param == "code" || (param == "vaccine-code" && kind == carnet.ItemImmunization):
			if sp.noModifier(name, modifier) {
				sp.tokens(&s.Filter.Tokens, name, TokCode, values)
			}
		case param == "category" && kind == carnet.ItemObservation:
			if sp.noModifier(name, modifier) {
				sp.tokens(&s.Filter.Tokens, name, TokCategory, values)
			}
		case param == "date" && (kind == carnet.ItemObservation || kind == carnet.ItemImmunization):
			if sp.noModifier(name, modifier) {
				s.Filter.Effective = sp.dates(name, values, s.Filter.Effective)
			}
		case param == "_count":
			s.Count = sp.count(name, values)
		case param == "_page":
			s.Page = sp.page(name, values)
		default:
			sp.warn(name)
		}
	}
	switch {
	case s.PatientKey == "" && s.PatientID.Value == "" && !sp.mentions("patient"):
		sp.add("required", "patient", "a search needs patient or patient.identifier")
	case s.PatientKey != "" && s.PatientID.Value != "":
		sp.add("invalid", "patient", "give patient or patient.identifier, not both")
	}
	if len(sp.issues) > 0 {
		return ItemSearch{}, sp.warnings, &carnet.Error{Kind: carnet.KindInvalid, Op: "qedm.ParseItemSearch", Msg: "the search has errors", Issues: sp.issues}
	}
	return s, sp.warnings, nil
}

type parser struct {
	issues   []carnet.Issue
	warnings []string
}

func (sp *parser) add(code, param, format string, args ...any) {
	sp.issues = append(sp.issues, carnet.Issue{Severity: "error", Code: code, Expression: clip(param, 40), Diagnostics: fmt.Sprintf(format, args...)})
}

func (sp *parser) warn(name string) {
	switch {
	case len(sp.warnings) < maxWarnings:
		sp.warnings = append(sp.warnings, fmt.Sprintf("the search parameter %q is not supported here and was ignored", clip(name, 60)))
	case len(sp.warnings) == maxWarnings:
		sp.warnings = append(sp.warnings, "more unsupported search parameters were ignored")
	}
}

func (sp *parser) mentions(param string) bool {
	for _, is := range sp.issues {
		if is.Expression == param || strings.HasPrefix(is.Expression, param+".") {
			return true
		}
	}
	return false
}

func (sp *parser) noModifier(name, modifier string) bool {
	if modifier != "" {
		sp.add("not-supported", name, "the modifier :%s is not supported", clip(modifier, 20))
		return false
	}
	return true
}

func (sp *parser) single(name string, values []string) (string, bool) {
	if len(values) != 1 || strings.Contains(values[0], ",") {
		sp.add("value", name, "%s takes exactly one value", clip(name, 40))
		return "", false
	}
	return values[0], true
}

func (sp *parser) patient(name string, values []string) carnet.PatientKey {
	v, ok := sp.single(name, values)
	if !ok {
		return ""
	}
	v = strings.TrimSpace(v)
	if id, ok := strings.CutPrefix(v, "Patient/"); ok {
		v = id
	}
	if !validID(v) {
		sp.add("value", name, "patient is Patient/{id} or {id}")
		return ""
	}
	return carnet.PatientKey(v)
}

func (sp *parser) patientIdentifier(name string, values []string) carnet.Identifier {
	v, ok := sp.single(name, values)
	if !ok {
		return carnet.Identifier{}
	}
	sys, val, found := strings.Cut(v, "|")
	sys, val = strings.TrimSpace(sys), strings.TrimSpace(val)
	if carnet.IsOID(sys) {
		sys = "urn:oid:" + sys
	}
	if !found || sys == "" || val == "" || len(v) > maxValueLen || strings.Contains(val, "|") {
		sp.add("value", name, "patient.identifier is system|value, e.g. urn:oid:%s|…", carnet.OIDInsNIR)
		return carnet.Identifier{}
	}
	return carnet.Identifier{System: sys, Value: val}
}

// tokens adds one TokenFilter per occurrence (AND) with its comma-separated
// values (OR), in the forms ItemTokens indexes.
func (sp *parser) tokens(dst *[]carnet.TokenFilter, name, kind string, values []string) {
	n := 0
	for _, v := range values {
		tf := carnet.TokenFilter{Kind: kind}
		for _, part := range splitValues(v) {
			n++
			if n > maxValues {
				sp.add("too-costly", name, "at most %d values per parameter", maxValues)
				return
			}
			if len(part) > maxValueLen {
				sp.add("value", name, "a value is longer than %d characters", maxValueLen)
				continue
			}
			tv, ok := tokenValue(part)
			if !ok {
				sp.add("value", name, "%s takes system|code or code", clip(name, 40))
				continue
			}
			if !slices.Contains(tf.Values, tv) {
				tf.Values = append(tf.Values, tv)
			}
		}
		if len(tf.Values) > 0 {
			*dst = append(*dst, tf)
		}
	}
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

func (sp *parser) dates(name string, values []string, r carnet.TimeRange) carnet.TimeRange {
	for _, v := range values {
		if v == "" {
			continue
		}
		if strings.Contains(v, ",") {
			sp.add("not-supported", name, "several dates in one %s parameter (OR) are not supported; repeat the parameter for AND", clip(name, 40))
			continue
		}
		got, err := fhir.ParseDateParam(v)
		if err != nil {
			code := "value"
			if strings.HasPrefix(v, "ne") {
				code = "not-supported"
			}
			sp.add(code, name, "%s: %s", clip(name, 40), carnet.ErrorMessage(err))
			continue
		}
		if !got.From.IsZero() && (r.From.IsZero() || got.From.After(r.From)) {
			r.From = got.From
		}
		if !got.To.IsZero() && (r.To.IsZero() || got.To.Before(r.To)) {
			r.To = got.To
		}
	}
	return r
}

func (sp *parser) count(name string, values []string) int {
	v, ok := sp.single(name, values)
	if !ok {
		return DefaultCount
	}
	n, err := strconv.Atoi(strings.TrimSpace(v))
	switch {
	case err != nil || n < 1:
		sp.add("value", name, "_count is a positive integer")
		return DefaultCount
	case n > MaxCount:
		sp.warnings = append(sp.warnings, fmt.Sprintf("_count is at most %d: pages have %d entries", MaxCount, MaxCount))
		return MaxCount
	}
	return n
}

func (sp *parser) page(name string, values []string) string {
	v, ok := sp.single(name, values)
	if !ok {
		return ""
	}
	bad := len(v) > maxCursor || v == ""
	for i := 0; i < len(v) && !bad; i++ {
		bad = v[i] <= ' ' || v[i] >= 0x7f
	}
	if bad {
		sp.add("value", name, "_page is not a cursor given by this server")
		return ""
	}
	return v
}

// splitValues splits on unescaped commas (FHIR writes a literal comma \,)
// and drops empty values, which FHIR says to ignore.
func splitValues(v string) []string {
	var out []string
	var cur strings.Builder
	flush := func() {
		if s := strings.TrimSpace(cur.String()); s != "" {
			out = append(out, s)
		}
		cur.Reset()
	}
	for i := 0; i < len(v); i++ {
		switch {
		case v[i] == '\\' && i+1 < len(v) && v[i+1] == ',':
			cur.WriteByte(',')
			i++
		case v[i] == ',':
			flush()
		default:
			cur.WriteByte(v[i])
		}
	}
	flush()
	return out
}

// validID reports whether s is a FHIR id: [A-Za-z0-9\-\.]{1,64}.
func validID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
