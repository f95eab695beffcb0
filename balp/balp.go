// Package balp renders Carnet's audit events as FHIR AuditEvent resources in
// the shapes of IHE Basic Audit Log Patterns (BALP): who (agent), what
// (entity: the patient, the documents), when (recorded), how (purposeOfEvent:
// TREAT, BTG with the stated reason, ETREAT), the outcome, and the request id.
// Each resource also carries its place in the tamper-evident log (extension
// LogEntryURL: index, exact time and digest), from which a client recomputes
// the log leaf and checks its inclusion proof (docs/AUDIT.md).
package balp

import (
	"encoding/hex"
	"time"

	carnet "github.com/carnet-sante/carnet"
	"github.com/carnet-sante/carnet/fhir"
)

// LogEntryURL is the extension holding an event's log entry.
const LogEntryURL = "https://carnet-sante.fr/fhir/StructureDefinition/audit-log-entry"

const (
	restSystem        = "http://terminology.hl7.org/CodeSystem/audit-event-type"
	interactionSystem = "http://hl7.org/fhir/restful-interaction"
	actReason         = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
	participation     = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
	entityType        = "http://terminology.hl7.org/CodeSystem/audit-entity-type"
	objectRole        = "http://terminology.hl7.org/CodeSystem/object-role"
	sourceType        = "http://terminology.hl7.org/CodeSystem/security-source-type"
	requestIDSystem   = "https://carnet-sante.fr/fhir/NamingSystem/request-id"
	professionSystem  = "urn:oid:1.2.250.1.213.1.1.4.5" // TRE_G15
)

var interactions = map[carnet.Action]struct{ code, action string }{
	carnet.ActionCreate:  {"create", "C"},
	carnet.ActionRead:    {"read", "R"},
	carnet.ActionSearch:  {"search-type", "E"},
	carnet.ActionUpdate:  {"update", "U"},
	carnet.ActionDelete:  {"delete", "D"},
	carnet.ActionConsent: {"update", "U"},
	// Data read for an export under a data permit (docs/SECONDARY.md).
	carnet.ActionSecondaryUse: {"read", "R"},
}

var actorRoles = map[carnet.ActorKind]string{
	carnet.ActorProfessional: "professionnel de santé",
	carnet.ActorPatient:      "patient",
	carnet.ActorSystem:       "logiciel",
}

// Render returns the BALP AuditEvent of e, about the record of patient.
// Detail (the policy's reasons) is for auditors only: it is left out when
// forPatient.
func Render(e carnet.AuditEntry, patient carnet.Identifier, forPatient bool) fhir.AuditEvent {
	ev := e.Event
	out := fhir.AuditEvent{
		Type:     fhir.Coding{System: restSystem, Code: "rest", Display: "Restful Operation"},
		Recorded: fhir.FormatDateTime(ev.Time),
		Source: fhir.AuditEventSource{Observer: fhir.Reference{Display: "Carnet"},
			Type: []fhir.Coding{{System: sourceType, Code: "4", Display: "Application Server"}}},
	}
	out.ID = ev.ID
	idx := int64(e.Seq)
	exact := ev.Time.UTC().Format(time.RFC3339Nano)
	digest := hex.EncodeToString(e.Digest)
	out.Extension = []fhir.Extension{{URL: LogEntryURL, Extension: []fhir.Extension{
		{URL: "index", ValueInteger: &idx},
		{URL: "time", ValueDateTime: &exact},
		{URL: "digest", ValueString: &digest},
	}}}
	if e.Pruned {
		out.OutcomeDesc = "événement au-delà de sa durée de conservation : seule son empreinte reste dans le journal"
		return out
	}
	if it, ok := interactions[ev.Action]; ok {
		out.Subtype = []fhir.Coding{{System: interactionSystem, Code: it.code}}
		out.Action = it.action
	}
	switch ev.Outcome {
	case carnet.OutcomeSuccess:
		out.Outcome = "0"
	case carnet.OutcomeDenied:
		out.Outcome = "4"
		out.OutcomeDesc = "accès refusé"
	default:
		out.Outcome = "8"
	}
	if !forPatient && len(ev.Detail) > 0 {
		if out.OutcomeDesc != "" {
			out.OutcomeDesc += " : "
		}
		for i, d := range ev.Detail {
			if i > 0 {
				out.OutcomeDesc += "; "
			}
			out.OutcomeDesc += d
		}
	}
	purpose := fhir.CodeableConcept{Coding: []fhir.Coding{{System: actReason, Code: "TREAT", Display: "accès dans le cadre des soins"}}}
	switch ev.Mode {
	case carnet.ModeBreakGlass:
		purpose = fhir.CodeableConcept{Coding: []fhir.Coding{{System: actReason, Code: "BTG", Display: "bris de glace"}}, Text: ev.Reason}
	case carnet.ModeCentre15:
		purpose = fhir.CodeableConcept{Coding: []fhir.Coding{{System: actReason, Code: "ETREAT", Display: "régulation du centre 15"}}, Text: ev.Reason}
	}
	if ev.Actor.Kind == carnet.ActorProfessional || ev.Mode != "" && ev.Mode != carnet.ModeNormal {
		out.PurposeOfEvent = []fhir.CodeableConcept{purpose}
	}
	agent := fhir.AuditEventAgent{Requestor: true,
		Type: &fhir.CodeableConcept{Coding: []fhir.Coding{{System: participation, Code: "IRCP", Display: "information recipient"}}, Text: actorRoles[ev.Actor.Kind]},
		Who:  &fhir.Reference{Display: ev.Actor.Name}}
	if ev.Actor.ID.Value != "" {
		agent.Who.Identifier = &fhir.Identifier{System: ev.Actor.ID.System, Value: ev.Actor.ID.Value}
	}
	if ev.Actor.LegalRepresentative {
		agent.Type.Text = "représentant légal"
	}
	if ev.Actor.Profession != "" {
		code := ev.Actor.Profession
		if ev.Actor.Specialty != "" {
			code = ev.Actor.Specialty
		}
		agent.Role = []fhir.CodeableConcept{{Coding: []fhir.Coding{{System: professionSystem, Code: code}}}}
	}
	out.Agent = []fhir.AuditEventAgent{agent}
	if patient.Value != "" {
		out.Entity = append(out.Entity, fhir.AuditEventEntity{
			What: &fhir.Reference{Identifier: &fhir.Identifier{System: patient.System, Value: patient.Value}},
			Type: &fhir.Coding{System: entityType, Code: "1", Display: "Person"},
			Role: &fhir.Coding{System: objectRole, Code: "1", Display: "Patient"}})
	}
	for _, d := range ev.Documents {
		out.Entity = append(out.Entity, fhir.AuditEventEntity{
			What: &fhir.Reference{Reference: "DocumentReference/" + d},
			Type: &fhir.Coding{System: entityType, Code: "2", Display: "System Object"},
			Role: &fhir.Coding{System: objectRole, Code: "4", Display: "Domain Resource"}})
	}
	if ev.RequestID != "" {
		out.Entity = append(out.Entity, fhir.AuditEventEntity{
			What:        &fhir.Reference{Identifier: &fhir.Identifier{System: requestIDSystem, Value: ev.RequestID}},
			Type:        &fhir.Coding{System: entityType, Code: "4", Display: "Other"},
			Description: "identifiant de la requête"})
	}
	return out
}
