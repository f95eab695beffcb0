package xua

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/carnet-sante/carnet/internal/safexml"
)

// elem is one element of a parsed document, with what exclusive
// canonicalization needs: the prefixes as written and the namespace
// declarations of each element.
type elem struct {
	Prefix, Local string
	Space         string // the namespace URI, resolved
	Attrs         []attr // without namespace declarations
	Decls         map[string]string
	Children      []any // *elem or string (character data)
	Parent        *elem
}

type attr struct {
	Prefix, Local, Space, Value string
}

// ns resolves prefix in e's scope ("" is the default namespace).
func (e *elem) ns(prefix string) (string, bool) {
	if prefix == "xml" {
		return "http://www.w3.org/XML/1998/namespace", true
	}
	for x := e; x != nil; x = x.Parent {
		if u, ok := x.Decls[prefix]; ok {
			return u, true
		}
	}
	return "", prefix == ""
}

func (e *elem) is(space, local string) bool { return e != nil && e.Space == space && e.Local == local }

// kids returns the child elements.
func (e *elem) kids() []*elem {
	var out []*elem
	for _, c := range e.Children {
		if k, ok := c.(*elem); ok {
			out = append(out, k)
		}
	}
	return out
}

// all returns the child elements named local in space.
func (e *elem) all(space, local string) []*elem {
	var out []*elem
	for _, k := range e.kids() {
		if k.is(space, local) {
			out = append(out, k)
		}
	}
	return out
}

func (e *elem) child(space, local string) *elem {
	if l := e.all(space, local); len(l) > 0 {
		return l[0]
	}
	return nil
}

// text is the character data directly inside e.
func (e *elem) text() string {
	var b strings.Builder
	for _, c := range e.Children {
		if s, ok := c.(string); ok {
			b.WriteString(s)
		}
	}
	return b.String()
}

func (e *elem) attr(local string) (string, bool) {
	for _, a := range e.Attrs {
		if a.Prefix == "" && a.Local == local {
			return a.Value, true
		}
	}
	return "", false
}

// walk calls f on e and every element under it, depth first.
func (e *elem) walk(f func(*elem)) {
	f(e)
	for _, k := range e.kids() {
		k.walk(f)
	}
}

// Bounds of the document parse.
const (
	maxDepth  = 64
	maxTokens = 200_000
)

var errMalformed = errors.New("malformed XML")

// parse reads one XML document into a tree: UTF-8 only, no DTD, no
// entities but XML's five, no processing instruction or comment inside the
// tree (a comment would change nothing signed but is refused rather than
// dropped), bounded in depth and tokens.
func parse(b []byte) (*elem, error) {
	d := safexml.NewDecoder(b)
	var root, cur *elem
	depth, tokens := 0, 0
	for {
		tok, err := d.RawToken()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %v", errMalformed, err)
		}
		if tokens++; tokens > maxTokens {
			return nil, fmt.Errorf("%w: more than %d tokens", errMalformed, maxTokens)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if depth++; depth > maxDepth {
				return nil, fmt.Errorf("%w: nested deeper than %d", errMalformed, maxDepth)
			}
			e := &elem{Prefix: t.Name.Space, Local: t.Name.Local, Parent: cur}
			for _, a := range t.Attr {
				switch {
				case a.Name.Space == "" && a.Name.Local == "xmlns":
					e.decl("", a.Value)
				case a.Name.Space == "xmlns":
					if a.Value == "" {
						return nil, fmt.Errorf("%w: a prefix cannot be undeclared", errMalformed)
					}
					e.decl(a.Name.Local, a.Value)
				default:
					e.Attrs = append(e.Attrs, attr{Prefix: a.Name.Space, Local: a.Name.Local, Value: a.Value})
				}
			}
			var ok bool
			if e.Space, ok = e.ns(e.Prefix); !ok {
				return nil, fmt.Errorf("%w: undeclared prefix %q", errMalformed, e.Prefix)
			}
			seen := map[string]bool{}
			for i, a := range e.Attrs {
				if a.Prefix != "" {
					if e.Attrs[i].Space, ok = e.ns(a.Prefix); !ok {
						return nil, fmt.Errorf("%w: undeclared prefix %q", errMalformed, a.Prefix)
					}
				}
				k := e.Attrs[i].Space + " " + a.Local
				if seen[k] {
					return nil, fmt.Errorf("%w: attribute %s repeated", errMalformed, a.Local)
				}
				seen[k] = true
			}
			if cur == nil {
				if root != nil {
					return nil, fmt.Errorf("%w: several root elements", errMalformed)
				}
				root = e
			} else {
				cur.Children = append(cur.Children, e)
			}
			cur = e
		case xml.EndElement:
			if cur == nil || t.Name.Space != cur.Prefix || t.Name.Local != cur.Local {
				return nil, fmt.Errorf("%w: unbalanced end element", errMalformed)
			}
			cur, depth = cur.Parent, depth-1
		case xml.CharData:
			if cur != nil {
				cur.Children = append(cur.Children, string(t))
			} else if len(bytes.TrimSpace(t)) > 0 {
				return nil, fmt.Errorf("%w: text outside the root element", errMalformed)
			}
		case xml.Directive:
			return nil, fmt.Errorf("%w: DTDs and other directives are refused", errMalformed)
		case xml.ProcInst:
			if t.Target != "xml" || cur != nil {
				return nil, fmt.Errorf("%w: processing instruction refused", errMalformed)
			}
		case xml.Comment:
			if cur != nil {
				return nil, fmt.Errorf("%w: comments inside the document are refused", errMalformed)
			}
		}
	}
	if root == nil || cur != nil {
		return nil, fmt.Errorf("%w: no complete element", errMalformed)
	}
	return root, nil
}

func (e *elem) decl(prefix, uri string) {
	if e.Decls == nil {
		e.Decls = map[string]string{}
	}
	e.Decls[prefix] = uri
}

// canonical writes the exclusive XML canonicalization (without comments,
// https://www.w3.org/TR/xml-exc-c14n/) of the subtree e, leaving out the
// element skip (the enveloped signature) and its subtree. inclusive are
// the prefixes of an InclusiveNamespaces PrefixList, rendered as in
// inclusive canonicalization when in scope. Only what parse produces is
// handled: elements, attributes, character data.
func canonical(e *elem, skip *elem, inclusive []string) []byte {
	var b bytes.Buffer
	c14nElem(&b, e, skip, map[string]string{}, inclusive)
	return b.Bytes()
}

func c14nElem(b *bytes.Buffer, e, skip *elem, rendered map[string]string, inclusive []string) {
	// Namespaces visibly utilized: the element's prefix, its attributes'
	// prefixes (the unprefixed attributes use none), and the PrefixList.
	used := map[string]bool{e.Prefix: true}
	for _, a := range e.Attrs {
		if a.Prefix != "" && a.Prefix != "xml" {
			used[a.Prefix] = true
		}
	}
	for _, p := range inclusive {
		if p == "#default" {
			p = ""
		}
		if _, ok := e.ns(p); ok {
			used[p] = true
		}
	}
	type nsDecl struct{ prefix, uri string }
	var decls []nsDecl
	next, copied := rendered, false
	for p := range used {
		if p == "xml" {
			continue
		}
		uri, _ := e.ns(p)
		prev, had := rendered[p]
		if p == "" && uri == "" && (!had || prev == "") {
			continue // the empty default namespace is never rendered first
		}
		if had && prev == uri {
			continue
		}
		if !copied {
			copied = true
			next = make(map[string]string, len(rendered)+1)
			for k, v := range rendered {
				next[k] = v
			}
		}
		next[p] = uri
		decls = append(decls, nsDecl{p, uri})
	}
	sort.Slice(decls, func(i, j int) bool { return decls[i].prefix < decls[j].prefix })
	attrs := append([]attr(nil), e.Attrs...)
	sort.Slice(attrs, func(i, j int) bool {
		if attrs[i].Space != attrs[j].Space {
			return attrs[i].Space < attrs[j].Space
		}
		return attrs[i].Local < attrs[j].Local
	})
	b.WriteByte('<')
	writeQName(b, e.Prefix, e.Local)
	for _, d := range decls {
		if d.prefix == "" {
			b.WriteString(` xmlns="`)
		} else {
			b.WriteString(` xmlns:` + d.prefix + `="`)
		}
		escapeAttr(b, d.uri)
		b.WriteByte('"')
	}
	for _, a := range attrs {
		b.WriteByte(' ')
		writeQName(b, a.Prefix, a.Local)
		b.WriteString(`="`)
		escapeAttr(b, a.Value)
		b.WriteByte('"')
	}
	b.WriteByte('>')
	for _, c := range e.Children {
		switch c := c.(type) {
		case string:
			escapeText(b, c)
		case *elem:
			if c != skip {
				c14nElem(b, c, skip, next, inclusive)
			}
		}
	}
	b.WriteString("</")
	writeQName(b, e.Prefix, e.Local)
	b.WriteByte('>')
}

func writeQName(b *bytes.Buffer, prefix, local string) {
	if prefix != "" {
		b.WriteString(prefix)
		b.WriteByte(':')
	}
	b.WriteString(local)
}

// escapeText and escapeAttr escape as c14n does: text escapes &, <, >
// and CR; attribute values &, <, ", TAB, LF and CR.
func escapeText(b *bytes.Buffer, s string) { escape(b, s, false) }

func escapeAttr(b *bytes.Buffer, s string) { escape(b, s, true) }

func escape(b *bytes.Buffer, s string, inAttr bool) {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '&':
			b.WriteString("&amp;")
		case c == '<':
			b.WriteString("&lt;")
		case c == '>' && !inAttr:
			b.WriteString("&gt;")
		case c == '"' && inAttr:
			b.WriteString("&quot;")
		case c == '\t' && inAttr:
			b.WriteString("&#x9;")
		case c == '\n' && inAttr:
			b.WriteString("&#xA;")
		case c == '\r':
			b.WriteString("&#xD;")
		default:
			b.WriteByte(c)
		}
	}
}
