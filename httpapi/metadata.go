package httpapi

import (
	"net/http"

	"github.com/carnet-sante/carnet/fhir"
	"github.com/carnet-sante/carnet/mhd"
)

// metadata is GET /metadata: what this server really implements, no more.
// The MHD part comes from mhd (whose tests keep it in step with the
// parsers); the server adds what it serves besides: the identity feed,
// QEDm resources, ITI-106, and how callers are authenticated.
func (s *Server) metadata(w http.ResponseWriter, r *http.Request) {
	base := s.base(r)
	cs := mhd.CapabilityStatement(base, s.cfg.Version, s.started)
	cs.URL = base + "/metadata"
	cs.Format = append(cs.Format, mediaFHIRXML)
	cs.PatchFormat = append(cs.PatchFormat, mediaFHIRXML)
	cs.Instantiates = append(cs.Instantiates, "https://profiles.ihe.net/PCC/QEDm/CapabilityStatement/IHE.QEDm.Clinical-Data-Source")
	rest := &cs.Rest[0]
	if s.cfg.Secondary != nil {
		cs.Instantiates = append(cs.Instantiates, "http://hl7.org/fhir/uv/bulkdata/CapabilityStatement/bulk-data")
		rest.Documentation += " Secondary use under data permits (docs/SECONDARY.md): Bulk Data $export (system and Group/<permit id>) and $stats for a permit's client (scope permit/<id>), pseudonymised at the source."
	}
	rest.Documentation += " Every request carries an OAuth2 bearer token (OpenID Connect, SMART App Launch v2 scopes, checked per request and per transaction entry); the DMP access rules and the patient's consents decide each access; every access is recorded in a tamper-evident log before anything is served (GET /AuditEvent, /log/checkpoint). Emergency access: X-Purpose-Of-Use BTG (with X-Access-Reason) or ETREAT. The pastille is a CDS Hooks service at /cds-services."
	for i := range rest.Resource {
		if rest.Resource[i].Type == "DocumentReference" {
			rest.Resource[i].Documentation = "ITI-106 Generate Metadata: POST /DocumentReference/$generate-metadata with a Parameters (document: Binary) files a CDA R2 document from its own header. ITI-105 with a CDA may leave out what the header states. Declared metadata contradicting a CDA header (patient, type, authors) is refused."
		}
	}
	yes := true
	rest.Resource = append(rest.Resource,
		qedmResource("Observation", "category (laboratory), code, date"),
		qedmResource("MedicationRequest", "code"),
		qedmResource("Immunization", "code (vaccine-code), date"),
		qedmResource("AllergyIntolerance", "code"),
		qedmResource("Condition", "code"),
		qedmResource("MedicationStatement", "code, date (effective)"),
		qedmResource("Procedure", "code, date"),
		fhir.CapabilityResource{Type: "Consent", Documentation: "The patient's choices (IHE PCF shapes): block, consent, designate, btg, etreat, masked, mask-new, restrict, secondary-use; a professional declares their care relationship (care-team).",
			Interaction: []fhir.CapabilityInteraction{{Code: "search-type"}, {Code: "create"}, {Code: "delete"}}},
		fhir.CapabilityResource{Type: "Communication", Documentation: "The patient's notifications: new documents, first access by a professional, every emergency access.",
			Interaction: []fhir.CapabilityInteraction{{Code: "search-type"}}},
		fhir.CapabilityResource{Type: "AuditEvent", Documentation: "Who accessed the record (IHE BALP), newest first, each with its entry in the tamper-evident log.",
			Interaction: []fhir.CapabilityInteraction{{Code: "search-type"}},
			SearchParam: []fhir.CapabilitySearchParam{{Name: "date", Type: "date"}, {Name: "agent.identifier", Type: "token"}, {Name: "patient.identifier", Type: "token"}}},
		fhir.CapabilityResource{Type: "Patient",
			Interaction:  []fhir.CapabilityInteraction{{Code: "read"}, {Code: "search-type"}, {Code: "update", Documentation: "conditional update on ?identifier= (identity feed)"}},
			UpdateCreate: &yes,
			SearchParam:  []fhir.CapabilitySearchParam{{Name: "identifier", Type: "token", Documentation: "the INS"}},
			Operation:    summaryOperations},
	)
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
