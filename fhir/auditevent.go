package fhir

// AuditEvent is the R4 AuditEvent, the elements of the IHE Basic Audit Log
// Patterns (BALP) that Carnet writes.
type AuditEvent struct {
	Resource
	Extension      []Extension        `json:"extension,omitempty"`
	Type           Coding             `json:"type"`
	Subtype        []Coding           `json:"subtype,omitempty"`
	Action         string             `json:"action,omitempty"`
	Recorded       string             `json:"recorded"`
	Outcome        string             `json:"outcome,omitempty"`
	OutcomeDesc    string             `json:"outcomeDesc,omitempty"`
	PurposeOfEvent []CodeableConcept  `json:"purposeOfEvent,omitempty"`
	Agent          []AuditEventAgent  `json:"agent"`
	Source         AuditEventSource   `json:"source"`
	Entity         []AuditEventEntity `json:"entity,omitempty"`
}

// AuditEventAgent is AuditEvent.agent: who took part.
type AuditEventAgent struct {
	Type      *CodeableConcept  `json:"type,omitempty"`
	Role      []CodeableConcept `json:"role,omitempty"`
	Who       *Reference        `json:"who,omitempty"`
	Requestor bool              `json:"requestor"`
}

// AuditEventSource is AuditEvent.source: the system that recorded it.
type AuditEventSource struct {
	Observer Reference `json:"observer"`
	Type     []Coding  `json:"type,omitempty"`
}

// AuditEventEntity is AuditEvent.entity: what was touched.
type AuditEventEntity struct {
	What        *Reference `json:"what,omitempty"`
	Type        *Coding    `json:"type,omitempty"`
	Role        *Coding    `json:"role,omitempty"`
	Description string     `json:"description,omitempty"`
}

func (a AuditEvent) MarshalJSON() ([]byte, error) {
	type plain AuditEvent
	q := plain(a)
	q.ResourceType = "AuditEvent"
	return MarshalPlain(q)
}
