package httpapi_test

import (
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	carnet "github.com/carnet-sante/carnet"
)

// The write oracle: docs/ACCESS.md, "Writes: who may file, change and
// declare", written again here from its tables, independently of the code
// (record, policy) that implements them. It says whether a write must be
// accepted and what it must change; the run checks the server against it.

// advVerdict is what the rules say of one write.
type advVerdict struct {
	Allowed bool
	Rule    string // the rule that decides, quoted in failures
	// Status, when not 0, is the one answer the rules fix for a refusal,
	// by StatusRule.
	Status     int
	StatusRule string
	// Hidden: the write names a document the rules keep from the actor: a
	// refusal must be answered exactly like the same write naming an id
	// that does not exist.
	Hidden bool
	// Replay: an identical retry by the same filer, answered as the first
	// time; nothing changes.
	Replay bool
	// Conflict: refusing with 409 is right too (a change naming an older
	// metadata version, see patchVerdict).
	Conflict bool
	// Joiners are the RPPS an accepted filing or declaration puts in the
	// care team.
	Joiners []string
}

func allow(rule string) advVerdict  { return advVerdict{Allowed: true, Rule: rule} }
func refuse(rule string) advVerdict { return advVerdict{Rule: rule} }

// ---- who may file for whom ----

// authorOrgMatches: an author names an organisation of the software, by
// its FINESS or its Struct_IdNat ("1" + FINESS).
func authorOrgMatches(a carnet.Author, finess string) bool {
	return finess != "" && (a.OrgID.Value == finess || a.OrgID.Value == "1"+finess)
}

// specAuthors are the authors a filing names: in the metadata, and in the
// header of a CDA (for ITI-106, only there).
func (r *advRun) specAuthors(d *advDocSpec, kind advKind) (meta, header []carnet.Author) {
	if d.CDA != "" {
		header = r.templates[d.CDAAuthor+"/"+string(d.CDA)].Meta.Authors
	}
	if kind == advGenerate {
		return header, header
	}
	for _, a := range d.Authors {
		if a == "patient" {
			meta = append(meta, carnet.Author{ID: r.cast.P})
		} else {
			meta = append(meta, r.cast.get(a).Author)
		}
	}
	return meta, header
}

func isProfessional(a carnet.Author) bool { return a.ID.OID() == carnet.OIDRPPS && a.ID.Value != "" }

// fileVerdict decides a filing (ITI-65, ITI-105, ITI-106, or a replay of
// one) of docs by m.
func (r *advRun) fileVerdict(m *advMember, docs []*advDocSpec, kind advKind, replayOf *advLogEntry, tr *advTruth) advVerdict {
	s := tr.settings()
	switch {
	case m.patientSide():
		if r.relation(m, tr) == carnet.RelationNone {
			return refuse("only the record's patient side files patient documents into it")
		}
	case m.professional():
		if slices.Contains(s.Blocked, m.rpps()) {
			return refuse("a professional the patient blocked has no access, filing included")
		}
	case m.software():
		if m.FINESS == "" {
			return refuse("software with no organisation (finess claim) files nothing")
		}
	}
	if s.Closed {
		return refuse("nothing is filed into a closed record")
	}
	for _, d := range docs {
		meta, header := r.specAuthors(d, kind)
		for _, authors := range [][]carnet.Author{meta, header} {
			if authors == nil {
				continue
			}
			switch {
			case m.patientSide():
				if d.Class != advClass90 && kind != advGenerate {
					return refuse("the patient side files patient documents only (class 90)")
				}
				for _, a := range authors {
					if isProfessional(a) || a.Org != "" || a.OrgID.Value != "" {
						return refuse("a patient document names no professional or organisation author")
					}
				}
			case m.professional():
				if !slices.ContainsFunc(authors, func(a carnet.Author) bool { return a.ID.Value == m.rpps() }) {
					return refuse("a professional files only documents they author (metadata and CDA header)")
				}
			case m.software():
				// "An author with no organisation … files nothing": the
				// patient, as author of their own document, has none.
				for _, a := range authors {
					if !authorOrgMatches(a, m.FINESS) {
						return refuse("software files only for the authors of its organisations (finess)")
					}
				}
			}
		}
	}
	// UniqueIds are unique per record and per filer; an identical retry
	// by the same filer is answered as the first time.
	if replayOf != nil && replayOf.accepted && replayOf.filer == m.filerKey() {
		return advVerdict{Allowed: true, Replay: true, Rule: "an identical retry by the same filer is answered as the first time and changes nothing"}
	}
	for _, d := range docs {
		if r.filedUIDs[m.filerKey()][d.UniqueID] {
			return refuse("a uniqueId this filer used is refused as a duplicate (and recorded in the history)")
		}
	}
	for _, d := range docs {
		if d.Replaces == "" {
			continue
		}
		target := tr.byHandle(d.Replaces)
		if target == nil {
			return advVerdict{Rule: "a replaced document that is not in the record is refused", Hidden: true}
		}
		if !r.mayChange(m, target, tr, "replace") {
			return advVerdict{Rule: "replacing is changing: anyone who may not change the target is told it is not in the record", Hidden: true}
		}
		if target.Latest.Status != carnet.StatusCurrent {
			return refuse("only a current document is replaced")
		}
	}
	v := allow("a filing the rules permit")
	for _, d := range docs {
		if d.Reuses != "" || replayOf != nil {
			v.Rule = "a uniqueId another filer used is not looked at: the answer never depends on documents the caller may not see"
		}
	}
	v.Joiners = r.joiners(m, docs, kind, tr)
	return v
}

// joiners: a professional filing joins the care team; software's filing
// puts each professional author in it; the patient side puts no one; never
// one the patient blocked or withdrew.
func (r *advRun) joiners(m *advMember, docs []*advDocSpec, kind advKind, tr *advTruth) []string {
	var cand []string
	switch {
	case m.professional():
		cand = []string{m.rpps()}
	case m.software():
		for _, d := range docs {
			meta, header := r.specAuthors(d, kind)
			for _, a := range append(meta, header...) {
				if isProfessional(a) {
					cand = append(cand, a.ID.Value)
				}
			}
		}
	}
	s := tr.settings()
	var out []string
	for _, rpps := range sortedCopy(cand) {
		if !slices.Contains(s.Blocked, rpps) && !r.withdrawn[rpps] {
			out = append(out, rpps)
		}
	}
	return out
}

// ---- who may change what ----

type advRole string

const (
	rolePatient  advRole = "patient"
	roleRep      advRole = "legal representative"
	roleAuthor   advRole = "professional author"
	roleSoftware advRole = "software for the document"
	roleNone     advRole = "anyone else"
)

// role is how m stands to document d for a change (the columns of the
// table of "Who may change what").
func (r *advRun) role(m *advMember, d *advTrueDoc, tr *advTruth) advRole {
	s := tr.settings()
	if s.Closed || d.Latest.Status == carnet.StatusDeleted {
		return roleNone
	}
	switch {
	case m.patientSide():
		// The patient side changes what it sees, and nothing else.
		if !r.sees(advObserver{Who: m, Mode: carnet.ModeNormal}, tr, d) {
			return roleNone
		}
		if r.relation(m, tr) == carnet.RelationLegalRep {
			return roleRep
		}
		return rolePatient
	case m.professional():
		if slices.Contains(d.authorRPPS(), m.rpps()) && !slices.Contains(s.Blocked, m.rpps()) && !slices.Contains(s.Restricted, d.Logical) {
			return roleAuthor
		}
	case m.software():
		if r.filer[d.Logical] == m.Name {
			return roleSoftware
		}
		for _, a := range d.Doc.Meta.Authors {
			if isProfessional(a) && authorOrgMatches(a, m.FINESS) {
				return roleSoftware
			}
		}
	}
	return roleNone
}

// advChangeRows are the rows of the table of "Who may change what".
var advChangeRows = map[string]string{
	"+" + carnet.LabelMasquePS:          "masking (adding MASQUE_PS) is for the patient side, the author and the software for the document",
	"-" + carnet.LabelMasquePS:          "unmasking (removing MASQUE_PS) is for the patient and the legal representatives only",
	"+" + carnet.LabelInvisibleLegalRep: "INVISIBLE_REPRESENTANTS_LEGAUX is set by the patient, the author and the software for the document",
	"-" + carnet.LabelInvisibleLegalRep: "INVISIBLE_REPRESENTANTS_LEGAUX is lifted by the patient, the author and the software for the document",
	"+" + carnet.LabelInvisiblePatient:  "INVISIBLE_PATIENT is set by the author and the software for the document only",
	"-" + carnet.LabelInvisiblePatient:  "INVISIBLE_PATIENT is lifted by the author and the software for the document only",
	"status":                            "status changes (archive, unarchive, superseded, current) are for the author and the software for the document only",
	"delete":                            "deletion is for the author and the software for the document only",
}

// mayChange is the table of "Who may change what"; op is "+LABEL",
// "-LABEL", "status", "delete" or "replace".
func (r *advRun) mayChange(m *advMember, d *advTrueDoc, tr *advTruth, op string) bool {
	role := r.role(m, d, tr)
	professionalSide := role == roleAuthor || role == roleSoftware
	switch op {
	case "+" + carnet.LabelMasquePS:
		return role != roleNone
	case "-" + carnet.LabelMasquePS:
		return role == rolePatient || role == roleRep
	case "+" + carnet.LabelInvisibleLegalRep, "-" + carnet.LabelInvisibleLegalRep:
		return role == rolePatient || professionalSide
	case "+" + carnet.LabelInvisiblePatient, "-" + carnet.LabelInvisiblePatient, "status", "delete":
		return professionalSide
	case "replace":
		return professionalSide || ((role == rolePatient || role == roleRep) && d.patientDocument())
	}
	return false
}

// ops are the operations of a change, as the table names them.
func (c advChange) ops() []string {
	var ops []string
	for _, l := range c.Add {
		ops = append(ops, "+"+l)
	}
	for _, l := range c.Remove {
		ops = append(ops, "-"+l)
	}
	switch c.Status {
	case "delete":
		ops = append(ops, "delete")
	case "":
	default:
		ops = append(ops, "status")
	}
	return ops
}

const advAnswerRule = "a caller who may read a document and may not change it is told why (403); anyone else is told it does not exist (404)"

// patchVerdict decides a PDSm change.
func (r *advRun) patchVerdict(m *advMember, s *advStep, tr *advTruth) advVerdict {
	d := tr.byHandle(s.Target)
	if d == nil {
		return advVerdict{Rule: "a change of a document that does not exist is refused", Status: 404, StatusRule: advAnswerRule}
	}
	o := advObserver{Who: m, Mode: carnet.ModeNormal}
	if d.Latest.Status == carnet.StatusDeleted {
		if r.couldSee(o, tr, d) {
			return advVerdict{Rule: "a deleted document changes no more", Status: 410, StatusRule: "a deleted document is gone (410) for whoever could read it"}
		}
		return advVerdict{Rule: "a deleted document changes no more", Status: 404, StatusRule: advAnswerRule, Hidden: true}
	}
	for _, op := range s.Change.ops() {
		if r.mayChange(m, d, tr, op) {
			continue
		}
		v := advVerdict{Rule: advChangeRows[op], Status: 404, StatusRule: advAnswerRule, Hidden: true}
		if r.sees(o, tr, d) {
			v.Status, v.Hidden = 403, false
		}
		return v
	}
	v := allow("the " + string(r.role(m, d, tr)) + " may " + strings.Join(s.Change.ops(), " "))
	// Named by an older version's id, the change is decided on the latest
	// version either way; docs/MHD.md refused it as a conflict (409) until
	// FHIR ids became stable (issue 13), and since applies it to the latest
	// version (If-Match guards the version the caller saw). Either answer
	// is right; what an accepted one changed is checked.
	v.Conflict = s.Version > 0 && s.Version < len(d.Versions)
	return v
}

// ---- declarations and consents ----

func (r *advRun) consentVerdict(m *advMember, c *advConsentSpec, tr *advTruth) advVerdict {
	s := tr.settings()
	switch {
	case m.patientSide():
		if r.relation(m, tr) == carnet.RelationNone {
			return refuse("only the patient and their legal representatives record the patient's choices")
		}
		if c.Kind == carnet.ConsentRestrict {
			d := tr.byHandle(c.Doc)
			if d == nil {
				return refuse("a restriction names a document of the record")
			}
			if !r.couldSee(advObserver{Who: m, Mode: carnet.ModeNormal}, tr, d) {
				return advVerdict{Rule: "a restriction of a document the caller may not see is answered like one of a document that does not exist", Hidden: true}
			}
		}
		return allow("the patient side records the patient's choices")
	case m.professional():
		if c.Kind != carnet.ConsentCareTeam || c.Pro == "" || r.cast.get(c.Pro).rpps() != m.rpps() {
			return refuse("a professional declares only their own care relationship")
		}
		if slices.Contains(s.Blocked, m.rpps()) {
			const rule = "a professional the patient blocked may not declare; they are told there is nothing (404)"
			return advVerdict{Rule: rule, Status: 404, StatusRule: rule}
		}
		if r.withdrawn[m.rpps()] {
			const rule = "a professional the patient withdrew from the care team needs a new grant from the patient; they are told so (403)"
			return advVerdict{Rule: rule, Status: 403, StatusRule: rule}
		}
		if s.Closed {
			return refuse("no declaration on a closed record")
		}
		v := allow("a professional declares their own care relationship")
		v.Joiners = []string{m.rpps()}
		return v
	}
	return refuse("software records no consent")
}

func (r *advRun) revokeVerdict(m *advMember, c *advConsentSpec, tr *advTruth) advVerdict {
	if !m.patientSide() || r.relation(m, tr) == carnet.RelationNone {
		const rule = "only the patient side withdraws a consent; anyone else is told it does not exist (404)"
		return advVerdict{Rule: rule, Status: 404, StatusRule: rule}
	}
	if r.consentOf(c, tr) == nil {
		return advVerdict{Rule: "a consent that does not exist is not withdrawn", Status: 404, StatusRule: "a consent that does not exist is not found (404)"}
	}
	return allow("the patient side withdraws a consent")
}

// consentOf finds the record's consent a spec names.
func (r *advRun) consentOf(c *advConsentSpec, tr *advTruth) *carnet.Consent {
	var found *carnet.Consent
	for i, cs := range tr.Patient.Consents {
		if cs.Kind == c.Kind && (c.Pro == "" || cs.Professional.Value == r.cast.get(c.Pro).Author.ID.Value) {
			found = &tr.Patient.Consents[i]
		}
	}
	return found
}

// ---- the rest ----

func (r *advRun) feedVerdict(m *advMember) advVerdict {
	if m.software() {
		return allow("identity-feed software creates and updates a record's identity")
	}
	const rule = "only identity-feed software feeds identities; anyone else is refused (403), record or not"
	return advVerdict{Rule: rule, Status: 403, StatusRule: rule}
}

// reasonValid: printable text of at most 500 characters.
func reasonValid(s string) bool {
	if utf8.RuneCountInString(s) > 500 || !utf8.ValidString(s) {
		return false
	}
	for _, c := range s {
		if unicode.IsControl(c) {
			return false
		}
	}
	return true
}

func (r *advRun) emergencyVerdict(s *advStep) advVerdict {
	if !reasonValid(s.Reason) {
		const rule = "X-Access-Reason is printable text of at most 500 characters; control characters are refused (400)"
		return advVerdict{Rule: rule, Status: 400, StatusRule: rule}
	}
	return allow("an emergency search is answered; what it finds is the read oracle's")
}
