// Package xdsclient is a test client of XDS.b written from IHE ITI
// TF-2a/2b/3 (SOAP 1.2, WS-Addressing, MTOM/XOP, ebRIM 3.0), not from the
// xds package: it builds its own messages, as producing and consuming
// software does, and reads answers with encoding/xml. For tests only.
package xdsclient

import (
	"bytes"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"strings"
	"testing"

	carnet "github.com/carnet-sante/carnet"
)

type Client struct {
	t     testing.TB
	Base  string
	Token string
	// HTTP sends the requests (http.DefaultClient when nil): a client
	// with a TLS certificate for mutual TLS.
	HTTP *http.Client
	// Security is a WS-Security header element (a signed SAML assertion
	// for XUA) written into each request's SOAP header; none when empty.
	Security string
}

// New returns a client of the XDS.b endpoints under base, with a bearer
// token (none when empty).
func New(t testing.TB, base, token string) *Client { return &Client{t: t, Base: base, Token: token} }

// Reply is an answer: the HTTP status, the SOAP envelope, MIME attachments.
type Reply struct {
	Status int
	Env    *Node
	Parts  map[string][]byte
	Raw    []byte
}

// Node is a generic XML element.
type Node struct {
	XMLName  xml.Name
	Attrs    []xml.Attr `xml:",any,attr"`
	Children []*Node    `xml:",any"`
	Text     string     `xml:",chardata"`
}

func (n *Node) Attr(name string) string {
	for _, a := range n.Attrs {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

// find returns every descendant named local.
func (n *Node) Find(local string) []*Node {
	var out []*Node
	var walk func(*Node)
	walk = func(x *Node) {
		for _, c := range x.Children {
			if c.XMLName.Local == local {
				out = append(out, c)
			}
			walk(c)
		}
	}
	if n != nil {
		walk(n)
	}
	return out
}

func (n *Node) First(local string) *Node {
	if f := n.Find(local); len(f) > 0 {
		return f[0]
	}
	return nil
}

const (
	soapNS = "http://www.w3.org/2003/05/soap-envelope"
	wsaNS  = "http://www.w3.org/2005/08/addressing"
)

func Envelope(action, body string) string { return EnvelopeWithHeader(action, "", body) }

// EnvelopeWithHeader is Envelope with more header elements (a
// wsse:Security) after the addressing ones.
func EnvelopeWithHeader(action, header, body string) string {
	// Indented, as most SOAP stacks write it.
	return `<?xml version="1.0" encoding="UTF-8"?>` + "\n" +
		`<s:Envelope xmlns:s="` + soapNS + `" xmlns:a="` + wsaNS + `">` + "\n  <s:Header>\n    " +
		`<a:Action s:mustUnderstand="1">` + action + `</a:Action>` + "\n    " +
		`<a:MessageID>urn:uuid:5a1b0ae0-0000-4000-8000-000000000001</a:MessageID>` + "\n    " +
		`<a:To>http://carnet.test/xds</a:To>` + header + "\n  </s:Header>\n  <s:Body>\n    " + body + "\n  </s:Body>\n</s:Envelope>\n"
}

// post sends a plain SOAP 1.2 request.
func (c *Client) Post(path, action, body string) Reply {
	return c.Send(path, `application/soap+xml; charset=UTF-8; action="`+action+`"`, []byte(EnvelopeWithHeader(action, c.Security, body)))
}

// postMTOM sends an MTOM/XOP package: the envelope, then each attachment.
func (c *Client) PostMTOM(path, action, body string, attachments map[string][]byte) Reply {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	h := textproto.MIMEHeader{}
	h.Set("Content-Type", `application/xop+xml; charset=UTF-8; type="application/soap+xml"`)
	h.Set("Content-Transfer-Encoding", "binary")
	h.Set("Content-ID", "<root.message@cxf.apache.org>")
	pw, _ := mw.CreatePart(h)
	io.WriteString(pw, EnvelopeWithHeader(action, c.Security, body))
	for id, b := range attachments {
		h := textproto.MIMEHeader{}
		h.Set("Content-Type", "application/octet-stream")
		h.Set("Content-Transfer-Encoding", "binary")
		h.Set("Content-ID", "<"+id+">")
		pw, _ := mw.CreatePart(h)
		pw.Write(b)
	}
	mw.Close()
	ct := `multipart/related; type="application/xop+xml"; boundary="` + mw.Boundary() + `"; start="<root.message@cxf.apache.org>"; start-info="application/soap+xml"; action="` + action + `"`
	return c.Send(path, ct, buf.Bytes())
}

func (c *Client) Send(path, contentType string, body []byte) Reply {
	c.t.Helper()
	req, err := http.NewRequest("POST", c.Base+path, bytes.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := Reply{Status: resp.StatusCode, Raw: raw, Parts: map[string][]byte{}}
	mt, params, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	envBytes := raw
	if mt == "multipart/related" {
		mr := multipart.NewReader(bytes.NewReader(raw), params["boundary"])
		start := strings.Trim(params["start"], "<>")
		for {
			p, err := mr.NextRawPart()
			if err != nil {
				break
			}
			b, _ := io.ReadAll(p)
			id := strings.Trim(p.Header.Get("Content-ID"), "<>")
			if id == start {
				envBytes = b
			} else {
				r.Parts[id] = b
			}
		}
	}
	var env Node
	if err := xml.Unmarshal(envBytes, &env); err != nil {
		c.t.Fatalf("answer is not XML (%d): %v\n%s", resp.StatusCode, err, raw)
	}
	if env.XMLName.Space != soapNS || env.XMLName.Local != "Envelope" {
		c.t.Fatalf("answer is not a SOAP 1.2 envelope: %s", envBytes)
	}
	r.Env = &env
	return r
}

// status is the RegistryResponse / AdhocQueryResponse status, short.
func (r Reply) ResponseStatus() string {
	for _, n := range []string{"RegistryResponse", "AdhocQueryResponse"} {
		if x := r.Env.First(n); x != nil {
			s := x.Attr("status")
			return s[strings.LastIndex(s, ":")+1:]
		}
	}
	return ""
}

// errorCodes lists the RegistryError Codes with their locations.
func (r Reply) ErrorCodes() []string {
	var out []string
	for _, e := range r.Env.Find("RegistryError") {
		out = append(out, e.Attr("errorCode")+"@"+e.Attr("location"))
	}
	return out
}

func (r Reply) HasError(code string) bool {
	for _, e := range r.Env.Find("RegistryError") {
		if e.Attr("errorCode") == code {
			return true
		}
	}
	return false
}

// Metadata of a document Entry, as the producer knows it.
type Entry struct {
	ID, UniqueID, MimeType, Title string
	PatientCX                     string
	Class, Type, Format           [3]string // code, scheme, display
	Facility, Practice            [3]string
	Confidentiality               [][3]string
	CreationTime                  string
	AuthorPerson, AuthorInst      string
	AuthorRole, AuthorSpecialty   string
	Authors                       [][4]string // person, institution, role, specialty (when set, instead of the single author)
	Events                        [][3]string
	Content                       []byte
	Inline                        bool // base64 inside the envelope, not MTOM
	BadHash                       bool
	NoDocument                    bool
}

func codeClass(id, scheme, object string, c [3]string) string {
	if c[0] == "" {
		return ""
	}
	return `<rim:Classification id="` + id + `" classificationScheme="` + scheme + `" classifiedObject="` + object + `" nodeRepresentation="` + c[0] + `">` +
		`<rim:Name><rim:LocalizedString value="` + c[2] + `"/></rim:Name>` +
		SlotXML("codingScheme", c[1]) + `</rim:Classification>`
}

func SlotXML(name string, values ...string) string {
	s := `<rim:Slot name="` + name + `"><rim:ValueList>`
	for _, v := range values {
		s += `<rim:Value>` + xmlEsc(v) + `</rim:Value>`
	}
	return s + `</rim:ValueList></rim:Slot>`
}

func xmlEsc(s string) string {
	var b strings.Builder
	xml.EscapeText(&b, []byte(s))
	return b.String()
}

func ExtID(scheme, object, value, name string) string {
	return `<rim:ExternalIdentifier id="ei-` + object + `-` + name[len(name)-3:] + `" identificationScheme="` + scheme + `" registryObject="` + object + `" value="` + xmlEsc(value) + `"><rim:Name><rim:LocalizedString value="` + name + `"/></rim:Name></rim:ExternalIdentifier>`
}

func (e Entry) Extrinsic() string {
	h := sha1.Sum(e.Content)
	hash := hex.EncodeToString(h[:])
	if e.BadHash {
		hash = strings.Repeat("0", 40)
	}
	s := `<rim:ExtrinsicObject id="` + e.ID + `" mimeType="` + e.MimeType + `" objectType="urn:uuid:7edca82f-054d-47f2-a032-9b2a5b5186c1">` +
		SlotXML("creationTime", e.CreationTime) + SlotXML("hash", hash) + SlotXML("languageCode", "fr-FR") +
		SlotXML("size", fmt.Sprint(len(e.Content))) + SlotXML("sourcePatientId", e.PatientCX) +
		`<rim:Name><rim:LocalizedString value="` + xmlEsc(e.Title) + `"/></rim:Name>`
	authors := e.Authors
	if authors == nil {
		authors = [][4]string{{e.AuthorPerson, e.AuthorInst, e.AuthorRole, e.AuthorSpecialty}}
	}
	for i, a := range authors {
		s += fmt.Sprintf(`<rim:Classification id="%s-au%d" classificationScheme="urn:uuid:93606bcf-9494-43ec-9b4e-a7748d1a838d" classifiedObject="%s" nodeRepresentation="">`, e.ID, i, e.ID)
		for j, name := range []string{"authorPerson", "authorInstitution", "authorRole", "authorSpecialty"} {
			if a[j] != "" {
				s += SlotXML(name, a[j])
			}
		}
		s += `</rim:Classification>`
	}
	for i, c := range e.Events {
		s += codeClass(fmt.Sprintf("%s-ev%d", e.ID, i), "urn:uuid:2c6b8cb7-8b2a-4051-b291-b1ae6a575ef4", e.ID, c)
	}
	s += codeClass(e.ID+"-cl", "urn:uuid:41a5887f-8865-4c09-adf7-e362475b143a", e.ID, e.Class)
	for i, c := range e.Confidentiality {
		s += codeClass(fmt.Sprintf("%s-cf%d", e.ID, i), "urn:uuid:f4f85eac-e6cb-4883-b524-f2705394840f", e.ID, c)
	}
	s += codeClass(e.ID+"-fm", "urn:uuid:a09d5840-386c-46f2-b5ad-9c3699a4309d", e.ID, e.Format)
	s += codeClass(e.ID+"-hc", "urn:uuid:f33fb8ac-18af-42cc-ae0e-ed0b0bdb91e1", e.ID, e.Facility)
	s += codeClass(e.ID+"-ps", "urn:uuid:cccf5598-8b07-4b77-a05e-ae952c785ead", e.ID, e.Practice)
	s += codeClass(e.ID+"-ty", "urn:uuid:f0306f51-975f-434e-a61c-c59651d33983", e.ID, e.Type)
	s += ExtID("urn:uuid:58a6f841-87b3-4a3e-92fd-a8ffeff98427", e.ID, e.PatientCX, "XDSDocumentEntry.patientId")
	s += ExtID("urn:uuid:2e82c1f6-a085-4c72-9da3-8640a32e42ab", e.ID, e.UniqueID, "XDSDocumentEntry.uniqueId")
	return s + `</rim:ExtrinsicObject>`
}

// submission is one ITI-41 request.
type SubmissionSet struct {
	ID, UniqueID, SourceID, PatientCX, Time string
	ContentType                             [3]string
	Entries                                 []Entry
	Associations                            [][3]string // type, source, target (RPLC, APND, XFRM)
	// Extra is more ebRIM objects written into the RegistryObjectList
	// as they are (a Folder).
	Extra string
}

// provide sends ITI-41.
func (c *Client) Provide(s SubmissionSet) Reply {
	var b strings.Builder
	b.WriteString(`<xdsb:ProvideAndRegisterDocumentSetRequest xmlns:xdsb="urn:ihe:iti:xds-b:2007" xmlns:lcm="urn:oasis:names:tc:ebxml-regrep:xsd:lcm:3.0" xmlns:rim="urn:oasis:names:tc:ebxml-regrep:xsd:rim:3.0">`)
	b.WriteString(`<lcm:SubmitObjectsRequest><rim:RegistryObjectList>`)
	for _, e := range s.Entries {
		b.WriteString(e.Extrinsic())
	}
	b.WriteString(`<rim:RegistryPackage id="` + s.ID + `">` + SlotXML("submissionTime", s.Time) +
		`<rim:Name><rim:LocalizedString value="Envoi"/></rim:Name>`)
	b.WriteString(codeClass(s.ID+"-ct", "urn:uuid:aa543740-bdda-424e-8c96-df4873be8500", s.ID, s.ContentType))
	b.WriteString(ExtID("urn:uuid:96fdda7c-d067-4183-912e-bf5ee74998a8", s.ID, s.UniqueID, "XDSSubmissionSet.uniqueId"))
	b.WriteString(ExtID("urn:uuid:554ac39e-e3fe-47fe-b233-965d2a147832", s.ID, s.SourceID, "XDSSubmissionSet.sourceId"))
	b.WriteString(ExtID("urn:uuid:6b5aea1a-874d-4603-a4bc-96a0a7b38446", s.ID, s.PatientCX, "XDSSubmissionSet.patientId"))
	b.WriteString(`</rim:RegistryPackage>`)
	b.WriteString(`<rim:Classification id="` + s.ID + `-node" classifiedObject="` + s.ID + `" classificationNode="urn:uuid:a54d6aa5-d40d-43f9-88c5-b4633d873bdd"/>`)
	for i, e := range s.Entries {
		fmt.Fprintf(&b, `<rim:Association id="as%d" associationType="urn:oasis:names:tc:ebxml-regrep:AssociationType:HasMember" sourceObject="%s" targetObject="%s">%s</rim:Association>`,
			i, s.ID, e.ID, SlotXML("SubmissionSetStatus", "Original"))
	}
	for i, a := range s.Associations {
		fmt.Fprintf(&b, `<rim:Association id="rel%d" associationType="urn:ihe:iti:2007:AssociationType:%s" sourceObject="%s" targetObject="%s"/>`, i, a[0], a[1], a[2])
	}
	b.WriteString(s.Extra)
	b.WriteString(`</rim:RegistryObjectList></lcm:SubmitObjectsRequest>`)
	att := map[string][]byte{}
	inline := true
	for i, e := range s.Entries {
		if e.NoDocument {
			continue
		}
		if e.Inline {
			b.WriteString(`<xdsb:Document id="` + e.ID + `">` + base64.StdEncoding.EncodeToString(e.Content) + `</xdsb:Document>`)
			continue
		}
		inline = false
		cid := fmt.Sprintf("doc%d.%d@example.org", i, len(e.Content))
		att[cid] = e.Content
		b.WriteString(`<xdsb:Document id="` + e.ID + `"><xop:Include xmlns:xop="http://www.w3.org/2004/08/xop/include" href="cid:` + strings.ReplaceAll(cid, "@", "%40") + `"/></xdsb:Document>`)
	}
	b.WriteString(`</xdsb:ProvideAndRegisterDocumentSetRequest>`)
	const action = "urn:ihe:iti:2007:ProvideAndRegisterDocumentSet-b"
	if inline {
		return c.Post("/xds/repository", action, b.String())
	}
	return c.PostMTOM("/xds/repository", action, b.String(), att)
}

// query sends ITI-18.
func (c *Client) Query(id, returnType string, params ...[2]string) Reply {
	var b strings.Builder
	b.WriteString(`<query:AdhocQueryRequest xmlns:query="urn:oasis:names:tc:ebxml-regrep:xsd:query:3.0" xmlns:rim="urn:oasis:names:tc:ebxml-regrep:xsd:rim:3.0">`)
	b.WriteString(`<query:ResponseOption returnComposedObjects="true" returnType="` + returnType + `"/>`)
	b.WriteString(`<rim:AdhocQuery id="` + id + `">`)
	for _, p := range params {
		b.WriteString(SlotXML(p[0], p[1]))
	}
	b.WriteString(`</rim:AdhocQuery></query:AdhocQueryRequest>`)
	return c.Post("/xds/registry", "urn:ihe:iti:2007:RegistryStoredQuery", b.String())
}

// retrieve sends ITI-43 and returns the documents by uniqueId.
func (c *Client) Retrieve(repository string, uniqueIDs ...string) (Reply, map[string][]byte) {
	var b strings.Builder
	b.WriteString(`<xdsb:RetrieveDocumentSetRequest xmlns:xdsb="urn:ihe:iti:xds-b:2007">`)
	for _, u := range uniqueIDs {
		b.WriteString(`<xdsb:DocumentRequest><xdsb:RepositoryUniqueId>` + repository + `</xdsb:RepositoryUniqueId><xdsb:DocumentUniqueId>` + xmlEsc(u) + `</xdsb:DocumentUniqueId></xdsb:DocumentRequest>`)
	}
	b.WriteString(`</xdsb:RetrieveDocumentSetRequest>`)
	r := c.PostMTOM("/xds/repository", "urn:ihe:iti:2007:RetrieveDocumentSet", b.String(), nil)
	docs := map[string][]byte{}
	for _, dr := range r.Env.Find("DocumentResponse") {
		uid := strings.TrimSpace(dr.First("DocumentUniqueId").Text)
		inc := dr.First("Include")
		if inc == nil {
			c.t.Errorf("document %s not sent as an XOP attachment", uid)
			continue
		}
		cid := strings.TrimPrefix(inc.Attr("href"), "cid:")
		docs[uid] = r.Parts[cid]
	}
	return r, docs
}

// update sends ITI-57.
func (c *Client) Update(body string) Reply {
	return c.Post("/xds/registry", "urn:ihe:iti:2010:UpdateDocumentSet",
		`<lcm:SubmitObjectsRequest xmlns:lcm="urn:oasis:names:tc:ebxml-regrep:xsd:lcm:3.0" xmlns:rim="urn:oasis:names:tc:ebxml-regrep:xsd:rim:3.0"><rim:RegistryObjectList>`+body+`</rim:RegistryObjectList></lcm:SubmitObjectsRequest>`)
}

// entries reads the ExtrinsicObjects of a LeafClass answer: uniqueId →
// element.
func (r Reply) Entries() map[string]*Node {
	out := map[string]*Node{}
	for _, eo := range r.Env.Find("ExtrinsicObject") {
		for _, ei := range eo.Find("ExternalIdentifier") {
			if ei.Attr("identificationScheme") == "urn:uuid:2e82c1f6-a085-4c72-9da3-8640a32e42ab" {
				out[ei.Attr("value")] = eo
			}
		}
	}
	return out
}

// Codes returns the nodeRepresentations of an entry's classifications of scheme.
func Codes(eo *Node, scheme string) []string {
	var out []string
	for _, c := range eo.Find("Classification") {
		if c.Attr("classificationScheme") == scheme {
			out = append(out, c.Attr("nodeRepresentation"))
		}
	}
	return out
}

// SlotValue returns the first value of a slot of an element.
func SlotValue(eo *Node, name string) string {
	for _, s := range eo.Children {
		if s.XMLName.Local == "Slot" && s.Attr("name") == name {
			if v := s.First("Value"); v != nil {
				return v.Text
			}
		}
	}
	return ""
}

func oidOf(system string) string { return strings.TrimPrefix(system, "urn:oid:") }

// Code3 writes a coding as the client's (code, scheme, display).
func Code3(c carnet.Coding) [3]string { return [3]string{c.Code, oidOf(c.System), c.Display} }

// CX writes a patient identifier as HL7 v2 CX, INS typed NH.
func CX(id carnet.Identifier) string { return id.Value + "^^^&" + oidOf(id.System) + "&ISO^NH" }

// AuthorSlots writes an author as the client's XCN, XON and CE slots
// (person, institution, role, specialty).
func AuthorSlots(a carnet.Author) [4]string {
	var out [4]string
	if a.ID.Value != "" || a.Family != "" {
		given := ""
		if len(a.Given) > 0 {
			given = a.Given[0]
		}
		out[0] = a.ID.Value + "^" + a.Family + "^" + given + "^^^^^^"
		if a.ID.Value != "" {
			out[0] += "&" + oidOf(a.ID.System) + "&ISO^D^^^IDNPS"
		}
	}
	if a.Org != "" {
		out[1] = a.Org
		if a.OrgID.Value != "" {
			out[1] += "^^^^^&" + oidOf(a.OrgID.System) + "&ISO^IDNST^^^" + a.OrgID.Value
		}
	}
	if a.Role.Code != "" {
		out[2] = a.Role.Code + "^" + a.Role.Display + "^" + oidOf(a.Role.System)
	}
	switch {
	case a.Specialty.Code != "":
		out[3] = a.Specialty.Code + "^" + a.Specialty.Display + "^" + oidOf(a.Specialty.System)
	case a.Profession.Code != "":
		out[3] = a.Profession.Code + "^" + a.Profession.Display + "^" + oidOf(a.Profession.System)
	}
	return out
}

// EntryFromMeta describes a document the way producing software does from
// what it knows of it.
func EntryFromMeta(id, uniqueID string, ins carnet.Identifier, m carnet.DocumentMeta, content []byte) Entry {
	e := Entry{ID: id, UniqueID: uniqueID, MimeType: m.ContentType, Title: m.Title, PatientCX: CX(ins),
		Class: Code3(m.Class), Type: Code3(m.Type), Format: Code3(m.Format), Facility: Code3(m.Facility), Practice: Code3(m.PracticeSetting),
		CreationTime: m.Created.UTC().Format("20060102150405"), Content: content, Authors: [][4]string{}}
	for _, c := range m.Confidentiality {
		e.Confidentiality = append(e.Confidentiality, Code3(c))
	}
	for _, c := range m.Events {
		e.Events = append(e.Events, Code3(c))
	}
	for _, a := range m.Authors {
		e.Authors = append(e.Authors, AuthorSlots(a))
	}
	return e
}
