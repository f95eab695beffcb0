package cda

import (
	"bytes"
	"strings"
	"unicode/utf8"
)

// leanTree reads the ClinicalDocument as readTree does, in one pass over
// the bytes and without encoding/xml's token interface: filing reads every
// document, and encoding/xml (a general decoder: a reader interface,
// one allocation per token, names and attributes copied, namespaces
// translated through maps on every token) was most of what reading a CDA
// cost.
//
// It is only a shortcut, in the manner of the FHIR fast path: it handles
// the ordinary XML that CDA documents are (ASCII names, the five predefined
// entities and character references, CDATA, comments, processing
// instructions, UTF-8), and gives up, ok false, on anything else: a name
// outside plain ASCII, an unbound prefix, a declaration (DOCTYPE), an
// encoding other than UTF-8, malformed XML, a limit reached. The caller
// then reads the document with encoding/xml from the start, so that
// errors, and what is accepted, are encoding/xml's by construction; when
// it answers, the tree is the one readTree builds (FuzzLeanTree checks
// both on the same input).
func leanTree(b []byte, lim Limits) (root *node, ok bool) {
	l := &leanParser{b: b, lim: lim, ns: map[string]string{"": ""}, names: map[string]string{}}
	return l.run()
}

type leanParser struct {
	b        []byte
	i        int
	lim      Limits
	depth    int
	elements int
	// ns maps prefixes in scope to their namespace; undo restores what an
	// element's declarations shadowed, in reverse order, at its end.
	ns    map[string]string
	undo  []nsUndo
	names map[string]string // interned names
	attrs []rawAttr         // scratch for one start tag
	text  []byte            // scratch for decoded text
	// open holds the qualified names of open elements, for matching end
	// tags, and the undo mark of each.
	open []openElem
}

type nsUndo struct {
	prefix, value string
	had           bool
}

type openElem struct {
	qname string
	mark  int
	n     *node // nil outside the ClinicalDocument
}

const xmlURL = "http://www.w3.org/XML/1998/namespace"

func isSpaceByte(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func (l *leanParser) skipSpace() {
	for l.i < len(l.b) && isSpaceByte(l.b[l.i]) {
		l.i++
	}
}

// name reads an XML name restricted to ASCII letters, digits, '_', '-',
// '.' and at most one ':' between two non-empty parts.
func (l *leanParser) name() (string, bool) {
	start := l.i
	colon := -1
	for l.i < len(l.b) {
		c := l.b[l.i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '_':
		case c >= '0' && c <= '9', c == '-', c == '.':
			if l.i == start || l.i == colon+1 {
				return "", false
			}
		case c == ':':
			if colon >= 0 || l.i == start {
				return "", false
			}
			colon = l.i
		default:
			goto done
		}
		l.i++
	}
done:
	if l.i == start || colon == l.i-1 {
		return "", false
	}
	return l.intern(l.b[start:l.i]), true
}

// intern returns b as one shared string per distinct name: a document
// uses a few dozen, thousands of times.
func (l *leanParser) intern(b []byte) string {
	if v, ok := l.names[string(b)]; ok {
		return v
	}
	s := string(b)
	l.names[s] = s
	return s
}

// inCharRange is XML's Char production, as encoding/xml checks it.
func inCharRange(r rune) bool {
	return r == 0x09 || r == 0x0A || r == 0x0D || r >= 0x20 && r <= 0xD7FF ||
		r >= 0xE000 && r <= 0xFFFD || r >= 0x10000 && r <= 0x10FFFF
}

// decode appends to l.text the text of raw (character data or an
// attribute value) as encoding/xml gives it: entities and character
// references replaced, CR LF and lone CR made LF, every character checked.
func (l *leanParser) decode(raw []byte, entities bool) bool {
	l.text = l.text[:0]
	for k := 0; k < len(raw); {
		c := raw[k]
		switch {
		case c == '\r':
			l.text = append(l.text, '\n')
			k++
			if k < len(raw) && raw[k] == '\n' {
				k++
			}
		case c == '&' && entities:
			semi := bytes.IndexByte(raw[k:], ';')
			if semi < 0 || semi > 12 {
				return false
			}
			ent := raw[k+1 : k+semi]
			k += semi + 1
			switch string(ent) {
			case "lt":
				l.text = append(l.text, '<')
			case "gt":
				l.text = append(l.text, '>')
			case "amp":
				l.text = append(l.text, '&')
			case "apos":
				l.text = append(l.text, '\'')
			case "quot":
				l.text = append(l.text, '"')
			default:
				r, ok := charRef(ent)
				if !ok {
					return false
				}
				l.text = utf8.AppendRune(l.text, r)
			}
		case c < utf8.RuneSelf:
			if c < 0x20 && c != '\t' && c != '\n' {
				return false
			}
			l.text = append(l.text, c)
			k++
		default:
			r, size := utf8.DecodeRune(raw[k:])
			if r == utf8.RuneError && size == 1 || !inCharRange(r) {
				return false
			}
			l.text = append(l.text, raw[k:k+size]...)
			k += size
		}
	}
	return true
}

// charRef reads #NNN or #xHHH, refusing what is not a plain character
// (encoding/xml then decides).
func charRef(ent []byte) (rune, bool) {
	if len(ent) < 2 || ent[0] != '#' {
		return 0, false
	}
	digits, base := ent[1:], rune(10)
	if digits[0] == 'x' {
		digits, base = digits[1:], 16
	}
	if len(digits) == 0 || len(digits) > 6 {
		return 0, false
	}
	var r rune
	for _, c := range digits {
		var d rune
		switch {
		case c >= '0' && c <= '9':
			d = rune(c - '0')
		case base == 16 && c >= 'a' && c <= 'f':
			d = rune(c-'a') + 10
		case base == 16 && c >= 'A' && c <= 'F':
			d = rune(c-'A') + 10
		default:
			return 0, false
		}
		r = r*base + d
	}
	if r == 0x0D || !inCharRange(r) {
		return 0, false
	}
	return r, true
}

// rawAttr is an attribute as written.
type rawAttr struct {
	prefix, local, value string
}

func (l *leanParser) run() (*node, bool) {
	var root *node
	var stack []*node // the ClinicalDocument's open elements
	narrative := 0
	for l.i < len(l.b) {
		lt := bytes.IndexByte(l.b[l.i:], '<')
		if lt < 0 {
			lt = len(l.b) - l.i
		}
		if lt > 0 {
			// Character data; "]]>" in it is an error to encoding/xml.
			raw := l.b[l.i : l.i+lt]
			if bytes.Contains(raw, []byte("]]>")) || !l.decode(raw, true) {
				return nil, false
			}
			l.i += lt
			if len(stack) > 0 && (narrative > 0 || len(bytes.TrimSpace(l.text)) > 0) {
				l.elements++
				if l.elements > l.lim.MaxElements {
					return nil, false
				}
				top := stack[len(stack)-1]
				top.kids = append(top.kids, &node{text: string(l.text)})
			}
			continue
		}
		if l.i >= len(l.b) {
			break
		}
		rest := l.b[l.i:]
		switch {
		case bytes.HasPrefix(rest, []byte("<!--")):
			end := bytes.Index(rest[4:], []byte("--"))
			if end < 0 || 4+end+2 >= len(rest) || rest[4+end+2] != '>' {
				return nil, false
			}
			l.i += 4 + end + 3
		case bytes.HasPrefix(rest, []byte("<![CDATA[")):
			end := bytes.Index(rest[9:], []byte("]]>"))
			if end < 0 || !l.decode(rest[9:9+end], false) {
				return nil, false
			}
			l.i += 9 + end + 3
			if len(stack) > 0 && (narrative > 0 || len(bytes.TrimSpace(l.text)) > 0) {
				l.elements++
				if l.elements > l.lim.MaxElements {
					return nil, false
				}
				top := stack[len(stack)-1]
				top.kids = append(top.kids, &node{text: string(l.text)})
			}
		case bytes.HasPrefix(rest, []byte("<?")):
			if !l.procInst() {
				return nil, false
			}
		case bytes.HasPrefix(rest, []byte("</")):
			l.i += 2
			qname, ok := l.name()
			if !ok {
				return nil, false
			}
			l.skipSpace()
			if l.i >= len(l.b) || l.b[l.i] != '>' || len(l.open) == 0 || l.open[len(l.open)-1].qname != qname {
				return nil, false
			}
			l.i++
			if l.end() != nil {
				stack = stack[:len(stack)-1]
				if narrative > 0 {
					narrative--
				}
				if len(stack) == 0 {
					return root, true
				}
			}
		case len(rest) > 1 && rest[1] == '!':
			return nil, false // a declaration: encoding/xml decides
		default:
			l.i++
			n, selfClosed, ok := l.start(root != nil)
			if !ok {
				return nil, false
			}
			if root == nil && n != nil {
				root = n
			} else if n != nil {
				top := stack[len(stack)-1]
				top.kids = append(top.kids, n)
			}
			if n != nil {
				stack = append(stack, n)
				if narrative > 0 || (n.hl7 && n.name == "text") {
					narrative++
				}
				l.open[len(l.open)-1].n = n
			}
			if selfClosed {
				l.end()
				if n != nil {
					stack = stack[:len(stack)-1]
					if narrative > 0 {
						narrative--
					}
					if len(stack) == 0 {
						return root, true
					}
				}
			}
		}
	}
	return nil, false // no ClinicalDocument, or not closed: encoding/xml says which
}

// procInst skips a processing instruction; the XML declaration must say
// version 1.0 (or nothing) and UTF-8 (or nothing).
func (l *leanParser) procInst() bool {
	l.i += 2
	target, ok := l.name()
	if !ok {
		return false
	}
	end := bytes.Index(l.b[l.i:], []byte("?>"))
	if end < 0 {
		return false
	}
	body := l.b[l.i : l.i+end]
	if len(body) > 0 && !isSpaceByte(body[0]) {
		return false
	}
	if !l.decode(body, false) {
		return false
	}
	l.i += end + 2
	if target == "xml" {
		for _, kv := range strings.Fields(string(l.text)) {
			k, v, ok := strings.Cut(kv, "=")
			if !ok || len(v) < 2 || (v[0] != '"' && v[0] != '\'') || v[len(v)-1] != v[0] {
				return false
			}
			v = v[1 : len(v)-1]
			switch k {
			case "version":
				if v != "1.0" {
					return false
				}
			case "encoding":
				if !strings.EqualFold(v, "utf-8") {
					return false
				}
			case "standalone":
			default:
				return false
			}
		}
	} else if strings.EqualFold(target, "xml") {
		return false
	}
	return true
}

// start reads a start tag after its '<'. It returns the element's node
// when it is the ClinicalDocument or inside it (inDoc), nil before.
func (l *leanParser) start(inDoc bool) (n *node, selfClosed, ok bool) {
	qname, ok := l.name()
	if !ok {
		return nil, false, false
	}
	attrs := l.attrs[:0]
	defer func() { l.attrs = attrs[:0] }()
	for {
		hadSpace := l.i < len(l.b) && isSpaceByte(l.b[l.i])
		l.skipSpace()
		if l.i >= len(l.b) {
			return nil, false, false
		}
		if c := l.b[l.i]; c == '>' || c == '/' {
			if c == '/' {
				if l.i+1 >= len(l.b) || l.b[l.i+1] != '>' {
					return nil, false, false
				}
				selfClosed = true
				l.i++
			}
			l.i++
			break
		}
		if !hadSpace {
			return nil, false, false
		}
		an, ok := l.name()
		if !ok {
			return nil, false, false
		}
		l.skipSpace()
		if l.i >= len(l.b) || l.b[l.i] != '=' {
			return nil, false, false
		}
		l.i++
		l.skipSpace()
		if l.i >= len(l.b) || (l.b[l.i] != '"' && l.b[l.i] != '\'') {
			return nil, false, false
		}
		q := l.b[l.i]
		end := bytes.IndexByte(l.b[l.i+1:], q)
		if end < 0 {
			return nil, false, false
		}
		raw := l.b[l.i+1 : l.i+1+end]
		if bytes.IndexByte(raw, '<') >= 0 || !l.decode(raw, true) {
			return nil, false, false
		}
		l.i += end + 2
		if len(l.text) > l.lim.MaxAttrBytes {
			return nil, false, false
		}
		prefix, local, found := strings.Cut(an, ":")
		if !found {
			prefix, local = "", an
		}
		attrs = append(attrs, rawAttr{prefix: prefix, local: local, value: string(l.text)})
	}
	l.depth++
	l.elements++
	if l.depth > l.lim.MaxDepth || l.elements > l.lim.MaxElements || len(attrs) > l.lim.MaxAttrs {
		return nil, false, false
	}
	// Declarations first: they apply to the element and its attributes.
	mark := len(l.undo)
	for _, a := range attrs {
		switch {
		case a.prefix == "xmlns":
			l.declare(a.local, a.value)
		case a.prefix == "" && a.local == "xmlns":
			l.declare("", a.value)
		}
	}
	l.open = append(l.open, openElem{qname: qname, mark: mark})
	prefix, local, found := strings.Cut(qname, ":")
	if !found {
		prefix, local = "", qname
	}
	var space string
	switch prefix {
	case "":
		space = l.ns[""]
	case "xml":
		space = xmlURL
	case "xmlns":
		return nil, false, false
	default:
		v, bound := l.ns[prefix]
		if !bound {
			return nil, false, false
		}
		space = v
	}
	if !inDoc && !(local == "ClinicalDocument" && space == nsHL7) {
		// Before the ClinicalDocument: attribute prefixes still have to
		// be bound, as encoding/xml would leave them untranslated.
		for _, a := range attrs {
			if a.prefix != "" && a.prefix != "xmlns" && a.prefix != "xml" {
				if _, bound := l.ns[a.prefix]; !bound {
					return nil, false, false
				}
			}
		}
		return nil, selfClosed, true
	}
	n = &node{name: local, hl7: space == nsHL7}
	kept := 0
	for _, a := range attrs {
		if a.prefix != "xmlns" && !(a.prefix == "" && a.local == "xmlns") {
			kept++
		}
	}
	if len(attrs) > 0 { // as newNode: declarations alone leave an empty list
		n.attrs = make([]attr, 0, kept)
	}
	for _, a := range attrs {
		var as string
		switch a.prefix {
		case "xmlns":
			continue
		case "":
			if a.local == "xmlns" {
				continue
			}
		case "xml":
			as = xmlURL
		default:
			v, bound := l.ns[a.prefix]
			if !bound {
				return nil, false, false
			}
			as = v
		}
		n.attrs = append(n.attrs, attr{space: as, name: a.local, value: a.value})
	}
	return n, selfClosed, true
}

func (l *leanParser) declare(prefix, value string) {
	old, had := l.ns[prefix]
	l.undo = append(l.undo, nsUndo{prefix: prefix, value: old, had: had})
	l.ns[prefix] = value
}

// end closes the innermost element and returns its node (nil outside
// the ClinicalDocument).
func (l *leanParser) end() *node {
	e := l.open[len(l.open)-1]
	l.open = l.open[:len(l.open)-1]
	for k := len(l.undo) - 1; k >= e.mark; k-- {
		u := l.undo[k]
		if u.had {
			l.ns[u.prefix] = u.value
		} else {
			delete(l.ns, u.prefix)
		}
	}
	l.undo = l.undo[:e.mark]
	l.depth--
	return e.n
}
