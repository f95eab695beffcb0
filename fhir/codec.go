package fhir

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"unicode"

	carnet "github.com/carnet-sante/carnet"
)

// MaxDepth is how deeply JSON may nest in a request body. The deepest
// legitimate MHD body (a Bundle holding a DocumentReference whose contained
// PractitionerRole has a coded specialty with an extension) stays well under
// 20; 64 leaves room for extensions while keeping recursion bounded.
const MaxDepth = 64

// Decode reads one JSON value of at most limit bytes from r into v. Unknown
// elements are ignored (FHIR lets servers skip what they do not know; MHD
// bodies carry extensions). Errors are *carnet.Error: KindTooLarge beyond
// limit, KindInvalid for anything malformed, with an Issue whose Expression
// says where, e.g. Bundle.entry[2].resource.content[0].attachment.size.
func Decode(r io.Reader, limit int64, v any) error {
	if limit <= 0 {
		return carnet.WrapError(carnet.KindInternal, "fhir.Decode", errors.New("no size limit given"))
	}
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return carnet.WrapError(carnet.KindInvalid, "fhir.Decode", err)
	}
	if int64(len(data)) > limit {
		return &carnet.Error{Kind: carnet.KindTooLarge, Op: "fhir.Decode",
			Msg: fmt.Sprintf("the body exceeds %d bytes", limit),
			Issues: []carnet.Issue{{Severity: "error", Code: "too-costly",
				Diagnostics: fmt.Sprintf("the body exceeds the limit of %d bytes", limit)}}}
	}
	return Unmarshal(data, v, rootName(v))
}

// Unmarshal decodes data into v like Decode, without the size bound (the
// caller has bounded data already). root is the FHIRPath of data within the
// request, e.g. "Bundle.entry[3].resource", used to name where errors are.
func Unmarshal(data []byte, v any, root string) error {
	if len(bytes.TrimSpace(data)) == 0 {
		return invalid(root, "required", "the body is empty")
	}
	if off, msg := checkBody(data, MaxDepth, knownNames(reflect.TypeOf(v))); msg != "" {
		return invalid(pathAt(data, off, root), "invalid", msg)
	}
	// Large Bundles and Binaries take a shortcut that ends in the same
	// result; anything it does not handle falls through (fastpath.go).
	if fastUnmarshal(data, v) {
		return nil
	}
	err := json.Unmarshal(data, v)
	if err == nil {
		return nil
	}
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return invalid(pathAt(data, syn.Offset, root), "invalid",
			fmt.Sprintf("malformed JSON at byte %d", syn.Offset))
	case errors.As(err, &typ):
		where := root
		switch {
		case typ.Offset > 0:
			where = pathAt(data, typ.Offset, root)
		case typ.Field != "":
			where = joinPath(root, typ.Field)
		}
		what := "a value of the wrong type"
		if typ.Type == reflect.TypeFor[Base64Binary]() {
			what = "a value that is not valid base64"
		} else if typ.Value != "" {
			what = "a " + typ.Value + " where " + fhirTypeName(typ.Type) + " is expected"
		}
		return invalid(where, "value", "the element holds "+what)
	}
	return invalid(root, "invalid", "the body is not valid JSON")
}

func invalid(expr, code, diag string) *carnet.Error {
	return &carnet.Error{Kind: carnet.KindInvalid, Op: "fhir.Decode", Msg: "the body is not a valid FHIR resource",
		Issues: []carnet.Issue{{Severity: "error", Code: code, Diagnostics: diag, Expression: expr}}}
}

func fhirTypeName(t reflect.Type) string {
	if t == nil {
		return "another type"
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return "a string"
		}
		return "an array"
	case reflect.Struct, reflect.Map:
		return "an object"
	case reflect.Pointer:
		return fhirTypeName(t.Elem())
	}
	return "another type"
}

func joinPath(root, field string) string {
	if root == "" {
		return field
	}
	return root + "." + field
}

// rootName is the FHIR type name of v when v points to one of this package's
// resources (Bundle, DocumentReference, …), "" otherwise.
func rootName(v any) string {
	t := reflect.TypeOf(v)
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t != nil && t.PkgPath() == reflect.TypeFor[Resource]().PkgPath() && t.Kind() == reflect.Struct {
		return t.Name()
	}
	return ""
}

// checkBody scans data once, honoring strings and escapes, before the
// decoder runs, and reports where the body is refused, with why ("" when it
// is not):
//   - nesting deeper than max (first, wherever it is): a hostile body never
//     drives the decoder's recursion deep, nor this scan's own stack;
//   - a member name given twice in one object, in any case or escape: Go's
//     decoder keeps the last, another reader the first;
//   - a name that is one of known's (the target type's elements) in other
//     letters' case ("Subject", "\u212aind"): Go's decoder fills the element
//     from it, a FHIR reader (names are case-sensitive) ignores it.
//
// So a body means one thing to Carnet and to whatever stands in front of
// it, as PeekResourceType refuses two resourceTypes and the XML readers an
// attribute given twice. Objects of many members are checked through a
// map: the scan stays linear.
func checkBody(data []byte, max int, known map[string]string) (int64, string) {
	// The first name refused, reported once the whole body is known not
	// to nest too deep.
	var namesOff int64
	var namesMsg string
	var stack []nameFrame
	var sk stringSkipper
	for i := 0; i < len(data); i++ {
		switch data[i] {
		case '"':
			end := sk.end(data, i)
			if n := len(stack); namesMsg == "" && n > 0 && stack[n-1].object && stack[n-1].expectKey {
				f := &stack[n-1]
				f.expectKey = false
				raw := data[i+1 : min(end, len(data))]
				if msg := checkKnown(raw, known); msg != "" {
					namesOff, namesMsg = int64(i), msg
				} else if f.given(raw) {
					namesOff, namesMsg = int64(i), fmt.Sprintf("the element %q is given twice in one object (or twice in letters of another case): which one is meant is ambiguous", unescapeName(raw))
				}
			}
			i = end
		case '{', '[':
			if len(stack) == max {
				return int64(i), fmt.Sprintf("JSON nests deeper than %d levels", max)
			}
			stack = append(stack, nameFrame{object: data[i] == '{', expectKey: data[i] == '{'})
		case ',':
			if n := len(stack); n > 0 && stack[n-1].object {
				stack[n-1].expectKey = true
			}
		case '}', ']':
			if n := len(stack); n > 0 {
				stack = stack[:n-1]
			}
		}
	}
	return namesOff, namesMsg
}

// nameFrame is an object or array checkBody is in.
type nameFrame struct {
	object, expectKey bool
	names             [][]byte // raw, as written
	seen              map[string]bool
}

// given notes a member name of the object and says whether it was given
// already (whatever its case and escapes): through a map past 32 members.
func (f *nameFrame) given(raw []byte) bool {
	if f.seen == nil && len(f.names) >= 32 {
		f.seen = make(map[string]bool, 2*len(f.names))
		for _, m := range f.names {
			f.seen[foldKey(unescapeName(m))] = true
		}
	}
	if f.seen != nil {
		k := foldKey(unescapeName(raw))
		twice := f.seen[k]
		f.seen[k] = true
		return twice
	}
	for _, m := range f.names {
		if sameName(m, raw) {
			return true
		}
	}
	f.names = append(f.names, raw)
	return false
}

// checkKnown refuses a name that is a known element's in other letters.
func checkKnown(raw []byte, known map[string]string) string {
	if len(known) == 0 {
		return ""
	}
	name := unescapeName(raw)
	if want, ok := known[foldKey(name)]; ok && want != name {
		return fmt.Sprintf("the element %q is not FHIR's %q (element names are case-sensitive)", name, want)
	}
	return ""
}

// sameName says whether two raw member names are one name, whatever their
// case and escapes ("\u0073ubject" is subject).
func sameName(a, b []byte) bool {
	if bytes.IndexByte(a, '\\') < 0 && bytes.IndexByte(b, '\\') < 0 {
		return bytes.EqualFold(a, b)
	}
	return foldKey(unescapeName(a)) == foldKey(unescapeName(b))
}

// unescapeName is a raw member name with its escapes read.
func unescapeName(raw []byte) string {
	if bytes.IndexByte(raw, '\\') >= 0 {
		var s string
		if json.Unmarshal(append(append([]byte{'"'}, raw...), '"'), &s) == nil {
			return s
		}
	}
	return string(raw)
}

// foldKey is a name with each letter replaced by the smallest of those
// equal to it under Unicode simple case folding, ASCII capitals then in
// small letters (K, k and the Kelvin sign K are k; S, s and ſ are s): what
// Go's decoder matches names by.
func foldKey(s string) string {
	ascii := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 0x80 || 'A' <= c && c <= 'Z' {
			ascii = false
			break
		}
	}
	if ascii {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		low := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			low = min(low, f)
		}
		if 'A' <= low && low <= 'Z' {
			low += 'a' - 'A' // so that a name in ASCII small letters is its own key
		}
		b.WriteRune(low)
	}
	return b.String()
}

// knownNames are the JSON names of the elements of t and of every type it
// holds, by foldKey: made once per type.
func knownNames(t reflect.Type) map[string]string {
	if t == nil {
		return nil
	}
	if m, ok := namesOf.Load(t); ok {
		return m.(map[string]string)
	}
	m := map[string]string{}
	seen := map[reflect.Type]bool{}
	var walk func(reflect.Type)
	walk = func(t reflect.Type) {
		for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Array || t.Kind() == reflect.Map {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct || seen[t] {
			return
		}
		seen[t] = true
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			tag := f.Tag.Get("json")
			name, _, _ := strings.Cut(tag, ",")
			switch {
			case name == "-":
				continue
			case f.Anonymous && name == "":
				walk(f.Type)
				continue
			case name == "":
				name = f.Name
			}
			m[foldKey(name)] = name
			m[foldKey("_"+name)] = "_" + name // a primitive's extensions
			walk(f.Type)
		}
	}
	walk(t)
	namesOf.Store(t, m)
	return m
}

var namesOf sync.Map // reflect.Type → map[string]string

// stringSkipper finds the ends of JSON strings fast: documents travel as
// long base64 strings, so the scan jumps from quote to quote and only looks
// at the backslashes that exist.
type stringSkipper struct {
	nextBS int // index of the next backslash at or after the last search, -1 if none
	valid  bool
}

// end returns the index of the quote closing the string opened at data[open],
// or len(data) when it is not closed.
func (sk *stringSkipper) end(data []byte, open int) int {
	i := open + 1
	for {
		q := bytes.IndexByte(data[i:], '"')
		if q < 0 {
			return len(data)
		}
		q += i
		if !sk.valid || (sk.nextBS >= 0 && sk.nextBS < i) {
			sk.nextBS = bytes.IndexByte(data[i:], '\\')
			if sk.nextBS >= 0 {
				sk.nextBS += i
			}
			sk.valid = true
		}
		if sk.nextBS < 0 || sk.nextBS > q {
			return q
		}
		i = sk.nextBS + 2 // skip the escaped character
		if i >= len(data) {
			return len(data)
		}
	}
}

// PeekResourceType returns the resourceType of a JSON resource, or "" when
// it has none or is not an object. It looks only at the top-level members
// and jumps over strings, so that a large Binary costs little whatever the
// order of its elements. A resourceType given twice is no resourceType: the
// decoder would keep the last one, and the two readings must not differ.
func PeekResourceType(raw []byte) string {
	depth := 0
	var sk stringSkipper
	expectKey, found := false, false
	var rt string
	for i := 0; i < len(raw); i++ {
		switch c := raw[i]; c {
		case '"':
			j := sk.end(raw, i)
			if j >= len(raw) {
				return ""
			}
			if depth == 1 && expectKey && isResourceTypeKey(raw[i:j+1]) {
				k := skipSpace(raw, j+1)
				if k >= len(raw) || raw[k] != ':' {
					return ""
				}
				k = skipSpace(raw, k+1)
				if k >= len(raw) || raw[k] != '"' {
					return ""
				}
				e := sk.end(raw, k)
				if found || e >= len(raw) || json.Unmarshal(raw[k:e+1], &rt) != nil {
					return "" // absent, not a string, or given twice
				}
				found, i, expectKey = true, e, false
				continue
			}
			expectKey = false
			i = j
		case '{', '[':
			depth++
			expectKey = c == '{' && depth == 1
		case '}', ']':
			depth--
		case ',':
			expectKey = depth == 1
		}
	}
	if depth != 0 {
		return ""
	}
	return rt
}

// isResourceTypeKey reports whether the quoted key names resourceType for
// encoding/json, which matches keys case-insensitively (with Unicode
// folding) and after unescaping.
func isResourceTypeKey(quoted []byte) bool {
	k := quoted[1 : len(quoted)-1]
	if bytes.IndexByte(k, '\\') >= 0 {
		var s string
		if json.Unmarshal(quoted, &s) != nil {
			return false
		}
		return strings.EqualFold(s, "resourceType")
	}
	return len(k) <= 3*len("resourceType") && strings.EqualFold(string(k), "resourceType")
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' || b[i] == '\n') {
		i++
	}
	return i
}

// pathAt returns the FHIRPath of the element being read at byte offset of
// data, by walking the tokens up to there. It is only called on errors.
func pathAt(data []byte, offset int64, root string) string {
	type frame struct {
		array     bool
		index     int
		key       string
		expectKey bool
	}
	var st []frame
	valueDone := func() {
		if n := len(st); n > 0 && !st[n-1].array {
			st[n-1].expectKey = true
		}
	}
	valueStart := func() {
		if n := len(st); n > 0 && st[n-1].array {
			st[n-1].index++
		}
	}
	render := func() string {
		var b []byte
		b = append(b, root...)
		for _, f := range st {
			switch {
			case f.array && f.index >= 0:
				b = append(b, '[')
				b = strconv.AppendInt(b, int64(f.index), 10)
				b = append(b, ']')
			case !f.array && !f.expectKey && f.key != "":
				if len(b) > 0 {
					b = append(b, '.')
				}
				b = append(b, f.key...)
			}
		}
		return string(b)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	for dec.InputOffset() < offset {
		tok, err := dec.Token()
		if err != nil {
			break
		}
		if n := len(st); n > 0 && !st[n-1].array && st[n-1].expectKey {
			if k, ok := tok.(string); ok {
				st[n-1].key, st[n-1].expectKey = k, false
				continue
			}
		}
		reached := func() bool { return dec.InputOffset() >= offset }
		switch tok {
		case json.Delim('{'):
			valueStart()
			st = append(st, frame{expectKey: true})
		case json.Delim('['):
			valueStart()
			st = append(st, frame{array: true, index: -1})
		case json.Delim('}'), json.Delim(']'):
			if reached() {
				return render()
			}
			if len(st) > 0 {
				st = st[:len(st)-1]
			}
			valueDone()
		default:
			valueStart()
			if reached() {
				return render()
			}
			valueDone()
		}
	}
	return render()
}

// Encode writes v as JSON, without HTML escaping (narratives hold XHTML) and
// with a final newline.
func Encode(w io.Writer, v any) error {
	// Carnet's resources marshal themselves compactly: write their bytes
	// rather than let encoding/json compact them once more.
	if m, ok := v.(json.Marshaler); ok {
		b, err := m.MarshalJSON()
		if err != nil {
			return carnet.WrapError(carnet.KindInternal, "fhir.Encode", err)
		}
		if _, err := w.Write(append(b, '\n')); err != nil {
			return carnet.WrapError(carnet.KindInternal, "fhir.Encode", err)
		}
		return nil
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return carnet.WrapError(carnet.KindInternal, "fhir.Encode", err)
	}
	return nil
}
