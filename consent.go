package carnet

import (
	"slices"
	"time"
)

// ConsentKind names one of a patient's access choices (docs/CONSENT.md).
// On the wire each is a FHIR Consent (IHE PCF shapes) whose policyRule
// carries the kind.
type ConsentKind string

const (
	// ConsentCareTeam: a professional of the care team, whose access is
	// presumed (the patient was informed and did not object). Recorded when
	// a professional files a document into the record or declares the care
	// relationship; the patient may revoke it (and block).
	ConsentCareTeam ConsentKind = "care-team"
	// ConsentAccess: the patient's explicit consent to a professional
	// outside the care team.
	ConsentAccess ConsentKind = "access"
	// ConsentBlock: a professional the patient blocked. Never any access.
	ConsentBlock ConsentKind = "block"
	// ConsentDesignate: a professional who sees the documents masked to
	// professionals (MASQUE_PS).
	ConsentDesignate ConsentKind = "designate"
	// ConsentBTG: bris de glace. Permit false: the patient refused it.
	ConsentBTG ConsentKind = "btg"
	// ConsentCentre15: access by the centre 15 / SAMU régulation (ETREAT).
	// Permit false: the patient refused it.
	ConsentCentre15 ConsentKind = "etreat"
	// ConsentMasked: the MASKED consent. Permit true: masked documents are
	// visible in emergency modes.
	ConsentMasked ConsentKind = "masked"
	// ConsentMaskNew: Permit false (professionals denied by default): new
	// documents are filed masked to professionals (MASQUE_PS).
	ConsentMaskNew ConsentKind = "mask-new"
	// ConsentRestrict: an EHDS restriction of one document (by logicalId):
	// professionals do not see it and are not told it exists.
	ConsentRestrict ConsentKind = "restrict"
	// ConsentSecondaryUse: Permit false is the opt-out of secondary use
	// (research under data permits).
	ConsentSecondaryUse ConsentKind = "secondary-use"
)

// ConsentKinds lists every kind, in the order they are documented.
var ConsentKinds = []ConsentKind{ConsentCareTeam, ConsentAccess, ConsentBlock, ConsentDesignate,
	ConsentBTG, ConsentCentre15, ConsentMasked, ConsentMaskNew, ConsentRestrict, ConsentSecondaryUse}

// NamesProfessional reports whether a consent of kind k is about one
// professional (Consent.Professional).
func (k ConsentKind) NamesProfessional() bool {
	switch k {
	case ConsentCareTeam, ConsentAccess, ConsentBlock, ConsentDesignate:
		return true
	}
	return false
}

// Toggle reports whether kind k is a record-wide yes/no choice: a new one
// replaces the previous one.
func (k ConsentKind) Toggle() bool {
	switch k {
	case ConsentBTG, ConsentCentre15, ConsentMasked, ConsentMaskNew, ConsentSecondaryUse:
		return true
	}
	return false
}

// permitFixed returns the only provision type a kind admits, for the
// kinds that admit one.
func (k ConsentKind) permitFixed() (permit, fixed bool) {
	switch k {
	case ConsentCareTeam, ConsentAccess, ConsentDesignate:
		return true, true
	case ConsentBlock, ConsentRestrict:
		return false, true
	}
	return false, false
}

// Consent is one active choice about a patient record.
type Consent struct {
	ID   string      `json:"id"`
	Kind ConsentKind `json:"kind"`
	// Permit is the provision type: permit (true) or deny.
	Permit bool `json:"permit"`
	// Professional is the RPPS of the professional named, for kinds that
	// name one.
	Professional Identifier `json:"professional,omitzero"`
	// ProfessionalName and ProfessionalRole (the profession or specialty,
	// in French) are for display in the patient's space.
	ProfessionalName string `json:"professionalName,omitempty"`
	ProfessionalRole string `json:"professionalRole,omitempty"`
	// Document is the logicalId of the restricted document.
	Document string    `json:"document,omitempty"`
	Date     time.Time `json:"date"`
	// Recorder is who recorded it: the patient, a legal representative, a
	// professional declaring the care relationship, or filing (a system
	// filing a professional's document).
	Recorder      ActorKind `json:"recorder"`
	RecorderLegal bool      `json:"recorderLegal,omitempty"`
	// ByFiling: a care-team entry made by filing the professional's
	// documents. The patient side is shown it only while one of the
	// professional's documents is visible to them: joining by a filing
	// hidden from them would otherwise tell what the document's label hides.
	ByFiling bool `json:"byFiling,omitempty"`
}

// Check returns the issues of a consent as submitted (path is the FHIRPath
// of the resource).
func (c Consent) Check(path string) []Issue {
	var issues []Issue
	bad := func(code, msg, expr string) { issues = append(issues, Issue{"error", code, msg, path + expr}) }
	if !slices.Contains(ConsentKinds, c.Kind) {
		bad("code-invalid", "unknown consent rule "+string(c.Kind), ".policyRule")
		return issues
	}
	if permit, fixed := c.Kind.permitFixed(); fixed && permit != c.Permit {
		want := "deny"
		if permit {
			want = "permit"
		}
		bad("business-rule", "a "+string(c.Kind)+" consent has provision.type "+want, ".provision.type")
	}
	if c.Kind.NamesProfessional() {
		switch {
		case c.Professional.Value == "" || c.Professional.OID() != OIDRPPS:
			bad("required", "a "+string(c.Kind)+" consent names one professional by RPPS (urn:oid:"+OIDRPPS+")", ".provision.actor")
		case !ValidRPPS(c.Professional.Value):
			bad("value", "the professional's identifier is not an RPPS number: 11 digits, the last its key (or 8 and those 11 digits)", ".provision.actor")
		}
	} else if c.Professional.Value != "" {
		bad("business-rule", "a "+string(c.Kind)+" consent names no professional", ".provision.actor")
	}
	if c.Kind == ConsentRestrict {
		if c.Document == "" {
			bad("required", "a restriction names the document it restricts", ".provision.data")
		}
	} else if c.Document != "" {
		bad("business-rule", "only a restriction names a document", ".provision.data")
	}
	return issues
}

// sameChoice reports whether a and b are the same choice, so that a new one
// replaces the old one: same toggle, or same kind about the same
// professional or document.
func sameChoice(a, b Consent) bool {
	if a.Kind != b.Kind {
		return false
	}
	switch {
	case a.Kind.Toggle():
		return true
	case a.Kind.NamesProfessional():
		return a.Professional.Value == b.Professional.Value
	case a.Kind == ConsentRestrict:
		return a.Document == b.Document
	}
	return false
}

// WithConsent returns the consents with c added, replacing the same
// choice made before, and the id of the consent it replaced, if any.
func WithConsent(cs []Consent, c Consent) ([]Consent, string) {
	var replaced string
	out := make([]Consent, 0, len(cs)+1)
	for _, x := range cs {
		if sameChoice(x, c) {
			replaced = x.ID
			continue
		}
		out = append(out, x)
	}
	return append(out, c), replaced
}

// AccessSettings are a record's access choices as the policy reads them,
// derived from its active consents (Patient.Settings).
type AccessSettings struct {
	// Closed: the patient closed the record (opposition). No professional
	// has any access; nothing new is filed. Also true when the record row's
	// State is RecordClosed.
	Closed bool
	// Blocked professionals never have access, whatever else holds.
	Blocked []string
	// CareTeam are the professionals presumed to have access: they treat
	// the patient, who was informed and did not object.
	CareTeam []string
	// Consented are professionals outside the care team to whom the patient
	// gave explicit consent.
	Consented []string
	// Designated professionals may see documents masked to professionals
	// (MASQUE_PS). Designation lifts the mask only: they still need care-team
	// presumption or consent to open the record.
	Designated []string
	// RefuseBTG: the patient refused bris de glace (break-glass) access.
	RefuseBTG bool
	// RefuseCentre15: the patient refused access by the centre 15 / SAMU
	// régulation (ETREAT).
	RefuseCentre15 bool
	// MaskedInEmergency is the patient's MASKED consent: documents masked to
	// professionals are visible in an emergency mode.
	MaskedInEmergency bool
	// Restricted are the logicalIds of documents under an EHDS restriction:
	// professionals cannot see them, and are not told they exist.
	Restricted []string
	// MaskNew: new documents are filed masked to professionals.
	MaskNew bool
	// OptOutSecondary: the patient opted out of secondary use. Not read by
	// the access policy (secondary use goes through data permits).
	OptOutSecondary bool
}

// Settings derives the access settings from the record's consents and state.
func (p *Patient) Settings() AccessSettings {
	s := AccessSettings{Closed: p.State == RecordClosed}
	for _, c := range p.Consents {
		id := c.Professional.Value
		switch c.Kind {
		case ConsentCareTeam:
			s.CareTeam = append(s.CareTeam, id)
		case ConsentAccess:
			s.Consented = append(s.Consented, id)
		case ConsentBlock:
			s.Blocked = append(s.Blocked, id)
		case ConsentDesignate:
			s.Designated = append(s.Designated, id)
		case ConsentBTG:
			s.RefuseBTG = !c.Permit
		case ConsentCentre15:
			s.RefuseCentre15 = !c.Permit
		case ConsentMasked:
			s.MaskedInEmergency = c.Permit
		case ConsentMaskNew:
			s.MaskNew = !c.Permit
		case ConsentRestrict:
			s.Restricted = append(s.Restricted, c.Document)
		case ConsentSecondaryUse:
			s.OptOutSecondary = !c.Permit
		}
	}
	return s
}

// PatientRelation is how a patient actor stands to the record a request
// is about.
type PatientRelation uint8

const (
	RelationNone     PatientRelation = iota // not this record's patient
	RelationSelf                            // the patient
	RelationLegalRep                        // a legal representative of the patient
)

// NotificationKind says what a notification tells the patient.
type NotificationKind string

const (
	NotifyNewDocument NotificationKind = "new-document"     // documents filed into the record
	NotifyFirstAccess NotificationKind = "first-access"     // a professional opened the record for the first time
	NotifyEmergency   NotificationKind = "emergency-access" // bris de glace or centre 15
	NotifyCareTeam    NotificationKind = "care-team"        // a professional joined the care team (filing or declaration)
)

// Notification is one message to the patient. It is sealed at rest.
type Notification struct {
	ID        string           `json:"id"`
	Patient   PatientKey       `json:"patient"`
	Kind      NotificationKind `json:"kind"`
	Time      time.Time        `json:"time"`
	Actor     Actor            `json:"actor"`
	Mode      Mode             `json:"mode,omitempty"`
	Reason    string           `json:"reason,omitempty"`
	Documents []string         `json:"documents,omitempty"`
	// DocumentAuthors are the author of each of Documents as the patient
	// reads it ("Dr Jeanne Martin"), so that the text can be written from
	// the documents its reader may see.
	DocumentAuthors []string `json:"documentAuthors,omitempty"`
	// Text is the message, in French, as it was written; a reader is shown
	// the text written again from what they may see.
	Text string `json:"text"`
}

// PendingNotification is a notification to deliver, with the INS of its
// patient so that the delivery service can reach them.
type PendingNotification struct {
	Notification
	INS Identifier
}
