package policy

import "slices"

// Settings are the patient's choices about their record that the policy
// needs. They are a plain struct for now; the integrator will persist them
// as FHIR Consent resources (IHE PCF). Professionals are named by their
// RPPS (Actor.ID.Value), documents by their logicalId.
type Settings struct {
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
	// OptOutSecondary: the patient opted out of secondary use. Not read by
	// Decide (secondary use goes through permits, another issue); kept here
	// so that all record-level choices live together.
	OptOutSecondary bool

	// Self are the identifier values (INS) the patient authenticates with,
	// and LegalRepresentatives those of their legal representatives. Only
	// the carnet.Policy adapter (Engine.For) reads them, to tell which
	// Relation a patient actor has to the record.
	Self                 []string
	LegalRepresentatives []string
}

func has(list []string, v string) bool { return v != "" && slices.Contains(list, v) }
