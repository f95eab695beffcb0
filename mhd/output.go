package mhd

import (
	"encoding/json"
	"strconv"
	"strings"

	carnet "github.com/carnet-sante/carnet"
	"github.com/carnet-sante/carnet/fhir"
)

// DocumentReference renders one stored metadata version as the MHD
// Comprehensive DocumentReference served by ITI-67 and read:
//
//   - id is the version's id (entryUUID); meta.versionId its version;
//   - masterIdentifier is the uniqueId (urn:oid: form for an OID);
//   - identifier holds the entryUUID (urn:uuid:, use official), the
//     logicalId (system SystemLogicalID, use usual) and the producer's other
//     identifiers (use secondary);
//   - status: current -> current, superseded -> superseded, deleted ->
//     entered-in-error, archived -> current plus the extension
//     ExtAvailabilityStatus valueCode archived;
//   - authors are contained (Practitioner, PractitionerRole, Organization or
//     Patient) and referenced as #id; the producer's patient is contained as
//     sourcePatientInfo;
//   - content.attachment.url is base/Binary/{contentId}, with size and the
//     SHA-1 hash.
//
// FHIRID is a document's FHIR id: its logicalId, stable across metadata
// versions (meta.versionId counts them); the XDS entryUUID of a version is
// carried as the official identifier urn:uuid:… (docs/MHD.md).
func FHIRID(d carnet.Document) string {
	if d.LogicalID != "" {
		return d.LogicalID
	}
	return d.ID
}

func DocumentReference(d carnet.Document, base string) fhir.DocumentReference {
	base = strings.TrimSuffix(base, "/")
	m := &d.Meta
	dr := fhir.DocumentReference{
		Resource: fhir.Resource{
			ResourceType: "DocumentReference",
			ID:           FHIRID(d),
			Meta: &fhir.Meta{
				VersionID:   strconv.Itoa(d.Version),
				LastUpdated: fhir.FormatDateTime(d.Date),
				Profile:     []string{ProfileDocumentReference},
			},
		},
		Description: m.Description,
		Date:        fhir.FormatDateTime(d.Date),
	}
	if d.UniqueID != "" {
		dr.MasterIdentifier = &fhir.Identifier{System: SystemURI, Value: uriID(d.UniqueID)}
	}
	if d.ID != "" {
		dr.Identifier = append(dr.Identifier, fhir.Identifier{Use: "official", System: SystemURI, Value: "urn:uuid:" + d.ID})
	}
	if d.LogicalID != "" {
		dr.Identifier = append(dr.Identifier, fhir.Identifier{Use: "usual", System: SystemLogicalID, Value: d.LogicalID})
	}
	for _, id := range m.Identifiers {
		dr.Identifier = append(dr.Identifier, fhir.Identifier{Use: "secondary", System: id.System, Value: id.Value})
	}
	switch d.Status {
	case carnet.StatusSuperseded:
		dr.Status = "superseded"
	case carnet.StatusDeleted:
		dr.Status = "entered-in-error"
	case carnet.StatusArchived:
		dr.Status = "current"
		archived := "archived"
		dr.Extension = append(dr.Extension, fhir.Extension{URL: ExtAvailabilityStatus, ValueCode: &archived})
	default:
		dr.Status = "current"
	}
	dr.Type = concept(m.Type)
	if c := concept(m.Class); c != nil {
		dr.Category = []fhir.CodeableConcept{*c}
	}
	if d.Patient != "" {
		dr.Subject = &fhir.Reference{Reference: "Patient/" + string(d.Patient)}
	}
	dr.Contained, dr.Author = containAuthors(m.Authors, "author")
	if la := m.LegalAuthenticator; la != nil {
		c, refs := containAuthors([]carnet.Author{*la}, "authenticator")
		if len(refs) == 1 {
			dr.Contained = append(dr.Contained, c...)
			dr.Authenticator = &refs[0]
		}
	}
	for _, r := range m.RelatesTo {
		dr.RelatesTo = append(dr.RelatesTo, fhir.DocumentReferenceRelates{Code: r.Code, Target: fhir.Reference{Reference: "DocumentReference/" + r.Target}})
	}
	for _, c := range m.Confidentiality {
		if cc := concept(c); cc != nil {
			dr.SecurityLabel = append(dr.SecurityLabel, *cc)
		}
	}
	att := fhir.Attachment{
		ContentType: m.ContentType,
		Language:    m.Language,
		Title:       m.Title,
		Hash:        m.SHA1,
		Creation:    fhir.FormatDateTime(m.Created),
	}
	if d.ContentID != "" {
		att.URL = base + "/Binary/" + d.ContentID
	}
	if m.Size > 0 || len(m.SHA1) > 0 {
		size := m.Size
		att.Size = &size
	}
	content := fhir.DocumentReferenceContent{Attachment: att}
	if m.Format.Code != "" {
		f := fhir.Coding{System: m.Format.System, Code: m.Format.Code, Display: m.Format.Display}
		content.Format = &f
	}
	dr.Content = []fhir.DocumentReferenceContent{content}

	ctx := fhir.DocumentReferenceContext{
		FacilityType:    concept(m.Facility),
		PracticeSetting: concept(m.PracticeSetting),
	}
	for _, e := range m.Events {
		if cc := concept(e); cc != nil {
			ctx.Event = append(ctx.Event, *cc)
		}
	}
	if !m.ServicePeriod.Start.IsZero() || !m.ServicePeriod.End.IsZero() {
		ctx.Period = &fhir.Period{Start: fhir.FormatDateTime(m.ServicePeriod.Start), End: fhir.FormatDateTime(m.ServicePeriod.End)}
	}
	for _, ref := range m.References {
		// XDS referenceIdList: the identifier, typed by its JDV_J197 code.
		ctx.Related = append(ctx.Related, fhir.Reference{Identifier: &fhir.Identifier{
			Type:   &fhir.CodeableConcept{Coding: []fhir.Coding{{System: carnet.SystemReferenceIDType, Code: ref.Type}}},
			System: ref.ID.System, Value: ref.ID.Value,
		}})
	}
	if raw := containedPatient(m.SourcePatientRaw, "source-patient"); raw != nil {
		dr.Contained = append(dr.Contained, raw)
		ctx.SourcePatientInfo = &fhir.Reference{Reference: "#source-patient"}
	}
	if ctx.FacilityType != nil || ctx.PracticeSetting != nil || len(ctx.Event) > 0 || ctx.Period != nil || ctx.SourcePatientInfo != nil || len(ctx.Related) > 0 {
		dr.Context = &ctx
	}
	return dr
}

// List renders a submission set as an MHD Comprehensive SubmissionSet
// (ITI-66 and read). References to its documents are relative to base,
// the server's FHIR base, as FHIR resolves them.
func List(s carnet.SubmissionSet, base string) fhir.List {
	_ = base // references are relative: List/{id} resolves against base
	l := fhir.List{
		Resource: fhir.Resource{
			ResourceType: "List",
			ID:           s.ID,
			Meta:         &fhir.Meta{Profile: []string{ProfileSubmissionSet}},
		},
		Status: "current",
		Mode:   "working",
		Title:  s.Title,
		Code:   &fhir.CodeableConcept{Coding: []fhir.Coding{{System: SystemListTypes, Code: "submissionset"}}},
		Date:   fhir.FormatDateTime(s.Date),
	}
	if s.SourceID != "" {
		l.Extension = append(l.Extension, fhir.Extension{URL: ExtSourceID, ValueIdentifier: &fhir.Identifier{System: SystemURI, Value: uriID(s.SourceID)}})
	}
	if c := concept(s.ContentType); c != nil {
		l.Extension = append(l.Extension, fhir.Extension{URL: ExtDesignationType, ValueCodeableConcept: c})
	}
	if s.UniqueID != "" {
		l.Identifier = append(l.Identifier, fhir.Identifier{Use: "usual", System: SystemURI, Value: uriID(s.UniqueID)})
	}
	if s.ID != "" {
		l.Identifier = append(l.Identifier, fhir.Identifier{Use: "official", System: SystemURI, Value: "urn:uuid:" + s.ID})
	}
	if s.Patient != "" {
		l.Subject = &fhir.Reference{Reference: "Patient/" + string(s.Patient)}
	}
	if len(s.Authors) > 0 {
		var refs []fhir.Reference
		l.Contained, refs = containAuthors(s.Authors[:1], "source")
		if len(refs) > 0 {
			l.Source = &refs[0]
		}
	}
	for _, id := range s.Documents {
		l.Entry = append(l.Entry, fhir.ListEntry{Item: fhir.Reference{Reference: "DocumentReference/" + id}})
	}
	return l
}

func concept(c carnet.Coding) *fhir.CodeableConcept {
	if c.Code == "" {
		return nil
	}
	return &fhir.CodeableConcept{Coding: []fhir.Coding{{System: c.System, Code: c.Code, Display: c.Display}}}
}

func identifiers(id carnet.Identifier) []fhir.Identifier {
	if id.Value == "" {
		return nil
	}
	return []fhir.Identifier{{System: id.System, Value: id.Value}}
}

func humanNames(family string, given []string) []fhir.HumanName {
	if family == "" && len(given) == 0 {
		return nil
	}
	return []fhir.HumanName{{Family: family, Given: given}}
}

// containAuthors writes authors as contained resources, the shape MHD
// Comprehensive metadata has: a professional with a profession, specialty,
// role or organisation is a PractitionerRole pointing to a Practitioner and
// an Organization; otherwise a Practitioner, or a Patient for an author
// identified by an INS, or an Organization alone.
func containAuthors(authors []carnet.Author, prefix string) ([]json.RawMessage, []fhir.Reference) {
	var contained []json.RawMessage
	var refs []fhir.Reference
	// Each resource is what json.Marshal wrote before the hand-written
	// encoders (HTML-escaped): the same bytes as ever.
	add := func(v interface {
		AppendJSON([]byte, bool) ([]byte, error)
	}) {
		if b, err := v.AppendJSON(nil, true); err == nil {
			contained = append(contained, b)
		}
	}
	for i, a := range authors {
		id := prefix + strconv.Itoa(i+1)
		res := func(typ, rid string) fhir.Resource { return fhir.Resource{ResourceType: typ, ID: rid} }
		person := a.ID.Value != "" || a.Family != "" || len(a.Given) > 0
		hasOrg := a.Org != "" || a.OrgID.Value != ""
		ins, _ := a.ID.IsINS()
		switch {
		case ins:
			add(&fhir.Patient{Resource: res("Patient", id), Identifier: identifiers(a.ID), Name: humanNames(a.Family, a.Given)})
		case a.Profession.Code != "" || a.Specialty.Code != "" || a.Role.Code != "" || (hasOrg && person):
			role := fhir.PractitionerRole{Resource: res("PractitionerRole", id)}
			if person {
				add(&fhir.Practitioner{Resource: res("Practitioner", id+"-practitioner"), Identifier: identifiers(a.ID), Name: humanNames(a.Family, a.Given)})
				role.Practitioner = &fhir.Reference{Reference: "#" + id + "-practitioner"}
			}
			if hasOrg {
				add(&fhir.Organization{Resource: res("Organization", id+"-organization"), Identifier: identifiers(a.OrgID), Name: a.Org})
				role.Organization = &fhir.Reference{Reference: "#" + id + "-organization"}
			}
			// code[0] is the profession and code[1] the role (see readAuthor):
			// a role without a profession keeps its place after an empty one.
			switch prof, r := concept(a.Profession), concept(a.Role); {
			case prof != nil && r != nil:
				role.Code = []fhir.CodeableConcept{*prof, *r}
			case prof != nil:
				role.Code = []fhir.CodeableConcept{*prof}
			case r != nil:
				role.Code = []fhir.CodeableConcept{{Text: "profession not given"}, *r}
			}
			if cc := concept(a.Specialty); cc != nil {
				role.Specialty = []fhir.CodeableConcept{*cc}
			}
			add(&role)
		case person:
			add(&fhir.Practitioner{Resource: res("Practitioner", id), Identifier: identifiers(a.ID), Name: humanNames(a.Family, a.Given)})
		case hasOrg:
			add(&fhir.Organization{Resource: res("Organization", id), Identifier: identifiers(a.OrgID), Name: a.Org})
		default:
			continue
		}
		refs = append(refs, fhir.Reference{Reference: "#" + id})
	}
	return contained, refs
}

// containedPatient returns the producer's Patient resource with its id set
// to id, or nil when raw is not a Patient.
func containedPatient(raw []byte, id string) json.RawMessage {
	if len(raw) == 0 {
		return nil
	}
	var p map[string]json.RawMessage
	if json.Unmarshal(raw, &p) != nil || fhir.PeekResourceType(raw) != "Patient" {
		return nil
	}
	p["id"], _ = json.Marshal(id)
	out, err := json.Marshal(p)
	if err != nil {
		return nil
	}
	return out
}
