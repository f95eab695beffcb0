package pcf

import (
	carnet "github.com/carnet-sante/carnet"
	"github.com/carnet-sante/carnet/fhir"
	"github.com/carnet-sante/carnet/mhd"
)

// ruleDisplays are the French displays of the RuleSystem codes.
var ruleDisplays = map[carnet.ConsentKind]string{
	carnet.ConsentCareTeam:     "équipe de soins",
	carnet.ConsentAccess:       "accès autorisé",
	carnet.ConsentBlock:        "professionnel bloqué",
	carnet.ConsentDesignate:    "professionnel désigné pour les documents masqués",
	carnet.ConsentBTG:          "bris de glace",
	carnet.ConsentCentre15:     "accès par le centre 15 (SAMU)",
	carnet.ConsentMasked:       "documents masqués visibles en urgence",
	carnet.ConsentMaskNew:      "nouveaux documents masqués aux professionnels",
	carnet.ConsentRestrict:     "restriction d'un document",
	carnet.ConsentSecondaryUse: "usage secondaire des données",
}

// notificationDisplays are the French displays of the NotificationSystem
// codes.
var notificationDisplays = map[carnet.NotificationKind]string{
	carnet.NotifyNewDocument: "nouveau document",
	carnet.NotifyFirstAccess: "premier accès",
	carnet.NotifyEmergency:   "accès en urgence",
	carnet.NotifyCareTeam:    "équipe de soins",
}

// Resource renders a stored consent of the record of patient (its INS) as
// a PCF-shaped Consent. Every element ParseConsent reads is written from the
// consent, so that ParseConsent of the result gives the same choice back.
//
// A restriction names its document by logicalId, which is stable across the
// document's metadata versions but is not a resource id: provision.data
// holds a logical reference, {type DocumentReference, identifier {system
// mhd.SystemLogicalID, value logicalId}}, the identifier every version of the
// DocumentReference carries (DocumentReference?identifier=… finds them).
func Resource(c carnet.Consent, patient carnet.Identifier) fhir.Consent {
	r := fhir.Consent{
		Status: "active",
		Scope: &fhir.CodeableConcept{Coding: []fhir.Coding{
			{System: systemConsentScope, Code: scopePrivacy, Display: "Privacy Consent"}}},
		Category: []fhir.CodeableConcept{{Coding: []fhir.Coding{
			{System: systemLOINC, Code: categoryConsent, Display: "Patient Consent"}}}},
		Patient:  patientRef(patient),
		DateTime: fhir.FormatDateTime(c.Date),
		PolicyRule: &fhir.CodeableConcept{Coding: []fhir.Coding{
			{System: RuleSystem, Code: string(c.Kind), Display: ruleDisplays[c.Kind]}}},
	}
	r.ID = c.ID
	if p, ok := performer(c, patient); ok {
		r.Performer = []fhir.Reference{p}
	}
	pv := &fhir.ConsentProvision{Type: "deny"}
	if c.Permit {
		pv.Type = "permit"
	}
	if c.Professional.Value != "" {
		pv.Actor = []fhir.ConsentActor{{
			Role: fhir.CodeableConcept{Coding: []fhir.Coding{
				{System: systemParticipant, Code: roleRecipient, Display: "information recipient"}}},
			Reference: fhir.Reference{Type: "Practitioner",
				Identifier: &fhir.Identifier{System: c.Professional.System, Value: c.Professional.Value},
				Display:    professionalDisplay(c)},
		}}
	}
	if code, display := purposeOf(c.Kind); code != "" {
		pv.Purpose = []fhir.Coding{{System: systemActReason, Code: code, Display: display}}
	}
	if masksPS(c.Kind) {
		pv.SecurityLabel = []fhir.Coding{{System: systemVisibility, Code: carnet.LabelMasquePS,
			Display: "Masqué aux professionnels de santé"}}
	}
	if c.Document != "" {
		pv.Data = []fhir.ConsentData{{Meaning: "instance", Reference: fhir.Reference{Type: "DocumentReference",
			Identifier: &fhir.Identifier{System: mhd.SystemLogicalID, Value: c.Document}}}}
	}
	r.Provision = pv
	return r
}

func patientRef(patient carnet.Identifier) *fhir.Reference {
	if patient.Value == "" {
		return nil
	}
	return &fhir.Reference{Identifier: &fhir.Identifier{System: patient.System, Value: patient.Value}}
}

// performer is who recorded the consent, by role: the record keeps the
// kind of recorder, not who it was (except the patient, who is the record's).
func performer(c carnet.Consent, patient carnet.Identifier) (fhir.Reference, bool) {
	switch c.Recorder {
	case carnet.ActorPatient:
		if c.RecorderLegal {
			return fhir.Reference{Type: "RelatedPerson", Display: "représentant légal"}, true
		}
		ref := fhir.Reference{Type: "Patient", Display: "patient"}
		if p := patientRef(patient); p != nil {
			ref.Identifier = p.Identifier
		}
		return ref, true
	case carnet.ActorProfessional:
		return fhir.Reference{Type: "Practitioner", Display: "professionnel de santé"}, true
	case carnet.ActorSystem:
		// A care relationship recorded when a professional's document was
		// filed: the professional is the one the consent names.
		return fhir.Reference{Display: "dépôt d'un document par un professionnel de santé"}, true
	}
	return fhir.Reference{}, false
}

// Communication renders a notification to the patient (its INS) as a FHIR
// Communication: the category says what it is about, the payload is the
// French message, sender the professional (or software) who acted, about
// the documents concerned, and reasonCode the emergency mode with the
// reason the professional stated.
func Communication(n carnet.Notification, patient carnet.Identifier) fhir.Communication {
	m := fhir.Communication{
		Status: "completed",
		Category: []fhir.CodeableConcept{{Coding: []fhir.Coding{
			{System: NotificationSystem, Code: string(n.Kind), Display: notificationDisplays[n.Kind]}}}},
		Subject: patientRef(patient),
		Sent:    fhir.FormatDateTime(n.Time),
	}
	m.ID = n.ID
	if m.Subject != nil {
		m.Recipient = []fhir.Reference{*m.Subject}
	}
	if n.Actor.ID.Value != "" || n.Actor.Name != "" {
		s := fhir.Reference{Display: n.Actor.Name}
		switch n.Actor.Kind {
		case carnet.ActorProfessional:
			s.Type = "Practitioner"
		case carnet.ActorPatient:
			s.Type = "Patient"
			if n.Actor.LegalRepresentative {
				s.Type = "RelatedPerson"
			}
		case carnet.ActorSystem:
			s.Type = "Device"
		}
		if n.Actor.ID.Value != "" {
			s.Identifier = &fhir.Identifier{System: n.Actor.ID.System, Value: n.Actor.ID.Value}
		}
		m.Sender = &s
	}
	if n.Text != "" {
		m.Payload = []fhir.CommunicationPayload{{ContentString: n.Text}}
	}
	for _, id := range n.Documents {
		m.About = append(m.About, fhir.Reference{Reference: "DocumentReference/" + id})
	}
	// The emergency modes are the purposes of use of the consents that
	// govern them.
	var code, display string
	switch n.Mode {
	case carnet.ModeBreakGlass:
		code, display = purposeOf(carnet.ConsentBTG)
	case carnet.ModeCentre15:
		code, display = purposeOf(carnet.ConsentCentre15)
	}
	if code != "" {
		m.ReasonCode = []fhir.CodeableConcept{{Coding: []fhir.Coding{
			{System: systemActReason, Code: code, Display: display}}, Text: n.Reason}}
	}
	return m
}

// professionalDisplay names the professional as the patient reads them:
// "Dr Hélène Lefèvre (médecin)".
func professionalDisplay(c carnet.Consent) string {
	if c.ProfessionalName != "" && c.ProfessionalRole != "" {
		return c.ProfessionalName + " (" + c.ProfessionalRole + ")"
	}
	return c.ProfessionalName
}
