package fhirxml

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"

	carnet "github.com/carnet-sante/carnet"
	"github.com/carnet-sante/carnet/internal/safexml"
)

// Bounds of an XML body, besides its size (which the caller bounds, as for
// JSON). A legitimate body stays far below each.
const (
	// MaxDepth is how deeply elements may nest, narrative included: the same
	// bound as JSON's nesting (fhir.MaxDepth); an XML element is no deeper
	// than its JSON object.
	MaxDepth = 64
	// MaxElements bounds the elements of one body (the tree is held in
	// memory to be converted): an ITI-65 Bundle of a thousand documents has
	// about 100,000.
	MaxElements = 500_000
	// MaxAttributes bounds the attributes of one element.
	MaxAttributes = 32
)

// maxElements is MaxElements, lowered by a test.
var maxElements = MaxElements

// node is an element, or a run of text when name.Local is "".
type node struct {
	name  xml.Name
	attrs []xml.Attr
	kids  []*node
	text  string
}

func (n *node) isText() bool { return n.name.Local == "" }

// parse reads one XML document into a tree, refusing DTDs, entities other
// than XML's own, processing instructions other than the declaration,
// encodings other than UTF-8, and anything past the bounds.
func parse(data []byte, where string) (*node, error) {
	d := xml.NewDecoder(bytes.NewReader(data))
	d.Strict = true
	d.CharsetReader = func(label string, _ io.Reader) (io.Reader, error) {
		return nil, fmt.Errorf("the body must be UTF-8, not %s", label)
	}
	var root *node
	var stack []*node
	count := 0
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			var se *xml.SyntaxError
			if msg, ok := strings.CutPrefix(err.Error(), "xml: opening charset reader: "); ok {
				return nil, invalid(where, "invalid", msg)
			}
			if errors.As(err, &se) {
				return nil, invalid(where, "invalid", fmt.Sprintf("malformed XML at line %d: %s", se.Line, se.Msg))
			}
			return nil, invalid(where, "invalid", "malformed XML: "+err.Error())
		}
		switch t := tok.(type) {
		case xml.StartElement:
			count++
			if count > maxElements {
				return nil, tooLarge(where, fmt.Sprintf("the body has more than %d elements", maxElements))
			}
			if len(stack) >= MaxDepth {
				return nil, invalid(where, "invalid", fmt.Sprintf("XML nests deeper than %d levels", MaxDepth))
			}
			if len(t.Attr) > MaxAttributes {
				return nil, invalid(where, "invalid", fmt.Sprintf("an element has more than %d attributes", MaxAttributes))
			}
			if a, dup := safexml.DuplicateAttr(t.Attr); dup {
				// Not well-formed XML, which encoding/xml reads anyway: a
				// reader that keeps the first value would see another resource.
				return nil, invalid(where, "invalid", fmt.Sprintf("<%s> has the attribute %s twice", t.Name.Local, a))
			}
			n := &node{name: t.Name, attrs: t.Attr}
			if len(stack) == 0 {
				if root != nil {
					return nil, invalid(where, "invalid", "the body holds more than one root element")
				}
				root = n
			} else {
				p := stack[len(stack)-1]
				p.kids = append(p.kids, n)
			}
			stack = append(stack, n)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) == 0 {
				if len(bytes.TrimSpace(t)) > 0 {
					return nil, invalid(where, "invalid", "text outside the root element")
				}
				continue
			}
			p := stack[len(stack)-1]
			if k := len(p.kids); k > 0 && p.kids[k-1].isText() {
				p.kids[k-1].text += string(t)
				continue
			}
			count++
			if count > maxElements {
				return nil, tooLarge(where, fmt.Sprintf("the body has more than %d elements", maxElements))
			}
			p.kids = append(p.kids, &node{text: string(t)})
		case xml.Comment:
			// FHIR lets XML carry comments; JSON has none: dropped.
		case xml.ProcInst:
			if t.Target != "xml" {
				return nil, invalid(where, "invalid", "processing instructions are not accepted")
			}
			if enc := procInstParam(string(t.Inst), "encoding"); enc != "" && !strings.EqualFold(enc, "UTF-8") {
				return nil, invalid(where, "invalid", "the body must be UTF-8, not "+enc)
			}
		case xml.Directive:
			return nil, invalid(where, "invalid", "DTDs and other declarations (<!…>) are not accepted")
		}
	}
	if root == nil {
		return nil, invalid(where, "required", "the body holds no XML element")
	}
	return root, nil
}

// procInstParam reads param="value" from an XML declaration.
func procInstParam(s, param string) string {
	i := strings.Index(s, param+"=")
	if i < 0 {
		return ""
	}
	s = s[i+len(param)+1:]
	if len(s) < 2 || (s[0] != '"' && s[0] != '\'') {
		return ""
	}
	j := strings.IndexByte(s[1:], s[0])
	if j < 0 {
		return ""
	}
	return s[1 : j+1]
}

func invalid(expr, code, diag string) *carnet.Error {
	return &carnet.Error{Kind: carnet.KindInvalid, Op: "fhirxml", Msg: "the body is not a valid FHIR resource",
		Issues: []carnet.Issue{{Severity: "error", Code: code, Diagnostics: diag, Expression: expr}}}
}

func tooLarge(expr, diag string) *carnet.Error {
	return &carnet.Error{Kind: carnet.KindTooLarge, Op: "fhirxml", Msg: diag,
		Issues: []carnet.Issue{{Severity: "error", Code: "too-costly", Diagnostics: diag, Expression: expr}}}
}

// isNamespaceDecl reports whether a is an xmlns or xmlns:p declaration.
func isNamespaceDecl(a xml.Attr) bool {
	return a.Name.Space == "xmlns" || (a.Name.Space == "" && a.Name.Local == "xmlns")
}

// writeXHTML writes the narrative n (an XHTML div) as XML text, with the
// XHTML namespace declared on the div and nowhere else, attributes in
// document order, text escaped, empty elements closed with "/>".
func writeXHTML(b *bytes.Buffer, n *node, top bool, where string) error {
	if n.name.Space != NamespaceXHTML {
		return invalid(where, "invalid", fmt.Sprintf("<%s> in the narrative is not in the XHTML namespace", n.name.Local))
	}
	b.WriteByte('<')
	b.WriteString(n.name.Local)
	if top {
		b.WriteString(` xmlns="` + NamespaceXHTML + `"`)
	}
	for _, a := range n.attrs {
		if isNamespaceDecl(a) {
			continue
		}
		b.WriteByte(' ')
		switch a.Name.Space {
		case "":
		case namespaceXML:
			b.WriteString("xml:")
		default:
			return invalid(where, "invalid", fmt.Sprintf("the narrative's attribute %s:%s is in a namespace XHTML does not have", a.Name.Space, a.Name.Local))
		}
		b.WriteString(a.Name.Local)
		b.WriteString(`="`)
		escape(b, a.Value, true)
		b.WriteByte('"')
	}
	if len(n.kids) == 0 {
		b.WriteString("/>")
		return nil
	}
	b.WriteByte('>')
	for _, k := range n.kids {
		if k.isText() {
			escape(b, k.text, false)
			continue
		}
		if err := writeXHTML(b, k, false, where); err != nil {
			return err
		}
	}
	b.WriteString("</")
	b.WriteString(n.name.Local)
	b.WriteByte('>')
	return nil
}

// escape writes s as XML character data, or as an attribute value. A
// character XML 1.0 does not allow (C0 controls but tab and line breaks,
// U+FFFE, U+FFFF), which JSON may carry, is written U+FFFD: the answer
// stays well-formed. s is UTF-8 (JSON decoding made it so).
func escape(b *bytes.Buffer, s string, attr bool) {
	last := 0
	for i := 0; i < len(s); i++ {
		var r string
		switch c := s[i]; {
		case c == '&':
			r = "&amp;"
		case c == '<':
			r = "&lt;"
		case c == '>':
			r = "&gt;"
		case c == '"' && attr:
			r = "&quot;"
		case c == '\n' && attr:
			r = "&#xA;"
		case c == '\t' && attr:
			r = "&#x9;"
		case c == '\r':
			r = "&#xD;"
		case c < 0x20 && c != '\t' && c != '\n':
			r = "\uFFFD" // not an XML 1.0 character, not even as a reference
		case c == 0xEF && i+2 < len(s) && s[i+1] == 0xBF && (s[i+2] == 0xBE || s[i+2] == 0xBF):
			// U+FFFE, U+FFFF: not XML 1.0 characters either.
			b.WriteString(s[last:i])
			b.WriteString("\uFFFD")
			i += 2
			last = i + 1
			continue
		default:
			continue
		}
		b.WriteString(s[last:i])
		b.WriteString(r)
		last = i + 1
	}
	b.WriteString(s[last:])
}
