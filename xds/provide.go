package xds

import (
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"

	carnet "github.com/carnet-sante/carnet"
	"github.com/carnet-sante/carnet/mhd"
)

// ParseOptions tune what a submission may hold.
type ParseOptions struct {
	Limits Limits
	// ContentTypes are the accepted document media types (MHD's by
	// default: both paths accept the same documents).
	ContentTypes []string
}

func (o ParseOptions) contentTypeOK(ct string) bool {
	return mhd.ParseOptions{ContentTypes: o.ContentTypes}.ContentTypeAccepted(ct)
}

// registryObjects reads the RegistryObjectList of a SubmitObjectsRequest.
func registryObjects(sor *node, lim Limits) ([]*object, error) {
	list := sor.child(nsRIM, "RegistryObjectList")
	if list == nil {
		return nil, &Errors{List: []RegistryError{{Code: ErrRegistryMetadata, Context: "SubmitObjectsRequest has no rim:RegistryObjectList", Location: "SubmitObjectsRequest"}}}
	}
	if len(list.Children) > 4*lim.MaxDocuments+lim.MaxSlots {
		return nil, &Errors{List: []RegistryError{{Code: ErrRegistryMetadata, Context: fmt.Sprintf("too many registry objects (at most %d documents)", lim.MaxDocuments), Location: "RegistryObjectList"}}}
	}
	var out []*object
	for _, c := range list.Children {
		if c.Space != nsRIM {
			continue
		}
		o, err := readObject(c, lim)
		if err != nil {
			return nil, &Errors{List: []RegistryError{{Code: ErrRegistryMetadata, Context: err.Error(), Location: c.Local}}}
		}
		out = append(out, o)
	}
	return out, nil
}

// submission is a SubmitObjectsRequest sorted out.
type submission struct {
	set     *object
	docs    []*object
	assocs  []*object
	folders []*object
}

func sortObjects(objs []*object, l *errorList) submission {
	var s submission
	setIDs := map[string]bool{}
	folderIDs := map[string]bool{}
	for _, o := range objs {
		if o.Kind == "Classification" {
			switch o.ClassificationNode {
			case nodeSubmissionSet:
				setIDs[o.ClassifiedObject] = true
			case nodeFolder:
				folderIDs[o.ClassifiedObject] = true
			}
		}
		if o.Kind == "RegistryPackage" {
			for _, c := range o.Classifications {
				switch c.ClassificationNode {
				case nodeSubmissionSet:
					setIDs[o.ID] = true
				case nodeFolder:
					folderIDs[o.ID] = true
				}
			}
		}
	}
	for _, o := range objs {
		switch o.Kind {
		case "ExtrinsicObject":
			s.docs = append(s.docs, o)
		case "Association":
			s.assocs = append(s.assocs, o)
		case "RegistryPackage":
			switch {
			case setIDs[o.ID] && s.set == nil:
				s.set = o
			case setIDs[o.ID]:
				l.add(ErrRegistryMetadata, "RegistryPackage["+o.ID+"]", "a submission holds exactly one SubmissionSet")
			case folderIDs[o.ID]:
				s.folders = append(s.folders, o)
				l.add(ErrRegistryMetadata, "RegistryPackage["+o.ID+"]", "folders are not supported")
			default:
				l.add(ErrRegistryMetadata, "RegistryPackage["+o.ID+"]", "a RegistryPackage that is neither SubmissionSet nor Folder")
			}
		case "Classification", "ObjectRef":
		default:
			l.add(ErrRegistryMetadata, o.Kind, "unexpected registry object "+o.Kind)
		}
	}
	if s.set == nil {
		l.add(ErrRegistryMetadata, "RegistryObjectList", "no SubmissionSet (a RegistryPackage classified by urn:uuid:a54d6aa5-d40d-43f9-88c5-b4633d873bdd)")
	}
	return s
}

// readSet reads the SubmissionSet: its patient and set metadata.
func readSet(o *object, l *errorList) (carnet.SubmissionSet, carnet.Identifier, string) {
	path := "RegistryPackage[" + o.ID + "]"
	var set carnet.SubmissionSet
	set.Title = o.Name
	if v, ok := o.extID(idSetUniqueID); ok && v != "" {
		set.UniqueID = carnet.NormalizeIdentifier(v)
	} else {
		l.add(ErrRegistryMetadata, path+".uniqueId", "XDSSubmissionSet.uniqueId is required")
	}
	if v, ok := o.extID(idSetSourceID); ok && v != "" {
		set.SourceID = carnet.NormalizeIdentifier(v)
	} else {
		l.add(ErrRegistryMetadata, path+".sourceId", "XDSSubmissionSet.sourceId is required")
	}
	var patient carnet.Identifier
	if v, ok := o.extID(idSetPatientID); ok {
		id, ok := cxIdentifier(v)
		if !ok {
			l.add(ErrRegistryMetadata, path+".patientId", "XDSSubmissionSet.patientId is not a CX value^^^&OID&ISO")
		}
		patient = id
	} else {
		l.add(ErrRegistryMetadata, path+".patientId", "XDSSubmissionSet.patientId is required")
	}
	set.Date = dtmSlot(o, l, path, "submissionTime", true)
	if cs := o.classified(schemeContentType); len(cs) > 0 {
		set.ContentType = coded(cs[0])
	}
	for _, c := range o.classified(schemeSetAuthor) {
		set.Authors = append(set.Authors, authorOf(c))
	}
	return set, patient, path
}

// dtmSlot reads the HL7 DTM of o's slot name (zero when absent), noting
// in l a value that is not one, or its absence when required.
func dtmSlot(o *object, l *errorList, path, name string, required bool) time.Time {
	v := o.slot1(name)
	if v == "" {
		if required {
			l.add(ErrRegistryMetadata, path+"."+name, name+" is required")
		}
		return time.Time{}
	}
	t, ok := dtm(v)
	if !ok {
		l.add(ErrRegistryMetadata, path+"."+name, name+" is not an HL7 DTM (YYYYMMDDhhmmss)")
	}
	return t
}

// readEntry reads one DocumentEntry into a submitted document (content
// attached later).
func readEntry(o *object, patient carnet.Identifier, opts ParseOptions, l *errorList) carnet.SubmittedDocument {
	path := "ExtrinsicObject[" + o.ID + "]"
	sd := carnet.SubmittedDocument{Path: path, FullURL: o.ID}
	m := &sd.Meta
	if o.ObjectType == objectTypeOnDemand {
		l.add(ErrRegistryMetadata, path+".objectType", "on-demand documents are not supported")
	} else if o.ObjectType != "" && o.ObjectType != objectTypeStable {
		l.add(ErrRegistryMetadata, path+".objectType", "objectType must be the stable DocumentEntry urn:uuid:7edca82f-054d-47f2-a032-9b2a5b5186c1")
	}
	if v, ok := o.extID(idDocUniqueID); ok && v != "" {
		sd.UniqueID = carnet.NormalizeIdentifier(v)
		if len(sd.UniqueID) > 256 {
			l.add(ErrRegistryMetadata, path+".uniqueId", "the uniqueId is longer than 256 characters")
		}
	} else {
		l.add(ErrRegistryMetadata, path+".uniqueId", "XDSDocumentEntry.uniqueId is required")
	}
	if v, ok := o.extID(idDocPatientID); ok {
		if id, ok := cxIdentifier(v); !ok || id != patient {
			l.add(ErrPatientIDMismatch, path+".patientId", "XDSDocumentEntry.patientId differs from the SubmissionSet's")
		}
	} else {
		l.add(ErrRegistryMetadata, path+".patientId", "XDSDocumentEntry.patientId is required")
	}
	if o.Status != "" && o.Status != statusApproved && o.Status != "Approved" && !strings.HasSuffix(o.Status, ":Submitted") {
		l.add(ErrRegistryMetadata, path+".status", "a submitted document is Approved")
	}
	m.Title, m.Description = o.Name, o.Desc
	m.ContentType = o.MimeType
	switch {
	case o.MimeType == "":
		l.add(ErrRegistryMetadata, path+".mimeType", "mimeType is required")
	case !opts.contentTypeOK(o.MimeType):
		l.add(ErrRegistryMetadata, path+".mimeType", fmt.Sprintf("the media type %q is not accepted", clip(o.MimeType)))
	}
	one := func(scheme, what string) carnet.Coding {
		cs := o.classified(scheme)
		switch {
		case len(cs) == 0:
			l.add(ErrRegistryMetadata, path+"."+what, what+" is required")
			return carnet.Coding{}
		case len(cs) > 1:
			l.add(ErrRegistryMetadata, path+"."+what, what+" is given more than once")
		}
		return coded(cs[0])
	}
	optional := func(scheme, what string) carnet.Coding {
		if cs := o.classified(scheme); len(cs) == 1 {
			return coded(cs[0])
		} else if len(cs) > 1 {
			l.add(ErrRegistryMetadata, path+"."+what, what+" is given more than once")
		}
		return carnet.Coding{}
	}
	m.Class = one(schemeClass, "classCode")
	m.Type = one(schemeType, "typeCode")
	m.Format = one(schemeFormat, "formatCode")
	m.Facility = optional(schemeFacility, "healthcareFacilityTypeCode")
	m.PracticeSetting = optional(schemePractice, "practiceSettingCode")
	for _, c := range o.classified(schemeConfidentiality) {
		m.Confidentiality = append(m.Confidentiality, coded(c))
	}
	if len(m.Confidentiality) == 0 {
		l.add(ErrRegistryMetadata, path+".confidentialityCode", "confidentialityCode is required")
	}
	for _, c := range o.classified(schemeEvent) {
		m.Events = append(m.Events, coded(c))
	}
	authors := o.classified(schemeDocAuthor)
	if len(authors) > 32 {
		l.add(ErrRegistryMetadata, path+".author", "at most 32 authors")
	}
	for _, c := range authors {
		m.Authors = append(m.Authors, authorOf(c))
	}
	m.Created = dtmSlot(o, l, path, "creationTime", true)
	m.ServicePeriod.Start = dtmSlot(o, l, path, "serviceStartTime", false)
	m.ServicePeriod.End = dtmSlot(o, l, path, "serviceStopTime", false)
	if !m.ServicePeriod.End.IsZero() && m.ServicePeriod.End.Before(m.ServicePeriod.Start) {
		l.add(ErrRegistryMetadata, path+".serviceStopTime", "serviceStopTime is before serviceStartTime")
	}
	m.Language = o.slot1("languageCode")
	if v := o.slot1("sourcePatientId"); v != "" {
		if id, ok := cxIdentifier(v); ok {
			m.SourcePatientID = id
		}
	}
	if v := o.slot1("legalAuthenticator"); v != "" {
		var a carnet.Author
		xcnAuthor(v, &a)
		m.LegalAuthenticator = &a
	}
	refs := o.slot("referenceIdList")
	for _, r := range refs {
		f := strings.Split(r, "^")
		id, ok := cxIdentifier(r)
		if !ok || len(f) < 5 || f[4] == "" {
			l.add(ErrRegistryMetadata, path+".referenceIdList", "referenceIdList values are CXi: value^^^&OID&ISO^type")
			continue
		}
		m.References = append(m.References, carnet.ReferenceID{Type: f[4], ID: id})
	}
	return sd
}

// attach checks a document's bytes against the hash and size slots and
// fills them.
func attach(sd *carnet.SubmittedDocument, o *object, data []byte, l *errorList) {
	m := &sd.Meta
	if v := o.slot1("size"); v != "" {
		if n, err := strconv.ParseInt(v, 10, 64); err != nil || n != int64(len(data)) {
			l.add(ErrRepositoryMetadata, sd.Path+".size", fmt.Sprintf("size %s is not the document's %d bytes", clip(v), len(data)))
		}
	}
	s1 := sha1.Sum(data)
	if v := o.slot1("hash"); v != "" {
		h, err := hex.DecodeString(v)
		if err != nil || len(h) != sha1.Size || subtle.ConstantTimeCompare(h, s1[:]) != 1 {
			l.add(ErrRepositoryMetadata, sd.Path+".hash", "hash is not the SHA-1 of the document")
		}
	}
	s256 := sha256.Sum256(data)
	m.Size, m.SHA1, m.SHA256 = int64(len(data)), s1[:], s256[:]
	sd.Content = data
}

// ParseProvide reads an ITI-41 ProvideAndRegisterDocumentSetRequest into a
// submission. Every problem is reported at once, each with its IHE code
// and location.
func ParseProvide(m *Message, opts ParseOptions) (carnet.Submission, error) {
	lim := opts.Limits.withDefaults()
	var sub carnet.Submission
	sor := m.Body.child(nsLCM, "SubmitObjectsRequest")
	if sor == nil {
		return sub, &Errors{List: []RegistryError{{Code: ErrRegistryMetadata, Context: "ProvideAndRegisterDocumentSetRequest has no lcm:SubmitObjectsRequest", Location: "ProvideAndRegisterDocumentSetRequest"}}}
	}
	objs, err := registryObjects(sor, lim)
	if err != nil {
		return sub, err
	}
	l := &errorList{}
	s := sortObjects(objs, l)
	if s.set == nil {
		return sub, l.err()
	}
	sub.Set, sub.Patient, sub.SetPath = readSet(s.set, l)
	sub.PatientPath = sub.SetPath + ".patientId"
	docs := m.Body.all(nsXDS, "Document")
	if len(s.docs) > lim.MaxDocuments || len(docs) > lim.MaxDocuments {
		l.add(ErrRegistryMetadata, "RegistryObjectList", fmt.Sprintf("at most %d documents in one submission", lim.MaxDocuments))
		return sub, l.err()
	}
	content := map[string]*node{}
	for _, d := range docs {
		id := d.attr("id")
		if _, dup := content[id]; dup {
			l.add(ErrRepositoryMetadata, "Document["+id+"]", "two Document elements have the same id")
		}
		content[id] = d
	}
	byID := map[string]int{}
	for _, o := range s.docs {
		sd := readEntry(o, sub.Patient, opts, l)
		if _, dup := byID[o.ID]; dup || o.ID == "" {
			l.add(ErrRegistryMetadata, sd.Path, "each ExtrinsicObject needs its own id")
		}
		byID[o.ID] = len(sub.Documents)
		d, ok := content[o.ID]
		if !ok {
			l.add(ErrMissingDocument, sd.Path, "no Document element carries the content of DocumentEntry "+clip(o.ID))
		} else {
			data, err := m.content(d)
			if err != nil {
				l.add(ErrRepositoryMetadata, "Document["+clip(o.ID)+"]", err.Error())
			} else {
				attach(&sd, o, data, l)
			}
			delete(content, o.ID)
		}
		sub.Documents = append(sub.Documents, sd)
	}
	for id := range content {
		l.add(ErrMissingMetadata, "Document["+clip(id)+"]", "a Document without DocumentEntry")
	}
	if left := m.unusedParts(); len(left) > 0 {
		l.add(ErrRepositoryMetadata, "Document", fmt.Sprintf("%d MIME part(s) are included by no Document", len(left)))
	}
	members := map[string]bool{}
	for _, a := range s.assocs {
		path := "Association[" + a.ID + "]"
		switch a.AssocType {
		case assocHasMember:
			if a.Source != s.set.ID {
				l.add(ErrRegistryMetadata, path, "HasMember from another object than the SubmissionSet (folders are not supported)")
				continue
			}
			if _, ok := byID[a.Target]; !ok {
				l.add(ErrRegistryMetadata, path, "HasMember of an object that is not a DocumentEntry of this submission (references to stored documents are not supported)")
				continue
			}
			members[a.Target] = true
		default:
			codes, ok := relationOf[a.AssocType]
			if !ok {
				l.add(ErrRegistryMetadata, path+".associationType", "association type "+clip(a.AssocType)+" is not supported")
				continue
			}
			i, ok := byID[a.Source]
			if !ok {
				l.add(ErrRegistryMetadata, path+".sourceObject", "the source of "+clip(a.AssocType)+" must be a DocumentEntry of this submission")
				continue
			}
			target, isUUID := strings.CutPrefix(a.Target, "urn:uuid:")
			if _, inSub := byID[a.Target]; inSub || !isUUID || target == "" {
				l.add(ErrUnresolvedReference, path+".targetObject", "the target must be the urn:uuid: entryUUID of a stored document")
				continue
			}
			for _, c := range codes {
				sub.Documents[i].Meta.RelatesTo = append(sub.Documents[i].Meta.RelatesTo, carnet.Relation{Code: c, Target: target})
			}
		}
	}
	for _, o := range s.docs {
		if !members[o.ID] {
			l.add(ErrRegistryMetadata, "ExtrinsicObject["+o.ID+"]", "the DocumentEntry is not a member (HasMember) of the SubmissionSet")
		}
	}
	return sub, l.err()
}

// clip bounds a value quoted in a diagnostic.
func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}
