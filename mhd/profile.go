package mhd

import (
	"strings"

	carnet "github.com/carnet-sante/carnet"
)

// Canonical URLs and systems of IHE MHD 4.2 and of Carnet's own extensions.
const (
	ProfileProvideBundle     = "https://profiles.ihe.net/ITI/MHD/StructureDefinition/IHE.MHD.Comprehensive.ProvideBundle"
	ProfileSubmissionSet     = "https://profiles.ihe.net/ITI/MHD/StructureDefinition/IHE.MHD.Comprehensive.SubmissionSet"
	ProfileDocumentReference = "https://profiles.ihe.net/ITI/MHD/StructureDefinition/IHE.MHD.Comprehensive.DocumentReference"
	ProfilePatchParameters   = "https://profiles.ihe.net/ITI/MHD/StructureDefinition/IHE.MHD.Patch.Parameters"

	SystemListTypes = "https://profiles.ihe.net/ITI/MHD/CodeSystem/MHDlistTypes"
	SystemURI       = "urn:ietf:rfc:3986"

	ExtSourceID          = "https://profiles.ihe.net/ITI/MHD/StructureDefinition/ihe-sourceId"
	ExtDesignationType   = "https://profiles.ihe.net/ITI/MHD/StructureDefinition/ihe-designationType"
	ExtIntendedRecipient = "https://profiles.ihe.net/ITI/MHD/StructureDefinition/ihe-intendedRecipient"

	// ExtAvailabilityStatus carries Carnet's "archived" status, which FHIR's
	// DocumentReference.status (current, superseded, entered-in-error) cannot
	// say: an archived document is served with status current and this
	// extension with valueCode "archived" (urn:asip:ci-sis:2010:StatusType:Archived).
	ExtAvailabilityStatus = "https://carnet-sante.fr/fhir/StructureDefinition/availability-status"
	// SystemLogicalID names Carnet's logicalId in DocumentReference.identifier.
	SystemLogicalID = "https://carnet-sante.fr/fhir/NamingSystem/logical-id"

	// SystemVisibility is the code system of the PDSm visibility labels
	// (MASQUE_PS, INVISIBLE_PATIENT, INVISIBLE_REPRESENTANTS_LEGAUX).
	SystemVisibility = "urn:oid:" + carnet.OIDVisibility
)

// DefaultContentTypes are the document media types accepted by default.
var DefaultContentTypes = []string{
	"text/xml", "application/xml", "application/pdf", "text/plain",
	"application/fhir+json", "application/fhir+xml",
}

// Defaults of ParseOptions.
const (
	DefaultMaxBytes     = 64 << 20
	DefaultMaxDocuments = 50
)

// ParseOptions bound and tune the parsing of submissions. The zero value is
// the strict production setting.
type ParseOptions struct {
	MaxBytes     int64    // largest accepted body (DefaultMaxBytes when 0)
	MaxDocuments int      // most documents in one submission (DefaultMaxDocuments when 0)
	ContentTypes []string // accepted attachment media types (DefaultContentTypes when nil)
	// AcceptNonINS lets a subject identifier be something else than an INS
	// (interoperability test benches); off, only INS-NIR/NIA are accepted.
	AcceptNonINS bool
	// AcceptTestINS accepts the test INS OIDs (demo and test mode only).
	AcceptTestINS bool
	// Derivable lets the metadata a CDA header states (uniqueId, type,
	// class, confidentiality, format, creation) be left out: the Service
	// reads them from the document and refuses what is still missing.
	// ITI-105 sets it; ITI-65 carries complete metadata.
	Derivable bool
}

func (o ParseOptions) withDefaults() ParseOptions {
	if o.MaxBytes <= 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	if o.MaxDocuments <= 0 {
		o.MaxDocuments = DefaultMaxDocuments
	}
	if o.ContentTypes == nil {
		o.ContentTypes = DefaultContentTypes
	}
	return o
}

func (o ParseOptions) contentTypeOK(ct string) bool {
	// Parameters such as "; charset=UTF-8" do not change the type.
	base, _, _ := strings.Cut(ct, ";")
	base = strings.ToLower(strings.TrimSpace(base))
	for _, c := range o.ContentTypes {
		if strings.EqualFold(c, base) {
			return true
		}
	}
	return false
}

// ContentTypeAccepted reports whether documents of media type ct are
// accepted (other transports, XDS.b, accept the same).
func (o ParseOptions) ContentTypeAccepted(ct string) bool { return o.withDefaults().contentTypeOK(ct) }

func isOID(s string) bool { return carnet.IsOID(s) }

// bareID strips the urn:oid: prefix: XDS keeps uniqueIds and sourceIds as
// bare OIDs.
func bareID(s string) string { return carnet.NormalizeIdentifier(s) }

// uriID writes an XDS identifier as a URI: urn:oid: for OIDs, as is otherwise.
func uriID(s string) string {
	if isOID(s) {
		return "urn:oid:" + s
	}
	return s
}

// normSystem writes an identifier system the way Carnet keeps it: a bare OID
// becomes urn:oid:…, anything else stays.
func normSystem(s string) string {
	s = strings.TrimSpace(s)
	if isOID(s) {
		return "urn:oid:" + s
	}
	return s
}
