package fhir

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"reflect"
)

// The fast path below exists because an ITI-65 body is mostly one long
// base64 string (the document), and encoding/json walks every byte of it
// through its state machine several times: Unmarshal validates the whole
// Bundle, decoding each entry into a json.RawMessage scans it again, and the
// Binary's own Unmarshal validates and scans it once more. Here the body is
// validated once by a scanner that crosses strings eight bytes at a time,
// the long values are cut out (the entries' resources of a Bundle, the data
// of a Binary), encoding/json decodes the small rest, and the cut-out values
// are put back as encoding/json would have set them.
//
// It is only a shortcut: whenever anything is unusual (invalid JSON, a key
// with an escape or a non-ASCII byte that encoding/json could fold onto a
// field name, a key given twice, a value of another type, any decoding
// error), it gives up and the caller decodes the usual way, from scratch, so
// results and errors are those of encoding/json by construction.

// fastUnmarshal decodes data into v when v is a zero *Bundle or *Binary and
// data is an ordinary body; it reports whether it did. When it reports
// false, v is unchanged.
func fastUnmarshal(data []byte, v any) bool {
	switch p := v.(type) {
	case *Bundle:
		if p == nil || !reflect.ValueOf(*p).IsZero() {
			return false
		}
		b, ok := fastBundle(data)
		if ok {
			*p = b
		}
		return ok
	case *Binary:
		if p == nil || !reflect.ValueOf(*p).IsZero() {
			return false
		}
		b, ok := fastBinary(data)
		if ok {
			*p = b
		}
		return ok
	case *DocumentReference:
		if p == nil || !reflect.ValueOf(*p).IsZero() {
			return false
		}
		dr, ok := fastDocumentReference(data)
		if ok {
			*p = dr
		}
		return ok
	case *Resource:
		if p == nil || *p != (Resource{}) {
			return false
		}
		r, ok := fastResource(data)
		if ok {
			*p = r
		}
		return ok
	}
	return false
}

// attachmentData finds the data of every content[].attachment of the
// DocumentReference object in valid JSON data: the strings an ITI-105 body
// is made of. It returns the spans and, for each, its content's index; ok
// false when encoding/json might read the body otherwise (see memberSpan)
// or a data value is not a plain string.
func attachmentData(data []byte) (cut []span, at []int, elems int, ok bool) {
	top := skipSpace(data, 0)
	if top >= len(data) || data[top] != '{' || !validJSON(data) {
		return nil, nil, 0, false
	}
	content, ok := memberSpan(data, top, "content")
	if !ok || content.end == 0 || data[content.start] != '[' {
		return nil, nil, 0, false
	}
	for i := skipSpace(data, content.start+1); data[i] != ']'; elems++ {
		if data[i] != '{' {
			return nil, nil, 0, false
		}
		end := skipValue(data, i)
		att, ok := memberSpan(data, i, "attachment")
		if !ok {
			return nil, nil, 0, false
		}
		if att.end != 0 && data[att.start] == '{' {
			d, ok := memberSpan(data, att.start, "data")
			if !ok {
				return nil, nil, 0, false
			}
			if d.end != 0 {
				if data[d.start] != '"' || bytes.IndexByte(data[d.start:d.end], '\\') >= 0 {
					return nil, nil, 0, false
				}
				cut = append(cut, d)
				at = append(at, elems)
			}
		}
		i = skipSpace(data, end)
		if data[i] == ',' {
			i = skipSpace(data, i+1)
		}
	}
	return cut, at, elems, true
}

// withCuts is data with each cut value replaced by repl.
func withCuts(data []byte, cut []span, repl string) []byte {
	n := len(data)
	for _, c := range cut {
		n -= c.end - c.start - len(repl)
	}
	out := make([]byte, 0, n)
	prev := 0
	for _, c := range cut {
		out = append(out, data[prev:c.start]...)
		out = append(out, repl...)
		prev = c.end
	}
	return append(out, data[prev:]...)
}

func fastDocumentReference(data []byte) (DocumentReference, bool) {
	var dr DocumentReference
	cut, at, elems, ok := attachmentData(data)
	if !ok || len(cut) == 0 {
		return dr, false
	}
	if json.Unmarshal(withCuts(data, cut, "null"), &dr) != nil || len(dr.Content) != elems {
		return DocumentReference{}, false
	}
	for k, c := range cut {
		var v Base64Binary
		if v.UnmarshalJSON(data[c.start:c.end]) != nil {
			return DocumentReference{}, false
		}
		dr.Content[at[k]].Attachment.Data = v
	}
	return dr, true
}

// fastResource reads the common elements of a DocumentReference body
// without crossing its documents again: encoding/json ignores content,
// which Resource does not have, whatever its value.
func fastResource(data []byte) (Resource, bool) {
	var r Resource
	top := skipSpace(data, 0)
	if top >= len(data) || data[top] != '{' || !validJSON(data) {
		return r, false
	}
	content, ok := memberSpan(data, top, "content")
	if !ok || content.end == 0 {
		return r, false
	}
	if json.Unmarshal(withCuts(data, []span{content}, "null"), &r) != nil {
		return Resource{}, false
	}
	return r, true
}

// WithoutAttachmentData returns a DocumentReference body with the data of
// its attachments replaced by empty strings, or ok false when the body is
// not an ordinary one (the caller then walks it the usual way).
func WithoutAttachmentData(data []byte) (_ []byte, ok bool) {
	cut, _, _, ok := attachmentData(data)
	if !ok {
		return nil, false
	}
	return withCuts(data, cut, `""`), true
}

// span is data[start:end], one JSON value.
type span struct{ start, end int }

func fastBundle(data []byte) (Bundle, bool) {
	var b Bundle
	top := skipSpace(data, 0)
	if top >= len(data) || data[top] != '{' || !validJSON(data) {
		return b, false
	}
	entries, ok := memberSpan(data, top, "entry")
	if !ok || entries.end == 0 || data[entries.start] != '[' {
		return b, false // no entries: nothing worth the shortcut
	}
	// Each entry's resource, cut out of the skeleton given to encoding/json.
	var cut []span
	var at []int // entry index of each cut
	n := 0
	for i := skipSpace(data, entries.start+1); data[i] != ']'; n++ {
		if data[i] != '{' {
			return b, false
		}
		end := skipValue(data, i)
		res, ok := memberSpan(data, i, "resource")
		if !ok {
			return b, false
		}
		if res.end != 0 {
			cut = append(cut, res)
			at = append(at, n)
		}
		i = skipSpace(data, end)
		if data[i] == ',' {
			i = skipSpace(data, i+1)
		}
	}
	if len(cut) == 0 {
		return b, false
	}
	skel := make([]byte, 0, 1024)
	prev := 0
	for _, c := range cut {
		skel = append(skel, data[prev:c.start]...)
		skel = append(skel, "null"...)
		prev = c.end
	}
	skel = append(skel, data[prev:]...)
	if json.Unmarshal(skel, &b) != nil || len(b.Entry) != n {
		return Bundle{}, false
	}
	for k, c := range cut {
		// A copy, as json.RawMessage keeps one.
		b.Entry[at[k]].Resource = append(json.RawMessage(nil), data[c.start:c.end]...)
	}
	return b, true
}

func fastBinary(data []byte) (Binary, bool) {
	var b Binary
	top := skipSpace(data, 0)
	if top >= len(data) || data[top] != '{' || !validJSON(data) {
		return b, false
	}
	d, ok := memberSpan(data, top, "data")
	if !ok || d.end == 0 || data[d.start] != '"' || bytes.IndexByte(data[d.start:d.end], '\\') >= 0 {
		return b, false
	}
	skel := make([]byte, 0, len(data)-(d.end-d.start)+4)
	skel = append(skel, data[:d.start]...)
	skel = append(skel, "null"...)
	skel = append(skel, data[d.end:]...)
	if json.Unmarshal(skel, &b) != nil {
		return Binary{}, false
	}
	// The very method encoding/json would have called on the literal.
	var v Base64Binary
	if v.UnmarshalJSON(data[d.start:d.end]) != nil {
		return Binary{}, false
	}
	b.Data = v
	return b, true
}

// memberSpan finds the value of the member named name (lower-case ASCII)
// in the object at data[obj] of valid JSON. It returns a zero span when the
// member is absent, and ok false when encoding/json might match another key
// to the same field (an escaped or non-ASCII key, another case) or the
// member is given twice.
func memberSpan(data []byte, obj int, name string) (s span, ok bool) {
	i := skipSpace(data, obj+1)
	for data[i] != '}' {
		kEnd := stringEnd(data, i)
		key := data[i+1 : kEnd-1]
		i = skipSpace(data, kEnd)
		i = skipSpace(data, i+1) // the colon
		vEnd := skipValue(data, i)
		if len(key) == len(name) {
			if !plainASCII(key) {
				return span{}, false
			}
			if string(key) == name {
				if s.end != 0 {
					return span{}, false
				}
				s = span{i, vEnd}
			} else if bytes.EqualFold(key, []byte(name)) {
				return span{}, false
			}
		} else if !plainASCII(key) {
			// A multi-byte character may fold to an ASCII letter
			// (the Kelvin sign to k, the long s to s).
			return span{}, false
		}
		i = skipSpace(data, vEnd)
		if data[i] == ',' {
			i = skipSpace(data, i+1)
		}
	}
	return s, true
}

func plainASCII(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 || c == '\\' {
			return false
		}
	}
	return true
}

// skipValue returns the index just past the value starting at data[i] of
// valid JSON.
func skipValue(data []byte, i int) int {
	switch data[i] {
	case '"':
		return stringEnd(data, i)
	case '{', '[':
		depth := 0
		for ; i < len(data); i++ {
			switch data[i] {
			case '"':
				i = stringEnd(data, i) - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
		}
		return len(data)
	}
	for i < len(data) {
		switch data[i] {
		case ',', '}', ']', ' ', '\t', '\r', '\n':
			return i
		}
		i++
	}
	return i
}

// stringEnd returns the index just past the string opened at data[open] of
// valid JSON: the first quote not escaped, found with IndexByte.
func stringEnd(data []byte, open int) int {
	i := open + 1
	for {
		q := bytes.IndexByte(data[i:], '"')
		if q < 0 {
			return len(data)
		}
		q += i
		bs := 0
		for k := q - 1; k > open && data[k] == '\\'; k-- {
			bs++
		}
		if bs%2 == 0 {
			return q + 1
		}
		i = q + 1
	}
}

// validJSON reports whether data is one valid JSON value, as json.Valid
// does, but crossing string contents eight bytes at a time. Nesting is
// bounded as encoding/json bounds it.
func validJSON(data []byte) bool {
	i, ok := validValue(data, skipSpace(data, 0), 0)
	return ok && skipSpace(data, i) == len(data)
}

// maxValidDepth is encoding/json's own nesting bound.
const maxValidDepth = 10000

func validValue(d []byte, i, depth int) (int, bool) {
	if i >= len(d) {
		return i, false
	}
	var ok bool
	switch c := d[i]; c {
	case '"':
		return validString(d, i)
	case '{', '[':
		if depth >= maxValidDepth {
			return i, false
		}
		closer := byte('}')
		if c == '[' {
			closer = ']'
		}
		i = skipSpace(d, i+1)
		if i < len(d) && d[i] == closer {
			return i + 1, true
		}
		for {
			if c == '{' {
				if i >= len(d) || d[i] != '"' {
					return i, false
				}
				if i, ok = validString(d, i); !ok {
					return i, false
				}
				i = skipSpace(d, i)
				if i >= len(d) || d[i] != ':' {
					return i, false
				}
				i = skipSpace(d, i+1)
			}
			if i, ok = validValue(d, i, depth+1); !ok {
				return i, false
			}
			i = skipSpace(d, i)
			if i >= len(d) {
				return i, false
			}
			switch d[i] {
			case ',':
				i = skipSpace(d, i+1)
			case closer:
				return i + 1, true
			default:
				return i, false
			}
		}
	case 't':
		return validLiteral(d, i, "true")
	case 'f':
		return validLiteral(d, i, "false")
	case 'n':
		return validLiteral(d, i, "null")
	}
	return validNumber(d, i)
}

func validLiteral(d []byte, i int, lit string) (int, bool) {
	if len(d)-i < len(lit) || string(d[i:i+len(lit)]) != lit {
		return i, false
	}
	return i + len(lit), true
}

// validNumber checks -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?; what
// may follow is the caller's to check.
func validNumber(d []byte, i int) (int, bool) {
	digits := func(i int) (int, bool) {
		j := i
		for j < len(d) && d[j] >= '0' && d[j] <= '9' {
			j++
		}
		return j, j > i
	}
	if i < len(d) && d[i] == '-' {
		i++
	}
	switch {
	case i >= len(d):
		return i, false
	case d[i] == '0':
		i++
	case d[i] >= '1' && d[i] <= '9':
		i, _ = digits(i)
	default:
		return i, false
	}
	var ok bool
	if i < len(d) && d[i] == '.' {
		if i, ok = digits(i + 1); !ok {
			return i, false
		}
	}
	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		i++
		if i < len(d) && (d[i] == '+' || d[i] == '-') {
			i++
		}
		if i, ok = digits(i); !ok {
			return i, false
		}
	}
	return i, true
}

const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// validString checks the string opened at d[i] and returns the index past
// its closing quote. Like encoding/json it refuses control characters and
// unknown escapes and lets any other byte through (invalid UTF-8 is the
// decoder's to replace).
func validString(d []byte, i int) (int, bool) {
	i++
	for {
		// Eight plain bytes at a time: none below 0x20, no quote, no
		// backslash (the usual bit tricks for "has a zero byte" and "has a
		// byte less than n", exact as to whether one exists).
		for i+8 <= len(d) {
			w := binary.LittleEndian.Uint64(d[i:])
			q := w ^ ('"' * lsb)
			bs := w ^ ('\\' * lsb)
			if ((w-0x20*lsb)&^w|(q-lsb)&^q|(bs-lsb)&^bs)&msb != 0 {
				break
			}
			i += 8
		}
		if i >= len(d) {
			return i, false
		}
		switch c := d[i]; {
		case c == '"':
			return i + 1, true
		case c < 0x20:
			return i, false
		case c == '\\':
			if i+1 >= len(d) {
				return i, false
			}
			switch d[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if len(d)-i < 6 {
					return i, false
				}
				for _, h := range d[i+2 : i+6] {
					if !(h >= '0' && h <= '9' || h >= 'a' && h <= 'f' || h >= 'A' && h <= 'F') {
						return i, false
					}
				}
				i += 6
			default:
				return i, false
			}
		default:
			i++
		}
	}
}
