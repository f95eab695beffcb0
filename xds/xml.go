package xds

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/carnet-sante/carnet/internal/safexml"
)

// Namespaces spoken.
const (
	nsSOAP  = "http://www.w3.org/2003/05/soap-envelope"
	nsWSA   = "http://www.w3.org/2005/08/addressing"
	nsXDS   = "urn:ihe:iti:xds-b:2007"
	nsLCM   = "urn:oasis:names:tc:ebxml-regrep:xsd:lcm:3.0"
	nsRIM   = "urn:oasis:names:tc:ebxml-regrep:xsd:rim:3.0"
	nsRS    = "urn:oasis:names:tc:ebxml-regrep:xsd:rs:3.0"
	nsQuery = "urn:oasis:names:tc:ebxml-regrep:xsd:query:3.0"
	nsXOP   = "http://www.w3.org/2004/08/xop/include"
)

// Limits bound what a request may cost.
type Limits struct {
	MaxBytes     int64 // whole body, all MIME parts (64 MiB)
	MaxDepth     int   // XML nesting (64)
	MaxTokens    int   // XML tokens in the envelope (200,000)
	MaxParts     int   // MIME parts (64)
	MaxDocuments int   // documents per request (50)
	MaxSlots     int   // slots, classifications, identifiers per object (256)
	MaxValues    int   // values per slot (64)
	MaxObjects   int   // objects in a query answer (200)
}

// DefaultLimits are the bounds of docs/XDS.md.
var DefaultLimits = Limits{MaxBytes: 64 << 20, MaxDepth: 64, MaxTokens: 200_000, MaxParts: 64, MaxDocuments: 50, MaxSlots: 256, MaxValues: 64, MaxObjects: 200}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits
	if l.MaxBytes > 0 {
		d.MaxBytes = l.MaxBytes
	}
	if l.MaxDepth > 0 {
		d.MaxDepth = l.MaxDepth
	}
	if l.MaxTokens > 0 {
		d.MaxTokens = l.MaxTokens
	}
	if l.MaxParts > 0 {
		d.MaxParts = l.MaxParts
	}
	if l.MaxDocuments > 0 {
		d.MaxDocuments = l.MaxDocuments
	}
	if l.MaxSlots > 0 {
		d.MaxSlots = l.MaxSlots
	}
	if l.MaxValues > 0 {
		d.MaxValues = l.MaxValues
	}
	if l.MaxObjects > 0 {
		d.MaxObjects = l.MaxObjects
	}
	return d
}

// node is one XML element: a minimal tree, enough for SOAP and ebRIM.
type node struct {
	Space, Local string
	Attrs        []xml.Attr
	Children     []*node
	Text         string // character data directly inside, concatenated
}

// attr returns the value of the attribute named local (any namespace).
func (n *node) attr(local string) string {
	for _, a := range n.Attrs {
		if a.Name.Local == local {
			return a.Value
		}
	}
	return ""
}

// is reports whether n is element local of namespace space.
func (n *node) is(space, local string) bool { return n != nil && n.Space == space && n.Local == local }

// child returns the first child element named local in space, or nil.
func (n *node) child(space, local string) *node {
	if n == nil {
		return nil
	}
	for _, c := range n.Children {
		if c.is(space, local) {
			return c
		}
	}
	return nil
}

// all returns every child element named local in space.
func (n *node) all(space, local string) []*node {
	if n == nil {
		return nil
	}
	var out []*node
	for _, c := range n.Children {
		if c.is(space, local) {
			out = append(out, c)
		}
	}
	return out
}

// errMalformed is a body that is not the XML it claims to be.
var errMalformed = errors.New("malformed XML")

// parseXML reads one XML document into a tree, bounded by depth and token
// count, refusing DTDs (and so every entity but XML's five predefined ones:
// encoding/xml in strict mode knows no other).
func parseXML(b []byte, lim Limits) (*node, error) {
	d := safexml.NewDecoder(b)
	var root *node
	var stack []*node
	var text []*strings.Builder
	tokens := 0
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %v", errMalformed, err)
		}
		tokens++
		if tokens > lim.MaxTokens {
			return nil, fmt.Errorf("%w: more than %d XML tokens", errTooLarge, lim.MaxTokens)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if len(stack) >= lim.MaxDepth {
				return nil, fmt.Errorf("%w: XML nested deeper than %d", errTooLarge, lim.MaxDepth)
			}
			if a, dup := safexml.DuplicateAttr(t.Attr); dup {
				return nil, fmt.Errorf("%w: attribute %s given twice", errMalformed, a)
			}
			n := &node{Space: t.Name.Space, Local: t.Name.Local, Attrs: t.Attr}
			if len(stack) == 0 {
				if root != nil {
					return nil, fmt.Errorf("%w: several root elements", errMalformed)
				}
				root = n
			} else {
				p := stack[len(stack)-1]
				p.Children = append(p.Children, n)
			}
			stack = append(stack, n)
			text = append(text, &strings.Builder{})
		case xml.EndElement:
			n := stack[len(stack)-1]
			n.Text = text[len(text)-1].String()
			stack, text = stack[:len(stack)-1], text[:len(text)-1]
		case xml.CharData:
			if len(text) > 0 {
				text[len(text)-1].Write(t)
			} else if len(bytes.TrimSpace(t)) > 0 {
				return nil, fmt.Errorf("%w: text outside the root element", errMalformed)
			}
		case xml.Directive:
			return nil, fmt.Errorf("%w: DTDs and other directives are refused", errMalformed)
		case xml.ProcInst:
			if t.Target != "xml" {
				return nil, fmt.Errorf("%w: processing instruction %q refused", errMalformed, t.Target)
			}
		}
	}
	if root == nil {
		return nil, fmt.Errorf("%w: no element", errMalformed)
	}
	return root, nil
}

// esc escapes s for XML text and attribute values.
func esc(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}
