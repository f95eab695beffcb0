package fhir

import (
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"

	carnet "github.com/carnet-sante/carnet"
)

// Bounds of search parameters, shared by every search Carnet serves (MHD
// ITI-66/67, QEDm): a query must not cost more than its length suggests.
const (
	MaxParamValues   = 32  // values of one parameter (comma-separated, all occurrences)
	MaxParamValueLen = 256 // bytes of one value
	MaxCursorLen     = 512 // an opaque _page cursor is never longer
	maxSearchIssues  = 100 // issues of one search: the outcome stays smaller than a hostile query
	maxWarnings      = 20
	maxNameLen       = 40 // a parameter name as quoted in issues
)

// SearchParams collects, while a search's parameters are read, every
// problem (as carnet.Issue values, so that a client fixes them all in one
// round) and every warning. Diagnostics name parameters and rules, never
// the values, which may be patient data. The zero value is ready to use.
type SearchParams struct {
	Issues   []carnet.Issue
	Warnings []string
}

// ParamNames returns the names of q sorted, so that issues come in a
// stable order.
func ParamNames(q url.Values) []string {
	names := make([]string, 0, len(q))
	for k := range q {
		names = append(names, k)
	}
	slices.Sort(names)
	return names
}

// TransportParam reports whether param is handled by the transport
// (_format, _pretty) and has no effect on what is found.
func TransportParam(param string) bool {
	return param == "_format" || param == "_pretty"
}

// Add records an error issue on the parameter name.
func (p *SearchParams) Add(code, name, format string, args ...any) {
	switch {
	case len(p.Issues) < maxSearchIssues:
		p.Issues = append(p.Issues, carnet.Issue{Severity: "error", Code: code, Expression: Clip(name, maxNameLen), Diagnostics: fmt.Sprintf(format, args...)})
	case len(p.Issues) == maxSearchIssues:
		p.Issues = append(p.Issues, carnet.Issue{Severity: "error", Code: "too-costly", Diagnostics: fmt.Sprintf("more than %d problems: the first %d are listed", maxSearchIssues, maxSearchIssues)})
	}
}

// Warn records a warning, such as an ignored parameter; past 20, one last
// warning says that more were left out.
func (p *SearchParams) Warn(msg string) {
	switch {
	case len(p.Warnings) < maxWarnings:
		p.Warnings = append(p.Warnings, msg)
	case len(p.Warnings) == maxWarnings:
		p.Warnings = append(p.Warnings, "more unsupported search parameters were ignored")
	}
}

// Err returns nil when no issue was recorded, or a KindInvalid
// *carnet.Error carrying them all.
func (p *SearchParams) Err(op string) error {
	if len(p.Issues) == 0 {
		return nil
	}
	// Search problems are the caller's request being wrong: 400, whatever
	// the issue codes (carnet.Invalid would make code-invalid a 422).
	return &carnet.Error{Kind: carnet.KindInvalid, Op: op, Msg: "the search has errors", Issues: p.Issues}
}

// Mentions reports whether an issue was already raised on param or one of
// its chains (param.x), so that a malformed patient is not also reported
// missing.
func (p *SearchParams) Mentions(param string) bool {
	for _, is := range p.Issues {
		if is.Expression == param || strings.HasPrefix(is.Expression, param+".") {
			return true
		}
	}
	return false
}

// NoModifier records an issue and returns false when a modifier is given:
// none of the parameters Carnet supports takes one.
func (p *SearchParams) NoModifier(name, modifier string) bool {
	if modifier != "" {
		p.Add("not-supported", name, "the modifier :%s is not supported", Clip(modifier, 20))
		return false
	}
	return true
}

// RequirePatient records an issue when both key and id (patient,
// patient.identifier) were given. Neither is for the Service to decide: a
// patient's search without one is of their own record; anyone else's is
// refused there.
func (p *SearchParams) RequirePatient(key carnet.PatientKey, id carnet.Identifier) {
	if key != "" && id.Value != "" {
		p.Add("invalid", "patient", "give patient or patient.identifier, not both")
	}
}

// Single returns the one value of a parameter that takes exactly one.
func (p *SearchParams) Single(name string, values []string) (string, bool) {
	if len(values) != 1 || strings.Contains(values[0], ",") {
		p.Add("value", name, "%s takes exactly one value", Clip(name, maxNameLen))
		return "", false
	}
	return values[0], true
}

// Count reads _count: def when absent or malformed, max (with a warning)
// when more is asked.
func (p *SearchParams) Count(name string, values []string, def, max int) int {
	v, ok := p.Single(name, values)
	if !ok {
		return def
	}
	n, err := strconv.Atoi(v)
	switch {
	case err != nil || n < 1:
		p.Add("value", name, "_count is a positive integer")
		return def
	case n > max:
		// Not through Warn: this one must never be dropped.
		p.Warnings = append(p.Warnings, fmt.Sprintf("_count is at most %d: pages have %d entries", max, max))
		return max
	}
	return n
}

// Total reads _total (none, estimate, accurate) and reports whether an
// accurate total is asked for. Estimate is answered as none: the total is
// given when it costs nothing (one page holds every match).
func (p *SearchParams) Total(name string, values []string) bool {
	v, ok := p.Single(name, values)
	if !ok {
		return false
	}
	switch v {
	case "accurate":
		return true
	case "none", "estimate":
		return false
	}
	p.Add("value", name, "_total is none, estimate or accurate")
	return false
}

// Page reads _page, an opaque cursor this server gave: printable ASCII, at
// most MaxCursorLen bytes. An empty value is no cursor (the first page).
func (p *SearchParams) Page(name string, values []string) string {
	v, ok := p.Single(name, values)
	if !ok {
		return ""
	}
	bad := len(v) > MaxCursorLen
	for i := 0; i < len(v) && !bad; i++ {
		bad = v[i] <= ' ' || v[i] >= 0x7f
	}
	if bad {
		p.Add("value", name, "_page is not a cursor given by this server")
		return ""
	}
	return v
}

// DateRange intersects r with the range of every occurrence of a date
// parameter (repeated means AND), read by ParseDateParam. Commas (OR) are
// not supported, nor is the ne prefix.
func (p *SearchParams) DateRange(name string, values []string, r carnet.TimeRange) carnet.TimeRange {
	for _, v := range values {
		if v == "" {
			continue
		}
		if strings.Contains(v, ",") {
			p.Add("not-supported", name, "several dates in one %s parameter (OR) are not supported; repeat the parameter for AND", Clip(name, maxNameLen))
			continue
		}
		got, err := ParseDateParam(v)
		if err != nil {
			code := "value"
			if strings.HasPrefix(v, "ne") {
				code = "not-supported"
			}
			p.Add(code, name, "%s: %s", Clip(name, maxNameLen), carnet.ErrorMessage(err))
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

// Tokens appends to dst one TokenFilter of kind per occurrence of the
// parameter (AND), holding its comma-separated values (OR) as norm writes
// them. A value norm refuses is reported with the diagnostic malformed; at
// most MaxParamValues values of MaxParamValueLen bytes are read.
func (p *SearchParams) Tokens(dst *[]carnet.TokenFilter, name, kind string, values []string, norm func(string) (string, bool), malformed string) {
	n := 0
	for _, v := range values {
		tf := carnet.TokenFilter{Kind: kind}
		for _, part := range SplitValues(v) {
			n++
			if n > MaxParamValues {
				p.Add("too-costly", name, "at most %d values per parameter", MaxParamValues)
				return
			}
			if len(part) > MaxParamValueLen {
				p.Add("value", name, "a value is longer than %d characters", MaxParamValueLen)
				continue
			}
			nv, ok := norm(part)
			if !ok {
				p.Add("value", name, "%s", malformed)
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

// SplitValues splits a parameter value on the commas that are not escaped
// (FHIR writes a literal comma \,), dropping empty values, which FHIR says
// to ignore.
func SplitValues(v string) []string {
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

// ValidID reports whether s is a FHIR id: [A-Za-z0-9\-\.]{1,64}.
func ValidID(s string) bool {
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

// Clip shortens s to n bytes and an ellipsis, for quoting a client's text
// in a diagnostic without letting it grow the answer.
func Clip(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
