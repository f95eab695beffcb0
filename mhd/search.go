package mhd

import (
	"fmt"
	"net/url"
	"slices"
	"strings"

	carnet "github.com/carnet-sante/carnet"
	"github.com/carnet-sante/carnet/fhir"
)

// Paging bounds of searches.
const (
	DefaultCount = 20
	MaxCount     = 200
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

// ParseDocumentSearch reads the query of an ITI-67 Find Document References
// into a DocumentSearch. Parameters (see docs/MHD.md for the semantics):
// patient, patient.identifier, status, author.given, author.family,
// category, creation, date, event, facility, format, identifier, period,
// related, security-label, setting, type, _count, _page, _total (accurate
// counts every match; without it the total is given only when one page
// holds them all).
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
	for _, name := range fhir.ParamNames(q) {
		param, modifier, _ := strings.Cut(name, ":")
		values := q[name]
		if fhir.TransportParam(param) {
			continue
		}
		if kind, ok := documentTokenParams[param]; ok {
			if sp.NoModifier(name, modifier) {
				sp.setTokens(&f.Tokens, name, kind, values, tokenValue)
			}
			continue
		}
		switch param {
		case "patient":
			if sp.NoModifier(name, modifier) {
				s.PatientKey = sp.patient(name, values)
			}
		case "patient.identifier":
			if sp.NoModifier(name, modifier) {
				s.PatientID = sp.patientIdentifier(name, values)
			}
		case "status":
			if !sp.NoModifier(name, modifier) {
				continue
			}
			for _, v := range values {
				var set []carnet.DocumentStatus
				for _, c := range fhir.SplitValues(v) {
					st, ok := documentStatusParam(c)
					if !ok {
						sp.Add("code-invalid", name, "status takes current, superseded, entered-in-error or archived")
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
				sp.Add("not-supported", name, "names are matched exactly (folded): no :%s", fhir.Clip(modifier, 20))
				continue
			}
			sp.setTokens(&f.Tokens, name, param, values, func(v string) (string, bool) {
				fv := carnet.FoldName(v)
				return fv, fv != ""
			})
		case "identifier":
			if sp.NoModifier(name, modifier) {
				sp.setTokens(&f.Tokens, name, "identifier", values, identifierValue)
			}
		case "related":
			if sp.NoModifier(name, modifier) {
				sp.setTokens(&f.Tokens, name, "related", values, relatedValue)
			}
		case "creation":
			if sp.NoModifier(name, modifier) {
				f.Created = sp.DateRange(name, values, f.Created)
			}
		case "date":
			if sp.NoModifier(name, modifier) {
				f.Date = sp.DateRange(name, values, f.Date)
			}
		case "period":
			if sp.NoModifier(name, modifier) {
				f.Period = sp.DateRange(name, values, f.Period)
			}
		case "_count":
			s.Count = sp.Count(name, values, DefaultCount, MaxCount)
		case "_page":
			s.Page = sp.Page(name, values)
		case "_total":
			s.Total = sp.Total(name, values)
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
			sp.Add("value", "status", "the status parameters exclude each other: no document can match")
		}
	}
	sp.RequirePatient(s.PatientKey, s.PatientID)
	if err := sp.Err("mhd.ParseDocumentSearch"); err != nil {
		return carnet.DocumentSearch{}, sp.Warnings, err
	}
	return s, sp.Warnings, nil
}

// listTokenParams maps ITI-66 token parameters to token kinds
// (carnet.SubmissionSetTokens) and the normal form of their values.
var listTokenParams = map[string]struct {
	kind string
	norm func(string) (string, bool)
}{
	"code":            {carnet.TokCode, tokenValue},
	"status":          {carnet.TokStatus, tokenValue},
	"designationType": {carnet.TokDesignationType, tokenValue},
	"identifier":      {carnet.TokIdentifier, identifierValue},
	"source-id":       {carnet.TokSource, identifierValue},
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
	for _, name := range fhir.ParamNames(q) {
		param, modifier, _ := strings.Cut(name, ":")
		values := q[name]
		if fhir.TransportParam(param) {
			continue
		}
		switch param {
		case "patient":
			if sp.NoModifier(name, modifier) {
				s.PatientKey = sp.patient(name, values)
			}
		case "patient.identifier":
			if sp.NoModifier(name, modifier) {
				s.PatientID = sp.patientIdentifier(name, values)
			}
		case "code", "status", "designationType", "identifier", "source-id":
			if sp.NoModifier(name, modifier) {
				t := listTokenParams[param]
				sp.setTokens(&f.Tokens, name, t.kind, values, t.norm)
			}
		case "date":
			if sp.NoModifier(name, modifier) {
				f.Date = sp.DateRange(name, values, f.Date)
			}
		case "_count":
			s.Count = sp.Count(name, values, DefaultCount, MaxCount)
		case "_page":
			s.Page = sp.Page(name, values)
		default:
			sp.warn(name)
		}
	}
	sp.RequirePatient(s.PatientKey, s.PatientID)
	if err := sp.Err("mhd.ParseListSearch"); err != nil {
		return carnet.ListSearch{}, sp.Warnings, err
	}
	return s, sp.Warnings, nil
}

// searchParser adds to fhir.SearchParams what is specific to MHD: how a
// patient is named and the wording of warnings.
type searchParser struct {
	fhir.SearchParams
}

func (sp *searchParser) warn(name string) {
	sp.Warn(fmt.Sprintf("the search parameter %q is not supported and was ignored", fhir.Clip(name, 40)))
}

func (sp *searchParser) patient(name string, values []string) carnet.PatientKey {
	v, ok := sp.Single(name, values)
	if !ok {
		return ""
	}
	if id, ok := referenceID(v, "Patient"); ok {
		return carnet.PatientKey(id)
	}
	if fhir.ValidID(v) {
		return carnet.PatientKey(v)
	}
	sp.Add("value", name, "patient is Patient/{id} or {id}")
	return ""
}

func (sp *searchParser) patientIdentifier(name string, values []string) carnet.Identifier {
	v, ok := sp.Single(name, values)
	if !ok {
		return carnet.Identifier{}
	}
	sys, val, found := strings.Cut(v, "|")
	sys, val = normSystem(sys), strings.TrimSpace(val)
	if !found || sys == "" || val == "" || len(v) > fhir.MaxParamValueLen {
		sp.Add("value", name, "patient.identifier is system|value, e.g. urn:oid:%s|…", carnet.OIDInsNIR)
		return carnet.Identifier{}
	}
	return carnet.Identifier{System: sys, Value: val}
}

// setTokens reads a token parameter; a value norm refuses is "malformed".
func (sp *searchParser) setTokens(dst *[]carnet.TokenFilter, name, kind string, values []string, norm func(string) (string, bool)) {
	sp.Tokens(dst, name, kind, values, norm, name+" has a malformed value")
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
	if fhir.ValidID(v) {
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
