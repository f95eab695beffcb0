package mhd

import (
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"

	carnet "github.com/carnet-sante/carnet"
	"github.com/carnet-sante/carnet/fhir"
)

// Paging bounds of searches.
const (
	DefaultCount = 20
	MaxCount     = 200
	maxCursor    = 512 // an opaque _page cursor is never longer
	maxValues    = 32  // values of one parameter (comma-separated, all occurrences)
	maxValueLen  = 256
)

// documentTokenParams maps ITI-67 token parameters to token kinds.
var documentTokenParams = map[string]string{
	"category":       "class",
	"event":          "event",
	"facility":       "facility",
	"format":         "format",
	"security-label": "label",
	"setting":        "setting",
	"type":           "type",
}

// silentParams are understood and have no effect on what is found: the
// transport handles them.
var silentParams = map[string]bool{"_format": true, "_pretty": true}

// ParseDocumentSearch reads the query of an ITI-67 Find Document References
// into a DocumentSearch. Parameters (see docs/MHD.md for the semantics):
// patient, patient.identifier, status, author.given, author.family,
// category, creation, date, event, facility, format, identifier, period,
// related, security-label, setting, type, _count, _page.
//
// Token parameters accept system|code, |code and code, which are passed on
// as given: carnet.DocumentTokens indexes codes in the same forms. Commas separate
// values of which any may match; a repeated parameter must match each time.
// Unknown parameters are ignored and named in the warnings, as MHD asks;
// a modifier, a malformed value or a missing patient is a KindInvalid
// error listing every problem.
func ParseDocumentSearch(q url.Values) (carnet.DocumentSearch, []string, error) {
	sp := searchParser{}
	var s carnet.DocumentSearch
	s.Count = DefaultCount
	f := &s.Filter
	var statusSets [][]carnet.DocumentStatus
	for _, name := range sortedKeys(q) {
		param, modifier, _ := strings.Cut(name, ":")
		values := q[name]
		if silentParams[param] {
			continue
		}
		if kind, ok := documentTokenParams[param]; ok {
			if sp.noModifier(name, modifier) {
				sp.setTokens(&f.Tokens, name, kind, values, tokenValue)
			}
			continue
		}
		switch param {
		case "patient":
			if sp.noModifier(name, modifier) {
				s.PatientKey = sp.patient(name, values)
			}
		case "patient.identifier":
			if sp.noModifier(name, modifier) {
				s.PatientID = sp.patientIdentifier(name, values)
			}
		case "status":
			if !sp.noModifier(name, modifier) {
				continue
			}
			for _, v := range values {
				var set []carnet.DocumentStatus
				for _, c := range splitValues(v) {
					st, ok := documentStatusParam(c)
					if !ok {
						sp.add("code-invalid", name, "status takes current, superseded, entered-in-error or archived")
						continue
					}
					set = append(set, st)
				}
				if len(set) > 0 {
					statusSets = append(statusSets, set)
				}
			}
		case "author.given", "author.family":
			if modifier != "" && modifier != "exact" {
				sp.add("not-supported", name, "names are matched exactly (folded): no :%s", clip(modifier, 20))
				continue
			}
			sp.setTokens(&f.Tokens, name, param, values, func(v string) (string, bool) {
				fv := carnet.FoldName(v)
				return fv, fv != ""
			})
		case "identifier":
			if sp.noModifier(name, modifier) {
				sp.setTokens(&f.Tokens, name, "identifier", values, identifierValue)
			}
		case "related":
			if sp.noModifier(name, modifier) {
				sp.setTokens(&f.Tokens, name, "related", values, relatedValue)
			}
		case "creation":
			if sp.noModifier(name, modifier) {
				f.Created = sp.dates(name, values, f.Created)
			}
		case "date":
			if sp.noModifier(name, modifier) {
				f.Date = sp.dates(name, values, f.Date)
			}
		case "period":
			if sp.noModifier(name, modifier) {
				f.Period = sp.dates(name, values, f.Period)
			}
		case "_count":
			s.Count = sp.count(name, values)
		case "_page":
			s.Page = sp.page(name, values)
		default:
			sp.warn(name)
		}
	}
	if len(statusSets) > 0 {
		f.Statuses = statusSets[0]
		for _, set := range statusSets[1:] {
			f.Statuses = slices.DeleteFunc(f.Statuses, func(s carnet.DocumentStatus) bool { return !slices.Contains(set, s) })
		}
		f.Statuses = dedupStatuses(f.Statuses)
		if len(f.Statuses) == 0 {
			// An empty list would mean "any status": refuse instead.
			sp.add("value", "status", "the status parameters exclude each other: no document can match")
		}
	}
	sp.requirePatient(s.PatientKey, s.PatientID)
	if err := sp.err("mhd.ParseDocumentSearch"); err != nil {
		return carnet.DocumentSearch{}, sp.warnings, err
	}
	return s, sp.warnings, nil
}

// ParseListSearch reads the query of an ITI-66 Find Document Lists into a
// ListSearch: patient, patient.identifier, code (submissionset or folder;
// Carnet has no folders, so folder finds nothing), status (only current
// exists), date (submission time), designationType, identifier, source-id,
// _count, _page. Tokens are those of carnet.SubmissionSetTokens.
func ParseListSearch(q url.Values) (carnet.ListSearch, []string, error) {
	sp := searchParser{}
	var s carnet.ListSearch
	s.Count = DefaultCount
	f := &s.Filter
	for _, name := range sortedKeys(q) {
		param, modifier, _ := strings.Cut(name, ":")
		values := q[name]
		if silentParams[param] {
			continue
		}
		switch param {
		case "patient":
			if sp.noModifier(name, modifier) {
				s.PatientKey = sp.patient(name, values)
			}
		case "patient.identifier":
			if sp.noModifier(name, modifier) {
				s.PatientID = sp.patientIdentifier(name, values)
			}
		case "code":
			if sp.noModifier(name, modifier) {
				sp.setTokens(&f.Tokens, name, "code", values, tokenValue)
			}
		case "status":
			if sp.noModifier(name, modifier) {
				sp.setTokens(&f.Tokens, name, "status", values, tokenValue)
			}
		case "designationType":
			if sp.noModifier(name, modifier) {
				sp.setTokens(&f.Tokens, name, "designationType", values, tokenValue)
			}
		case "identifier":
			if sp.noModifier(name, modifier) {
				sp.setTokens(&f.Tokens, name, "identifier", values, identifierValue)
			}
		case "source-id":
			if sp.noModifier(name, modifier) {
				sp.setTokens(&f.Tokens, name, "source", values, identifierValue)
			}
		case "date":
			if sp.noModifier(name, modifier) {
				f.Date = sp.dates(name, values, f.Date)
			}
		case "_count":
			s.Count = sp.count(name, values)
		case "_page":
			s.Page = sp.page(name, values)
		default:
			sp.warn(name)
		}
	}
	sp.requirePatient(s.PatientKey, s.PatientID)
	if err := sp.err("mhd.ParseListSearch"); err != nil {
		return carnet.ListSearch{}, sp.warnings, err
	}
	return s, sp.warnings, nil
}

type searchParser struct {
	issues   issueList
	warnings []string
}

func (sp *searchParser) add(code, param, format string, args ...any) {
	sp.issues.add(code, param, format, args...)
}

func (sp *searchParser) warn(name string) {
	const maxWarnings = 20
	switch {
	case len(sp.warnings) < maxWarnings:
		sp.warnings = append(sp.warnings, fmt.Sprintf("the search parameter %q is not supported and was ignored", clip(name, 40)))
	case len(sp.warnings) == maxWarnings:
		sp.warnings = append(sp.warnings, "more unsupported search parameters were ignored")
	}
}

func (sp *searchParser) err(op string) error {
	if len(sp.issues) == 0 {
		return nil
	}
	// Search problems are the caller's request being wrong: 400, whatever
	// the issue codes (carnet.Invalid would make code-invalid a 422).
	return &carnet.Error{Kind: carnet.KindInvalid, Op: op, Msg: "the search has errors", Issues: sp.issues}
}

func (sp *searchParser) noModifier(name, modifier string) bool {
	if modifier != "" {
		sp.add("not-supported", name, "the modifier :%s is not supported", clip(modifier, 20))
		return false
	}
	return true
}

func (sp *searchParser) requirePatient(key carnet.PatientKey, id carnet.Identifier) {
	switch {
	case key == "" && id.Value == "" && !sp.mentions("patient"):
		sp.add("required", "patient", "a search needs patient or patient.identifier")
	case key != "" && id.Value != "":
		sp.add("invalid", "patient", "give patient or patient.identifier, not both")
	}
}

// mentions reports whether an issue was already raised on param, so that a
// malformed patient is not also reported missing.
func (sp *searchParser) mentions(param string) bool {
	for _, is := range sp.issues {
		if is.Expression == param || strings.HasPrefix(is.Expression, param+".") {
			return true
		}
	}
	return false
}

func (sp *searchParser) single(name string, values []string) (string, bool) {
	if len(values) != 1 || strings.Contains(values[0], ",") {
		sp.add("value", name, "%s takes exactly one value", name)
		return "", false
	}
	return values[0], true
}

func (sp *searchParser) patient(name string, values []string) carnet.PatientKey {
	v, ok := sp.single(name, values)
	if !ok {
		return ""
	}
	if id, ok := referenceID(v, "Patient"); ok {
		return carnet.PatientKey(id)
	}
	if validID(v) {
		return carnet.PatientKey(v)
	}
	sp.add("value", name, "patient is Patient/{id} or {id}")
	return ""
}

func (sp *searchParser) patientIdentifier(name string, values []string) carnet.Identifier {
	v, ok := sp.single(name, values)
	if !ok {
		return carnet.Identifier{}
	}
	sys, val, found := strings.Cut(v, "|")
	sys, val = normSystem(sys), strings.TrimSpace(val)
	if !found || sys == "" || val == "" || len(v) > maxValueLen {
		sp.add("value", name, "patient.identifier is system|value, e.g. urn:oid:%s|…", carnet.OIDInsNIR)
		return carnet.Identifier{}
	}
	return carnet.Identifier{System: sys, Value: val}
}

// setTokens adds to dst one TokenFilter per occurrence of the parameter
// (AND), each with the comma-separated values (OR), normalised by norm.
func (sp *searchParser) setTokens(dst *[]carnet.TokenFilter, name, kind string, values []string, norm func(string) (string, bool)) {
	n := 0
	for _, v := range values {
		var tf carnet.TokenFilter
		tf.Kind = kind
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
			nv, ok := norm(part)
			if !ok {
				sp.add("value", name, "%s has a malformed value", name)
				continue
			}
			if !slices.Contains(tf.Values, nv) {
				tf.Values = append(tf.Values, nv)
			}
		}
		if len(tf.Values) > 0 {
			*dst = append(*dst, tf)
		}
	}
}

// dates intersects the ranges of every occurrence with r.
func (sp *searchParser) dates(name string, values []string, r carnet.TimeRange) carnet.TimeRange {
	for _, v := range values {
		if v == "" {
			continue
		}
		if strings.Contains(v, ",") {
			sp.add("not-supported", name, "several dates in one %s parameter (OR) are not supported; repeat the parameter for AND", name)
			continue
		}
		got, err := fhir.ParseDateParam(v)
		if err != nil {
			code := "value"
			if strings.HasPrefix(v, "ne") {
				code = "not-supported"
			}
			sp.add(code, name, "%s: %s", name, carnet.ErrorMessage(err))
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

func (sp *searchParser) count(name string, values []string) int {
	v, ok := sp.single(name, values)
	if !ok {
		return DefaultCount
	}
	n, err := strconv.Atoi(v)
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

func (sp *searchParser) page(name string, values []string) string {
	v, ok := sp.single(name, values)
	if !ok {
		return ""
	}
	if len(v) > maxCursor {
		sp.add("value", name, "_page is not a cursor given by this server")
		return ""
	}
	for i := 0; i < len(v); i++ {
		if v[i] <= ' ' || v[i] >= 0x7f {
			sp.add("value", name, "_page is not a cursor given by this server")
			return ""
		}
	}
	return v
}

// splitValues splits a parameter value on the commas that are not escaped
// (FHIR escapes a literal comma as \,), dropping empty values, which FHIR
// says to ignore.
func splitValues(v string) []string {
	var out []string
	var cur strings.Builder
	for i := 0; i < len(v); i++ {
		switch {
		case v[i] == '\\' && i+1 < len(v) && v[i+1] == ',':
			cur.WriteByte(',')
			i++
		case v[i] == ',':
			if s := strings.TrimSpace(cur.String()); s != "" {
				out = append(out, s)
			}
			cur.Reset()
		default:
			cur.WriteByte(v[i])
		}
	}
	if s := strings.TrimSpace(cur.String()); s != "" {
		out = append(out, s)
	}
	return out
}

// tokenValue checks a token value: code, |code or system|code, kept as is.
func tokenValue(v string) (string, bool) {
	_, code, found := strings.Cut(v, "|")
	if found && code == "" {
		return "", false // system| (any code of a system) is not indexed
	}
	if strings.Contains(code, "|") {
		return "", false
	}
	return v, true
}

// identifierValue keeps an identifier's value, without system, in the bare
// form carnet.DocumentTokens also indexes: "urn:ietf:rfc:3986|urn:oid:1.2.3" and
// "1.2.3" both search 1.2.3.
func identifierValue(v string) (string, bool) {
	if i := strings.LastIndex(v, "|"); i >= 0 {
		v = v[i+1:]
	}
	v = bareID(strings.TrimSpace(v))
	return v, v != ""
}

// relatedValue reads a reference to a DocumentReference as its id.
func relatedValue(v string) (string, bool) {
	if id, ok := referenceID(v, "DocumentReference"); ok {
		return id, true
	}
	if validID(v) {
		return v, true
	}
	return "", false
}

func documentStatusParam(code string) (carnet.DocumentStatus, bool) {
	switch code {
	case "current":
		return carnet.StatusCurrent, true
	case "superseded":
		return carnet.StatusSuperseded, true
	case "entered-in-error":
		return carnet.StatusDeleted, true
	case "archived":
		return carnet.StatusArchived, true
	}
	return "", false
}

func dedupStatuses(in []carnet.DocumentStatus) []carnet.DocumentStatus {
	var out []carnet.DocumentStatus
	for _, s := range in {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

func sortedKeys(q url.Values) []string {
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
