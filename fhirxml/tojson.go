package fhirxml

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// ToJSON converts one FHIR R4 resource from XML to JSON. data is the whole
// body, already bounded in size by the caller. The JSON has resourceType
// first and the other members in the definition's order; primitives' ids
// and extensions go to _name members, the narrative's div to a string.
// Errors are *carnet.Error (KindInvalid, or KindTooLarge past MaxElements)
// naming the element at fault as a FHIRPath, e.g. Bundle.entry[1].resource.
func ToJSON(data []byte) ([]byte, error) {
	root, err := parse(data, "")
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	b.Grow(len(data))
	if err := resourceJSON(&b, root, ""); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func resourceJSON(b *bytes.Buffer, n *node, where string) error {
	name := n.name.Local
	t := lookup(name)
	if n.name.Space != NamespaceFHIR || t == nil || t.kind != resource {
		if where == "" {
			where = name
		}
		return invalid(where, "structure", fmt.Sprintf("<%s> (namespace %q) is not a FHIR R4 resource in namespace %s", name, n.name.Space, NamespaceFHIR))
	}
	if where == "" {
		where = name
	}
	b.WriteString(`{"resourceType":`)
	jsonString(b, name)
	if err := membersJSON(b, n, t, where, false); err != nil {
		return err
	}
	b.WriteByte('}')
	return nil
}

// membersJSON writes the members of n, of type t, each preceded by a comma
// unless it is the first and first is true.
func membersJSON(b *bytes.Buffer, n *node, t *fhirType, where string, first bool) error {
	comma := func() {
		if !first {
			b.WriteByte(',')
		}
		first = false
	}
	attrs := make([]string, len(t.elems))
	hasAttr := make([]bool, len(t.elems))
	for _, a := range n.attrs {
		if isNamespaceDecl(a) || a.Name.Space == namespaceXSI {
			continue
		}
		nm, ok := t.byName[a.Name.Local]
		if !ok || a.Name.Space != "" || !t.elems[nm.index].attr {
			return invalid(where, "structure", fmt.Sprintf("unknown attribute %q on %s", a.Name.Local, where))
		}
		attrs[nm.index], hasAttr[nm.index] = a.Value, true
	}
	groups := make([][]*node, len(t.elems))
	gtypes := make([]string, len(t.elems))
	for _, k := range n.kids {
		if k.isText() {
			if strings.TrimSpace(k.text) != "" {
				return invalid(where, "structure", fmt.Sprintf("text %q in %s, where FHIR has only elements", clip(k.text), where))
			}
			continue
		}
		nm, ok := t.byName[k.name.Local]
		ns := NamespaceFHIR
		if ok && nm.typ == "xhtml" {
			ns = NamespaceXHTML // Narrative.div is the XHTML div itself
		}
		if !ok || k.name.Space != ns || t.elems[nm.index].attr {
			return invalid(where, "structure", fmt.Sprintf("unknown element <%s> (namespace %q) in %s", k.name.Local, k.name.Space, where))
		}
		e := &t.elems[nm.index]
		if gtypes[nm.index] != "" && gtypes[nm.index] != nm.typ {
			return invalid(where+"."+k.name.Local, "structure", fmt.Sprintf("%s[x] given with two types", e.name))
		}
		if len(groups[nm.index]) == 1 && !e.array {
			return invalid(where+"."+k.name.Local, "structure", fmt.Sprintf("%s repeats, which it may not", k.name.Local))
		}
		groups[nm.index] = append(groups[nm.index], k)
		gtypes[nm.index] = nm.typ
	}
	for i := range t.elems {
		e := &t.elems[i]
		if e.attr {
			if hasAttr[i] {
				comma()
				jsonString(b, e.name)
				b.WriteByte(':')
				jsonString(b, attrs[i])
			}
			continue
		}
		g := groups[i]
		if len(g) == 0 {
			continue
		}
		name := e.name
		if e.choice {
			name += upperFirst(gtypes[i])
		}
		at := func(j int) string {
			if e.array {
				return where + "." + name + "[" + strconv.Itoa(j) + "]"
			}
			return where + "." + name
		}
		typ := gtypes[i]
		ft := lookup(typ)
		switch {
		case typ == "xhtml":
			comma()
			jsonString(b, name)
			b.WriteByte(':')
			var x bytes.Buffer
			if err := writeXHTML(&x, g[0], true, at(0)); err != nil {
				return err
			}
			jsonString(b, x.String())
		case typ == "Resource":
			comma()
			jsonString(b, name)
			b.WriteByte(':')
			open(b, e.array)
			for j, k := range g {
				if j > 0 {
					b.WriteByte(',')
				}
				kids := elementKids(k)
				if len(kids) != 1 || len(k.attrs) > 0 && !onlyDecls(k.attrs) {
					return invalid(at(j), "structure", fmt.Sprintf("<%s> must hold one resource", name))
				}
				if err := resourceJSON(b, kids[0], at(j)); err != nil {
					return err
				}
			}
			closeArr(b, e.array)
		case ft != nil && ft.kind == primitive:
			if err := primitiveJSON(b, comma, name, ft, g, e.array, at); err != nil {
				return err
			}
		case ft != nil:
			comma()
			jsonString(b, name)
			b.WriteByte(':')
			open(b, e.array)
			for j, k := range g {
				if j > 0 {
					b.WriteByte(',')
				}
				b.WriteByte('{')
				if err := membersJSON(b, k, ft, at(j), true); err != nil {
					return err
				}
				b.WriteByte('}')
			}
			closeArr(b, e.array)
		default:
			return invalid(at(0), "structure", "unknown type "+typ)
		}
	}
	return nil
}

// primitiveJSON writes name (the values) and _name (ids and extensions,
// when any) for the elements g of primitive type ft.
func primitiveJSON(b *bytes.Buffer, comma func(), name string, ft *fhirType, g []*node, array bool, at func(int) string) error {
	vals := make([]string, len(g))
	exts := make([]string, len(g))
	anyVal, anyExt := false, false
	ext := lookup("Extension")
	for j, k := range g {
		var id, val string
		hasID, hasVal := false, false
		for _, a := range k.attrs {
			switch {
			case isNamespaceDecl(a) || a.Name.Space == namespaceXSI:
			case a.Name.Space == "" && a.Name.Local == "value":
				val, hasVal = a.Value, true
			case a.Name.Space == "" && a.Name.Local == "id":
				id, hasID = a.Value, true
			default:
				return invalid(at(j), "structure", fmt.Sprintf("unknown attribute %q on %s", a.Name.Local, at(j)))
			}
		}
		var x bytes.Buffer
		nExt := 0
		for _, c := range k.kids {
			if c.isText() {
				if strings.TrimSpace(c.text) != "" {
					return invalid(at(j), "structure", fmt.Sprintf("text %q in %s: a primitive's value is its value attribute", clip(c.text), at(j)))
				}
				continue
			}
			if c.name.Local != "extension" || c.name.Space != NamespaceFHIR {
				return invalid(at(j), "structure", fmt.Sprintf("unknown element <%s> in %s", c.name.Local, at(j)))
			}
			if nExt > 0 {
				x.WriteByte(',')
			}
			x.WriteByte('{')
			if err := membersJSON(&x, c, ext, at(j)+".extension["+strconv.Itoa(nExt)+"]", true); err != nil {
				return err
			}
			x.WriteByte('}')
			nExt++
		}
		if !hasVal && nExt == 0 && !hasID {
			return invalid(at(j), "required", at(j)+" has neither a value nor an extension")
		}
		if hasVal {
			lit, err := literal(val, ft)
			if err != nil {
				return invalid(at(j), "value", err.Error())
			}
			vals[j], anyVal = lit, true
		}
		if hasID || nExt > 0 {
			var o bytes.Buffer
			o.WriteByte('{')
			if hasID {
				o.WriteString(`"id":`)
				jsonString(&o, id)
			}
			if nExt > 0 {
				if hasID {
					o.WriteByte(',')
				}
				o.WriteString(`"extension":[`)
				o.Write(x.Bytes())
				o.WriteByte(']')
			}
			o.WriteByte('}')
			exts[j], anyExt = o.String(), true
		}
	}
	write := func(key string, items []string) {
		comma()
		jsonString(b, key)
		b.WriteByte(':')
		open(b, array)
		for j, s := range items {
			if j > 0 {
				b.WriteByte(',')
			}
			if s == "" {
				s = "null"
			}
			b.WriteString(s)
		}
		closeArr(b, array)
	}
	if anyVal {
		write(name, vals)
	}
	if anyExt {
		write("_"+name, exts)
	}
	return nil
}

// literal is the JSON form of a primitive's XML value.
func literal(v string, ft *fhirType) (string, error) {
	switch ft.jsonKind {
	case "boolean":
		if v != "true" && v != "false" {
			return "", fmt.Errorf("%q is not a boolean (true or false)", clip(v))
		}
		return v, nil
	case "number":
		if !isJSONNumber(v) || (ft.name != "decimal" && strings.ContainsAny(v, ".eE")) {
			return "", fmt.Errorf("%q is not a valid %s", clip(v), ft.name)
		}
		return v, nil
	}
	var b bytes.Buffer
	jsonString(&b, v)
	return b.String(), nil
}

// isJSONNumber checks the JSON number grammar, which FHIR's decimal and
// integer grammars follow.
func isJSONNumber(s string) bool {
	i := 0
	digits := func() bool {
		j := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		return i > j
	}
	if i < len(s) && s[i] == '-' {
		i++
	}
	if i < len(s) && s[i] == '0' {
		i++
	} else if !digits() {
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		if !digits() {
			return false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if !digits() {
			return false
		}
	}
	return i == len(s)
}

func elementKids(n *node) []*node {
	var out []*node
	for _, k := range n.kids {
		if !k.isText() {
			out = append(out, k)
		} else if strings.TrimSpace(k.text) != "" {
			return nil
		}
	}
	return out
}

func onlyDecls(attrs []xml.Attr) bool {
	for _, a := range attrs {
		if !isNamespaceDecl(a) {
			return false
		}
	}
	return true
}

func open(b *bytes.Buffer, array bool) {
	if array {
		b.WriteByte('[')
	}
}

func closeArr(b *bytes.Buffer, array bool) {
	if array {
		b.WriteByte(']')
	}
}

// jsonString writes s as a JSON string (valid UTF-8 is guaranteed by the
// XML decoder; anything else is replaced).
func jsonString(b *bytes.Buffer, s string) {
	const hex = "0123456789abcdef"
	b.WriteByte('"')
	last := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			b.WriteString(s[last:i])
			switch c {
			case '"', '\\':
				b.WriteByte('\\')
				b.WriteByte(c)
			case '\n':
				b.WriteString(`\n`)
			case '\r':
				b.WriteString(`\r`)
			case '\t':
				b.WriteString(`\t`)
			default:
				b.WriteString(`\u00`)
				b.WriteByte(hex[c>>4])
				b.WriteByte(hex[c&0xf])
			}
			i++
			last = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b.WriteString(s[last:i])
			b.WriteString(`\ufffd`)
			i++
			last = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b.WriteString(s[last:i])
			b.WriteString(`\u202`)
			b.WriteByte(hex[r&0xf])
			i += size
			last = i
			continue
		}
		i += size
	}
	b.WriteString(s[last:])
	b.WriteByte('"')
}

func clip(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > 40 {
		for i := 40; i > 30; i-- {
			if utf8.RuneStart(s[i]) {
				return s[:i] + "…"
			}
		}
		return s[:40] + "…"
	}
	return s
}
