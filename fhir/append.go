package fhir

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"unicode/utf8"
)

// Hand-written JSON for the resources a search page is made of (issue 15:
// encoding/json's reflection and its second pass over every Marshaler's
// output were a third of an ITI-67 request). Each AppendJSON writes exactly
// the bytes encoding/json writes for the same value — with escapeHTML false
// those of MarshalJSON (MarshalPlain), with escapeHTML true those of
// json.Marshal — which TestAppendJSONMatchesEncodingJSON checks over
// generated values. Field order, omitempty and escaping follow the struct
// tags above; a field added to one of these types must be added here too
// (the test fills every field, so it fails until then).

// jsonw appends JSON to b.
type jsonw struct {
	b    []byte
	html bool // escape <, > and & as json.Marshal does
	err  error
}

// obj writes one object's members, commas included.
type obj struct {
	w    *jsonw
	some bool
}

func (w *jsonw) object() obj {
	w.b = append(w.b, '{')
	return obj{w: w}
}

func (o *obj) end() { o.w.b = append(o.w.b, '}') }

func (o *obj) key(k string) {
	if o.some {
		o.w.b = append(o.w.b, ',')
	}
	o.some = true
	o.w.b = append(o.w.b, '"')
	o.w.b = append(o.w.b, k...)
	o.w.b = append(o.w.b, '"', ':')
}

// str writes k when v is not empty (omitempty).
func (o *obj) str(k, v string) {
	if v != "" {
		o.key(k)
		o.w.string(v)
	}
}

func (o *obj) strs(k string, v []string) {
	if len(v) == 0 {
		return
	}
	o.key(k)
	o.w.b = append(o.w.b, '[')
	for i, s := range v {
		if i > 0 {
			o.w.b = append(o.w.b, ',')
		}
		o.w.string(s)
	}
	o.w.b = append(o.w.b, ']')
}

func (o *obj) boolPtr(k string, v *bool) {
	if v != nil {
		o.key(k)
		o.w.b = strconv.AppendBool(o.w.b, *v)
	}
}

func (o *obj) int64Ptr(k string, v *int64) {
	if v != nil {
		o.key(k)
		o.w.b = strconv.AppendInt(o.w.b, *v, 10)
	}
}

func (o *obj) base64(k string, v Base64Binary) {
	if len(v) == 0 {
		return
	}
	o.key(k)
	o.w.b = append(o.w.b, '"')
	o.w.b = base64.StdEncoding.AppendEncode(o.w.b, v)
	o.w.b = append(o.w.b, '"')
}

// list writes k's array of n elements when n > 0 (omitempty).
func (o *obj) list(k string, n int, elem func(i int)) {
	if n == 0 {
		return
	}
	o.key(k)
	o.w.b = append(o.w.b, '[')
	for i := range n {
		if i > 0 {
			o.w.b = append(o.w.b, ',')
		}
		elem(i)
	}
	o.w.b = append(o.w.b, ']')
}

// raw writes a json.RawMessage as encoding/json does: checked, compacted,
// and HTML-escaped when w.html. Carnet's own raw values are compact
// already and are copied as they are.
func (w *jsonw) raw(v json.RawMessage) {
	if v == nil {
		w.b = append(w.b, "null"...)
		return
	}
	if !validJSON(v) {
		if w.err == nil {
			w.err = fmt.Errorf("json: invalid raw message")
		}
		return
	}
	if !needsCompact(v, w.html) {
		w.b = append(w.b, v...)
		return
	}
	var buf bytes.Buffer
	_ = json.Compact(&buf, v)
	if w.html {
		var esc bytes.Buffer
		json.HTMLEscape(&esc, buf.Bytes())
		buf = esc
	}
	w.b = append(w.b, buf.Bytes()...)
}

// needsCompact reports whether valid JSON v has white space outside its
// strings or, with html, a byte encoding/json's compaction escapes.
func needsCompact(v []byte, html bool) bool {
	in := false
	for i := 0; i < len(v); i++ {
		c := v[i]
		if html && (c == '<' || c == '>' || c == '&' || c == 0xE2 && i+2 < len(v) && v[i+1] == 0x80 && v[i+2]&^1 == 0xA8) {
			return true
		}
		switch {
		case in && c == '\\':
			i++
		case c == '"':
			in = !in
		case !in && (c == ' ' || c == '\t' || c == '\n' || c == '\r'):
			return true
		}
	}
	return false
}

// other writes v through encoding/json (types this file does not spell
// out, e.g. Extension), with the same escaping.
func (w *jsonw) other(v any) {
	var b []byte
	var err error
	if w.html {
		b, err = json.Marshal(v)
	} else {
		b, err = MarshalPlain(v)
	}
	if err != nil {
		if w.err == nil {
			w.err = err
		}
		return
	}
	w.b = append(w.b, b...)
}

const hexDigits = "0123456789abcdef"

// string is encoding/json's appendString.
func (w *jsonw) string(s string) {
	b := append(w.b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && (!w.html || c != '<' && c != '>' && c != '&') {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	w.b = append(b, '"')
}

// resource writes the Resource header members; typ is the resourceType
// (MarshalJSON always writes the right one).
func (o *obj) resource(r Resource, typ string) {
	o.key("resourceType")
	o.w.string(typ)
	o.str("id", r.ID)
	if r.Meta != nil {
		o.key("meta")
		o.w.meta(r.Meta)
	}
	o.str("language", r.Language)
	if r.Text != nil {
		o.key("text")
		t := o.w.object()
		t.str("status", r.Text.Status)
		t.str("div", r.Text.Div)
		t.end()
	}
}

func (w *jsonw) meta(m *Meta) {
	o := w.object()
	o.str("versionId", m.VersionID)
	o.str("lastUpdated", m.LastUpdated)
	o.str("source", m.Source)
	o.strs("profile", m.Profile)
	o.list("security", len(m.Security), func(i int) { w.coding(&m.Security[i]) })
	o.list("tag", len(m.Tag), func(i int) { w.coding(&m.Tag[i]) })
	o.end()
}

func (w *jsonw) coding(c *Coding) {
	o := w.object()
	o.str("system", c.System)
	o.str("version", c.Version)
	o.str("code", c.Code)
	o.str("display", c.Display)
	o.boolPtr("userSelected", c.UserSelected)
	o.end()
}

func (w *jsonw) concept(c *CodeableConcept) {
	o := w.object()
	o.list("coding", len(c.Coding), func(i int) { w.coding(&c.Coding[i]) })
	o.str("text", c.Text)
	o.end()
}

func (w *jsonw) concepts(o *obj, k string, v []CodeableConcept) {
	o.list(k, len(v), func(i int) { w.concept(&v[i]) })
}

func (w *jsonw) identifier(id *Identifier) {
	o := w.object()
	o.str("use", id.Use)
	if id.Type != nil {
		o.key("type")
		w.concept(id.Type)
	}
	o.str("system", id.System)
	o.str("value", id.Value)
	if id.Period != nil {
		o.key("period")
		w.period(id.Period)
	}
	if id.Assigner != nil {
		o.key("assigner")
		w.reference(id.Assigner)
	}
	o.end()
}

func (w *jsonw) identifiers(o *obj, k string, v []Identifier) {
	o.list(k, len(v), func(i int) { w.identifier(&v[i]) })
}

func (w *jsonw) reference(r *Reference) {
	o := w.object()
	o.str("reference", r.Reference)
	o.str("type", r.Type)
	if r.Identifier != nil {
		o.key("identifier")
		w.identifier(r.Identifier)
	}
	o.str("display", r.Display)
	o.end()
}

func (w *jsonw) references(o *obj, k string, v []Reference) {
	o.list(k, len(v), func(i int) { w.reference(&v[i]) })
}

func (w *jsonw) refPtr(o *obj, k string, r *Reference) {
	if r != nil {
		o.key(k)
		w.reference(r)
	}
}

func (w *jsonw) conceptPtr(o *obj, k string, c *CodeableConcept) {
	if c != nil {
		o.key(k)
		w.concept(c)
	}
}

func (w *jsonw) period(p *Period) {
	o := w.object()
	o.str("start", p.Start)
	o.str("end", p.End)
	o.end()
}

func (w *jsonw) humanName(n *HumanName) {
	o := w.object()
	o.str("use", n.Use)
	o.str("text", n.Text)
	o.str("family", n.Family)
	o.strs("given", n.Given)
	o.strs("prefix", n.Prefix)
	o.strs("suffix", n.Suffix)
	if n.Period != nil {
		o.key("period")
		w.period(n.Period)
	}
	o.end()
}

func (w *jsonw) names(o *obj, k string, v []HumanName) {
	o.list(k, len(v), func(i int) { w.humanName(&v[i]) })
}

func (w *jsonw) extensions(o *obj, k string, v []Extension) {
	o.list(k, len(v), func(i int) { w.other(v[i]) })
}

func (w *jsonw) attachment(a *Attachment) {
	o := w.object()
	o.str("contentType", a.ContentType)
	o.str("language", a.Language)
	o.base64("data", a.Data)
	o.str("url", a.URL)
	if a.Size != nil {
		o.key("size")
		w.b = strconv.AppendInt(w.b, *a.Size, 10)
	}
	o.base64("hash", a.Hash)
	o.str("title", a.Title)
	o.str("creation", a.Creation)
	o.end()
}

// startResource opens a resource's object and writes its header.
func startResource(b []byte, escapeHTML bool, r Resource, typ string) (*jsonw, obj) {
	w := &jsonw{b: b, html: escapeHTML}
	o := w.object()
	o.resource(r, typ)
	return w, o
}

// finish closes o, the outermost object, and returns what w wrote.
func (w *jsonw) finish(o *obj) ([]byte, error) {
	o.end()
	if w.err != nil {
		return nil, w.err
	}
	return w.b, nil
}

// AppendJSON appends d's JSON to b (see the top of this file).
func (d *DocumentReference) AppendJSON(b []byte, escapeHTML bool) ([]byte, error) {
	if b == nil {
		n := 2048
		for _, c := range d.Contained {
			n += len(c)
		}
		b = make([]byte, 0, n)
	}
	w := &jsonw{b: b, html: escapeHTML}
	o := w.object()
	o.resource(d.Resource, "DocumentReference")
	o.list("contained", len(d.Contained), func(i int) { w.raw(d.Contained[i]) })
	w.extensions(&o, "extension", d.Extension)
	if d.MasterIdentifier != nil {
		o.key("masterIdentifier")
		w.identifier(d.MasterIdentifier)
	}
	w.identifiers(&o, "identifier", d.Identifier)
	o.str("status", d.Status)
	o.str("docStatus", d.DocStatus)
	w.conceptPtr(&o, "type", d.Type)
	w.concepts(&o, "category", d.Category)
	w.refPtr(&o, "subject", d.Subject)
	o.str("date", d.Date)
	w.references(&o, "author", d.Author)
	w.refPtr(&o, "authenticator", d.Authenticator)
	w.refPtr(&o, "custodian", d.Custodian)
	o.list("relatesTo", len(d.RelatesTo), func(i int) {
		r := &d.RelatesTo[i]
		ro := w.object()
		ro.str("code", r.Code)
		ro.key("target")
		w.reference(&r.Target)
		ro.end()
	})
	o.str("description", d.Description)
	w.concepts(&o, "securityLabel", d.SecurityLabel)
	o.list("content", len(d.Content), func(i int) {
		c := &d.Content[i]
		co := w.object()
		co.key("attachment")
		w.attachment(&c.Attachment)
		if c.Format != nil {
			co.key("format")
			w.coding(c.Format)
		}
		co.end()
	})
	if c := d.Context; c != nil {
		o.key("context")
		co := w.object()
		w.references(&co, "encounter", c.Encounter)
		w.concepts(&co, "event", c.Event)
		if c.Period != nil {
			co.key("period")
			w.period(c.Period)
		}
		w.conceptPtr(&co, "facilityType", c.FacilityType)
		w.conceptPtr(&co, "practiceSetting", c.PracticeSetting)
		w.refPtr(&co, "sourcePatientInfo", c.SourcePatientInfo)
		w.references(&co, "related", c.Related)
		co.end()
	}
	return w.finish(&o)
}

// AppendJSON appends p's JSON to b (see the top of this file).
func (p *Patient) AppendJSON(b []byte, escapeHTML bool) ([]byte, error) {
	w, o := startResource(b, escapeHTML, p.Resource, "Patient")
	w.extensions(&o, "extension", p.Extension)
	w.identifiers(&o, "identifier", p.Identifier)
	o.boolPtr("active", p.Active)
	w.names(&o, "name", p.Name)
	o.str("gender", p.Gender)
	o.str("birthDate", p.BirthDate)
	return w.finish(&o)
}

// AppendJSON appends p's JSON to b (see the top of this file).
func (p *Practitioner) AppendJSON(b []byte, escapeHTML bool) ([]byte, error) {
	w, o := startResource(b, escapeHTML, p.Resource, "Practitioner")
	w.identifiers(&o, "identifier", p.Identifier)
	w.names(&o, "name", p.Name)
	return w.finish(&o)
}

// AppendJSON appends p's JSON to b (see the top of this file).
func (p *PractitionerRole) AppendJSON(b []byte, escapeHTML bool) ([]byte, error) {
	w, o := startResource(b, escapeHTML, p.Resource, "PractitionerRole")
	w.identifiers(&o, "identifier", p.Identifier)
	w.refPtr(&o, "practitioner", p.Practitioner)
	w.refPtr(&o, "organization", p.Organization)
	w.concepts(&o, "code", p.Code)
	w.concepts(&o, "specialty", p.Specialty)
	return w.finish(&o)
}

// AppendJSON appends org's JSON to b (see the top of this file).
func (org *Organization) AppendJSON(b []byte, escapeHTML bool) ([]byte, error) {
	w, o := startResource(b, escapeHTML, org.Resource, "Organization")
	w.identifiers(&o, "identifier", org.Identifier)
	o.str("name", org.Name)
	return w.finish(&o)
}

// AppendJSON appends b's JSON to dst, as Bundle.MarshalJSON writes it: the
// entries' resources spliced in as they are (checked, not re-compacted),
// after the entry's other members.
func (bd *Bundle) AppendJSON(dst []byte) ([]byte, error) {
	if dst == nil {
		// One allocation for the whole page, and room for fhir.Encode's
		// newline.
		n := 512
		for i := range bd.Entry {
			n += len(bd.Entry[i].Resource) + len(bd.Entry[i].FullURL) + 64
		}
		dst = make([]byte, 0, n)
	}
	w := &jsonw{b: dst}
	o := w.object()
	o.resource(bd.Resource, "Bundle")
	if bd.Identifier != nil {
		o.key("identifier")
		w.identifier(bd.Identifier)
	}
	o.str("type", bd.Type)
	o.str("timestamp", bd.Timestamp)
	if bd.Total != nil {
		o.key("total")
		w.b = strconv.AppendInt(w.b, int64(*bd.Total), 10)
	}
	w.links(&o, bd.Link)
	o.list("entry", len(bd.Entry), func(i int) {
		e := &bd.Entry[i]
		if len(e.Resource) > 0 && !e.Encoded && !validJSON(e.Resource) {
			if w.err == nil {
				w.err = fmt.Errorf("bundle entry %d: resource is not valid JSON", i)
			}
			return
		}
		if e.Request != nil || e.Response != nil || e.Search != nil && e.Search.Score != nil {
			// Transaction entries and scores: encoding/json's way.
			c := *e
			c.Resource = nil
			w.other(c)
			if len(e.Resource) > 0 && w.err == nil {
				w.b = w.b[:len(w.b)-1]
				if w.b[len(w.b)-1] != '{' {
					w.b = append(w.b, ',')
				}
				w.b = append(w.b, `"resource":`...)
				w.b = append(w.b, e.Resource...)
				w.b = append(w.b, '}')
			}
			return
		}
		eo := w.object()
		eo.str("fullUrl", e.FullURL)
		if e.Search != nil {
			eo.key("search")
			so := w.object()
			so.str("mode", e.Search.Mode)
			so.end()
		}
		w.links(&eo, e.Link)
		if len(e.Resource) > 0 {
			eo.key("resource")
			w.b = append(w.b, e.Resource...)
		}
		eo.end()
	})
	return w.finish(&o)
}

func (w *jsonw) links(o *obj, v []BundleLink) {
	o.list("link", len(v), func(i int) {
		lo := w.object()
		lo.key("relation")
		w.string(v[i].Relation)
		lo.key("url")
		w.string(v[i].URL)
		lo.end()
	})
}
