package policy

import (
	"slices"
	"strings"
	"unicode"

	"github.com/carnet-sante/carnet"
)

// Relation is how a patient actor (carnet.ActorPatient) stands to the
// record: the patient, a legal representative, or neither (denied).
type Relation = carnet.PatientRelation

const (
	RelationNone     = carnet.RelationNone
	RelationSelf     = carnet.RelationSelf
	RelationLegalRep = carnet.RelationLegalRep
)

// Input is what Decide decides on.
type Input struct {
	Request  carnet.AccessRequest
	Settings Settings
	Relation Relation // for patient actors only
}

// Engine applies the access rules with an access matrix. It is safe for
// concurrent use; the Matrix must not change while in use.
type Engine struct {
	// Matrix restricts which professions read which document types. A nil
	// Matrix denies every professional read of a document (fail closed).
	Matrix *Matrix
}

// Reason codes open each Decision.Reasons entry ("code: detail"), so the
// audit trail can be searched by rule.
const (
	ReasonUnknownAction      = "unknown-action"
	ReasonUnknownMode        = "unknown-mode"
	ReasonUnknownActor       = "unknown-actor"
	ReasonNoActorID          = "no-actor-id"
	ReasonBlocked            = "blocked"
	ReasonRecordClosed       = "record-closed"
	ReasonEmergencyNotPro    = "emergency-professional-only"
	ReasonBTGReasonMissing   = "btg-reason-missing"
	ReasonBTGRefused         = "btg-refused"
	ReasonCentre15Refused    = "centre-15-refused"
	ReasonFiling             = "filing"
	ReasonDeleted            = "deleted"
	ReasonRestricted         = "ehds-restricted"
	ReasonAuthor             = "author"
	ReasonAuthorOnly         = "author-only"
	ReasonRecordUpdate       = "record-update-denied"
	ReasonCareTeam           = "care-team"
	ReasonConsent            = "consent"
	ReasonBreakGlass         = "bris-de-glace"
	ReasonCentre15           = "centre-15"
	ReasonNoRelationship     = "no-care-relationship"
	ReasonNoProfession       = "no-profession"
	ReasonMatrixMissing      = "matrix-missing"
	ReasonMatrixAllow        = "matrix-allow"
	ReasonMatrixDeny         = "matrix-deny"
	ReasonMatrixDefaultAllow = "matrix-default-allow"
	ReasonMatrixDefaultDeny  = "matrix-default-deny"
	ReasonMasquePS           = "masque-ps"
	ReasonMasqueDesignated   = "masque-ps-designated"
	ReasonMasqueEmergency    = "masque-ps-emergency-consent"
	ReasonNotifyPatient      = "notify-patient"
	ReasonNotThePatient      = "not-the-patient"
	ReasonOwnRecord          = "own-record"
	ReasonLegalRep           = "legal-representative"
	ReasonInvisiblePatient   = "invisible-patient"
	ReasonInvisibleLegalRep  = "invisible-legal-representatives"
	ReasonIdentityFeed       = "identity-feed"
	ReasonSystemForAuthor    = "system-for-author"
	ReasonSystemRead         = "system-read-denied"
	ReasonDeclareCareTeam    = "declare-care-team"
	ReasonEmergencyConsent   = "emergency-consent-denied"
	ReasonConsentChoice      = "patient-choice"
	ReasonSystemConsent      = "system-consent-denied"
	// Write rules (docs/ACCESS.md, "Writes").
	ReasonCentre15NotRegulator = "centre-15-not-regulator"
	ReasonEmergencyReadOnly    = "emergency-read-only"
	ReasonFilerNotAuthor       = "filer-not-author"
	ReasonAuthorOutsideOrg     = "author-outside-organisation"
	ReasonPatientDocumentOnly  = "patient-document-only"
	ReasonPatientClass         = "patient-class-reserved"
	ReasonFilerIdentity        = "filer-identity"
	ReasonCoAuthor             = "co-author"
	ReasonPatientLabel         = "patient-side-label"
	ReasonUnmaskPatientOnly    = "unmask-patient-only"
	ReasonChangeNotAllowed     = "change-not-allowed"
	ReasonSystemNotFiler       = "system-not-for-document"
	ReasonSystemFiler          = "system-filed"
	ReasonSystemOrgAuthor      = "system-organisation-author"
)

// Warnings shown to a professional who is permitted a labelled document.
const (
	WarningInvisiblePatient  = "document invisible to the patient"
	WarningInvisibleLegalRep = "document invisible to the patient's legal representatives"
)

// NotifyPatient reports whether d permits an emergency access, which the
// patient must be told about (and which their access history shows).
func NotifyPatient(d carnet.Decision) bool { return d.Permit && d.Notify }

// decision accumulates the reasons of one decision.
// decision accumulates the reasons of one decision. A quiet one keeps
// none (Permits: only the answer is wanted), but still notes the
// emergency that makes a permit notify.
type decision struct {
	carnet.Decision
	quiet bool
}

func (d *decision) because(code, detail string) {
	if code == ReasonNotifyPatient {
		d.Notify = true
	}
	if d.quiet {
		return
	}
	if detail != "" {
		code += ": " + detail
	}
	d.Reasons = append(d.Reasons, code)
}

// rule is the detail of a matrix rule, only made for a decision that keeps
// its reasons.
func (d *decision) rule(r Rule) string {
	if d.quiet {
		return ""
	}
	return r.String()
}

func (d *decision) deny(code, detail string) carnet.Decision {
	d.Permit = false
	d.Notify = false
	d.Warnings = nil // nothing is shown of a denied document
	d.because(code, detail)
	return d.Decision
}

func (d *decision) permit(code, detail string) carnet.Decision {
	d.Permit = true
	if code != "" {
		d.because(code, detail)
	}
	return d.Decision
}

// Decide implements carnet.Policy: it evaluates the request with the
// settings and relation the request carries.
func (e *Engine) Decide(req carnet.AccessRequest) carnet.Decision {
	return e.Evaluate(Input{Request: req, Settings: req.Settings, Relation: req.Relation})
}

// Permits is Decide(req).Permit, without the reasons: the same rules, for
// callers that filter many documents and record nothing of each.
func (e *Engine) Permits(req carnet.AccessRequest) bool {
	return e.evaluate(Input{Request: req, Settings: req.Settings, Relation: req.Relation}, true).Permit
}

var _ carnet.Policy = (*Engine)(nil)

// Evaluate applies the rules in the order docs/ACCESS.md lists them. Reasons
// name every rule that led to a permit, or the one rule that denied.
func (e *Engine) Evaluate(in Input) carnet.Decision { return e.evaluate(in, false) }

func (e *Engine) evaluate(in Input, quiet bool) carnet.Decision {
	req := in.Request
	d := decision{quiet: quiet}
	switch req.Action {
	case carnet.ActionCreate, carnet.ActionRead, carnet.ActionSearch, carnet.ActionUpdate, carnet.ActionDelete, carnet.ActionConsent:
	default:
		return d.deny(ReasonUnknownAction, string(req.Action))
	}
	if req.Action == carnet.ActionConsent && req.Document != nil {
		return d.deny(ReasonUnknownAction, "consents are about a record, not a document")
	}
	mode := req.Mode
	if mode == "" {
		mode = carnet.ModeNormal
	}
	switch mode {
	case carnet.ModeNormal, carnet.ModeBreakGlass, carnet.ModeCentre15:
	default:
		return d.deny(ReasonUnknownMode, string(mode))
	}
	closed := in.Settings.Closed || (req.Patient != nil && req.Patient.State == carnet.RecordClosed)
	switch req.Actor.Kind {
	case carnet.ActorProfessional:
		return e.professional(&d, in, mode, closed)
	case carnet.ActorPatient:
		if mode != carnet.ModeNormal {
			return d.deny(ReasonEmergencyNotPro, string(mode))
		}
		return patient(&d, in, closed)
	case carnet.ActorSystem:
		if mode != carnet.ModeNormal {
			return d.deny(ReasonEmergencyNotPro, string(mode))
		}
		return system(&d, in, closed)
	default:
		return d.deny(ReasonUnknownActor, string(req.Actor.Kind))
	}
}

func (e *Engine) professional(d *decision, in Input, mode carnet.Mode, closed bool) carnet.Decision {
	req, s := in.Request, &in.Settings
	id := req.Actor.ID.Value
	if id == "" {
		return d.deny(ReasonNoActorID, "") // cannot be checked against the blocked list
	}
	if has(s.Blocked, id) {
		return d.deny(ReasonBlocked, "the patient blocked this professional")
	}
	if closed {
		return d.deny(ReasonRecordClosed, "no professional access")
	}
	emergency := mode != carnet.ModeNormal
	switch mode {
	case carnet.ModeBreakGlass:
		if strings.TrimSpace(req.Reason) == "" {
			return d.deny(ReasonBTGReasonMissing, "")
		}
		if s.RefuseBTG {
			return d.deny(ReasonBTGRefused, "the patient refused bris de glace")
		}
	case carnet.ModeCentre15:
		if !req.Actor.Centre15 {
			return d.deny(ReasonCentre15NotRegulator, "centre 15 mode is for the SAMU's regulating physicians")
		}
		if s.RefuseCentre15 {
			return d.deny(ReasonCentre15Refused, "the patient refused centre 15 access")
		}
	}
	notify := func() {
		if emergency {
			d.because(ReasonNotifyPatient, "")
		}
	}
	if req.Action == carnet.ActionCreate {
		if f := req.Filing; f != nil {
			if code, why := professionalFiling(req.Actor, f); code != "" {
				return d.deny(code, why)
			}
		}
		notify()
		return d.permit(ReasonFiling, "filing needs no authorisation")
	}
	if req.Action == carnet.ActionConsent {
		if emergency {
			return d.deny(ReasonEmergencyConsent, "a care relationship is declared in normal mode")
		}
		return d.permit(ReasonDeclareCareTeam, "the professional attests the care relationship")
	}
	if emergency && (req.Action == carnet.ActionUpdate || req.Action == carnet.ActionDelete) {
		return d.deny(ReasonEmergencyReadOnly, "emergency modes read; they change nothing")
	}
	doc := req.Document
	if doc != nil {
		if doc.Status == carnet.StatusDeleted {
			return d.deny(ReasonDeleted, "")
		}
		if has(s.Restricted, doc.LogicalID) {
			return d.deny(ReasonRestricted, "")
		}
		if hasToken(doc, carnet.TokAuthor, id) {
			if req.Action == carnet.ActionUpdate {
				if code, why := authorChange(req.Change); code != "" {
					return d.deny(code, why)
				}
			}
			warn(d, doc)
			notify()
			return d.permit(ReasonAuthor, "")
		}
	}
	switch req.Action {
	case carnet.ActionDelete:
		return d.deny(ReasonAuthorOnly, "only the author deletes a document")
	case carnet.ActionUpdate:
		if doc == nil {
			return d.deny(ReasonRecordUpdate, "the identity is fed by systems")
		}
		return d.deny(ReasonAuthorOnly, "only the author changes a document")
	}
	switch {
	case has(s.CareTeam, id):
		d.because(ReasonCareTeam, "presumed")
	case has(s.Consented, id):
		d.because(ReasonConsent, "explicit")
	case mode == carnet.ModeBreakGlass:
		d.because(ReasonBreakGlass, "")
	case mode == carnet.ModeCentre15:
		d.because(ReasonCentre15, "")
	default:
		return d.deny(ReasonNoRelationship, "neither care team nor consent")
	}
	if doc == nil {
		notify()
		return d.permit("", "")
	}
	if req.Actor.Profession == "" && req.Actor.Specialty == "" {
		return d.deny(ReasonNoProfession, "")
	}
	if e.Matrix == nil {
		return d.deny(ReasonMatrixMissing, "")
	}
	var types [4]string // a document has one type, in two forms: no allocation per decision
	if r, ok := e.Matrix.Lookup(req.Actor.Profession, req.Actor.Specialty, appendTokens(types[:0], doc, carnet.TokType)); ok {
		if r.Effect == Deny {
			return d.deny(ReasonMatrixDeny, d.rule(r))
		}
		d.because(ReasonMatrixAllow, d.rule(r))
	} else if e.Matrix.DenyByDefault {
		return d.deny(ReasonMatrixDefaultDeny, "")
	} else {
		d.because(ReasonMatrixDefaultAllow, "")
	}
	if hasLabel(doc, carnet.LabelMasquePS) {
		switch {
		case has(s.Designated, id):
			d.because(ReasonMasqueDesignated, "")
		case emergency && s.MaskedInEmergency:
			d.because(ReasonMasqueEmergency, "")
		default:
			return d.deny(ReasonMasquePS, "masked to professionals")
		}
	}
	warn(d, doc)
	notify()
	return d.permit("", "")
}

// warn tells a professional what the patient or their representatives do
// not see, so that they do not mention it unawares.
func warn(d *decision, doc *carnet.DocumentRow) {
	if d.quiet { // Permits: the answer only
		return
	}
	if hasLabel(doc, carnet.LabelInvisiblePatient) {
		d.Warnings = append(d.Warnings, WarningInvisiblePatient)
	}
	if hasLabel(doc, carnet.LabelInvisibleLegalRep) {
		d.Warnings = append(d.Warnings, WarningInvisibleLegalRep)
	}
}

func patient(d *decision, in Input, closed bool) carnet.Decision {
	req := in.Request
	var who string
	switch in.Relation {
	case RelationSelf:
		who = ReasonOwnRecord
	case RelationLegalRep:
		who = ReasonLegalRep
	default:
		return d.deny(ReasonNotThePatient, "")
	}
	switch req.Action {
	case carnet.ActionCreate:
		if closed {
			return d.deny(ReasonRecordClosed, "nothing new is filed")
		}
		if f := req.Filing; f != nil {
			if code, why := patientFiling(req.Actor, f); code != "" {
				return d.deny(code, why)
			}
		}
		return d.permit(who, "")
	case carnet.ActionConsent:
		d.because(ReasonConsentChoice, "")
		return d.permit(who, "")
	case carnet.ActionDelete:
		return d.deny(ReasonAuthorOnly, "only the author deletes a document")
	}
	doc := req.Document
	if doc == nil {
		if req.Action == carnet.ActionUpdate {
			return d.deny(ReasonRecordUpdate, "the identity is fed by systems")
		}
		return d.permit(who, "")
	}
	if doc.Status == carnet.StatusDeleted {
		return d.deny(ReasonDeleted, "")
	}
	// A legal representative acts as the patient: what is hidden from the
	// patient is hidden from them too.
	if hasLabel(doc, carnet.LabelInvisiblePatient) {
		return d.deny(ReasonInvisiblePatient, "")
	}
	if in.Relation == RelationLegalRep && hasLabel(doc, carnet.LabelInvisibleLegalRep) {
		return d.deny(ReasonInvisibleLegalRep, "")
	}
	if req.Action == carnet.ActionUpdate {
		if code, why := patientChange(in.Relation, doc, req.Change); code != "" {
			return d.deny(code, why)
		}
	}
	return d.permit(who, "")
}

func system(d *decision, in Input, closed bool) carnet.Decision {
	req := in.Request
	doc := req.Document
	switch req.Action {
	case carnet.ActionCreate:
		if closed {
			return d.deny(ReasonRecordClosed, "nothing new is filed")
		}
		if f := req.Filing; f != nil {
			if code, why := systemFiling(req.Actor, f); code != "" {
				return d.deny(code, why)
			}
		}
		return d.permit(ReasonFiling, "producing software")
	case carnet.ActionConsent:
		return d.deny(ReasonSystemConsent, "consents are the patient's")
	case carnet.ActionUpdate, carnet.ActionDelete:
		if doc == nil {
			if req.Action == carnet.ActionUpdate {
				return d.permit(ReasonIdentityFeed, "")
			}
			return d.deny(ReasonAuthorOnly, "no document")
		}
		if doc.Status == carnet.StatusDeleted {
			return d.deny(ReasonDeleted, "")
		}
		if closed {
			return d.deny(ReasonRecordClosed, "")
		}
		// Software changes what it filed, or what it may file: documents
		// of its organisations' authors.
		switch {
		case hasToken(doc, carnet.TokFiler, carnet.FilerOf(req.Actor)):
			d.because(ReasonSystemFiler, "")
		case sharesOrg(doc, req.Actor):
			d.because(ReasonSystemOrgAuthor, "")
		default:
			return d.deny(ReasonSystemNotFiler, "neither filed by this software nor by an author of its organisations")
		}
		if req.Action == carnet.ActionUpdate {
			if code, why := authorChange(req.Change); code != "" {
				return d.deny(code, why)
			}
		}
		return d.permit(ReasonSystemForAuthor, "producing software acts for its authors")
	}
	return d.deny(ReasonSystemRead, "systems do not read records")
}

func appendTokens(vs []string, doc *carnet.DocumentRow, kind string) []string {
	for _, t := range doc.Tokens {
		if t.Kind == kind {
			vs = append(vs, t.Value)
		}
	}
	return vs
}

func hasToken(doc *carnet.DocumentRow, kind, v string) bool {
	if v == "" {
		return false
	}
	for _, t := range doc.Tokens {
		if t.Kind == kind && t.Value == v {
			return true
		}
	}
	return false
}

// hasLabel matches a label token in either form, "code" or "system|code".
func hasLabel(doc *carnet.DocumentRow, code string) bool {
	for _, t := range doc.Tokens {
		if t.Kind == carnet.TokLabel && labelIs(t.Value, code) {
			return true
		}
	}
	return false
}

// labelIs matches a label token "code" or "system|code" (without making
// "|"+code for every token of every document decided).
func labelIs(v, code string) bool {
	if len(v) == len(code) {
		return v == code
	}
	n := len(v) - len(code)
	return n > 0 && v[n-1] == '|' && v[n:] == code
}

// changeable are the confidentiality codes a metadata change may add or
// remove; the others are set when a document is filed.
var changeable = []string{carnet.LabelMasquePS, carnet.LabelInvisiblePatient, carnet.LabelInvisibleLegalRep}

// authorChange decides what a document's author (or the software acting
// for them) may change: anything but unmasking, which is the patient's.
func authorChange(c *carnet.Change) (string, string) {
	if c == nil {
		return "", ""
	}
	for _, l := range slices.Concat(c.AddLabels, c.RemoveLabels) {
		if !slices.Contains(changeable, l) {
			return ReasonChangeNotAllowed, "label " + l + " is set when the document is filed"
		}
	}
	if slices.Contains(c.RemoveLabels, carnet.LabelMasquePS) {
		return ReasonUnmaskPatientOnly, "only the patient unmasks"
	}
	return "", ""
}

// patientChange decides what the patient side may change: masking to
// professionals; hiding from legal representatives (the patient only);
// replacing the patient's own documents. Never the status, never what is
// hidden from the patient.
func patientChange(rel Relation, doc *carnet.DocumentRow, c *carnet.Change) (string, string) {
	if c == nil {
		return "", ""
	}
	if c.Status != "" {
		return ReasonChangeNotAllowed, "a document's status is its author's"
	}
	for _, l := range slices.Concat(c.AddLabels, c.RemoveLabels) {
		switch {
		case l == carnet.LabelMasquePS:
		case l == carnet.LabelInvisibleLegalRep && rel == RelationSelf:
		default:
			return ReasonChangeNotAllowed, "the patient side does not set " + l
		}
	}
	if c.Replace && !hasToken(doc, carnet.TokFiler, carnet.FilerOf(carnet.Actor{Kind: carnet.ActorPatient})) {
		return ReasonPatientDocumentOnly, "the patient replaces only their own documents"
	}
	return "", ""
}

// professionalFiling: a professional files the documents they author, as
// the metadata and the document's own header say.
func professionalFiling(a carnet.Actor, f *carnet.Filing) (string, string) {
	if carnet.IsPatientClass(f.Class) {
		return ReasonPatientClass, "class 90 is the patient's own documents"
	}
	if !namesProfessional(f.Authors, a.ID.Value) {
		return ReasonFilerNotAuthor, "the metadata does not name the filer as an author"
	}
	if f.HeaderAuthors != nil && !namesProfessional(f.HeaderAuthors, a.ID.Value) {
		return ReasonFilerNotAuthor, "the document's header does not name the filer as an author"
	}
	for _, au := range slices.Concat(f.Authors, f.HeaderAuthors) {
		switch {
		case !isProfessional(au):
			// an organisation, a device: the filer's structure, shown as such
		case au.ID.Value != a.ID.Value:
			// Another professional would be shown as an author, and join
			// the care team, on the filer's word alone.
			return ReasonCoAuthor, "a professional files the documents they author alone; co-authored documents are filed by their organisation's software"
		case !agreesWithToken(a, au):
			return ReasonFilerIdentity, "the author with the filer's RPPS names another person or profession than the filer's token"
		}
	}
	return "", ""
}

// agreesWithToken says whether what an author entry states of the filer
// (name, profession, specialty) agrees with the filer's token: readers and
// the patient are shown the author entry, so it must be the filer's.
func agreesWithToken(a carnet.Actor, au carnet.Author) bool {
	if a.Profession != "" && au.Profession.Code != "" && au.Profession.Code != a.Profession {
		return false
	}
	if a.Specialty != "" && au.Specialty.Code != "" && lastPart(au.Specialty.Code) != lastPart(a.Specialty) {
		return false
	}
	if strings.TrimSpace(a.Name) == "" {
		return true
	}
	token := strings.Fields(carnet.FoldName(nameWords(a.Name)))
	for _, w := range strings.Fields(carnet.FoldName(nameWords(strings.Join(append(slices.Clone(au.Given), au.Family), " ")))) {
		if !slices.Contains(token, w) {
			return false
		}
	}
	return true
}

// nameWords keeps a name's letters, one space between words: "LE FÈVRE-
// Dupont" and "Le Fèvre Dupont" are the same words.
func nameWords(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsLetter(r) {
			return r
		}
		return ' '
	}, s)
}

// lastPart is a specialty's code without its profession: "G15_10/SM54" is SM54.
func lastPart(code string) string {
	if i := strings.LastIndexByte(code, '/'); i >= 0 {
		return code[i+1:]
	}
	return code
}

// systemFiling: software files for the authors of its organisations: every
// professional or organisation author, in the metadata and the header,
// names one of them, and there is at least one.
func systemFiling(a carnet.Actor, f *carnet.Filing) (string, string) {
	orgs := actorOrgs(a)
	if len(orgs) == 0 {
		return ReasonAuthorOutsideOrg, "the software's token names no organisation"
	}
	if carnet.IsPatientClass(f.Class) {
		return ReasonPatientClass, "class 90 is the patient's own documents"
	}
	n := 0
	for _, au := range slices.Concat(f.Authors, f.HeaderAuthors) {
		pro, org := isProfessional(au), carnet.OrgKey(au.OrgID)
		if !pro && org == "" {
			continue // a device or the patient: acts for no one
		}
		if org == "" || !slices.Contains(orgs, org) {
			return ReasonAuthorOutsideOrg, "an author names no organisation of the software"
		}
		n++
	}
	if n == 0 {
		return ReasonAuthorOutsideOrg, "no author of the software's organisations"
	}
	return "", ""
}

// patientFiling: the patient side files the patient's own documents, with
// the labels it may set (docs/ACCESS.md, "Who may change what").
func patientFiling(a carnet.Actor, f *carnet.Filing) (string, string) {
	if !carnet.IsPatientClass(f.Class) {
		return ReasonPatientDocumentOnly, "a patient files documents of class 90 (document du patient)"
	}
	for _, au := range slices.Concat(f.Authors, f.HeaderAuthors) {
		if isProfessional(au) || carnet.OrgKey(au.OrgID) != "" || au.Profession.Code != "" || au.Specialty.Code != "" || au.Role.Code != "" {
			return ReasonPatientDocumentOnly, "a patient's document names no professional, profession or organisation as author"
		}
	}
	for _, l := range f.Labels {
		switch {
		case l == carnet.LabelInvisiblePatient:
			return ReasonPatientLabel, "only professionals hide a document from the patient"
		case l == carnet.LabelInvisibleLegalRep && a.LegalRepresentative:
			return ReasonPatientLabel, "only the patient hides a document from their legal representatives"
		}
	}
	return "", ""
}

func isProfessional(a carnet.Author) bool {
	return a.ID.Value != "" && a.ID.OID() == carnet.OIDRPPS
}

func namesProfessional(as []carnet.Author, rpps string) bool {
	return rpps != "" && slices.ContainsFunc(as, func(a carnet.Author) bool { return isProfessional(a) && a.ID.Value == rpps })
}

// actorOrgs returns the organisations an actor's token names (OrgKey).
func actorOrgs(a carnet.Actor) []string {
	var out []string
	for _, id := range append([]carnet.Identifier{a.Org}, a.Orgs...) {
		if k := carnet.OrgKey(id); k != "" && !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	return out
}

// sharesOrg reports whether one of the document's authors names one of
// the actor's organisations.
func sharesOrg(doc *carnet.DocumentRow, a carnet.Actor) bool {
	orgs := actorOrgs(a)
	for _, t := range doc.Tokens {
		if t.Kind == carnet.TokAuthorOrg && slices.Contains(orgs, t.Value) {
			return true
		}
	}
	return false
}
