package mhd

import (
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"strings"

	carnet "github.com/carnet-sante/carnet"
	"github.com/carnet-sante/carnet/fhir"
)

// Bounds on what resolving contained resources costs (each author
// reference scans the contained list).
const (
	maxContained = 64
	maxAuthors   = 32
	maxRelated   = 64
	maxCodes     = 64 // repeated coded elements of one document
)

// parsedDocument is a DocumentReference read from a request, before its
// content is attached.
type parsedDocument struct {
	doc         carnet.SubmittedDocument
	subject     carnet.Identifier
	subjectOK   bool
	subjectPath string
	att         *fhir.Attachment // nil when content is missing
	attPath     string
}

// readDocument checks and maps one submitted DocumentReference found at
// path. It records every problem in l and returns what it could read.
func readDocument(raw json.RawMessage, path string, opts ParseOptions, l *issueList) parsedDocument {
	var out parsedDocument
	var dr fhir.DocumentReference
	if err := fhir.Unmarshal(raw, &dr, path); err != nil {
		l.merge(err, path)
		return out
	}
	if len(dr.SecurityLabel) > maxCodes || len(dr.Identifier) > maxCodes || len(dr.RelatesTo) > maxCodes ||
		len(dr.Category) > maxCodes || len(dr.Content) > maxCodes || dr.Context != nil && len(dr.Context.Event) > maxCodes {
		l.add("too-costly", path, "at most %d securityLabel, identifier, relatesTo, category, content or context.event elements", maxCodes)
		return out
	}
	m := &out.doc.Meta
	out.doc.Path = path
	m.Original = append([]byte(nil), raw...)

	if dr.MasterIdentifier == nil || strings.TrimSpace(dr.MasterIdentifier.Value) == "" {
		l.required(opts, path+".masterIdentifier", "masterIdentifier (the document uniqueId) is required")
	} else {
		u := bareID(strings.TrimSpace(dr.MasterIdentifier.Value))
		if len(u) > 256 {
			l.add("value", path+".masterIdentifier.value", "the uniqueId is longer than 256 characters")
		} else {
			out.doc.UniqueID = u
		}
	}
	switch dr.Status {
	case "":
		l.add("required", path+".status", "status is required")
	case "current":
	default:
		l.add("value", path+".status", "a submitted document must have status current")
	}
	out.subject, out.subjectOK = readSubject(dr.Subject, path+".subject", opts, l)
	out.subjectPath = path + ".subject"

	if c, ok := dr.Type.First(); ok {
		m.Type = coding(c)
	} else {
		l.required(opts, path+".type", "type (XDS typeCode) is required")
	}
	if len(dr.Category) == 0 {
		l.required(opts, path+".category", "category (XDS classCode) is required")
	} else if c, ok := dr.Category[0].First(); ok {
		m.Class = coding(c)
	} else {
		l.add("required", path+".category[0].coding", "category (XDS classCode) needs a code")
	}
	if len(dr.SecurityLabel) == 0 {
		l.required(opts, path+".securityLabel", "securityLabel (XDS confidentialityCode) is required")
	}
	for i, sl := range dr.SecurityLabel {
		n := 0
		for _, c := range sl.Coding {
			if c.Code != "" {
				m.Confidentiality = append(m.Confidentiality, coding(c))
				n++
			}
		}
		if n == 0 {
			l.add("required", fmt.Sprintf("%s.securityLabel[%d].coding", path, i), "a securityLabel needs a code")
		}
	}
	m.Description = dr.Description

	switch len(dr.Content) {
	case 0:
		l.add("required", path+".content", "content is required")
	case 1:
	default:
		l.add("not-supported", path+".content[1]", "a DocumentReference describes one document: exactly one content")
	}
	if len(dr.Content) > 0 {
		ct := &dr.Content[0]
		cp := path + ".content[0]"
		if ct.Format == nil || ct.Format.Code == "" {
			l.required(opts, cp+".format", "content.format (XDS formatCode) is required")
		} else {
			m.Format = coding(*ct.Format)
		}
		a := &ct.Attachment
		ap := cp + ".attachment"
		out.att, out.attPath = a, ap
		switch {
		case a.ContentType == "":
			l.add("required", ap+".contentType", "attachment.contentType (XDS mimeType) is required")
		case !opts.contentTypeOK(a.ContentType):
			l.add("code-invalid", ap+".contentType", "the media type %q is not accepted (accepted: %s)", fhir.Clip(a.ContentType, 80), strings.Join(opts.ContentTypes, ", "))
		default:
			m.ContentType = a.ContentType
		}
		if a.Creation == "" {
			l.required(opts, ap+".creation", "attachment.creation (XDS creationTime) is required")
		} else if dt, err := fhir.ParseDateTime(a.Creation); err != nil {
			l.add("value", ap+".creation", "attachment.creation is not a FHIR dateTime")
		} else {
			m.Created = dt.Start
		}
		if a.Size != nil && (*a.Size < 0 || *a.Size > math.MaxInt32) {
			l.add("value", ap+".size", "attachment.size must be an unsignedInt")
		}
		if len(a.Hash) > 0 && len(a.Hash) != sha1.Size {
			l.add("value", ap+".hash", "attachment.hash must be the base64 of the 20-byte SHA-1 of the document")
		}
		m.Title = a.Title
		m.Language = a.Language
	}

	switch {
	case len(dr.Contained) > maxContained:
		l.add("too-costly", path+".contained", "at most %d contained resources", maxContained)
		dr.Author, dr.Context = nil, nil
	case len(dr.Author) > maxAuthors:
		l.add("too-costly", path+".author", "at most %d authors", maxAuthors)
		dr.Author = nil
	}
	for i, ref := range dr.Author {
		ap := fmt.Sprintf("%s.author[%d]", path, i)
		if a, ok := readAuthor(dr.Contained, ref, ap, l); ok {
			m.Authors = append(m.Authors, a)
		}
	}
	if ref := dr.Authenticator; ref != nil && ref.Reference != "" && len(dr.Contained) <= maxContained {
		if a, ok := readAuthor(dr.Contained, *ref, path+".authenticator", l); ok {
			m.LegalAuthenticator = &a
		}
	}
	for _, id := range dr.Identifier {
		if id.Value != "" {
			m.Identifiers = append(m.Identifiers, carnet.Identifier{System: normSystem(id.System), Value: id.Value})
		}
	}
	for i, rt := range dr.RelatesTo {
		rp := fmt.Sprintf("%s.relatesTo[%d]", path, i)
		switch rt.Code {
		case "replaces", "transforms", "signs", "appends":
		case "":
			l.add("required", rp+".code", "relatesTo.code is required")
			continue
		default:
			l.add("code-invalid", rp+".code", "relatesTo.code must be replaces, transforms, signs or appends")
			continue
		}
		id, ok := referenceID(rt.Target.Reference, "DocumentReference")
		if !ok {
			l.add("not-supported", rp+".target", "relatesTo.target must reference an existing DocumentReference as DocumentReference/{id}")
			continue
		}
		m.RelatesTo = append(m.RelatesTo, carnet.Relation{Code: rt.Code, Target: id})
	}
	if c := dr.Context; c != nil {
		cp := path + ".context"
		if f, ok := c.FacilityType.First(); ok {
			m.Facility = coding(f)
		}
		if s, ok := c.PracticeSetting.First(); ok {
			m.PracticeSetting = coding(s)
		}
		for _, ev := range c.Event {
			for _, cd := range ev.Coding {
				if cd.Code != "" {
					m.Events = append(m.Events, coding(cd))
				}
			}
		}
		if c.Period != nil {
			m.ServicePeriod = readPeriod(c.Period, cp+".period", l)
		}
		if len(c.Related) > maxRelated {
			l.add("too-costly", cp+".related", "at most %d related identifiers", maxRelated)
			c.Related = nil
		}
		for i, rel := range c.Related {
			// XDS referenceIdList: an identifier, typed by a JDV_J197 code
			// (its value set is checked by the Service).
			id := rel.Identifier
			if id == nil || id.Value == "" {
				l.add("required", fmt.Sprintf("%s.related[%d].identifier", cp, i), "context.related must carry an identifier (XDS referenceIdList)")
				continue
			}
			ref := carnet.ReferenceID{ID: carnet.Identifier{System: normSystem(id.System), Value: id.Value}}
			if t, ok := id.Type.First(); ok {
				ref.Type = t.Code
			}
			m.References = append(m.References, ref)
		}
		if ref := c.SourcePatientInfo; ref != nil && ref.Reference != "" {
			sp := cp + ".sourcePatientInfo"
			got, ok := fhir.ResolveContained(dr.Contained, ref.Reference)
			switch {
			case !strings.HasPrefix(ref.Reference, "#"):
				l.add("not-supported", sp, "sourcePatientInfo must reference a contained Patient")
			case !ok || got.Patient == nil:
				l.add("not-found", sp, "sourcePatientInfo references no contained Patient")
			default:
				m.SourcePatientRaw = append([]byte(nil), got.Raw...)
				for _, id := range got.Patient.Identifier {
					if id.Value != "" {
						m.SourcePatientID = carnet.Identifier{System: normSystem(id.System), Value: id.Value}
						break
					}
				}
			}
		}
	}
	return out
}

// attachContent checks data against what the DocumentReference says of it
// and fills size and hashes.
func attachContent(p *parsedDocument, data []byte, l *issueList) {
	m := &p.doc.Meta
	a := p.att
	if a.Size != nil && *a.Size != int64(len(data)) {
		l.add("value", p.attPath+".size", "attachment.size is %d but the document has %d bytes", *a.Size, len(data))
	}
	s1 := sha1.Sum(data)
	if len(a.Hash) == sha1.Size && subtle.ConstantTimeCompare(a.Hash, s1[:]) != 1 {
		l.add("value", p.attPath+".hash", "attachment.hash is not the SHA-1 of the document")
	}
	s256 := sha256.Sum256(data)
	m.Size = int64(len(data))
	m.SHA1 = s1[:]
	m.SHA256 = s256[:]
	p.doc.Content = data
}

// readSubject reads the patient a resource is about: the INS given as
// subject.identifier, or as a conditional reference Patient?identifier=s|v.
func readSubject(ref *fhir.Reference, path string, opts ParseOptions, l *issueList) (carnet.Identifier, bool) {
	if ref == nil {
		l.add("required", path, "subject is required")
		return carnet.Identifier{}, false
	}
	var id carnet.Identifier
	switch {
	case ref.Identifier != nil && ref.Identifier.Value != "":
		id = carnet.Identifier{System: normSystem(ref.Identifier.System), Value: strings.TrimSpace(ref.Identifier.Value)}
	case strings.HasPrefix(ref.Reference, "Patient?"):
		q, err := url.ParseQuery(strings.TrimPrefix(ref.Reference, "Patient?"))
		if err != nil || len(q["identifier"]) != 1 {
			l.add("value", path+".reference", "a conditional subject reference must be Patient?identifier=system|value")
			return carnet.Identifier{}, false
		}
		sys, val, ok := strings.Cut(q.Get("identifier"), "|")
		if !ok {
			l.add("value", path+".reference", "a conditional subject reference must be Patient?identifier=system|value")
			return carnet.Identifier{}, false
		}
		id = carnet.Identifier{System: normSystem(sys), Value: strings.TrimSpace(val)}
	default:
		l.add("required", path+".identifier", "the subject must carry the patient's INS, as subject.identifier or as Patient?identifier=system|value")
		return carnet.Identifier{}, false
	}
	switch {
	case id.System == "":
		l.add("required", path+".identifier.system", "the subject identifier needs a system")
		return carnet.Identifier{}, false
	case id.Value == "":
		l.add("required", path+".identifier.value", "the subject identifier needs a value")
		return carnet.Identifier{}, false
	}
	ins, test := id.IsINS()
	switch {
	case !ins && !opts.AcceptNonINS:
		l.add("value", path+".identifier.system", "the subject identifier must be an INS (NIR %s or NIA %s)", carnet.OIDInsNIR, carnet.OIDInsNIA)
		return carnet.Identifier{}, false
	case test && !opts.AcceptTestINS:
		l.add("value", path+".identifier.system", "test INS are accepted only in demo and test mode")
		return carnet.Identifier{}, false
	}
	return id, true
}

// readAuthor maps an author reference to a contained resource. MHD
// Comprehensive metadata contains its authors; a reference elsewhere cannot
// be resolved atomically and is refused.
func readAuthor(contained []json.RawMessage, ref fhir.Reference, path string, l *issueList) (carnet.Author, bool) {
	if !strings.HasPrefix(ref.Reference, "#") {
		l.add("not-supported", path, "authors must be contained resources referenced as #id")
		return carnet.Author{}, false
	}
	c, ok := fhir.ResolveContained(contained, ref.Reference)
	if !ok {
		l.add("not-found", path, "the author references no contained resource")
		return carnet.Author{}, false
	}
	var a carnet.Author
	switch {
	case c.Practitioner != nil:
		a.ID = pickID(c.Practitioner.Identifier, "urn:oid:"+carnet.OIDRPPS)
		a.Family, a.Given = firstName(c.Practitioner.Name)
	case c.PractitionerRole != nil:
		r := c.PractitionerRole
		a.ID = pickID(r.Identifier, "urn:oid:"+carnet.OIDRPPS)
		if r.Practitioner != nil {
			if p, ok := fhir.ResolveContained(contained, r.Practitioner.Reference); ok && p.Practitioner != nil {
				if id := pickID(p.Practitioner.Identifier, "urn:oid:"+carnet.OIDRPPS); id.Value != "" {
					a.ID = id
				}
				a.Family, a.Given = firstName(p.Practitioner.Name)
			}
		}
		if r.Organization != nil {
			if o, ok := fhir.ResolveContained(contained, r.Organization.Reference); ok && o.Organization != nil {
				a.Org = o.Organization.Name
				a.OrgID = pickID(o.Organization.Identifier, "")
			}
		}
		// PDSm: the first code is the profession (TRE_G15), a second one the
		// role; specialty is the specialty (TRE_R38).
		if len(r.Code) > 0 {
			if c, ok := r.Code[0].First(); ok {
				a.Profession = coding(c)
			}
		}
		if len(r.Code) > 1 {
			if c, ok := r.Code[1].First(); ok {
				a.Role = coding(c)
			}
		}
		if len(r.Specialty) > 0 {
			if c, ok := r.Specialty[0].First(); ok {
				a.Specialty = coding(c)
			}
		}
	case c.Patient != nil:
		a.ID = pickID(c.Patient.Identifier, "")
		a.Family, a.Given = firstName(c.Patient.Name)
	case c.Organization != nil:
		a.Org = c.Organization.Name
		a.OrgID = pickID(c.Organization.Identifier, "")
	case c.Device != nil:
		a.ID = pickID(c.Device.Identifier, "")
		if len(c.Device.DeviceName) > 0 {
			a.Family = c.Device.DeviceName[0].Name
		}
	default:
		l.add("not-supported", path, "an author must be a Practitioner, PractitionerRole, Patient, Organization or Device")
		return carnet.Author{}, false
	}
	return a, true
}

// pickID returns the identifier with system prefer, else the first one with
// a value.
func pickID(ids []fhir.Identifier, prefer string) carnet.Identifier {
	var first carnet.Identifier
	for _, id := range ids {
		if id.Value == "" {
			continue
		}
		ci := carnet.Identifier{System: normSystem(id.System), Value: id.Value}
		if prefer != "" && ci.System == prefer {
			return ci
		}
		if first.Value == "" {
			first = ci
		}
	}
	return first
}

func firstName(names []fhir.HumanName) (string, []string) {
	for _, n := range names {
		if n.Family != "" || len(n.Given) > 0 {
			return n.Family, append([]string(nil), n.Given...)
		}
	}
	return "", nil
}

func readPeriod(p *fhir.Period, path string, l *issueList) carnet.Period {
	var out carnet.Period
	if p.Start != "" {
		if dt, err := fhir.ParseDateTime(p.Start); err != nil {
			l.add("value", path+".start", "period.start is not a FHIR dateTime")
		} else {
			out.Start = dt.Start
		}
	}
	if p.End != "" {
		if dt, err := fhir.ParseDateTime(p.End); err != nil {
			l.add("value", path+".end", "period.end is not a FHIR dateTime")
		} else {
			// Partial dates are kept as their first instant, like creation.
			out.End = dt.Start
		}
	}
	if !out.Start.IsZero() && !out.End.IsZero() && out.End.Before(out.Start) {
		l.add("value", path, "period.end is before period.start")
	}
	return out
}

func coding(c fhir.Coding) carnet.Coding {
	return carnet.Coding{System: c.System, Code: c.Code, Display: c.Display}
}

// referenceID returns the id of a literal reference to a resource of type
// typ ("DocumentReference/123", or an absolute URL ending so).
func referenceID(ref, typ string) (string, bool) {
	ref = strings.TrimSpace(ref)
	if i := strings.Index(ref, "/_history/"); i >= 0 {
		ref = ref[:i]
	}
	i := strings.LastIndex(ref, typ+"/")
	if i < 0 || (i > 0 && ref[i-1] != '/') {
		return "", false
	}
	id := ref[i+len(typ)+1:]
	if !fhir.ValidID(id) {
		return "", false
	}
	return id, true
}
