package cda

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"

	carnet "github.com/carnet-sante/carnet"
)

// Namespaces a CDA document uses.
const (
	nsHL7 = "urn:hl7-org:v3"
	nsXSI = "http://www.w3.org/2001/XMLSchema-instance"
)

// Limits bound what Parse accepts. A zero field takes its default.
type Limits struct {
	MaxBytes      int // whole input (default 32 MiB: self-presenting CDA with images reach 3 MB)
	MaxDepth      int // element nesting (default 256)
	MaxElements   int // element and text nodes (default 100,000; the largest ANS example has about 10,000)
	MaxAttrs      int // attributes on one element (default 64)
	MaxAttrBytes  int // length of one attribute value (default 64 KiB)
	MaxAttachment int // decoded size of the embedded PDF (default 24 MiB)
}

// DefaultLimits are the limits used for zero fields.
var DefaultLimits = Limits{
	MaxBytes:      32 << 20,
	MaxDepth:      256,
	MaxElements:   100_000,
	MaxAttrs:      64,
	MaxAttrBytes:  64 << 10,
	MaxAttachment: 24 << 20,
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits
	if l.MaxBytes <= 0 {
		l.MaxBytes = d.MaxBytes
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = d.MaxDepth
	}
	if l.MaxElements <= 0 {
		l.MaxElements = d.MaxElements
	}
	if l.MaxAttrs <= 0 {
		l.MaxAttrs = d.MaxAttrs
	}
	if l.MaxAttrBytes <= 0 {
		l.MaxAttrBytes = d.MaxAttrBytes
	}
	if l.MaxAttachment <= 0 {
		l.MaxAttachment = d.MaxAttachment
	}
	return l
}

const op = "cda.Parse"

// Parse reads a CDA R2 document. The ClinicalDocument element (namespace
// urn:hl7-org:v3) is looked for wherever it is, so that self-presenting
// documents, which wrap it in an XSL stylesheet, are read too. Errors are
// *carnet.Error: KindTooLarge when a limit is exceeded, KindInvalid for
// malformed XML or a DOCTYPE, KindUnsupported when there is no CDA R2
// ClinicalDocument. Parse never panics.
func Parse(b []byte, lim Limits) (doc *Document, err error) {
	lim = lim.withDefaults()
	if len(b) > lim.MaxBytes {
		return nil, carnet.Errorf(carnet.KindTooLarge, "CDA document of %d bytes exceeds the limit of %d bytes", len(b), lim.MaxBytes)
	}
	defer func() {
		// A bug must not take the server down on hostile input; it is
		// reported as internal (and the fuzz target finds it first).
		if r := recover(); r != nil {
			doc, err = nil, carnet.WrapError(carnet.KindInternal, op, fmt.Errorf("panic: %v", r))
		}
	}()
	root, ok := leanTree(b, lim)
	if !ok {
		// Anything unusual, and every error, is encoding/xml's to read.
		if root, err = readTree(b, lim); err != nil {
			return nil, err
		}
	}
	return build(root, lim)
}

// node is one element or text node of the ClinicalDocument. The tree is
// bounded by Limits.MaxElements; text nodes have an empty name.
type node struct {
	name  string // local name; "" for text
	hl7   bool   // in the urn:hl7-org:v3 namespace
	attrs []attr
	text  string // text nodes only
	kids  []*node
}

type attr struct {
	space, name, value string
}

type parseState struct {
	lim      Limits
	dec      *xml.Decoder
	depth    int
	elements int
}

func (p *parseState) tooLarge(format string, args ...any) error {
	return carnet.Errorf(carnet.KindTooLarge, format, args...)
}

func (p *parseState) syntax(err error) error {
	var ce *carnet.Error
	if errors.As(err, &ce) {
		return ce // from the CharsetReader
	}
	var se *xml.SyntaxError
	if errors.As(err, &se) {
		return carnet.Errorf(carnet.KindInvalid, "malformed XML at line %d: %s", se.Line, se.Msg)
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return carnet.Errorf(carnet.KindInvalid, "malformed XML: unexpected end of document")
	}
	return carnet.WrapError(carnet.KindInvalid, op, err)
}

// next returns the next token, enforcing the limits that apply to every
// token, inside the ClinicalDocument or not.
func (p *parseState) next() (xml.Token, error) {
	tok, err := p.dec.Token()
	if err != nil {
		if err == io.EOF {
			return nil, io.EOF
		}
		return nil, p.syntax(err)
	}
	switch t := tok.(type) {
	case xml.StartElement:
		p.depth++
		p.elements++
		if p.depth > p.lim.MaxDepth {
			return nil, p.tooLarge("XML nesting deeper than %d elements", p.lim.MaxDepth)
		}
		if p.elements > p.lim.MaxElements {
			return nil, p.tooLarge("more than %d XML elements", p.lim.MaxElements)
		}
		if len(t.Attr) > p.lim.MaxAttrs {
			return nil, p.tooLarge("element <%s> has more than %d attributes", t.Name.Local, p.lim.MaxAttrs)
		}
		for _, a := range t.Attr {
			if len(a.Value) > p.lim.MaxAttrBytes {
				return nil, p.tooLarge("attribute %s of <%s> is longer than %d bytes", a.Name.Local, t.Name.Local, p.lim.MaxAttrBytes)
			}
		}
	case xml.EndElement:
		p.depth--
	case xml.Directive:
		// DOCTYPE and any other declaration: no DTD, no entities, ever.
		return nil, carnet.Errorf(carnet.KindInvalid, "XML declarations (DOCTYPE, ENTITY) are not accepted in a CDA document")
	}
	return tok, nil
}

func readTree(b []byte, lim Limits) (*node, error) {
	dec := xml.NewDecoder(bytes.NewReader(b))
	dec.Strict = true
	dec.Entity = nil // only the five predefined entities
	dec.CharsetReader = func(charset string, r io.Reader) (io.Reader, error) {
		// CI-SIS documents are UTF-8; other encodings are refused rather
		// than guessed.
		return nil, carnet.Errorf(carnet.KindUnsupported, "XML encoding %q is not supported (UTF-8 only)", charset)
	}
	p := &parseState{lim: lim, dec: dec}
	sawRoot := false
	for {
		tok, err := p.next()
		if err == io.EOF {
			if !sawRoot {
				return nil, carnet.Errorf(carnet.KindInvalid, "no XML element in the document")
			}
			return nil, carnet.Errorf(carnet.KindUnsupported, "not a CDA R2 document: no ClinicalDocument element in namespace %s", nsHL7)
		}
		if err != nil {
			return nil, err
		}
		se, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		sawRoot = true
		if se.Name.Local == "ClinicalDocument" && se.Name.Space == nsHL7 {
			return p.element(se)
		}
	}
}

// element reads the subtree of the start element se, already counted.
func (p *parseState) element(se xml.StartElement) (*node, error) {
	root := newNode(se)
	stack := []*node{root}
	narrative := 0 // depth inside narrative <text> blocks, where whitespace matters
	for len(stack) > 0 {
		tok, err := p.next()
		if err == io.EOF {
			return nil, carnet.Errorf(carnet.KindInvalid, "malformed XML: unexpected end of document")
		}
		if err != nil {
			return nil, err
		}
		top := stack[len(stack)-1]
		switch t := tok.(type) {
		case xml.StartElement:
			n := newNode(t)
			top.kids = append(top.kids, n)
			stack = append(stack, n)
			if narrative > 0 || (n.hl7 && n.name == "text") {
				narrative++
			}
		case xml.EndElement:
			stack = stack[:len(stack)-1]
			if narrative > 0 {
				narrative--
			}
		case xml.CharData:
			if narrative == 0 && len(bytes.TrimSpace(t)) == 0 {
				continue
			}
			// Adjacent character data (split by comments or CDATA) stays
			// in separate nodes: joining them would be quadratic.
			p.elements++
			if p.elements > p.lim.MaxElements {
				return nil, p.tooLarge("more than %d XML nodes", p.lim.MaxElements)
			}
			top.kids = append(top.kids, &node{text: string(t)})
		}
	}
	return root, nil
}

func newNode(se xml.StartElement) *node {
	n := &node{name: se.Name.Local, hl7: se.Name.Space == nsHL7}
	if len(se.Attr) > 0 {
		n.attrs = make([]attr, 0, len(se.Attr))
		for _, a := range se.Attr {
			if a.Name.Space == "xmlns" || (a.Name.Space == "" && a.Name.Local == "xmlns") {
				continue
			}
			n.attrs = append(n.attrs, attr{space: a.Name.Space, name: a.Name.Local, value: a.Value})
		}
	}
	return n
}

// attr returns the value of the unqualified attribute name.
func (n *node) attr(name string) string {
	if n == nil {
		return ""
	}
	for _, a := range n.attrs {
		if a.name == name && a.space == "" {
			return a.value
		}
	}
	return ""
}

// xsiType returns the xsi:type of n without its prefix.
func (n *node) xsiType() string {
	if n == nil {
		return ""
	}
	for _, a := range n.attrs {
		if a.name == "type" && a.space == nsXSI {
			if _, local, ok := strings.Cut(a.value, ":"); ok {
				return local
			}
			return a.value
		}
	}
	return ""
}

// child returns the first HL7 child element called name.
func (n *node) child(name string) *node {
	if n == nil {
		return nil
	}
	for _, k := range n.kids {
		if k.hl7 && k.name == name {
			return k
		}
	}
	return nil
}

// other returns the first child element called name outside the HL7
// namespace (the IHE pharmacy extensions: pharm:asSpecializedKind…).
func (n *node) other(name string) *node {
	if n == nil {
		return nil
	}
	for _, k := range n.kids {
		if !k.hl7 && k.name == name {
			return k
		}
	}
	return nil
}

// children returns the HL7 child elements called name.
func (n *node) children(name string) []*node {
	if n == nil {
		return nil
	}
	var out []*node
	for _, k := range n.kids {
		if k.hl7 && k.name == name {
			out = append(out, k)
		}
	}
	return out
}

// path follows first children: n.path("a", "b") is n/a[1]/b[1].
func (n *node) path(names ...string) *node {
	for _, name := range names {
		n = n.child(name)
		if n == nil {
			return nil
		}
	}
	return n
}

// textContent is the concatenated text of n and its descendants, with
// runs of white space collapsed.
func (n *node) textContent() string {
	if n == nil {
		return ""
	}
	var b strings.Builder
	n.appendText(&b)
	return strings.Join(strings.Fields(b.String()), " ")
}

func (n *node) appendText(b *strings.Builder) {
	if n.name == "" {
		b.WriteString(n.text)
		return
	}
	for _, k := range n.kids {
		k.appendText(b)
	}
}

// rawText is the concatenated direct text of n, untouched (base64 data).
func (n *node) rawText() string {
	if n == nil {
		return ""
	}
	var b strings.Builder
	for _, k := range n.kids {
		if k.name == "" {
			b.WriteString(k.text)
		}
	}
	return b.String()
}

// templateIDs returns the templateId roots of n.
func (n *node) templateIDs() []string {
	var out []string
	for _, t := range n.children("templateId") {
		if r := t.attr("root"); r != "" {
			out = append(out, r)
		}
	}
	return out
}

func (n *node) hasTemplate(roots ...string) bool {
	for _, t := range n.children("templateId") {
		r := t.attr("root")
		for _, want := range roots {
			if r == want {
				return true
			}
		}
	}
	return false
}
