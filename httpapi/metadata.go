package httpapi

import (
	"net/http"

	"github.com/carnet-sante/carnet/fhir"
)

// metadata is GET /metadata: what this server really implements, no more.
func (s *Server) metadata(w http.ResponseWriter, r *http.Request) {
	param := func(name, typ, doc string) fhir.CapabilitySearchParam {
		return fhir.CapabilitySearchParam{Name: name, Type: typ, Documentation: doc}
	}
	read := fhir.CapabilityInteraction{Code: "read"}
	search := fhir.CapabilityInteraction{Code: "search-type"}
	yes := true
	docParams := []fhir.CapabilitySearchParam{
		param("patient", "reference", "Patient/{id}; one of patient or patient.identifier is required"),
		param("patient.identifier", "token", "the INS, system|value"),
		param("status", "token", "current, superseded, entered-in-error (deleted), archived (Carnet); default: all but deleted"),
		param("author.given", "string", "exact match after case and accent folding (names are blind-indexed)"),
		param("author.family", "string", "exact match after case and accent folding (names are blind-indexed)"),
		param("category", "token", "classCode"),
		param("creation", "date", "attachment.creation"),
		param("date", "date", "when the document was registered"),
		param("event", "token", "context.event"),
		param("facility", "token", "context.facilityType"),
		param("format", "token", "content.format"),
		param("identifier", "token", "masterIdentifier or identifier"),
		param("period", "date", "context.period overlaps"),
		param("related", "reference", "relatesTo target"),
		param("security-label", "token", "confidentiality codes"),
		param("setting", "token", "context.practiceSetting"),
		param("type", "token", "type (LOINC)"),
		param("_count", "number", "page size, default 20, max 200"),
	}
	cs := fhir.CapabilityStatement{
		URL:            s.base(r) + "/metadata",
		Name:           "Carnet",
		Title:          "Carnet — secure health document sharing",
		Status:         "active",
		Date:           "2026-11-28",
		Publisher:      "Carnet",
		Kind:           "instance",
		Software:       &fhir.CapabilitySoftware{Name: "Carnet", Version: s.cfg.Version},
		Implementation: &fhir.CapabilityImplementation{Description: "Carnet document sharing server", URL: s.base(r)},
		FHIRVersion:    "4.0.1",
		Format:         []string{"application/fhir+json", "json"},
		PatchFormat:    []string{"application/fhir+json", "application/json-patch+json"},
		Instantiates: []string{
			"https://profiles.ihe.net/ITI/MHD/CapabilityStatement/IHE.MHD.DocumentRecipient",
			"https://profiles.ihe.net/ITI/MHD/CapabilityStatement/IHE.MHD.DocumentResponder",
			"https://profiles.ihe.net/PCC/QEDm/CapabilityStatement/IHE.QEDm.Clinical-Data-Source",
		},
		Rest: []fhir.CapabilityRest{{
			Mode:          "server",
			Documentation: "IHE MHD 4.2 Document Recipient (ITI-65 Comprehensive, ITI-105) and Document Responder (ITI-66, ITI-67, ITI-68); PDSm metadata changes by PATCH. No authentication is configured in this version: every caller acts as one anonymous system and the access policy permits all.",
			Interaction:   []fhir.CapabilityInteraction{{Code: "transaction", Documentation: "ITI-65 Provide Document Bundle: atomic, idempotent on the SubmissionSet uniqueId"}},
			Resource: []fhir.CapabilityResource{
				{Type: "DocumentReference", Interaction: []fhir.CapabilityInteraction{read, search, {Code: "create", Documentation: "ITI-105 Simplified Publish; with a CDA R2 document, metadata left out is read from its header"}, {Code: "patch", Documentation: "PDSm: mask/unmask, visibility, archive, logical delete; each change is a new metadata version"}}, SearchParam: docParams, Versioning: "versioned",
					Documentation: "ITI-106 Generate Metadata: POST /DocumentReference/$generate-metadata with a Parameters (document: Binary) files a CDA R2 document from its own header. Declared metadata contradicting a CDA header (patient, type, authors) is refused."},
				{Type: "List", Interaction: []fhir.CapabilityInteraction{read, search}, SearchParam: []fhir.CapabilitySearchParam{
					param("patient", "reference", ""), param("patient.identifier", "token", ""), param("code", "token", "submissionset (folders are not supported)"),
					param("date", "date", ""), param("identifier", "token", ""), param("source-id", "token", ""), param("designationType", "token", ""), param("status", "token", "current"),
				}},
				{Type: "Binary", Interaction: []fhir.CapabilityInteraction{{Code: "read", Documentation: "ITI-68 Retrieve Document: the original bytes, hash verified"}}},
				qedmResource("Observation", "category (laboratory), code, date"),
				qedmResource("MedicationRequest", "code"),
				qedmResource("Immunization", "code (vaccine-code), date"),
				qedmResource("AllergyIntolerance", "code"),
				qedmResource("Condition", "code"),
				{Type: "Patient", Interaction: []fhir.CapabilityInteraction{read, search, {Code: "update", Documentation: "conditional update on ?identifier= (identity feed)"}}, UpdateCreate: &yes,
					SearchParam: []fhir.CapabilitySearchParam{param("identifier", "token", "the INS")}},
			},
		}},
	}
	s.writeResource(w, http.StatusOK, cs)
}

// qedmResource describes a QEDm resource: items extracted from N3 documents,
// each with its mXDE Provenance.
func qedmResource(typ, params string) fhir.CapabilityResource {
	return fhir.CapabilityResource{
		Type:          typ,
		Documentation: "IHE QEDm: extracted from CDA R2 N3 documents (mXDE); parameters patient or patient.identifier, " + params + ", _revinclude=Provenance:target, _count",
		Interaction:   []fhir.CapabilityInteraction{{Code: "read"}, {Code: "search-type"}},
		SearchParam: []fhir.CapabilitySearchParam{
			{Name: "patient", Type: "reference"}, {Name: "patient.identifier", Type: "token"}, {Name: "code", Type: "token"},
		},
	}
}
