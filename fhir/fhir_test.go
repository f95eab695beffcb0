package fhir

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/carnet-sante/carnet/internal/ci"

	carnet "github.com/carnet-sante/carnet"
)

// corpusFile reads one official R4 example; absent corpus skips, unless CI.
func corpusFile(t testing.TB, name string) []byte {
	t.Helper()
	p := filepath.Join("..", "..", "shared", "corpus", "fhir-r4", name)
	b, err := os.ReadFile(p)
	if err != nil {
		if ci.Enforced() {
			t.Fatalf("corpus file %s missing in CI: %v", p, err)
		}
		t.Skipf("corpus file %s absent (shared corpus not laid out here): %v", p, err)
	}
	return b
}

func TestDecodeCorpusBundleXDS(t *testing.T) {
	data := corpusFile(t, "Bundle-xds.json")
	var b Bundle
	if err := Decode(bytes.NewReader(data), 1<<20, &b); err != nil {
		t.Fatalf("Decode: %v", err)
	}
	if b.Type != "transaction" || len(b.Entry) != 5 {
		t.Fatalf("got type %q with %d entries, want transaction with 5", b.Type, len(b.Entry))
	}
	var d DocumentReference
	if err := Unmarshal(b.Entry[0].Resource, &d, "Bundle.entry[0].resource"); err != nil {
		t.Fatalf("entry 0: %v", err)
	}
	if d.MasterIdentifier == nil || d.MasterIdentifier.Value != "urn:oid:129.6.58.92.88336" {
		t.Errorf("masterIdentifier = %+v", d.MasterIdentifier)
	}
	if got := d.Content[0].Format.Code; got != "urn:ihe:pcc:handp:2008" {
		t.Errorf("format = %q", got)
	}
	if got := d.Context.Period.Start; got != "2004-12-23T08:00:00+10:00" {
		t.Errorf("period start = %q", got)
	}
	var bin Binary
	if err := Unmarshal(b.Entry[4].Resource, &bin, "Bundle.entry[4].resource"); err != nil {
		t.Fatalf("entry 4: %v", err)
	}
	if string(bin.Data) != "asdasdasdasdasd" {
		t.Errorf("binary data = %q, want asdasdasdasdasd", bin.Data)
	}
	// The raw resource is kept byte for byte, so that it can be stored as sent.
	if !bytes.Contains(data, b.Entry[0].Resource) {
		t.Errorf("entry resource is not the submitted bytes")
	}
}

func TestDecodeCorpusDocumentReference(t *testing.T) {
	data := corpusFile(t, "DocumentReference-example.json")
	var d DocumentReference
	if err := Decode(bytes.NewReader(data), 1<<20, &d); err != nil {
		t.Fatalf("Decode: %v", err)
	}
	if d.Content[0].Attachment.Size == nil || *d.Content[0].Attachment.Size != 3654 {
		t.Errorf("size = %v, want 3654", d.Content[0].Attachment.Size)
	}
	if got := len(d.Content[0].Attachment.Hash); got != 20 {
		t.Errorf("hash is %d bytes, want 20 (SHA-1)", got)
	}
	c, ok := d.ResolveContained(d.Author[1].Reference)
	if !ok || c.Practitioner == nil || c.Practitioner.Name[0].Family != "Smitty" {
		t.Fatalf("contained author #a2 = %+v, %v", c, ok)
	}
	if _, ok := d.ResolveContained(d.Author[0].Reference); ok {
		t.Errorf("Practitioner/xcda1 is not local and must not resolve")
	}
	if d.RelatesTo[0].Code != "appends" || d.RelatesTo[0].Target.Reference != "DocumentReference/example" {
		t.Errorf("relatesTo = %+v", d.RelatesTo)
	}
	// Re-encoding keeps the elements Carnet serves back.
	var buf bytes.Buffer
	if err := Encode(&buf, d); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"resourceType":"DocumentReference"`, `"hash":"2jmj7l5rSw0yVb/vlWAYkK/YBwk="`, `"size":3654`, `"docStatus":"preliminary"`, `<div xmlns=`} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("encoded DocumentReference lacks %s", want)
		}
	}
}

func TestDecodeCorpusBinaryWithWrappedBase64(t *testing.T) {
	// The official example wraps its base64 with spaces, which FHIR allows.
	data := corpusFile(t, "Binary-example.json")
	var b Binary
	if err := Decode(bytes.NewReader(data), 1<<20, &b); err != nil {
		t.Fatalf("Decode: %v", err)
	}
	if b.ContentType != "application/pdf" || !bytes.HasPrefix(b.Data, []byte("%PDF-")) {
		t.Errorf("got %s starting %q, want a PDF", b.ContentType, b.Data[:min(8, len(b.Data))])
	}
}

func TestDecodeCorpusOthers(t *testing.T) {
	for _, name := range []string{"List-example.json", "Bundle-bundle-transaction.json", "List-example-empty.json"} {
		t.Run(name, func(t *testing.T) {
			data := corpusFile(t, name)
			var v map[string]any
			if err := Decode(bytes.NewReader(data), 1<<20, &v); err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if strings.HasPrefix(name, "List") {
				var l List
				if err := Decode(bytes.NewReader(data), 1<<20, &l); err != nil {
					t.Fatalf("Decode List: %v", err)
				}
				if l.Status == "" || l.Mode == "" {
					t.Errorf("list status/mode empty: %+v", l)
				}
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	deep := strings.Repeat(`{"a":`, MaxDepth+1) + "1" + strings.Repeat("}", MaxDepth+1)
	tests := []struct {
		name     string
		body     string
		into     any
		limit    int64
		wantKind carnet.Kind
		wantExpr string
		wantCode string
	}{
		{"too large", `{"resourceType":"Bundle","type":"transaction"}`, &Bundle{}, 10, carnet.KindTooLarge, "", "too-costly"},
		{"empty", "  ", &Bundle{}, 100, carnet.KindInvalid, "Bundle", "required"},
		{"too deep", deep, &Bundle{}, 1 << 20, carnet.KindInvalid, "Bundle" + strings.Repeat(".a", MaxDepth), "invalid"},
		{"deep brackets inside strings do not count", `{"resourceType":"Bundle","id":"` + strings.Repeat("[{", 100) + `"}`, &Bundle{}, 1 << 20, 0, "", ""},
		{"syntax error names the entry", `{"resourceType":"Bundle","entry":[{"fullUrl":"a"},{"fullUrl":"b",,}]}`, &Bundle{}, 1 << 20, carnet.KindInvalid, "Bundle.entry[1]", "invalid"},
		{"wrong type names the element", `{"resourceType":"Bundle","entry":[{},{"request":{"method":7}}]}`, &Bundle{}, 1 << 20, carnet.KindInvalid, "Bundle.entry[1].request.method", "value"},
		{"size as a string", `{"resourceType":"DocumentReference","content":[{"attachment":{"size":"12"}}]}`, &DocumentReference{}, 1 << 20, carnet.KindInvalid, "DocumentReference.content[0].attachment.size", "value"},
		{"negative size does not fit is read then checked by mhd", `{"resourceType":"DocumentReference","content":[{"attachment":{"size":-1}}]}`, &DocumentReference{}, 1 << 20, 0, "", ""},
		{"bad base64", `{"resourceType":"Binary","data":"@@@@"}`, &Binary{}, 1 << 20, carnet.KindInvalid, "Binary.data", "value"},
		{"trailing garbage", `{"resourceType":"Binary"} x`, &Binary{}, 1 << 20, carnet.KindInvalid, "Binary", "invalid"},
		{"unknown elements are tolerated", `{"resourceType":"Binary","foo":{"bar":[1,2]},"contentType":"text/plain"}`, &Binary{}, 1 << 20, 0, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Decode(strings.NewReader(tt.body), tt.limit, tt.into)
			if tt.wantCode == "" {
				if err != nil {
					t.Fatalf("Decode: %v, want no error", err)
				}
				return
			}
			var e *carnet.Error
			if !errors.As(err, &e) {
				t.Fatalf("got %v, want a *carnet.Error", err)
			}
			if e.Kind != tt.wantKind {
				t.Errorf("kind = %v, want %v", e.Kind, tt.wantKind)
			}
			if len(e.Issues) != 1 {
				t.Fatalf("issues = %+v, want one", e.Issues)
			}
			if is := e.Issues[0]; is.Expression != tt.wantExpr || is.Code != tt.wantCode {
				t.Errorf("issue = %s at %q, want %s at %q", is.Code, is.Expression, tt.wantCode, tt.wantExpr)
			}
		})
	}
}

func TestMarshalWritesResourceType(t *testing.T) {
	for _, v := range []any{Bundle{}, DocumentReference{}, List{}, Binary{}, Patient{}, Parameters{}, OperationOutcome{}, CapabilityStatement{}, Practitioner{}, PractitionerRole{}, Organization{}, Device{}} {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		var h Resource
		if err := json.Unmarshal(b, &h); err != nil || h.ResourceType == "" {
			t.Errorf("%T encodes as %s, without resourceType", v, b)
		}
	}
	// A resource decoded from one type and encoded as another says what it is now.
	b, _ := json.Marshal(List{Resource: Resource{ResourceType: "Bundle"}})
	if !bytes.Contains(b, []byte(`"resourceType":"List"`)) {
		t.Errorf("got %s", b)
	}
}

func TestOutcomeFromError(t *testing.T) {
	internal := carnet.WrapError(carnet.KindInternal, "sqlite.Insert", errors.New("disk /var/lib/secret full"))
	o := OutcomeFromError(internal)
	b, _ := json.Marshal(o)
	if strings.Contains(string(b), "secret") || o.Issue[0].Code != "exception" || o.Issue[0].Severity != "fatal" {
		t.Errorf("internal error outcome = %s", b)
	}
	issues := carnet.Invalid(
		carnet.Issue{Severity: "error", Code: "required", Diagnostics: "masterIdentifier is required", Expression: "Bundle.entry[1].resource.masterIdentifier"},
		carnet.Issue{Severity: "error", Code: "value", Diagnostics: "hash differs", Expression: "Bundle.entry[1].resource.content[0].attachment.hash"},
	)
	o = OutcomeFromError(issues)
	if len(o.Issue) != 2 || o.Issue[1].Expression[0] != "Bundle.entry[1].resource.content[0].attachment.hash" || o.Issue[0].Code != "required" {
		t.Errorf("outcome = %+v", o)
	}
	for _, tt := range []struct {
		k    carnet.Kind
		code string
	}{{carnet.KindNotFound, "not-found"}, {carnet.KindTooLarge, "too-costly"}, {carnet.KindUnsupported, "not-supported"}, {carnet.KindConflict, "conflict"}, {carnet.KindForbidden, "forbidden"}} {
		o := OutcomeFromError(carnet.Errorf(tt.k, "x"))
		if o.Issue[0].Code != tt.code || o.Issue[0].Severity != "error" {
			t.Errorf("kind %v: issue %+v, want code %s", tt.k, o.Issue[0], tt.code)
		}
	}
}

func TestPeekResourceType(t *testing.T) {
	for in, want := range map[string]string{
		`{"resourceType":"Binary","data":"aGk="}`:                          "Binary",
		`{"data":"a\"resourceType\":\"X","resourceType" : "Binary"}`:       "Binary",
		`{"contained":[{"resourceType":"Patient"}],"resourceType":"List"}`: "List",
		`{"meta":{"resourceType":"Nope"}}`:                                 "",
		`{"a":"\\","resourceType":"DocumentReference"}`:                    "DocumentReference",
		`["resourceType","Bundle"]`:                                        "",
		`{"resourceType":7}`:                                               "",
		`{"resourceType":"Bun`:                                             "",
		``:                                                                 "",
		`{"x":"resourceType","resourceType":"Parameters"}`:                 "Parameters",
		"{\"data\":\"\\u0022resourceType\\u0022\",\"resourceType\":\"Binary\"}": "Binary",
	} {
		if got := PeekResourceType([]byte(in)); got != want {
			t.Errorf("PeekResourceType(%s) = %q, want %q", in, got, want)
		}
	}
}

func TestCheckDepthHonorsEscapes(t *testing.T) {
	deep := strings.Repeat("[", MaxDepth+1) + strings.Repeat("]", MaxDepth+1)
	tests := []struct {
		name string
		body string
		ok   bool
	}{
		{"brackets in a string", `{"a":"` + deep + `"}`, true},
		{"escaped quote keeps the string open", `{"a":"x\"` + deep + `"}`, true},
		{"escaped backslash closes the string", `{"a":"x\\","b":` + deep + `}`, false},
		{"many escapes", `{"a":"` + strings.Repeat(`\\\"`, 50) + `","b":` + deep + `}`, false},
		{"unterminated string", `{"a":"` + deep, true},
		{"exactly the limit", strings.Repeat("[", MaxDepth) + strings.Repeat("]", MaxDepth), true},
		// Closing brackets with nothing open do not buy deeper nesting
		// after them (nor a deeper stack for the names' check).
		{"closes before opens", strings.Repeat("]", 10) + strings.Repeat("[", MaxDepth+1), false},
	}
	for _, tt := range tests {
		if _, msg := checkBody([]byte(tt.body), MaxDepth, nil); (msg == "") != tt.ok {
			t.Errorf("%s: checkBody refused %q, want ok = %v", tt.name, msg, tt.ok)
		}
	}
}

func TestDecodeErrorNamesLaterEntries(t *testing.T) {
	var entries []string
	for range 12 {
		entries = append(entries, `{"fullUrl":"x"}`)
	}
	entries = append(entries, `{"search":{"score":"high"}}`)
	body := `{"resourceType":"Bundle","entry":[` + strings.Join(entries, ",") + `]}`
	err := Decode(strings.NewReader(body), 1<<20, &Bundle{})
	if is := carnet.ErrorIssues(err); len(is) != 1 || is[0].Expression != "Bundle.entry[12].search.score" {
		t.Errorf("issues = %+v", is)
	}
}

// A member name given twice in one object, in any case or escape, is
// refused: Go keeps the last and reads "Subject" as subject, another
// reader would keep the first or skip "Subject"; one body, two readings.
func TestNamesGivenTwiceAreRefused(t *testing.T) {
	many := func(dup bool) string {
		var b strings.Builder
		b.WriteString(`{"resourceType":"Basic"`)
		for i := range 100 {
			fmt.Fprintf(&b, `,"x%d":%d`, i, i)
		}
		if dup {
			b.WriteString(`,"X57":0`)
		}
		return b.String() + "}"
	}
	for _, c := range []struct {
		name, body string
		refused    bool
		expr       string
	}{
		{"subject twice", `{"resourceType":"DocumentReference","subject":{"reference":"Patient/a"},"status":"current","subject":{"reference":"Patient/b"}}`, true, "DocumentReference.subject"},
		{"Subject beside subject", `{"resourceType":"DocumentReference","subject":{"reference":"Patient/a"},"Subject":{"reference":"Patient/b"}}`, true, "DocumentReference.Subject"},
		{"escaped name", `{"resourceType":"DocumentReference","subject":{"reference":"Patient/a"},"\u0073ubject":{"reference":"Patient/b"}}`, true, ""},
		{"deep inside", `{"resourceType":"DocumentReference","content":[{"attachment":{"url":"a","URL":"b"}}]}`, true, "DocumentReference.content[0].attachment.URL"},
		{"in a long object", many(true), true, ""},
		{"a long object of distinct names", many(false), false, ""},
		{"the same name in two objects", `{"resourceType":"DocumentReference","content":[{"attachment":{"url":"a"}},{"attachment":{"url":"b"}}]}`, false, ""},
		{"a value like a name", `{"resourceType":"DocumentReference","description":"subject","status":"current","docStatus":"subject:"}`, false, ""},
		{"a primitive and its extension", `{"resourceType":"DocumentReference","date":"2026-01-01T00:00:00Z","_date":{"id":"d"}}`, false, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			var v map[string]any
			err := Unmarshal([]byte(c.body), &v, "DocumentReference")
			if !c.refused {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if carnet.ErrorKind(err) != carnet.KindInvalid {
				t.Fatalf("accepted or not refused as invalid: %v", err)
			}
			is := err.(*carnet.Error).Issues
			if len(is) != 1 || !strings.Contains(is[0].Diagnostics, "twice") || c.expr != "" && is[0].Expression != c.expr {
				t.Errorf("issues %+v, want one saying twice at %q", is, c.expr)
			}
		})
	}
}

// A known element's name in other letters' case is refused: Go's decoder
// fills the element from it, a FHIR reader ignores an unknown name.
func TestCaseVariantsOfElementsAreRefused(t *testing.T) {
	for _, c := range []struct {
		body    string
		refused bool
	}{
		{`{"resourceType":"DocumentReference","Subject":{"reference":"Patient/b"}}`, true},
		{`{"resourceType":"DocumentReference","content":[{"attachment":{"contentType":"text/plain","URL":"x"}}]}`, true},
		{`{"resourceType":"DocumentReference","ſtatus":"current"}`, true},
		{`{"resourceType":"DocumentReference","\u017ftatus":"current"}`, true},
		{`{"resourceType":"DocumentReference","_Date":{"id":"x"}}`, true},
		{`{"resourceType":"DocumentReference","status":"current","_date":{"id":"x"},"someExtensionWeDoNotKnow":1}`, false},
	} {
		var dr DocumentReference
		err := Unmarshal([]byte(c.body), &dr, "DocumentReference")
		switch {
		case c.refused && carnet.ErrorKind(err) != carnet.KindInvalid:
			t.Errorf("%s: accepted (%v), read as %+v", c.body, err, dr)
		case c.refused && !strings.Contains(err.(*carnet.Error).Issues[0].Diagnostics, "case-sensitive"):
			t.Errorf("%s: %v, want a diagnostic saying names are case-sensitive", c.body, err)
		case !c.refused && err != nil:
			t.Errorf("%s: refused: %v", c.body, err)
		}
	}
}
