package mhd

import (
	"time"

	"github.com/carnet-sante/carnet/fhir"
)

// Search parameters understood by ParseDocumentSearch and ParseListSearch,
// with their FHIR types. CapabilityStatement advertises exactly these; a
// test keeps the two in step.
var (
	DocumentSearchParams = []fhir.CapabilitySearchParam{
		{Name: "patient", Type: "reference"},
		{Name: "patient.identifier", Type: "token", Documentation: "the patient's INS, urn:oid:1.2.250.1.213.1.4.8|…"},
		{Name: "status", Type: "token", Documentation: "current, superseded, entered-in-error, and Carnet's archived"},
		{Name: "author.given", Type: "string", Documentation: "exact match of the folded name (lower case, no accents): names are blind-indexed"},
		{Name: "author.family", Type: "string", Documentation: "exact match of the folded name (lower case, no accents): names are blind-indexed"},
		{Name: "category", Type: "token"},
		{Name: "creation", Type: "date"},
		{Name: "date", Type: "date"},
		{Name: "event", Type: "token"},
		{Name: "facility", Type: "token"},
		{Name: "format", Type: "token"},
		{Name: "identifier", Type: "token"},
		{Name: "period", Type: "date", Documentation: "matches service periods overlapping the range"},
		{Name: "related", Type: "reference", Documentation: "documents whose relatesTo targets DocumentReference/{id}"},
		{Name: "security-label", Type: "token"},
		{Name: "setting", Type: "token"},
		{Name: "type", Type: "token"},
	}
	ListSearchParams = []fhir.CapabilitySearchParam{
		{Name: "patient", Type: "reference"},
		{Name: "patient.identifier", Type: "token"},
		{Name: "code", Type: "token", Documentation: "submissionset (Carnet has no folders)"},
		{Name: "status", Type: "token"},
		{Name: "date", Type: "date"},
		{Name: "designationType", Type: "token"},
		{Name: "identifier", Type: "token"},
		{Name: "source-id", Type: "token"},
	}
)

// CapabilityStatement describes the MHD server this package implements:
// Document Recipient (ITI-65 transaction, ITI-105 create) and Document
// Responder (ITI-66, ITI-67, ITI-68), with PDSm metadata changes by PATCH.
// It says only what the parsers here accept; version is Carnet's and date
// when the statement was issued.
func CapabilityStatement(base, version string, date time.Time) fhir.CapabilityStatement {
	return fhir.CapabilityStatement{
		Resource:    fhir.Resource{ResourceType: "CapabilityStatement"},
		Name:        "CarnetMHD",
		Title:       "Carnet: IHE MHD 4.2 Document Recipient and Responder (PDSm)",
		Status:      "active",
		Date:        fhir.FormatDateTime(date),
		Publisher:   "Carnet",
		Kind:        "instance",
		FHIRVersion: "4.0.1",
		Format:      []string{"application/fhir+json"},
		PatchFormat: []string{MediaFHIRJSON, MediaJSONPatch},
		Instantiates: []string{
			"https://profiles.ihe.net/ITI/MHD/CapabilityStatement/IHE.MHD.DocumentRecipient",
			"https://profiles.ihe.net/ITI/MHD/CapabilityStatement/IHE.MHD.DocumentResponder",
		},
		Software:       &fhir.CapabilitySoftware{Name: "Carnet", Version: version},
		Implementation: &fhir.CapabilityImplementation{Description: "Carnet health document sharing", URL: base},
		Rest: []fhir.CapabilityRest{{
			Mode:          "server",
			Documentation: "ITI-65 as a transaction Bundle; every error is an OperationOutcome naming the elements at fault.",
			Interaction:   []fhir.CapabilityInteraction{{Code: "transaction", Documentation: "ITI-65 Provide Document Bundle"}},
			Resource: []fhir.CapabilityResource{
				{
					Type:             "DocumentReference",
					SupportedProfile: []string{ProfileDocumentReference},
					Interaction: []fhir.CapabilityInteraction{
						{Code: "read"},
						{Code: "search-type", Documentation: "ITI-67"},
						{Code: "create", Documentation: "ITI-105 Simplified Publish"},
						{Code: "patch", Documentation: "PDSm: status, masking and visibility labels, archiving only"},
					},
					Versioning:  "versioned",
					ReadHistory: new(bool),
					SearchParam: DocumentSearchParams,
				},
				{
					Type:             "List",
					SupportedProfile: []string{ProfileSubmissionSet},
					Interaction:      []fhir.CapabilityInteraction{{Code: "read"}, {Code: "search-type", Documentation: "ITI-66"}},
					SearchParam:      ListSearchParams,
				},
				{
					Type:          "Binary",
					Interaction:   []fhir.CapabilityInteraction{{Code: "read", Documentation: "ITI-68 Retrieve Document"}},
					Documentation: "the document bytes, exactly as submitted",
					UpdateCreate:  new(bool),
				},
			},
		}},
		ImplementationGuide: []string{"https://profiles.ihe.net/ITI/MHD/ImplementationGuide/ihe.iti.mhd"},
		Description:         "An identical ITI-65 resubmission (same SubmissionSet uniqueId) is answered with the original response.",
		Version:             version,
	}
}
