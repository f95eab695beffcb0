package carnet

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"testing"
	"time"
)

func TestFoldName(t *testing.T) {
	for in, want := range map[string]string{
		"  Éloïse  Lœuvre ": "eloise loeuvre",
		"LEFÈVRE":           "lefevre",
		"Gaëlle-Anne":       "gaelle-anne",
		"çà":                "ca",
		"":                  "",
	} {
		if got := FoldName(in); got != want {
			t.Errorf("FoldName(%q) = %q, want %q", in, got, want)
		}
	}
}

// An author's specialty has one form whatever the format it came in (a CDA
// header's JDV_J01 code, XDS or FHIR giving the specialty apart from the
// profession): the form the callers' specialty and the affinity table use.
func TestAuthorSpecialtyCode(t *testing.T) {
	code := func(c string) Coding { return Coding{Code: c} }
	for _, c := range []struct {
		a    Author
		want string
	}{
		{Author{Profession: code("G15_10"), Specialty: code("G15_10/SM04")}, "G15_10/SM04"}, // CDA, XDS
		{Author{Specialty: code("G15_10/SM04")}, "G15_10/SM04"},
		{Author{Profession: code("G15_10"), Specialty: code("SM04")}, "G15_10/SM04"}, // XDS, FHIR TRE_R38
		{Author{Profession: code("10"), Specialty: code("SM04")}, "G15_10/SM04"},     // FHIR TRE_G15
		{Author{Profession: code("G15_10-SM19")}, "G15_10/SM19"},                     // a CDA header's dashed code
		{Author{Profession: code(" G15_21 ")}, "G15_21"},
		{Author{Profession: code("10")}, "G15_10"},
		{Author{Specialty: code("SM04")}, "SM04"},
		{Author{Family: "Martin"}, ""},
	} {
		if got := c.a.SpecialtyCode(); got != c.want {
			t.Errorf("SpecialtyCode(%+v) = %q, want %q", c.a, got, c.want)
		}
	}
}

func TestIdentifierForms(t *testing.T) {
	got := IdentifierTokens(TokIdentifier, "urn:oid:1.2.250.1.999.1")
	want := []Token{{TokIdentifier, "1.2.250.1.999.1"}, {TokIdentifier, "urn:oid:1.2.250.1.999.1"}}
	if !slices.Equal(got, want) {
		t.Errorf("IdentifierTokens(urn:oid:…) = %v, want %v", got, want)
	}
	if got := IdentifierTokens(TokIdentifier, "urn:uuid:abc"); len(got) != 1 || got[0].Value != "urn:uuid:abc" {
		t.Errorf("a non-OID identifier is kept as is: %v", got)
	}
	for s, want := range map[string]bool{"1.2.3": true, "1..2": false, "1.2.": false, ".1": false, "1a": false, "": false} {
		if IsOID(s) != want {
			t.Errorf("IsOID(%q) = %v", s, !want)
		}
	}
}

// A document is found under every form a search may name its metadata in.
func TestDocumentTokens(t *testing.T) {
	d := Document{ID: "e1", LogicalID: "l1", UniqueID: "1.2.3.4", ContentID: "c1", Meta: DocumentMeta{
		Type:            Coding{System: "http://loinc.org", Code: "11502-2"},
		Confidentiality: []Coding{{System: "urn:oid:" + OIDVisibility, Code: LabelMasquePS}},
		Authors:         []Author{{ID: Identifier{System: "urn:oid:" + OIDRPPS, Value: "810100001006"}, Family: "SECRET"}},
		RelatesTo:       []Relation{{Code: "replaces", Target: "e0"}},
	}}
	toks := DocumentTokens(d)
	for _, want := range []Token{
		{TokType, "http://loinc.org|11502-2"}, {TokType, "11502-2"}, {TokLabel, LabelMasquePS},
		{TokAuthor, "810100001006"}, {TokIdentifier, "1.2.3.4"}, {TokIdentifier, "urn:oid:1.2.3.4"},
		{TokIdentifier, "urn:uuid:e1"}, {TokIdentifier, "l1"}, {TokRelated, "e0"}, {TokContent, "c1"},
	} {
		if !slices.Contains(toks, want) {
			t.Errorf("DocumentTokens lacks %v", want)
		}
	}
	for _, tok := range toks {
		if tok.Value == "SECRET" {
			t.Errorf("an author name is indexed in clear: %v", tok)
		}
	}
}

func TestErrorKinds(t *testing.T) {
	e := Invalid(Issue{Severity: "error", Code: "code-invalid", Diagnostics: "bad code", Expression: "Bundle.entry[1].resource.type"})
	if e.Kind != KindUnprocessable {
		t.Errorf("a code-invalid issue is %v, want unprocessable", e.Kind)
	}
	wrapped := fmt.Errorf("provide: %w", e)
	if ErrorKind(wrapped) != KindUnprocessable || len(ErrorIssues(wrapped)) != 1 {
		t.Errorf("kind and issues must survive wrapping")
	}
	secret := WrapError(KindInternal, "sqlite.Insert", errors.New("UNIQUE constraint failed: documents.unique_id at /var/lib/carnet"))
	if msg := ErrorMessage(secret); msg != "internal error" {
		t.Errorf("an internal error tells the caller %q", msg)
	}
	if ErrorKind(errors.New("plain")) != KindInternal {
		t.Error("an unknown error must be internal")
	}
}

func TestNewID(t *testing.T) {
	re := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	seen := map[string]bool{}
	for range 10000 {
		id := NewID()
		if !re.MatchString(id) || seen[id] {
			t.Fatalf("NewID gave %q (seen before: %v)", id, seen[id])
		}
		seen[id] = true
	}
	// Ids of later milliseconds sort after: their rows are neighbours.
	t0 := time.Date(2026, 12, 7, 18, 0, 0, 0, time.UTC)
	if got := newID(t0); got[:13] != "01a251a9-9d00" {
		t.Errorf("newID at %v = %s, want the time 01a251a9-9d00 first", t0, got)
	}
	for i := range 1000 {
		a, b := newID(t0.Add(time.Duration(i)*time.Millisecond)), newID(t0.Add(time.Duration(i+1)*time.Millisecond))
		if a >= b {
			t.Fatalf("an id made a millisecond later sorts first: %s, then %s", a, b)
		}
	}
}

func TestValidRPPS(t *testing.T) {
	for v, want := range map[string]bool{
		"10000336601": true, "810000336601": true, "10100997245": true,
		"10000336602": false, "abc": false, "": false, "1000033660": false, "910000336601": false, "81000033660x": false,
	} {
		if got := ValidRPPS(v); got != want {
			t.Errorf("ValidRPPS(%q) = %v, want %v", v, got, want)
		}
	}
}
