package fhir

// Consent is the R4 Consent, the elements of the IHE Privacy Consent on FHIR
// (PCF) shapes that Carnet reads or writes.
type Consent struct {
	Resource
	Status     string            `json:"status,omitempty"`
	Scope      *CodeableConcept  `json:"scope,omitempty"`
	Category   []CodeableConcept `json:"category,omitempty"`
	Patient    *Reference        `json:"patient,omitempty"`
	DateTime   string            `json:"dateTime,omitempty"`
	Performer  []Reference       `json:"performer,omitempty"`
	PolicyRule *CodeableConcept  `json:"policyRule,omitempty"`
	Provision  *ConsentProvision `json:"provision,omitempty"`
}

// ConsentProvision is the R4 Consent.provision, complete: the elements that
// narrow a provision (action, class, code, dataPeriod, nested provisions) are
// read so that a reader can refuse what it does not honour rather than
// silently widen a permit.
type ConsentProvision struct {
	Type          string             `json:"type,omitempty"`
	Period        *Period            `json:"period,omitempty"`
	Actor         []ConsentActor     `json:"actor,omitempty"`
	Action        []CodeableConcept  `json:"action,omitempty"`
	SecurityLabel []Coding           `json:"securityLabel,omitempty"`
	Purpose       []Coding           `json:"purpose,omitempty"`
	Class         []Coding           `json:"class,omitempty"`
	Code          []CodeableConcept  `json:"code,omitempty"`
	DataPeriod    *Period            `json:"dataPeriod,omitempty"`
	Data          []ConsentData      `json:"data,omitempty"`
	Provision     []ConsentProvision `json:"provision,omitempty"`
}

// ConsentActor is Consent.provision.actor.
type ConsentActor struct {
	Role      CodeableConcept `json:"role"`
	Reference Reference       `json:"reference"`
}

// ConsentData is Consent.provision.data.
type ConsentData struct {
	Meaning   string    `json:"meaning,omitempty"`
	Reference Reference `json:"reference"`
}

func (c Consent) MarshalJSON() ([]byte, error) {
	type plain Consent
	p := plain(c)
	p.ResourceType = "Consent"
	return MarshalPlain(p)
}

// Communication is the R4 Communication, as Carnet writes a notification to
// the patient.
type Communication struct {
	Resource
	Status     string                 `json:"status,omitempty"`
	Category   []CodeableConcept      `json:"category,omitempty"`
	Subject    *Reference             `json:"subject,omitempty"`
	Sent       string                 `json:"sent,omitempty"`
	Recipient  []Reference            `json:"recipient,omitempty"`
	Sender     *Reference             `json:"sender,omitempty"`
	Payload    []CommunicationPayload `json:"payload,omitempty"`
	About      []Reference            `json:"about,omitempty"`
	ReasonCode []CodeableConcept      `json:"reasonCode,omitempty"`
}

// CommunicationPayload is Communication.payload, as text (contentString).
type CommunicationPayload struct {
	ContentString string `json:"contentString,omitempty"`
}

func (c Communication) MarshalJSON() ([]byte, error) {
	type plain Communication
	p := plain(c)
	p.ResourceType = "Communication"
	return MarshalPlain(p)
}
