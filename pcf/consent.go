package pcf

import (
	"bytes"
	"fmt"
	"slices"
	"strings"

	carnet "github.com/carnet-sante/carnet"
	"github.com/carnet-sante/carnet/fhir"
	"github.com/carnet-sante/carnet/mhd"
)

// RuleSystem is the code system of Consent.policyRule whose codes are the
// consent kinds (carnet.ConsentKind). Its coding is authoritative: the other
// elements must agree with the kind it names.
const RuleSystem = "https://carnet-sante.fr/fhir/CodeSystem/consent-rule"

// NotificationSystem is the code system of Communication.category whose
// codes are the notification kinds (carnet.NotificationKind).
const NotificationSystem = "https://carnet-sante.fr/fhir/CodeSystem/notification"

// The other systems and codes of the PCF shapes.
const (
	systemConsentScope = "http://terminology.hl7.org/CodeSystem/consentscope"
	scopePrivacy       = "patient-privacy"
	systemLOINC        = "http://loinc.org"
	categoryConsent    = "59284-0" // LOINC Patient Consent
	systemActReason    = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
	systemParticipant  = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
	roleRecipient      = "IRCP" // information recipient: the professional the choice is about
	systemRPPS         = "urn:oid:" + carnet.OIDRPPS
	systemVisibility   = "urn:oid:" + carnet.OIDVisibility
)

// purposeOf is the purpose of use (v3-ActReason) a kind carries, "" for
// kinds that carry none.
func purposeOf(k carnet.ConsentKind) (code, display string) {
	switch k {
	case carnet.ConsentBTG:
		return "BTG", "break the glass"
	case carnet.ConsentCentre15:
		return "ETREAT", "Emergency Treatment"
	case carnet.ConsentSecondaryUse:
		return "HRESCH", "healthcare research"
	}
	return "", ""
}

// masksPS reports whether a kind is about documents masked to
// professionals, and so carries the MASQUE_PS security label.
func masksPS(k carnet.ConsentKind) bool {
	switch k {
	case carnet.ConsentDesignate, carnet.ConsentMasked, carnet.ConsentMaskNew:
		return true
	}
	return false
}

// maxIssues bounds an answer: a hostile body must not make the outcome
// larger than itself.
const maxIssues = 100

type issueList []carnet.Issue

func (l *issueList) add(code, expr, format string, args ...any) {
	switch {
	case len(*l) < maxIssues:
		*l = append(*l, carnet.Issue{Severity: "error", Code: code, Expression: expr, Diagnostics: fmt.Sprintf(format, args...)})
	case len(*l) == maxIssues:
		*l = append(*l, carnet.Issue{Severity: "error", Code: "too-costly", Diagnostics: fmt.Sprintf("more than %d problems: the first %d are listed", maxIssues, maxIssues)})
	}
}

// covers reports whether an issue was already raised at expr or inside it:
// carnet.Consent.Check then has nothing to add there.
func (l issueList) covers(expr string) bool {
	for _, is := range l {
		e := is.Expression
		if e == expr || strings.HasPrefix(e, expr+".") || strings.HasPrefix(e, expr+"[") {
			return true
		}
	}
	return false
}

// ParseConsent reads a Consent a client POSTs: one of the patient's choices,
// or a professional declaring a care relationship. It decodes at most
// maxBytes (fhir.Decode) and checks every element Carnet reads, reporting
// every problem at once as a carnet.Invalid whose issues name the element at
// fault (e.g. Consent.provision.actor[0].reference.identifier.system).
//
// patient is patient.identifier, or the zero Identifier when the Consent
// names no patient (the Service then uses the caller's own INS); whether it
// is an INS is the Service's to check. The consent's ID, Date and Recorder
// are left for the Service to set. Document is what provision.data names:
// the id of a DocumentReference ("DocumentReference/{id}"), which the
// Service maps to its logicalId, or the logicalId itself when the reference
// is by identifier (the form Resource writes).
func ParseConsent(body []byte, maxBytes int64) (c carnet.Consent, patient carnet.Identifier, err error) {
	const op = "pcf.ParseConsent"
	var r fhir.Consent
	if err := fhir.Decode(bytes.NewReader(body), maxBytes, &r); err != nil {
		// A resource of another type may not decode as a Consent: say what
		// it is rather than where it broke.
		if carnet.IsKind(err, carnet.KindInvalid) {
			if rt := fhir.PeekResourceType(body); rt != "" && rt != "Consent" {
				return carnet.Consent{}, carnet.Identifier{}, notConsent(op)
			}
		}
		return carnet.Consent{}, carnet.Identifier{}, err
	}
	if r.ResourceType != "Consent" {
		return carnet.Consent{}, carnet.Identifier{}, notConsent(op)
	}
	var l issueList
	switch r.Status {
	case "active":
	case "":
		l.add("required", "Consent.status", "status is required (active)")
	default:
		l.add("business-rule", "Consent.status", "Carnet records active consents only; a choice is withdrawn by deleting its Consent")
	}
	if r.Scope != nil && !hasCoding(r.Scope.Coding, systemConsentScope, scopePrivacy) {
		l.add("code-invalid", "Consent.scope", "scope is patient-privacy (%s)", systemConsentScope)
	}
	if len(r.Category) > 0 && !slices.ContainsFunc(r.Category, func(cc fhir.CodeableConcept) bool {
		return hasCoding(cc.Coding, systemLOINC, categoryConsent)
	}) {
		l.add("code-invalid", "Consent.category", "category includes LOINC %s (Patient Consent)", categoryConsent)
	}
	patient = readPatient(r.Patient, &l)
	c.Kind = readKind(r.PolicyRule, &l)
	known := slices.Contains(carnet.ConsentKinds, c.Kind)

	pv := r.Provision
	if pv == nil {
		pv = &fhir.ConsentProvision{}
	}
	switch pv.Type {
	case "permit":
		c.Permit = true
	case "deny":
	case "":
		l.add("required", "Consent.provision.type", "provision.type is required (permit or deny)")
	default:
		l.add("code-invalid", "Consent.provision.type", "provision.type is permit or deny")
	}
	if pv.Period != nil {
		l.add("not-supported", "Consent.provision.period", "a choice holds until the patient withdraws it: provision.period is not supported")
	}
	// Elements that narrow a provision are refused: ignoring them would
	// widen a permit beyond what the patient chose.
	if len(pv.Provision) > 0 {
		l.add("not-supported", "Consent.provision.provision", "nested provisions are not supported: one choice per Consent")
	}
	if len(pv.Action) > 0 {
		l.add("not-supported", "Consent.provision.action", "a choice covers every action: provision.action is not supported")
	}
	if len(pv.Class) > 0 {
		l.add("not-supported", "Consent.provision.class", "a choice covers every kind of resource: provision.class is not supported")
	}
	if len(pv.Code) > 0 {
		l.add("not-supported", "Consent.provision.code", "a choice covers every document type: provision.code is not supported")
	}
	if pv.DataPeriod != nil {
		l.add("not-supported", "Consent.provision.dataPeriod", "a choice covers documents of every date: provision.dataPeriod is not supported")
	}
	readActor(pv.Actor, c.Kind, known, &c, &l)
	c.Document = readData(pv.Data, c.Kind, known, &l)
	if known {
		checkPurpose(pv.Purpose, c.Kind, &l)
		checkSecurityLabel(pv.SecurityLabel, c.Kind, &l)
	}
	for _, is := range c.Check("Consent") {
		if !l.covers(is.Expression) {
			l.add(is.Code, is.Expression, "%s", is.Diagnostics)
		}
	}
	if len(l) > 0 {
		e := carnet.Invalid(l...)
		e.Op = op
		return carnet.Consent{}, carnet.Identifier{}, e
	}
	return c, patient, nil
}

func notConsent(op string) error {
	e := carnet.Invalid(carnet.Issue{Severity: "error", Code: "invalid", Expression: "Consent.resourceType",
		Diagnostics: "the request is a Consent resource"})
	e.Op = op
	return e
}

func hasCoding(cs []fhir.Coding, system, code string) bool {
	return slices.ContainsFunc(cs, func(c fhir.Coding) bool { return c.System == system && c.Code == code })
}

func readPatient(p *fhir.Reference, l *issueList) carnet.Identifier {
	if p == nil {
		return carnet.Identifier{}
	}
	const at = "Consent.patient.identifier"
	id := p.Identifier
	if id == nil {
		l.add("required", at, "the patient is named by identifier (INS), or not at all for the caller's own record")
		return carnet.Identifier{}
	}
	if id.System == "" {
		l.add("required", at+".system", "the patient's identifier has a system")
	}
	if id.Value == "" {
		l.add("required", at+".value", "the patient's identifier has a value")
	}
	return carnet.Identifier{System: id.System, Value: id.Value}
}

// readKind returns the kind named by the one policyRule coding of
// RuleSystem; an unknown code is left to carnet.Consent.Check.
func readKind(rule *fhir.CodeableConcept, l *issueList) carnet.ConsentKind {
	if rule == nil {
		l.add("required", "Consent.policyRule", "policyRule is required: a coding of %s names the choice", RuleSystem)
		return ""
	}
	var kind carnet.ConsentKind
	found := false
	for i, cd := range rule.Coding {
		if cd.System != RuleSystem {
			continue
		}
		if found {
			l.add("invalid", fmt.Sprintf("Consent.policyRule.coding[%d]", i), "policyRule has one coding of %s: a Consent records one choice", RuleSystem)
			continue
		}
		kind, found = carnet.ConsentKind(cd.Code), true
	}
	if !found {
		l.add("required", "Consent.policyRule.coding", "a coding of %s names the choice (care-team, access, block, …)", RuleSystem)
	}
	return kind
}

// readActor sets the professional named by provision.actor.
func readActor(actors []fhir.ConsentActor, kind carnet.ConsentKind, known bool, c *carnet.Consent, l *issueList) {
	if len(actors) == 0 {
		return // carnet.Consent.Check says whether one was required
	}
	if known && !kind.NamesProfessional() {
		l.add("business-rule", "Consent.provision.actor", "a %s consent names no professional", kind)
		return
	}
	if len(actors) > 1 {
		l.add("business-rule", "Consent.provision.actor[1]", "a consent names one professional: one Consent per professional")
	}
	ref := actors[0].Reference
	const at = "Consent.provision.actor[0].reference.identifier"
	switch id := ref.Identifier; {
	case id == nil:
		l.add("required", at, "the professional is named by identifier (RPPS, system %s)", systemRPPS)
	case id.System != systemRPPS:
		l.add("value", at+".system", "the professional is named by RPPS (system %s)", systemRPPS)
	case id.Value == "":
		l.add("required", at+".value", "the professional's RPPS is required")
	default:
		c.Professional = carnet.Identifier{System: id.System, Value: id.Value}
		c.ProfessionalName = ref.Display
	}
}

// readData returns the document named by provision.data.
func readData(data []fhir.ConsentData, kind carnet.ConsentKind, known bool, l *issueList) string {
	if len(data) == 0 {
		return "" // carnet.Consent.Check says whether one was required
	}
	if known && kind != carnet.ConsentRestrict {
		l.add("business-rule", "Consent.provision.data", "only a restriction names a document")
		return ""
	}
	if len(data) > 1 {
		l.add("business-rule", "Consent.provision.data[1]", "a restriction names one document: one Consent per document")
	}
	const at = "Consent.provision.data[0]"
	d := data[0]
	if d.Meaning != "" && d.Meaning != "instance" {
		l.add("not-supported", at+".meaning", "a restriction covers the document itself (meaning instance)")
	}
	ref := d.Reference
	if ref.Type != "" && ref.Type != "DocumentReference" {
		l.add("value", at+".reference.type", "a restriction names a DocumentReference")
	}
	switch {
	case ref.Reference != "" && ref.Identifier != nil:
		l.add("invalid", at+".reference", "name the document by reference (DocumentReference/{id}) or by logicalId identifier, not both")
	case ref.Reference != "":
		id, ok := strings.CutPrefix(ref.Reference, "DocumentReference/")
		if !ok || !isFHIRID(id) {
			l.add("value", at+".reference.reference", "the document is named DocumentReference/{id}")
			return ""
		}
		return id
	case ref.Identifier != nil:
		id := ref.Identifier
		if id.System != mhd.SystemLogicalID || !isFHIRID(id.Value) {
			l.add("value", at+".reference.identifier", "a document named by identifier is named by its logicalId (system %s)", mhd.SystemLogicalID)
			return ""
		}
		return id.Value
	default:
		l.add("required", at+".reference", "the restricted document is named: DocumentReference/{id}")
	}
	return ""
}

// isFHIRID reports whether s is a FHIR id: [A-Za-z0-9-.]{1,64}.
func isFHIRID(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-', c == '.':
		default:
			return false
		}
	}
	return true
}

func checkPurpose(purpose []fhir.Coding, kind carnet.ConsentKind, l *issueList) {
	want, _ := purposeOf(kind)
	for i, p := range purpose {
		if want == "" {
			l.add("business-rule", "Consent.provision.purpose", "a %s consent has no purpose of use", kind)
			return
		}
		if p.System != systemActReason || p.Code != want {
			l.add("business-rule", fmt.Sprintf("Consent.provision.purpose[%d]", i), "the purpose of a %s consent is %s (%s)", kind, want, systemActReason)
		}
	}
}

func checkSecurityLabel(labels []fhir.Coding, kind carnet.ConsentKind, l *issueList) {
	for i, s := range labels {
		if !masksPS(kind) {
			l.add("business-rule", "Consent.provision.securityLabel", "only designate, masked and mask-new consents have a security label")
			return
		}
		if s.System != systemVisibility || s.Code != carnet.LabelMasquePS {
			l.add("code-invalid", fmt.Sprintf("Consent.provision.securityLabel[%d]", i), "the only security label is %s (%s)", carnet.LabelMasquePS, systemVisibility)
		}
	}
}
