package xds

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"mime/multipart"
	"strconv"
	"strings"

	carnet "github.com/carnet-sante/carnet"
)

// Response statuses.
const (
	statusSuccess = "urn:oasis:names:tc:ebxml-regrep:ResponseStatusType:Success"
	statusFailure = "urn:oasis:names:tc:ebxml-regrep:ResponseStatusType:Failure"
	statusPartial = "urn:ihe:iti:2007:ResponseStatusType:PartialSuccess"
	severityError = "urn:oasis:names:tc:ebxml-regrep:ErrorSeverityType:Error"
	severityWarn  = "urn:oasis:names:tc:ebxml-regrep:ErrorSeverityType:Warning"
)

// envelope writes a SOAP 1.2 answer with its WS-Addressing headers.
func envelope(action, relatesTo, body string) []byte {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	b.WriteString(`<env:Envelope xmlns:env="` + nsSOAP + `" xmlns:wsa="` + nsWSA + `"><env:Header>`)
	b.WriteString(`<wsa:Action env:mustUnderstand="1">` + esc(action) + `</wsa:Action>`)
	b.WriteString(`<wsa:MessageID>urn:uuid:` + carnet.NewID() + `</wsa:MessageID>`)
	if relatesTo != "" {
		b.WriteString(`<wsa:RelatesTo>` + esc(relatesTo) + `</wsa:RelatesTo>`)
	}
	b.WriteString(`</env:Header><env:Body>`)
	b.WriteString(body)
	b.WriteString(`</env:Body></env:Envelope>`)
	return []byte(b.String())
}

// faultEnvelope writes a SOAP 1.2 fault.
func faultEnvelope(f *Fault) []byte {
	var b strings.Builder
	b.WriteString(`<env:Fault><env:Code><env:Value>env:` + esc(f.Code) + `</env:Value>`)
	if f.Subcode != "" {
		ns := ""
		if strings.HasPrefix(f.Subcode, "wsse:") {
			ns = ` xmlns:wsse="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"`
		}
		b.WriteString(`<env:Subcode><env:Value` + ns + `>` + esc(f.Subcode) + `</env:Value></env:Subcode>`)
	}
	b.WriteString(`</env:Code><env:Reason><env:Text xml:lang="en">` + esc(f.Reason) + `</env:Text></env:Reason></env:Fault>`)
	return envelope("http://www.w3.org/2005/08/addressing/soap/fault", "", b.String())
}

// registryErrorList writes rs:RegistryErrorList.
func registryErrorList(errs []RegistryError) string {
	if len(errs) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString(`<rs:RegistryErrorList>`)
	for _, e := range errs {
		sev := severityError
		if e.Warning {
			sev = severityWarn
		}
		fmt.Fprintf(&b, `<rs:RegistryError errorCode="%s" codeContext="%s" location="%s" severity="%s"/>`, esc(e.Code), esc(e.Context), esc(e.Location), sev)
	}
	b.WriteString(`</rs:RegistryErrorList>`)
	return b.String()
}

// registryResponse writes rs:RegistryResponse: Success, or Failure with
// its errors (warnings alone keep Success).
func registryResponse(errs []RegistryError) string {
	st := statusSuccess
	for _, e := range errs {
		if !e.Warning {
			st = statusFailure
		}
	}
	return `<rs:RegistryResponse xmlns:rs="` + nsRS + `" status="` + st + `">` + registryErrorList(errs) + `</rs:RegistryResponse>`
}

// rim writes ebRIM elements.
type rim struct{ b strings.Builder }

func (w *rim) slot(name string, values ...string) {
	w.b.WriteString(`<rim:Slot name="` + esc(name) + `"><rim:ValueList>`)
	for _, v := range values {
		w.b.WriteString(`<rim:Value>` + esc(v) + `</rim:Value>`)
	}
	w.b.WriteString(`</rim:ValueList></rim:Slot>`)
}

func (w *rim) name(tag, v string) {
	if v != "" {
		w.b.WriteString(`<rim:` + tag + `><rim:LocalizedString value="` + esc(v) + `"/></rim:` + tag + `>`)
	}
}

func (w *rim) classification(scheme, object, node string, display string, slots []slot) {
	fmt.Fprintf(&w.b, `<rim:Classification id="urn:uuid:%s" objectType="urn:oasis:names:tc:ebxml-regrep:ObjectType:RegistryObject:Classification" classificationScheme="%s" classifiedObject="%s" nodeRepresentation="%s">`,
		carnet.NewID(), scheme, esc(object), esc(node))
	for _, s := range slots {
		w.slot(s.Name, s.Values...)
	}
	w.name("Name", display)
	w.b.WriteString(`</rim:Classification>`)
}

func (w *rim) coded(scheme, object string, c carnet.Coding) {
	if c.Code == "" {
		return
	}
	w.classification(scheme, object, c.Code, c.Display, []slot{{"codingScheme", []string{schemeOf(c.System)}}})
}

func (w *rim) external(scheme, object, value, name string) {
	fmt.Fprintf(&w.b, `<rim:ExternalIdentifier id="urn:uuid:%s" objectType="urn:oasis:names:tc:ebxml-regrep:ObjectType:RegistryObject:ExternalIdentifier" identificationScheme="%s" registryObject="%s" value="%s">`,
		carnet.NewID(), scheme, esc(object), esc(value))
	w.name("Name", name)
	w.b.WriteString(`</rim:ExternalIdentifier>`)
}

// EntryUUID is a document version's entryUUID in XDS form.
func EntryUUID(d carnet.Document) string { return "urn:uuid:" + d.ID }

// extrinsicObject writes a DocumentEntry from a stored document.
func extrinsicObject(w *rim, d carnet.Document, patient carnet.Identifier, repository string) {
	id := EntryUUID(d)
	m := d.Meta
	fmt.Fprintf(&w.b, `<rim:ExtrinsicObject id="%s" lid="urn:uuid:%s" objectType="%s" status="%s" mimeType="%s">`,
		id, esc(d.LogicalID), objectTypeStable, xdsStatus(d.Status), esc(m.ContentType))
	if !m.Created.IsZero() {
		w.slot("creationTime", dtmString(m.Created))
	}
	w.slot("hash", hex.EncodeToString(m.SHA1))
	if m.Language != "" {
		w.slot("languageCode", m.Language)
	}
	if la := m.LegalAuthenticator; la != nil {
		w.slot("legalAuthenticator", xcn(*la))
	}
	if len(m.References) > 0 {
		var v []string
		for _, r := range m.References {
			v = append(v, cx(r.ID)+"^"+r.Type)
		}
		w.slot("referenceIdList", v...)
	}
	w.slot("repositoryUniqueId", repository)
	if !m.ServicePeriod.Start.IsZero() {
		w.slot("serviceStartTime", dtmString(m.ServicePeriod.Start))
	}
	if !m.ServicePeriod.End.IsZero() {
		w.slot("serviceStopTime", dtmString(m.ServicePeriod.End))
	}
	w.slot("size", strconv.FormatInt(m.Size, 10))
	if m.SourcePatientID.Value != "" {
		w.slot("sourcePatientId", cx(m.SourcePatientID))
	}
	w.name("Name", m.Title)
	w.name("Description", m.Description)
	fmt.Fprintf(&w.b, `<rim:VersionInfo versionName="%d"/>`, d.Version)
	for _, a := range m.Authors {
		w.classification(schemeDocAuthor, id, "", "", authorSlots(a))
	}
	w.coded(schemeClass, id, m.Class)
	for _, c := range m.Confidentiality {
		w.coded(schemeConfidentiality, id, c)
	}
	for _, c := range m.Events {
		w.coded(schemeEvent, id, c)
	}
	w.coded(schemeFormat, id, m.Format)
	w.coded(schemeFacility, id, m.Facility)
	w.coded(schemePractice, id, m.PracticeSetting)
	w.coded(schemeType, id, m.Type)
	w.external(idDocPatientID, id, cx(patient), "XDSDocumentEntry.patientId")
	w.external(idDocUniqueID, id, d.UniqueID, "XDSDocumentEntry.uniqueId")
	w.b.WriteString(`</rim:ExtrinsicObject>`)
}

// registryPackage writes a SubmissionSet.
func registryPackage(w *rim, s carnet.SubmissionSet, patient carnet.Identifier) {
	id := "urn:uuid:" + s.ID
	fmt.Fprintf(&w.b, `<rim:RegistryPackage id="%s" lid="%s" objectType="%s" status="%s">`, id, id, objectTypeRegistry, statusApproved)
	w.slot("submissionTime", dtmString(s.Date))
	w.name("Name", s.Title)
	for _, a := range s.Authors {
		w.classification(schemeSetAuthor, id, "", "", authorSlots(a))
	}
	w.coded(schemeContentType, id, s.ContentType)
	fmt.Fprintf(&w.b, `<rim:Classification id="urn:uuid:%s" classifiedObject="%s" classificationNode="%s"/>`, carnet.NewID(), id, nodeSubmissionSet)
	w.external(idSetUniqueID, id, s.UniqueID, "XDSSubmissionSet.uniqueId")
	w.external(idSetSourceID, id, s.SourceID, "XDSSubmissionSet.sourceId")
	w.external(idSetPatientID, id, cx(patient), "XDSSubmissionSet.patientId")
	w.b.WriteString(`</rim:RegistryPackage>`)
}

// association writes an Association; its id is derived from its ends so
// that the same association has the same id in every answer.
func association(w *rim, typ, source, target string, slots ...slot) {
	id := "urn:uuid:" + derivedUUID(typ+"\x00"+source+"\x00"+target)
	fmt.Fprintf(&w.b, `<rim:Association id="%s" objectType="urn:oasis:names:tc:ebxml-regrep:ObjectType:RegistryObject:Association" associationType="%s" sourceObject="%s" targetObject="%s" status="%s">`,
		id, typ, esc(source), esc(target), statusApproved)
	for _, s := range slots {
		w.slot(s.Name, s.Values...)
	}
	w.b.WriteString(`</rim:Association>`)
}

// associationTypeOf maps a domain relation to its association type.
func associationTypeOf(code string) string {
	switch code {
	case "replaces":
		return assocRPLC
	case "appends":
		return assocAPND
	case "transforms":
		return assocXFRM
	case "signs":
		return assocSigns
	}
	return ""
}

// retrieveResponse writes an ITI-43 answer as MTOM: the envelope as the
// root part, each document an attachment.
type retrieved struct {
	Repository, UniqueID, MimeType string
	Content                        []byte
}

func retrieveResponse(relatesTo string, docs []retrieved, errs []RegistryError) (body []byte, contentType string) {
	st := statusSuccess
	switch {
	case len(errs) > 0 && len(docs) > 0:
		st = statusPartial
	case len(errs) > 0:
		st = statusFailure
	}
	var x strings.Builder
	x.WriteString(`<xdsb:RetrieveDocumentSetResponse xmlns:xdsb="` + nsXDS + `" xmlns:rs="` + nsRS + `">`)
	x.WriteString(`<rs:RegistryResponse status="` + st + `">` + registryErrorList(errs) + `</rs:RegistryResponse>`)
	ids := make([]string, len(docs))
	for i, d := range docs {
		ids[i] = fmt.Sprintf("doc%d@carnet", i)
		x.WriteString(`<xdsb:DocumentResponse><xdsb:RepositoryUniqueId>` + esc(d.Repository) + `</xdsb:RepositoryUniqueId>`)
		x.WriteString(`<xdsb:DocumentUniqueId>` + esc(d.UniqueID) + `</xdsb:DocumentUniqueId>`)
		x.WriteString(`<xdsb:mimeType>` + esc(d.MimeType) + `</xdsb:mimeType>`)
		x.WriteString(`<xdsb:Document><xop:Include xmlns:xop="` + nsXOP + `" href="cid:` + ids[i] + `"/></xdsb:Document></xdsb:DocumentResponse>`)
	}
	x.WriteString(`</xdsb:RetrieveDocumentSetResponse>`)
	env := envelope(ActionRetrieve+responseActionSuffix, relatesTo, x.String())
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	root := "root@carnet"
	pw, _ := mw.CreatePart(mimeHeader("Content-Type", `application/xop+xml; charset=UTF-8; type="application/soap+xml"`,
		"Content-Transfer-Encoding", "binary", "Content-ID", "<"+root+">"))
	_, _ = pw.Write(env)
	for i, d := range docs {
		pw, _ := mw.CreatePart(mimeHeader("Content-Type", d.MimeType, "Content-Transfer-Encoding", "binary", "Content-ID", "<"+ids[i]+">"))
		_, _ = pw.Write(d.Content)
	}
	_ = mw.Close()
	ct := fmt.Sprintf(`multipart/related; type="application/xop+xml"; boundary="%s"; start="<%s>"; start-info="application/soap+xml"`, mw.Boundary(), root)
	return buf.Bytes(), ct
}
