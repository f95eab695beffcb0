// Package fhirxml converts FHIR R4 resources between their JSON and XML
// forms (https://hl7.org/fhir/R4/xml.html, json.html), so that a server
// written for JSON reads and answers XML too. It knows no resource by hand:
// element order, types, repetition, choice types and XML attributes come
// from r4.txt, generated from the R4 StructureDefinitions (go generate;
// source and version in the file's head).
//
// ToJSON reads XML bounded (no DTD, no entities but XML's five, limits on
// depth, elements and attributes; the caller bounds the size) and writes
// JSON with its members in the definition's order. ToXML writes the XML of a
// JSON resource. Both refuse what they cannot convert faithfully (an element
// the definitions do not know, a value of the wrong kind), with a
// *carnet.Error whose issue names the element.
package fhirxml

//go:generate go run ./internal/gen -pkg ../node_modules/hl7.fhir.r4.examples -out r4.txt

import (
	"bufio"
	_ "embed"
	"fmt"
	"strings"
	"sync"
)

//go:embed r4.txt
var table string

// Namespaces of FHIR and of the narrative's XHTML.
const (
	NamespaceFHIR  = "http://hl7.org/fhir"
	NamespaceXHTML = "http://www.w3.org/1999/xhtml"
	namespaceXML   = "http://www.w3.org/XML/1998/namespace"
	namespaceXSI   = "http://www.w3.org/2001/XMLSchema-instance"
)

type kind uint8

const (
	primitive kind = iota // a FHIR primitive: value attribute in XML, a JSON value
	complexType
	resource
	backbone
)

// elem is one element of a type, in definition order.
type elem struct {
	name   string   // without [x]
	array  bool     // max > 1
	attr   bool     // an XML attribute (Element.id, Extension.url)
	choice bool     // name[x]
	types  []string // FHIR type names, or a backbone path
}

type fhirType struct {
	name     string
	kind     kind
	jsonKind string // primitives: string, boolean or number
	elems    []elem
	// byName maps an element's XML and JSON name (for a choice, name+Type)
	// to its index in elems and its type.
	byName map[string]named
}

type named struct {
	index int
	typ   string
}

var (
	loadOnce sync.Once
	types    map[string]*fhirType
	loadErr  error
)

func lookup(name string) *fhirType {
	loadOnce.Do(func() { types, loadErr = parseTable(table) })
	if loadErr != nil {
		panic(loadErr) // the embedded table is checked by the tests
	}
	return types[name]
}

// IsResource reports whether name is an R4 resource type.
func IsResource(name string) bool {
	t := lookup(name)
	return t != nil && t.kind == resource
}

func parseTable(s string) (map[string]*fhirType, error) {
	out := map[string]*fhirType{}
	var cur *fhirType
	sc := bufio.NewScanner(strings.NewReader(s))
	line := 0
	for sc.Scan() {
		line++
		l := sc.Text()
		if l == "" || l[0] == '#' {
			continue
		}
		f := strings.Fields(l)
		switch {
		case l[0] == 'P' && len(f) == 3:
			out[f[1]] = &fhirType{name: f[1], kind: primitive, jsonKind: f[2]}
			cur = nil
		case l[0] == 'T' && len(f) == 3:
			k := map[string]kind{"C": complexType, "R": resource, "B": backbone}[f[2]]
			cur = &fhirType{name: f[1], kind: k, byName: map[string]named{}}
			out[f[1]] = cur
		case l[0] == ' ' && cur != nil && (len(f) == 2 || len(f) == 3 && f[1] == "@"):
			e := elem{name: f[0], types: strings.Split(f[len(f)-1], ","), attr: len(f) == 3}
			e.name, e.array = strings.CutSuffix(e.name, "*")
			e.name, e.choice = strings.CutSuffix(e.name, "[x]")
			i := len(cur.elems)
			cur.elems = append(cur.elems, e)
			add := func(n, typ string) error {
				if _, dup := cur.byName[n]; dup {
					return fmt.Errorf("r4.txt:%d: %s.%s twice", line, cur.name, n)
				}
				cur.byName[n] = named{i, typ}
				return nil
			}
			if !e.choice {
				if len(e.types) != 1 {
					return nil, fmt.Errorf("r4.txt:%d: several types without [x]", line)
				}
				if err := add(e.name, e.types[0]); err != nil {
					return nil, err
				}
				continue
			}
			for _, t := range e.types {
				if err := add(e.name+upperFirst(t), t); err != nil {
					return nil, err
				}
			}
		default:
			return nil, fmt.Errorf("r4.txt:%d: cannot read %q", line, l)
		}
	}
	// Every type named is defined.
	for _, t := range out {
		for _, e := range t.elems {
			for _, n := range e.types {
				if n != "Resource" && n != "xhtml" && out[n] == nil {
					return nil, fmt.Errorf("r4.txt: %s.%s has unknown type %s", t.name, e.name, n)
				}
			}
		}
	}
	return out, sc.Err()
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
