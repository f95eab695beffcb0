package fhir

import (
	"fmt"
	"net/url"
	"reflect"
	"strings"
	"testing"

	carnet "github.com/carnet-sante/carnet"
)

// codes lists the issues as "code expression: diagnostics", the part a
// client reads.
func codes(t *testing.T, p *SearchParams) []string {
	t.Helper()
	var out []string
	for _, is := range p.Issues {
		out = append(out, is.Code+" "+is.Expression+": "+is.Diagnostics)
	}
	return out
}

func TestSearchParamsErr(t *testing.T) {
	var p SearchParams
	if err := p.Err("op"); err != nil {
		t.Fatalf("Err without issues = %v, want nil", err)
	}
	p.Add("code-invalid", "status", "status takes %s", "current")
	err := p.Err("mhd.Test")
	// code-invalid alone would be a 422 through carnet.Invalid: a search is a 400.
	if got := carnet.ErrorKind(err); got != carnet.KindInvalid {
		t.Errorf("kind = %v, want KindInvalid", got)
	}
	want := []carnet.Issue{{Severity: "error", Code: "code-invalid", Expression: "status", Diagnostics: "status takes current"}}
	if got := carnet.ErrorIssues(err); !reflect.DeepEqual(got, want) {
		t.Errorf("issues = %+v, want %+v", got, want)
	}
}

func TestSearchParamsBounds(t *testing.T) {
	var p SearchParams
	long := strings.Repeat("x", 100)
	for range 150 {
		p.Add("value", long, "bad")
	}
	if got, want := len(p.Issues), maxSearchIssues+1; got != want {
		t.Fatalf("%d issues kept, want %d", got, want)
	}
	if got := p.Issues[0].Expression; got != strings.Repeat("x", 40)+"…" {
		t.Errorf("expression = %q, want the name clipped to 40 bytes", got)
	}
	if last := p.Issues[maxSearchIssues]; last.Code != "too-costly" || !strings.Contains(last.Diagnostics, "first 100") {
		t.Errorf("last issue = %+v, want the too-costly summary", last)
	}

	for i := range 30 {
		p.Warn(fmt.Sprint("w", i))
	}
	if got, want := len(p.Warnings), maxWarnings+1; got != want {
		t.Fatalf("%d warnings kept, want %d", got, want)
	}
	if got, want := p.Warnings[maxWarnings], "more unsupported search parameters were ignored"; got != want {
		t.Errorf("last warning = %q, want %q", got, want)
	}
}

func TestSearchParamsSingleCountPage(t *testing.T) {
	tests := []struct {
		name      string
		read      func(p *SearchParams) any
		want      any
		issues    []string
		nWarnings int
	}{
		{"count", func(p *SearchParams) any { return p.Count("_count", []string{"50"}, 20, 200) }, 50, nil, 0},
		{"count clamped", func(p *SearchParams) any { return p.Count("_count", []string{"1000"}, 20, 200) }, 200, nil, 1},
		{"count zero", func(p *SearchParams) any { return p.Count("_count", []string{"0"}, 20, 200) }, 20,
			[]string{"value _count: _count is a positive integer"}, 0},
		{"count twice", func(p *SearchParams) any { return p.Count("_count", []string{"5", "6"}, 20, 200) }, 20,
			[]string{"value _count: _count takes exactly one value"}, 0},
		{"count with comma", func(p *SearchParams) any { return p.Count("_count", []string{"5,6"}, 20, 200) }, 20,
			[]string{"value _count: _count takes exactly one value"}, 0},
		{"page", func(p *SearchParams) any { return p.Page("_page", []string{"abc-DEF_123"}) }, "abc-DEF_123", nil, 0},
		{"page empty is the first page", func(p *SearchParams) any { return p.Page("_page", []string{""}) }, "", nil, 0},
		{"page with a space", func(p *SearchParams) any { return p.Page("_page", []string{"a b"}) }, "",
			[]string{"value _page: _page is not a cursor given by this server"}, 0},
		{"page too long", func(p *SearchParams) any { return p.Page("_page", []string{strings.Repeat("a", MaxCursorLen+1)}) }, "",
			[]string{"value _page: _page is not a cursor given by this server"}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var p SearchParams
			if got := tt.read(&p); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
			if got := codes(t, &p); !reflect.DeepEqual(got, tt.issues) {
				t.Errorf("issues = %q, want %q", got, tt.issues)
			}
			if got := len(p.Warnings); got != tt.nWarnings {
				t.Errorf("%d warnings %q, want %d", got, p.Warnings, tt.nWarnings)
			}
		})
	}
}

func TestSearchParamsDateRange(t *testing.T) {
	tests := []struct {
		name     string
		values   []string
		from, to string
		issues   []string
	}{
		{"one year", []string{"2024"}, "2024-01-01T00:00:00Z", "2025-01-01T00:00:00Z", nil},
		{"repeated is AND", []string{"ge2023", "lt2024-06", "2024"}, "2024-01-01T00:00:00Z", "2024-06-01T00:00:00Z", nil},
		{"empty ignored", []string{""}, "", "", nil},
		{"OR refused", []string{"2023,2024"}, "", "",
			[]string{"not-supported date: several dates in one date parameter (OR) are not supported; repeat the parameter for AND"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var p SearchParams
			got := p.DateRange("date", tt.values, carnet.TimeRange{})
			var want carnet.TimeRange
			if tt.from != "" {
				want = carnet.TimeRange{From: utc(tt.from), To: utc(tt.to)}
			}
			if !got.From.Equal(want.From) || !got.To.Equal(want.To) {
				t.Errorf("range = %v..%v, want %v..%v", got.From, got.To, want.From, want.To)
			}
			if got := codes(t, &p); !reflect.DeepEqual(got, tt.issues) {
				t.Errorf("issues = %q, want %q", got, tt.issues)
			}
		})
	}

	// ne is valid FHIR that Carnet does not implement; a typo is not valid FHIR.
	for value, code := range map[string]string{"ne2024": "not-supported", "2024-13": "value"} {
		var p SearchParams
		p.DateRange("date", []string{value}, carnet.TimeRange{})
		if len(p.Issues) != 1 || p.Issues[0].Code != code || !strings.HasPrefix(p.Issues[0].Diagnostics, "date: ") {
			t.Errorf("date=%s: issues %+v, want one %s issue", value, p.Issues, code)
		}
	}
}

func TestSearchParamsTokens(t *testing.T) {
	upper := func(v string) (string, bool) { return strings.ToUpper(v), !strings.Contains(v, "!") }
	tests := []struct {
		name   string
		values []string
		want   []carnet.TokenFilter
		issues []string
	}{
		{"comma is OR, repeat is AND, duplicates once",
			[]string{"a,b,a", `c\,d`},
			[]carnet.TokenFilter{{Kind: "k", Values: []string{"A", "B"}}, {Kind: "k", Values: []string{"C,D"}}}, nil},
		{"malformed value reported, others kept",
			[]string{"a,b!"},
			[]carnet.TokenFilter{{Kind: "k", Values: []string{"A"}}},
			[]string{"value type: type is odd"}},
		{"too long",
			[]string{strings.Repeat("a", MaxParamValueLen+1)},
			nil,
			[]string{"value type: a value is longer than 256 characters"}},
		{"too many values across occurrences",
			[]string{strings.Repeat("a,", MaxParamValues), "b"},
			[]carnet.TokenFilter{{Kind: "k", Values: []string{"A"}}},
			[]string{"too-costly type: at most 32 values per parameter"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var p SearchParams
			var got []carnet.TokenFilter
			p.Tokens(&got, "type", "k", tt.values, upper, "type is odd")
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("filters = %+v, want %+v", got, tt.want)
			}
			if got := codes(t, &p); !reflect.DeepEqual(got, tt.issues) {
				t.Errorf("issues = %q, want %q", got, tt.issues)
			}
		})
	}
}

func TestSplitValues(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"a,b", []string{"a", "b"}},
		{` a , ,b,`, []string{"a", "b"}},
		{`x\,y,z`, []string{"x,y", "z"}},
		{`tail\`, []string{`tail\`}},
		{"", nil},
	}
	for _, tt := range tests {
		if got := SplitValues(tt.in); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("SplitValues(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestRequirePatient(t *testing.T) {
	tests := []struct {
		name   string
		before string // an issue already raised on this expression
		key    carnet.PatientKey
		id     carnet.Identifier
		want   []string
	}{
		{"key", "", "p1", carnet.Identifier{}, nil},
		{"identifier", "", "", carnet.Identifier{System: "urn:oid:1.2", Value: "9"}, nil},
		{"missing: the Service decides (a patient's own record)", "", "", carnet.Identifier{}, nil},
		{"malformed not also missing", "patient.identifier", "", carnet.Identifier{}, []string{"value patient.identifier: bad"}},
		{"both", "", "p1", carnet.Identifier{System: "urn:oid:1.2", Value: "9"}, []string{"invalid patient: give patient or patient.identifier, not both"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var p SearchParams
			if tt.before != "" {
				p.Add("value", tt.before, "bad")
			}
			p.RequirePatient(tt.key, tt.id)
			if got := codes(t, &p); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("issues = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestNoModifierAndParamNames(t *testing.T) {
	var p SearchParams
	if !p.NoModifier("type", "") {
		t.Error("NoModifier refused a name without modifier")
	}
	if p.NoModifier("type:text", "text") {
		t.Error("NoModifier accepted :text")
	}
	want := []string{"not-supported type:text: the modifier :text is not supported"}
	if got := codes(t, &p); !reflect.DeepEqual(got, want) {
		t.Errorf("issues = %q, want %q", got, want)
	}
	q := url.Values{"type": nil, "_count": nil, "patient": nil}
	if got, want := ParamNames(q), []string{"_count", "patient", "type"}; !reflect.DeepEqual(got, want) {
		t.Errorf("ParamNames = %q, want %q", got, want)
	}
}

func TestValidIDAndClip(t *testing.T) {
	for id, want := range map[string]bool{"a-B.9": true, "": false, "a/b": false, strings.Repeat("a", 64): true, strings.Repeat("a", 65): false} {
		if got := ValidID(id); got != want {
			t.Errorf("ValidID(%q) = %v, want %v", id, got, want)
		}
	}
	if got, want := Clip("abcdef", 3), "abc…"; got != want {
		t.Errorf("Clip = %q, want %q", got, want)
	}
	if got, want := Clip("abc", 3), "abc"; got != want {
		t.Errorf("Clip = %q, want %q", got, want)
	}
}

func TestMarshalPlain(t *testing.T) {
	b, err := MarshalPlain(map[string]string{"div": "<div>a & b</div>"})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(b), `{"div":"<div>a & b</div>"}`; got != want {
		t.Errorf("MarshalPlain = %s, want %s (no HTML escaping, no trailing newline)", got, want)
	}
}
