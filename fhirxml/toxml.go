package fhirxml

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
)

// ToXML converts one FHIR R4 resource from JSON to XML, elements in the
// definition's order, in the FHIR namespace, the narrative's div as XHTML.
// It refuses (KindInvalid) a member the definitions do not know or a value
// of the wrong kind, rather than drop or guess it.
func ToXML(data []byte) ([]byte, error) {
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, invalid("", "invalid", "the body is not valid JSON")
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, invalid("", "structure", "the body is not a JSON object")
	}
	var b bytes.Buffer
	b.Grow(len(data) + len(data)/2)
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>`)
	if err := resourceXML(&b, obj, "", 0); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func resourceXML(b *bytes.Buffer, obj map[string]any, where string, depth int) error {
	rt, _ := obj["resourceType"].(string)
	t := lookup(rt)
	if where == "" {
		where = rt
	}
	if t == nil || t.kind != resource {
		return invalid(where, "structure", fmt.Sprintf("resourceType %q is not a FHIR R4 resource", rt))
	}
	b.WriteByte('<')
	b.WriteString(rt)
	if depth == 0 {
		b.WriteString(` xmlns="` + NamespaceFHIR + `"`)
	}
	b.WriteByte('>')
	if err := childrenXML(b, obj, t, where, depth+1, "resourceType"); err != nil {
		return err
	}
	b.WriteString("</")
	b.WriteString(rt)
	b.WriteByte('>')
	return nil
}

// childrenXML writes obj's elements of type t other than its attributes.
func childrenXML(b *bytes.Buffer, obj map[string]any, t *fhirType, where string, depth int, skip string) error {
	if depth > MaxDepth {
		return invalid(where, "invalid", fmt.Sprintf("the resource nests deeper than %d levels", MaxDepth))
	}
	// Every member must be known: none is dropped silently.
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if k == skip {
			continue
		}
		base := k
		if len(k) > 1 && k[0] == '_' {
			base = k[1:]
		}
		nm, ok := t.byName[base]
		if !ok || (base != k && (t.elems[nm.index].attr || !isPrimitive(nm.typ))) {
			return invalid(where, "structure", fmt.Sprintf("unknown element %q in %s", k, where))
		}
	}
	for i := range t.elems {
		e := &t.elems[i]
		if e.attr {
			continue
		}
		names := []string{e.name}
		typs := e.types
		if e.choice {
			names = names[:0]
			for _, ty := range e.types {
				names = append(names, e.name+upperFirst(ty))
			}
		}
		for ni, name := range names {
			v, hasV := obj[name]
			x, hasX := obj["_"+name]
			if !hasV && !hasX {
				continue
			}
			if err := elementXML(b, name, typs[ni], e.array, v, x, where+"."+name, depth); err != nil {
				return err
			}
		}
	}
	return nil
}

func isPrimitive(typ string) bool {
	t := lookup(typ)
	return t != nil && t.kind == primitive && typ != "xhtml"
}

// elementXML writes the element name of type typ from its JSON value v and,
// for a primitive, its _name companion x.
func elementXML(b *bytes.Buffer, name, typ string, array bool, v, x any, where string, depth int) error {
	var vs, xs []any
	if array {
		var ok1, ok2 bool
		vs, ok1 = v.([]any)
		xs, ok2 = x.([]any)
		if (v != nil && !ok1) || (x != nil && !ok2) {
			return invalid(where, "structure", where+" must be an array")
		}
		if v != nil && x != nil && len(vs) != len(xs) {
			return invalid(where, "structure", "_"+name+" and "+name+" differ in length")
		}
	} else {
		if v != nil {
			vs = []any{v}
		}
		if x != nil {
			xs = []any{x}
		}
	}
	n := max(len(vs), len(xs))
	if array && n == 0 {
		return invalid(where, "required", where+" is an empty array")
	}
	for j := 0; j < n; j++ {
		at := where
		if array {
			at += "[" + strconv.Itoa(j) + "]"
		}
		var vj, xj any
		if j < len(vs) {
			vj = vs[j]
		}
		if j < len(xs) {
			xj = xs[j]
		}
		if err := oneXML(b, name, typ, vj, xj, at, depth); err != nil {
			return err
		}
	}
	return nil
}

func oneXML(b *bytes.Buffer, name, typ string, v, x any, where string, depth int) error {
	switch typ {
	case "xhtml":
		s, ok := v.(string)
		if !ok || x != nil {
			return invalid(where, "structure", where+" must be a string of XHTML")
		}
		n, err := parse([]byte(s), where)
		if err != nil {
			return err
		}
		if n.name.Local != "div" {
			return invalid(where, "structure", "the narrative must be one XHTML <div>")
		}
		return writeXHTML(b, n, true, where)
	case "Resource":
		obj, ok := v.(map[string]any)
		if !ok {
			return invalid(where, "structure", where+" must be a resource")
		}
		b.WriteByte('<')
		b.WriteString(name)
		b.WriteByte('>')
		if err := resourceXML(b, obj, where, depth+1); err != nil {
			return err
		}
		b.WriteString("</")
		b.WriteString(name)
		b.WriteByte('>')
		return nil
	}
	ft := lookup(typ)
	if ft.kind == primitive {
		return primitiveXML(b, name, ft, v, x, where, depth)
	}
	obj, ok := v.(map[string]any)
	if !ok || x != nil {
		return invalid(where, "structure", where+" must be an object")
	}
	b.WriteByte('<')
	b.WriteString(name)
	for i := range ft.elems {
		e := &ft.elems[i]
		if !e.attr {
			continue
		}
		a, has := obj[e.name]
		if !has {
			continue
		}
		s, ok := a.(string)
		if !ok {
			return invalid(where+"."+e.name, "value", where+"."+e.name+" must be a string")
		}
		b.WriteByte(' ')
		b.WriteString(e.name)
		b.WriteString(`="`)
		escape(b, s, true)
		b.WriteByte('"')
	}
	mark := b.Len()
	b.WriteByte('>')
	inner := b.Len()
	if err := childrenXML(b, obj, ft, where, depth+1, ""); err != nil {
		return err
	}
	if b.Len() == inner {
		b.Truncate(mark)
		b.WriteString("/>")
		return nil
	}
	b.WriteString("</")
	b.WriteString(name)
	b.WriteByte('>')
	return nil
}

func primitiveXML(b *bytes.Buffer, name string, ft *fhirType, v, x any, where string, depth int) error {
	var id any
	var exts []any
	if x != nil {
		xo, ok := x.(map[string]any)
		if !ok {
			return invalid(where, "structure", "_"+name+" must be an object")
		}
		for k, val := range xo {
			switch k {
			case "id":
				id = val
			case "extension":
				if exts, ok = val.([]any); !ok {
					return invalid(where, "structure", where+".extension must be an array")
				}
			default:
				return invalid(where, "structure", fmt.Sprintf("unknown element %q in _%s", k, name))
			}
		}
	}
	if v == nil && id == nil && len(exts) == 0 {
		return nil // null in an array, with nothing beside it
	}
	b.WriteByte('<')
	b.WriteString(name)
	if id != nil {
		s, ok := id.(string)
		if !ok {
			return invalid(where+".id", "value", "an id must be a string")
		}
		b.WriteString(` id="`)
		escape(b, s, true)
		b.WriteByte('"')
	}
	if v != nil {
		var s string
		ok := false
		switch ft.jsonKind {
		case "boolean":
			var bv bool
			if bv, ok = v.(bool); ok {
				s = strconv.FormatBool(bv)
			}
		case "number":
			var n json.Number
			if n, ok = v.(json.Number); ok {
				s = string(n)
				ok = ft.name == "decimal" || isJSONNumber(s) && !bytes.ContainsAny([]byte(s), ".eE")
			}
		default:
			s, ok = v.(string)
		}
		if !ok {
			return invalid(where, "value", fmt.Sprintf("%s must be a %s (%s)", where, ft.jsonKind, ft.name))
		}
		b.WriteString(` value="`)
		escape(b, s, true)
		b.WriteByte('"')
	}
	if len(exts) == 0 {
		b.WriteString("/>")
		return nil
	}
	b.WriteByte('>')
	for j, e := range exts {
		if err := oneXML(b, "extension", "Extension", e, nil, fmt.Sprintf("%s.extension[%d]", where, j), depth+1); err != nil {
			return err
		}
	}
	b.WriteString("</")
	b.WriteString(name)
	b.WriteByte('>')
	return nil
}
