package fhir

import (
	"bytes"
	"encoding/json"
	"strings"
)

// Resource is the header every resource has. Resources embed it; their
// MarshalJSON always writes the right resourceType, whatever the field holds.
type Resource struct {
	ResourceType string     `json:"resourceType"`
	ID           string     `json:"id,omitempty"`
	Meta         *Meta      `json:"meta,omitempty"`
	Language     string     `json:"language,omitempty"`
	Text         *Narrative `json:"text,omitempty"`
}

// MarshalPlain is json.Marshal without HTML escaping: narratives are XHTML,
// and "\u003cdiv" is valid but needlessly unreadable.
func MarshalPlain(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// DocumentReference is the R4 DocumentReference, complete.
type DocumentReference struct {
	Resource
	Contained        []json.RawMessage          `json:"contained,omitempty"`
	Extension        []Extension                `json:"extension,omitempty"`
	MasterIdentifier *Identifier                `json:"masterIdentifier,omitempty"`
	Identifier       []Identifier               `json:"identifier,omitempty"`
	Status           string                     `json:"status,omitempty"`
	DocStatus        string                     `json:"docStatus,omitempty"`
	Type             *CodeableConcept           `json:"type,omitempty"`
	Category         []CodeableConcept          `json:"category,omitempty"`
	Subject          *Reference                 `json:"subject,omitempty"`
	Date             string                     `json:"date,omitempty"`
	Author           []Reference                `json:"author,omitempty"`
	Authenticator    *Reference                 `json:"authenticator,omitempty"`
	Custodian        *Reference                 `json:"custodian,omitempty"`
	RelatesTo        []DocumentReferenceRelates `json:"relatesTo,omitempty"`
	Description      string                     `json:"description,omitempty"`
	SecurityLabel    []CodeableConcept          `json:"securityLabel,omitempty"`
	Content          []DocumentReferenceContent `json:"content,omitempty"`
	Context          *DocumentReferenceContext  `json:"context,omitempty"`
}

// DocumentReferenceRelates is DocumentReference.relatesTo.
type DocumentReferenceRelates struct {
	Code   string    `json:"code,omitempty"`
	Target Reference `json:"target"`
}

// DocumentReferenceContent is DocumentReference.content.
type DocumentReferenceContent struct {
	Attachment Attachment `json:"attachment"`
	Format     *Coding    `json:"format,omitempty"`
}

// DocumentReferenceContext is DocumentReference.context.
type DocumentReferenceContext struct {
	Encounter         []Reference       `json:"encounter,omitempty"`
	Event             []CodeableConcept `json:"event,omitempty"`
	Period            *Period           `json:"period,omitempty"`
	FacilityType      *CodeableConcept  `json:"facilityType,omitempty"`
	PracticeSetting   *CodeableConcept  `json:"practiceSetting,omitempty"`
	SourcePatientInfo *Reference        `json:"sourcePatientInfo,omitempty"`
	Related           []Reference       `json:"related,omitempty"`
}

func (d DocumentReference) MarshalJSON() ([]byte, error) { return d.AppendJSON(nil, false) }

// ResolveContained returns the contained resource that ref ("#id") points to.
func (d *DocumentReference) ResolveContained(ref string) (Contained, bool) {
	return ResolveContained(d.Contained, ref)
}

// List is the R4 List, with the elements and extensions of the MHD
// SubmissionSet (designationType, sourceId, intendedRecipient).
type List struct {
	Resource
	Contained  []json.RawMessage `json:"contained,omitempty"`
	Extension  []Extension       `json:"extension,omitempty"`
	Identifier []Identifier      `json:"identifier,omitempty"`
	Status     string            `json:"status,omitempty"`
	Mode       string            `json:"mode,omitempty"`
	Title      string            `json:"title,omitempty"`
	Code       *CodeableConcept  `json:"code,omitempty"`
	Subject    *Reference        `json:"subject,omitempty"`
	Date       string            `json:"date,omitempty"`
	Source     *Reference        `json:"source,omitempty"`
	Note       []Annotation      `json:"note,omitempty"`
	Entry      []ListEntry       `json:"entry,omitempty"`
}

// ListEntry is List.entry.
type ListEntry struct {
	Item Reference `json:"item"`
}

// Annotation is the FHIR Annotation datatype (text only).
type Annotation struct {
	Text string `json:"text,omitempty"`
}

func (l List) MarshalJSON() ([]byte, error) {
	type plain List
	p := plain(l)
	p.ResourceType = "List"
	return MarshalPlain(p)
}

// ResolveContained returns the contained resource that ref ("#id") points to.
func (l *List) ResolveContained(ref string) (Contained, bool) {
	return ResolveContained(l.Contained, ref)
}

// Binary is the R4 Binary.
type Binary struct {
	Resource
	ContentType     string       `json:"contentType,omitempty"`
	SecurityContext *Reference   `json:"securityContext,omitempty"`
	Data            Base64Binary `json:"data,omitempty"`
}

func (b Binary) MarshalJSON() ([]byte, error) {
	type plain Binary
	p := plain(b)
	p.ResourceType = "Binary"
	return MarshalPlain(p)
}

// Bundle is the R4 Bundle. Entry resources stay raw: the reader decides what
// each one is, and keeps the bytes as submitted.
type Bundle struct {
	Resource
	Identifier *Identifier   `json:"identifier,omitempty"`
	Type       string        `json:"type,omitempty"`
	Timestamp  string        `json:"timestamp,omitempty"`
	Total      *int          `json:"total,omitempty"`
	Link       []BundleLink  `json:"link,omitempty"`
	Entry      []BundleEntry `json:"entry,omitempty"`
}

// BundleLink is Bundle.link.
type BundleLink struct {
	Relation string `json:"relation"`
	URL      string `json:"url"`
}

// BundleEntry is Bundle.entry.
type BundleEntry struct {
	FullURL  string          `json:"fullUrl,omitempty"`
	Resource json.RawMessage `json:"resource,omitempty"`
	Search   *BundleSearch   `json:"search,omitempty"`
	Request  *BundleRequest  `json:"request,omitempty"`
	Response *BundleResponse `json:"response,omitempty"`
	Link     []BundleLink    `json:"link,omitempty"`
	// Encoded says Resource was written by this package's encoders
	// (AppendJSON): valid by construction, it is not checked again when
	// the Bundle is written. Never set it for bytes received.
	Encoded bool `json:"-"`
}

// BundleSearch is Bundle.entry.search.
type BundleSearch struct {
	Mode  string   `json:"mode,omitempty"`
	Score *float64 `json:"score,omitempty"`
}

// BundleRequest is Bundle.entry.request.
type BundleRequest struct {
	Method          string `json:"method,omitempty"`
	URL             string `json:"url,omitempty"`
	IfNoneMatch     string `json:"ifNoneMatch,omitempty"`
	IfModifiedSince string `json:"ifModifiedSince,omitempty"`
	IfMatch         string `json:"ifMatch,omitempty"`
	IfNoneExist     string `json:"ifNoneExist,omitempty"`
}

// BundleResponse is Bundle.entry.response.
type BundleResponse struct {
	Status       string          `json:"status"`
	Location     string          `json:"location,omitempty"`
	Etag         string          `json:"etag,omitempty"`
	LastModified string          `json:"lastModified,omitempty"`
	Outcome      json.RawMessage `json:"outcome,omitempty"`
}

// MarshalJSON writes the entries' resources as they are: they were encoded
// by Carnet (or received and kept) and encoding/json would otherwise
// re-validate and re-compact every byte of them, which dominated the cost of
// a search response.
func (b Bundle) MarshalJSON() ([]byte, error) { return b.AppendJSON(nil) }

// Patient is the R4 Patient, the elements Carnet reads or writes.
type Patient struct {
	Resource
	Extension  []Extension  `json:"extension,omitempty"`
	Identifier []Identifier `json:"identifier,omitempty"`
	Active     *bool        `json:"active,omitempty"`
	Name       []HumanName  `json:"name,omitempty"`
	Gender     string       `json:"gender,omitempty"`
	BirthDate  string       `json:"birthDate,omitempty"`
}

func (p Patient) MarshalJSON() ([]byte, error) { return p.AppendJSON(nil, false) }

// Practitioner is the R4 Practitioner, the elements an XDS author uses.
type Practitioner struct {
	Resource
	Identifier []Identifier `json:"identifier,omitempty"`
	Name       []HumanName  `json:"name,omitempty"`
}

func (p Practitioner) MarshalJSON() ([]byte, error) { return p.AppendJSON(nil, false) }

// PractitionerRole is the R4 PractitionerRole: profession and specialty of
// an author, in an organisation.
type PractitionerRole struct {
	Resource
	Identifier   []Identifier      `json:"identifier,omitempty"`
	Practitioner *Reference        `json:"practitioner,omitempty"`
	Organization *Reference        `json:"organization,omitempty"`
	Code         []CodeableConcept `json:"code,omitempty"`
	Specialty    []CodeableConcept `json:"specialty,omitempty"`
}

func (p PractitionerRole) MarshalJSON() ([]byte, error) { return p.AppendJSON(nil, false) }

// Organization is the R4 Organization (FINESS identifier, name).
type Organization struct {
	Resource
	Identifier []Identifier `json:"identifier,omitempty"`
	Name       string       `json:"name,omitempty"`
}

func (o Organization) MarshalJSON() ([]byte, error) { return o.AppendJSON(nil, false) }

// Device is the R4 Device, as an author (software).
type Device struct {
	Resource
	Identifier []Identifier `json:"identifier,omitempty"`
	DeviceName []struct {
		Name string `json:"name,omitempty"`
		Type string `json:"type,omitempty"`
	} `json:"deviceName,omitempty"`
}

// Contained is a contained resource resolved by id: exactly one of the
// typed pointers is set for the types Carnet understands; Raw always holds
// the resource as sent.
type Contained struct {
	ResourceType     string
	ID               string
	Raw              json.RawMessage
	Practitioner     *Practitioner
	PractitionerRole *PractitionerRole
	Patient          *Patient
	Organization     *Organization
	Device           *Device
}

// ResolveContained finds the resource of contained that a local reference
// ("#id") designates and decodes it into its typed form. It reports false
// for a reference that is not local, or when no resource has that id or the
// resource does not decode.
func ResolveContained(contained []json.RawMessage, ref string) (Contained, bool) {
	id, ok := strings.CutPrefix(ref, "#")
	if !ok || id == "" {
		return Contained{}, false
	}
	for _, raw := range contained {
		var h Resource
		if json.Unmarshal(raw, &h) != nil || h.ID != id {
			continue
		}
		c := Contained{ResourceType: h.ResourceType, ID: h.ID, Raw: raw}
		var err error
		switch h.ResourceType {
		case "Practitioner":
			c.Practitioner = new(Practitioner)
			err = json.Unmarshal(raw, c.Practitioner)
		case "PractitionerRole":
			c.PractitionerRole = new(PractitionerRole)
			err = json.Unmarshal(raw, c.PractitionerRole)
		case "Patient":
			c.Patient = new(Patient)
			err = json.Unmarshal(raw, c.Patient)
		case "Organization":
			c.Organization = new(Organization)
			err = json.Unmarshal(raw, c.Organization)
		case "Device":
			c.Device = new(Device)
			err = json.Unmarshal(raw, c.Device)
		}
		if err != nil {
			return Contained{}, false
		}
		return c, true
	}
	return Contained{}, false
}

// Parameters is the R4 Parameters resource, as used by FHIRPath Patch.
type Parameters struct {
	Resource
	Parameter []ParametersParameter `json:"parameter,omitempty"`
}

// ParametersParameter is Parameters.parameter, with the value[x] types that
// FHIRPath Patch operations on a DocumentReference use.
type ParametersParameter struct {
	Name                 string                `json:"name"`
	ValueString          *string               `json:"valueString,omitempty"`
	ValueCode            *string               `json:"valueCode,omitempty"`
	ValueURI             *string               `json:"valueUri,omitempty"`
	ValueBoolean         *bool                 `json:"valueBoolean,omitempty"`
	ValueInteger         *int64                `json:"valueInteger,omitempty"`
	ValueCoding          *Coding               `json:"valueCoding,omitempty"`
	ValueCodeableConcept *CodeableConcept      `json:"valueCodeableConcept,omitempty"`
	ValueIdentifier      *Identifier           `json:"valueIdentifier,omitempty"`
	ValueReference       *Reference            `json:"valueReference,omitempty"`
	Resource             json.RawMessage       `json:"resource,omitempty"`
	Part                 []ParametersParameter `json:"part,omitempty"`
}

func (p Parameters) MarshalJSON() ([]byte, error) {
	type plain Parameters
	q := plain(p)
	q.ResourceType = "Parameters"
	return MarshalPlain(q)
}

// OperationOutcome is the R4 OperationOutcome.
type OperationOutcome struct {
	Resource
	Issue []OperationOutcomeIssue `json:"issue"`
}

// OperationOutcomeIssue is OperationOutcome.issue.
type OperationOutcomeIssue struct {
	Severity    string           `json:"severity"`
	Code        string           `json:"code"`
	Details     *CodeableConcept `json:"details,omitempty"`
	Diagnostics string           `json:"diagnostics,omitempty"`
	Expression  []string         `json:"expression,omitempty"`
}

func (o OperationOutcome) MarshalJSON() ([]byte, error) {
	type plain OperationOutcome
	q := plain(o)
	q.ResourceType = "OperationOutcome"
	if q.Issue == nil {
		q.Issue = []OperationOutcomeIssue{}
	}
	return MarshalPlain(q)
}

func (d Device) MarshalJSON() ([]byte, error) {
	type plain Device
	q := plain(d)
	q.ResourceType = "Device"
	return MarshalPlain(q)
}
