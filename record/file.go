package record

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	carnet "github.com/carnet-sante/carnet"
)

// validateDocument checks one submitted document's codes and identifiers.
func (s *Service) validateDocument(d carnet.SubmittedDocument, now time.Time) []carnet.Issue {
	var issues []carnet.Issue
	p := d.Path
	if d.UniqueID == "" {
		issues = append(issues, carnet.Issue{Severity: "error", Code: "required", Diagnostics: "masterIdentifier (the document uniqueId) is required", Expression: p + ".masterIdentifier"})
	}
	check := func(vs string, c carnet.Coding, path, what string, required bool) {
		if c.Code == "" {
			if required {
				issues = append(issues, carnet.Issue{Severity: "error", Code: "required", Diagnostics: what + " is required", Expression: path})
			}
			return
		}
		if s.Terminology == nil || vs == "" {
			return
		}
		_, known, valid := s.Terminology.Lookup(vs, c.System, c.Code, now)
		switch {
		case !known:
			issues = append(issues, carnet.Issue{Severity: "error", Code: "code-invalid", Diagnostics: fmt.Sprintf("%s %s|%s is not in the national value set %s", what, c.System, c.Code, vs), Expression: path})
		case !valid:
			issues = append(issues, carnet.Issue{Severity: "error", Code: "code-invalid", Diagnostics: fmt.Sprintf("%s %s|%s is retired in %s and refused for new documents", what, c.System, c.Code, vs), Expression: path})
		}
	}
	m := d.Meta
	check(carnet.ValueSetType, m.Type, p+".type", "type", true)
	check("", m.Class, p+".category", "category (classCode)", true)
	check("", m.Format, p+".content[0].format", "format", true)
	check(carnet.ValueSetFacility, m.Facility, p+".context.facilityType", "facilityType", false)
	check(carnet.ValueSetPracticeSetting, m.PracticeSetting, p+".context.practiceSetting", "practiceSetting", false)
	issues = append(issues, s.checkParticipants(d, now)...)
	if len(m.Confidentiality) == 0 {
		issues = append(issues, carnet.Issue{Severity: "error", Code: "required", Diagnostics: "securityLabel (confidentialityCode) is required", Expression: p + ".securityLabel"})
	}
	for i, c := range m.Confidentiality {
		check(carnet.ValueSetConfidentiality, c, fmt.Sprintf("%s.securityLabel[%d]", p, i), "securityLabel", true)
	}
	if m.ContentType == "" {
		issues = append(issues, carnet.Issue{Severity: "error", Code: "required", Diagnostics: "content.attachment.contentType is required", Expression: p + ".content[0].attachment.contentType"})
	}
	return issues
}

// Provide files a submission (ITI-65, ITI-105, ITI-106): all of it,
// durably, or nothing. It reads as its pipeline:
//
//	read      what each document states of itself (its CDA header, N3 items)
//	validate  identities, codes, uniqueIds within the submission
//	decide    who may file these documents and replace those (the policy)
//	seal      everything, before taking the writer
//	store     one transaction: the record and its care team, the documents,
//	          what they replace, items, terms, notifications
//	audit     before anything is answered
func (s *Service) Provide(ctx context.Context, r carnet.Request, sub carnet.Submission) (carnet.SubmissionResult, error) {
	now := s.now()
	sub, extracted, warnings, reasons, issues := s.read(sub)
	issues = append(issues, s.validate(sub, reasons, now)...)
	if len(issues) > 0 {
		return carnet.SubmissionResult{}, carnet.Invalid(issues...)
	}
	for range 3 {
		res, err := s.file(ctx, r, sub, extracted, now)
		if errors.Is(err, errRetry) {
			continue
		}
		res.Warnings = warnings
		if err == nil && len(res.Documents) > 0 {
			s.warmCare(res.Documents[0].Patient)
		}
		return res, err
	}
	return carnet.SubmissionResult{}, carnet.Errorf(carnet.KindConflict, "the patient record changed concurrently; retry")
}

// read reads what each document says of itself: what the producer left
// out is taken from the header (with the warnings of fallback rules, and
// the reasons a value could not be derived), a contradiction is an issue,
// structured items are kept.
func (s *Service) read(sub carnet.Submission) (_ carnet.Submission, extracted []carnet.Extraction, warnings, reasons [][]carnet.Issue, issues []carnet.Issue) {
	sub.Documents = slices.Clone(sub.Documents)
	extracted = make([]carnet.Extraction, len(sub.Documents))
	warnings, reasons = make([][]carnet.Issue, len(sub.Documents)), make([][]carnet.Issue, len(sub.Documents))
	read := make([]bool, len(sub.Documents))
	for i := range sub.Documents {
		if s.Extractor == nil {
			break
		}
		d := &sub.Documents[i]
		x, ok, err := s.Extractor.Extract(d.Meta.ContentType, d.Content)
		switch {
		case err != nil:
			issues = append(issues, carnet.Issue{Severity: "error", Code: "invalid", Diagnostics: "the document cannot be read: " + carnet.ErrorMessage(err), Expression: d.Path + ".content[0].attachment"})
		case ok:
			extracted[i], read[i] = x, true
			issues = append(issues, s.Extractor.Check(d.Meta, sub.Patient, x, d.Path)...)
			warnings[i], reasons[i] = fromHeader(d, x)
		}
	}
	for i := range extracted {
		if read[i] && extracted[i].Derived.Authors == nil {
			// A document that states its authors and names none is still
			// one whose header decides who may file it.
			extracted[i].Derived.Authors = []carnet.Author{}
		}
	}
	if len(sub.Documents) == 1 && sub.Set.UniqueID == "" && sub.Documents[0].UniqueID != "" {
		sub.Set.UniqueID = carnet.DerivedSetUniqueID(sub.Documents[0].UniqueID)
	}
	if sub.Set.ContentType.Code == "" && len(sub.Documents) > 0 {
		sub.Set.ContentType = sub.Documents[0].Meta.Type
	}
	return sub, extracted, warnings, reasons, issues
}

// validate checks identities, codes and uniqueIds within the submission;
// a value required and not given says why the header did not give it.
func (s *Service) validate(sub carnet.Submission, reasons [][]carnet.Issue, now time.Time) []carnet.Issue {
	issues := s.checkINS(sub.Patient, sub.PatientPath)
	if len(sub.Documents) == 0 && len(sub.Changes) == 0 {
		issues = append(issues, carnet.Issue{Severity: "error", Code: "required", Diagnostics: "the submission has no document", Expression: sub.SetPath})
	}
	seen := map[string]int{}
	for i, d := range sub.Documents {
		issues = append(issues, explainRequired(s.validateDocument(d, now), reasons[i])...)
		if j, dup := seen[d.UniqueID]; dup && d.UniqueID != "" {
			issues = append(issues, carnet.Issue{Severity: "error", Code: "duplicate", Diagnostics: fmt.Sprintf("uniqueId %s is used by two documents of the submission (entries %d and %d)", d.UniqueID, j, i), Expression: d.Path + ".masterIdentifier"})
		}
		seen[d.UniqueID] = i
	}
	return issues
}

// filing is one attempt at filing a submission into a record.
type filing struct {
	s         *Service
	r         carnet.Request
	sub       carnet.Submission
	extracted []carnet.Extraction
	now       time.Time
	filer     string // carnet.FilerOf the caller: the uniqueIds' namespace
	a         *access
	newRecord bool
	// joining are the professionals the filing puts in the care team.
	joining []carnet.Author
	// replaced are the documents the submission replaces, by FHIR id, as
	// read before the transaction.
	replaced map[string]replacement
}

// replacement is a document a submitted one replaces, and the patient's
// choices on it that carry over to its replacement.
type replacement struct {
	latest     carnet.DocumentRow
	labels     []carnet.Coding // MASQUE_PS, INVISIBLE_REPRESENTANTS_LEGAUX
	restricted bool            // under an EHDS restriction
}

// sealed is everything a filing writes, sealed before the transaction.
type sealed struct {
	newPatient carnet.PatientRow // a record created by the filing
	docs       []carnet.Document
	docRows    []carnet.DocumentRow
	contents   [][]byte
	items      []carnet.ItemRow
	set        carnet.SubmissionSetRow
	terms      []indexedText
	// notes are told to the patient once stored: the new documents (those
	// not hidden from the patient) and, by RPPS, each professional joining
	// the care team (kept only if they join).
	newDocs  *carnet.NotificationRow
	joinNote map[string]carnet.NotificationRow
	res      carnet.SubmissionResult
}

type indexedText struct {
	tf  map[string]int
	len int
}

// file is one attempt at filing: open the record → decide → seal →
// store → audit. errRetry asks for another attempt.
func (s *Service) file(ctx context.Context, r carnet.Request, sub carnet.Submission, extracted []carnet.Extraction, now time.Time) (carnet.SubmissionResult, error) {
	f, err := s.openFiling(ctx, r, sub, extracted, now)
	if err != nil {
		return carnet.SubmissionResult{}, err
	}
	if err := f.decide(ctx); err != nil {
		return carnet.SubmissionResult{}, err
	}
	sl, err := f.seal(ctx)
	if err != nil {
		return carnet.SubmissionResult{}, err
	}
	// The filing's event goes into its own transaction when the Store and
	// the Auditor allow it (docs/AUDIT.md): sealed here, out of the
	// writer's way, and again inside only for a replayed submission, whose
	// documents are those first filed.
	var (
		res     carnet.SubmissionResult
		event   *carnet.AuditRow
		audited bool
	)
	prep, _ := s.Audit.(carnet.AuditPreparer)
	if prep != nil && !s.noAuditTx.Load() {
		row, err := prep.Prepare(ctx, f.a.event(carnet.ActionCreate, sl.res.DocumentIDs))
		if err != nil {
			return carnet.SubmissionResult{}, auditUnavailable(err)
		}
		event = &row
	}
	err = s.Store.Update(ctx, func(tx carnet.Tx) error {
		var err error
		res, err = f.store(ctx, tx, sl)
		if err != nil {
			return err
		}
		atx, ok := tx.(carnet.AuditTx)
		if !ok {
			s.noAuditTx.Store(true)
		}
		if !ok || event == nil {
			audited = false
			return nil
		}
		row := *event
		if !slices.Equal(res.DocumentIDs, sl.res.DocumentIDs) {
			if row, err = prep.Prepare(ctx, f.a.event(carnet.ActionCreate, res.DocumentIDs)); err != nil {
				return auditUnavailable(err)
			}
		}
		if _, err := atx.AppendAudit(ctx, []carnet.AuditRow{row}); err != nil {
			return auditUnavailable(err)
		}
		audited = true
		return nil
	})
	if errors.Is(err, errRetry) && f.newRecord {
		// Another filing created the record first: this attempt's record
		// key goes, with the data key sealing made for it.
		if derr := s.Store.Update(ctx, func(tx carnet.Tx) error {
			_, err := tx.DropUnusedDataKeys(ctx, f.a.row.Key)
			return err
		}); derr != nil {
			s.log().Warn("dropping the data key of a record creation that lost a race", "err", derr)
		}
	}
	if err != nil {
		return carnet.SubmissionResult{}, s.recordDenial(ctx, err)
	}
	res.Readable = make([]bool, len(res.Documents))
	for i, d := range res.Documents {
		row, err := s.sealDocument(ctx, d) // the clear fields the policy reads
		if err != nil {
			return carnet.SubmissionResult{}, err
		}
		res.Readable[i] = f.a.permits(carnet.ActionRead, &row)
	}
	if audited {
		return res, f.a.notifyAccess(ctx, carnet.ActionCreate, res.DocumentIDs)
	}
	return res, f.a.served(ctx, carnet.ActionCreate, res.DocumentIDs)
}

// openFiling finds the record (or prepares a new one) and how the caller
// stands to it.
func (s *Service) openFiling(ctx context.Context, r carnet.Request, sub carnet.Submission, extracted []carnet.Extraction, now time.Time) (*filing, error) {
	f := &filing{s: s, r: r, sub: sub, extracted: extracted, now: now, filer: carnet.FilerOf(r.Actor)}
	row, err := s.findPatient(ctx, sub.Patient)
	f.newRecord = carnet.IsKind(err, carnet.KindNotFound)
	if err != nil && !f.newRecord {
		return nil, err
	}
	if f.newRecord {
		row = carnet.PatientRow{Key: carnet.PatientKey(carnet.NewID()), State: carnet.RecordOpen, Version: 1, Created: now, Updated: now}
	}
	if row.State == carnet.RecordClosed {
		return nil, carnet.Invalid(carnet.Issue{Severity: "error", Code: "business-rule", Diagnostics: "the patient has closed their record: no document can be filed", Expression: sub.PatientPath})
	}
	if f.a, err = s.access(ctx, r, &row); err != nil {
		return nil, err
	}
	return f, nil
}

// decide asks the policy whether the caller may file into the record, file
// each document (docs/ACCESS.md, "Who may file for whom") and replace what
// the documents replace; it reads the replaced documents and the patient's
// choices on them.
func (f *filing) decide(ctx context.Context) error {
	if _, err := f.a.check(ctx, carnet.ActionCreate, nil); err != nil {
		return err
	}
	var issues []carnet.Issue
	var reasons []string
	for i, sd := range f.sub.Documents {
		fl := &carnet.Filing{Authors: sd.Meta.Authors, HeaderAuthors: f.extracted[i].Derived.Authors, Class: sd.Meta.Class}
		for _, c := range sd.Meta.Confidentiality {
			fl.Labels = append(fl.Labels, c.Code)
		}
		req := f.a.request(carnet.ActionCreate, nil)
		req.Filing = fl
		if dec := f.s.Policy.Decide(req); !dec.Permit {
			issues = append(issues, carnet.Issue{Severity: "error", Code: "business-rule", Diagnostics: filingRefusal(f.r.Actor), Expression: sd.Path + ".author"})
			reasons = append(reasons, dec.Reasons...)
		}
	}
	if len(issues) > 0 {
		// The attempt goes to the patient's history; the caller is told
		// why, which concerns only what they sent.
		return f.s.recordDenial(ctx, f.a.refusal(carnet.ActionCreate, nil, strings.Join(reasons, "; "), carnet.Invalid(issues...)))
	}
	f.joining = careTeamJoining(f.r.Actor, f.sub.Documents)
	f.replaced = map[string]replacement{}
	for _, sd := range f.sub.Documents {
		for _, rel := range sd.Meta.RelatesTo {
			if f.newRecord {
				// A new record holds nothing to relate to.
				return f.s.recordDenial(ctx, relationAbsent(rel, sd.Path))
			}
			if rel.Code != "replaces" {
				if err := f.s.relatedTo(ctx, f.a, rel, sd.Path); err != nil {
					return f.s.recordDenial(ctx, err)
				}
				continue
			}
			rep, err := f.s.replacementOf(ctx, f.s.Store, f.a, rel.Target, sd.Path)
			if err != nil {
				return f.s.recordDenial(ctx, err)
			}
			f.replaced[rel.Target] = rep
		}
	}
	return nil
}

// relationAbsent is the answer for a relation to a document the caller
// cannot relate to: the same words whether it is absent, in another
// record or hidden.
func relationAbsent(rel carnet.Relation, path string) error {
	what := "related"
	if rel.Code == "replaces" {
		what = "replaced"
	}
	return carnet.Invalid(carnet.Issue{Severity: "error", Code: "not-found", Diagnostics: fmt.Sprintf("the %s document %s is not in this patient's record", what, rel.Target), Expression: path + ".relatesTo"})
}

// relatedTo checks an addendum, transformation or signature: its target
// is a document of this record that the caller may read or change
// (software relates to what it may change; it reads nothing).
func (s *Service) relatedTo(ctx context.Context, a *access, rel carnet.Relation, path string) error {
	old, err := s.Store.Document(ctx, a.row.Key, rel.Target)
	if carnet.IsKind(err, carnet.KindNotFound) {
		return relationAbsent(rel, path)
	}
	if err != nil {
		return err
	}
	latest, err := s.latestOf(ctx, s.Store, old)
	if err != nil {
		return err
	}
	if a.permits(carnet.ActionRead, &latest) {
		return nil
	}
	req := a.request(carnet.ActionUpdate, &latest)
	req.Change = &carnet.Change{Replace: true}
	if s.Policy.Decide(req).Permit {
		return nil
	}
	return a.refusal(carnet.ActionCreate, &latest, "relatesTo "+rel.Code+": neither readable nor changeable by the filer", relationAbsent(rel, path))
}

// filingRefusal tells a caller which documents they may file.
func filingRefusal(a carnet.Actor) string {
	switch a.Kind {
	case carnet.ActorProfessional:
		return "a professional files only the documents they author: their RPPS must be among the authors of the metadata and of the document's header"
	case carnet.ActorSystem:
		return "software files only for the authors of its organisations: every professional or organisation author, in the metadata and the document's header, must name an organisation (FINESS) of the software's token"
	case carnet.ActorPatient:
		return "a patient (or a legal representative) files only their own documents: class 90 (document du patient), with no professional or organisation as author"
	}
	return "this caller files no document"
}

// careTeamJoining returns the professionals a filing puts in the care
// team (docs/ACCESS.md): a professional filing, themselves; software, the
// professional authors it files for (all of its organisations, as the
// policy decided); the patient side, no one.
func careTeamJoining(actor carnet.Actor, docs []carnet.SubmittedDocument) []carnet.Author {
	switch actor.Kind {
	case carnet.ActorProfessional:
		for _, sd := range docs {
			for _, au := range sd.Meta.Authors {
				if au.ID.OID() == carnet.OIDRPPS && au.ID.Value == actor.ID.Value {
					return []carnet.Author{au}
				}
			}
		}
		return []carnet.Author{{ID: actor.ID, Family: actor.Name}}
	case carnet.ActorSystem:
		var out []carnet.Author
		for _, sd := range docs {
			for _, au := range sd.Meta.Authors {
				if au.ID.OID() == carnet.OIDRPPS && au.ID.Value != "" && !slices.ContainsFunc(out, func(x carnet.Author) bool { return x.ID.Value == au.ID.Value }) {
					out = append(out, au)
				}
			}
		}
		return out
	}
	return nil
}

// replacementOf reads the document a new one replaces, as it is now, and
// decides that the caller may replace it. Anyone who may not is told it is
// not in the record, whatever its status: a replacement says nothing of
// hidden documents.
func (s *Service) replacementOf(ctx context.Context, r carnet.Reader, a *access, target, path string) (replacement, error) {
	absent := relationAbsent(carnet.Relation{Code: "replaces", Target: target}, path)
	old, err := r.Document(ctx, a.row.Key, target)
	if carnet.IsKind(err, carnet.KindNotFound) {
		return replacement{}, absent
	}
	if err != nil {
		return replacement{}, err
	}
	latest, err := s.latestOf(ctx, r, old)
	if err != nil {
		return replacement{}, err
	}
	req := a.request(carnet.ActionUpdate, &latest)
	req.Change = &carnet.Change{Replace: true}
	if dec := s.Policy.Decide(req); !dec.Permit {
		den := a.refusal(carnet.ActionUpdate, &latest, "replace: "+strings.Join(dec.Reasons, "; "), absent)
		return replacement{}, den
	}
	if latest.Status != carnet.StatusCurrent {
		return replacement{}, carnet.Invalid(carnet.Issue{Severity: "error", Code: "business-rule", Diagnostics: fmt.Sprintf("the replaced document %s is not current (status %s)", target, latest.Status), Expression: path + ".relatesTo"})
	}
	rep := replacement{latest: latest, restricted: slices.Contains(a.settings.Restricted, latest.LogicalID)}
	for _, code := range []string{carnet.LabelMasquePS, carnet.LabelInvisibleLegalRep} {
		if rowHasLabel(latest, code) {
			rep.labels = append(rep.labels, carnet.Coding{System: "urn:oid:" + carnet.OIDVisibility, Code: code})
		}
	}
	return rep, nil
}

// rowHasLabel reports whether a stored row carries confidentiality code code.
func rowHasLabel(r carnet.DocumentRow, code string) bool {
	return slices.ContainsFunc(r.Tokens, func(t carnet.Token) bool {
		return t.Kind == carnet.TokLabel && (t.Value == code || strings.HasSuffix(t.Value, "|"+code))
	})
}

// seal builds and seals every row the filing writes.
func (f *filing) seal(ctx context.Context) (*sealed, error) {
	s, p := f.s, f.a.row.Key
	out := &sealed{joinNote: map[string]carnet.NotificationRow{}}
	if f.newRecord {
		pt := carnet.Patient{Key: p, Identifiers: []carnet.Identifier{f.sub.Patient}, State: carnet.RecordOpen, Version: 1, Created: f.now, Updated: f.now}
		f.addCareTeam(&pt)
		var err error
		if out.newPatient, err = s.sealPatient(ctx, pt); err != nil {
			return nil, err
		}
	}
	set := f.sub.Set
	set.Patient, set.ID, set.Date = p, carnet.NewID(), f.now
	if set.UniqueID == "" {
		set.UniqueID = "urn:uuid:" + set.ID
	}
	out.res.SetID = set.ID
	out.docRows = make([]carnet.DocumentRow, len(f.sub.Documents))
	out.contents = make([][]byte, len(f.sub.Documents))
	var told []carnet.Document
	for i, sd := range f.sub.Documents {
		// The first version's entryUUID is the document's logicalId, its
		// FHIR id for good: routed like every id, stable across versions.
		id := carnet.NewID()
		d := carnet.Document{Patient: p, ID: id, LogicalID: id, UniqueID: sd.UniqueID, Version: 1, Latest: true,
			Status: carnet.StatusCurrent, SubmissionSet: set.ID, ContentID: carnet.NewID(), Date: f.now, Filer: f.filer, Meta: sd.Meta}
		d.Meta.Confidentiality = f.labels(sd)
		// The patient is told of the documents they may see; one hidden from
		// them is told when the label is lifted.
		d.Untold = d.Meta.HasLabel(carnet.LabelInvisiblePatient)
		if !d.Untold {
			told = append(told, d)
		}
		if len(d.Meta.SHA256) == 0 {
			sum := sha256.Sum256(sd.Content)
			d.Meta.SHA256 = sum[:]
		}
		d.Meta.Size = int64(len(sd.Content))
		if s.Concepts != nil {
			d.Concepts = s.Concepts.Concepts(documentText(sd, f.extracted[i]), f.extracted[i].Items)
		}
		var err error
		if out.docRows[i], err = s.sealDocument(ctx, d); err != nil {
			return nil, err
		}
		if out.contents[i], err = s.Sealer.Seal(ctx, p, carnet.Binding{Kind: "content", ID: d.ContentID, Version: 1}, sd.Content); err != nil {
			return nil, err
		}
		for _, it := range f.extracted[i].Items {
			it.Patient, it.ID, it.SourceID, it.SourceLogicalID = p, carnet.NewID(), d.ID, d.LogicalID
			it.Recorded = d.Date
			row, err := s.sealItem(ctx, it)
			if err != nil {
				return nil, err
			}
			out.items = append(out.items, row)
		}
		set.Documents = append(set.Documents, d.ID)
		out.docs = append(out.docs, d)
		out.res.Documents = append(out.res.Documents, d)
		out.res.DocumentIDs = append(out.res.DocumentIDs, d.ID)
		out.res.ContentIDs = append(out.res.ContentIDs, d.ContentID)
	}
	var err error
	if out.set, err = s.sealSet(ctx, set, f.sub, f.filer); err != nil {
		return nil, err
	}
	if s.Index != nil {
		out.terms = make([]indexedText, len(f.sub.Documents))
		for i, sd := range f.sub.Documents {
			if out.terms[i].tf, out.terms[i].len, err = s.indexText(ctx, p, documentText(sd, f.extracted[i])); err != nil {
				return nil, err
			}
		}
	}
	if len(told) > 0 {
		row, err := s.sealNotification(ctx, newDocumentsNotification(p, told, f.r.Actor, f.now))
		if err != nil {
			return nil, err
		}
		out.newDocs = &row
	}
	for _, au := range f.joining {
		// The notice names the documents the professional joined by: it is
		// shown to whom may see one of them, like the documents.
		var docs []string
		for _, d := range out.docs {
			if f.r.Actor.Kind == carnet.ActorProfessional || slices.ContainsFunc(d.Meta.Authors, func(x carnet.Author) bool { return x.ID.Value == au.ID.Value }) {
				docs = append(docs, d.LogicalID)
			}
		}
		row, err := s.sealNotification(ctx, careTeamNotification(p, au, f.r.Actor, docs, f.now))
		if err != nil {
			return nil, err
		}
		out.joinNote[au.ID.Value] = row
	}
	return out, nil
}

// labels are a new document's confidentiality codes: as submitted, masked
// when the patient chose that new documents be, and with the patient's
// choices on the documents it replaces.
func (f *filing) labels(sd carnet.SubmittedDocument) []carnet.Coding {
	out := slices.Clone(sd.Meta.Confidentiality)
	add := func(c carnet.Coding) {
		if !slices.ContainsFunc(out, func(x carnet.Coding) bool { return x.Code == c.Code }) {
			out = append(out, c)
		}
	}
	if f.a.settings.MaskNew {
		add(carnet.Coding{System: "urn:oid:" + carnet.OIDVisibility, Code: carnet.LabelMasquePS})
	}
	for _, rel := range sd.Meta.RelatesTo {
		if rel.Code == "replaces" {
			for _, c := range f.replaced[rel.Target].labels {
				add(c)
			}
		}
	}
	return out
}

// addCareTeam puts the joining professionals in the record's care team,
// except those the patient blocked or withdrew, and returns who joined.
func (f *filing) addCareTeam(pt *carnet.Patient) []string {
	var joined []string
	blocked := pt.Settings().Blocked
	for _, au := range f.joining {
		id := au.ID.Value
		if slices.Contains(blocked, id) || slices.Contains(pt.Withdrawn, id) ||
			slices.ContainsFunc(pt.Consents, func(c carnet.Consent) bool { return c.Kind == carnet.ConsentCareTeam && c.Professional.Value == id }) {
			continue
		}
		pt.Consents = append(pt.Consents, carnet.Consent{ID: carnet.NewID(), Kind: carnet.ConsentCareTeam, Permit: true, Professional: au.ID,
			ProfessionalName: au.DisplayName(), ProfessionalRole: professionalRole(au), Date: f.now, Recorder: f.r.Actor.Kind, ByFiling: true})
		joined = append(joined, id)
	}
	return joined
}

// store writes the filing in tx: an identical retry by the same filer is
// answered as the first time and changes nothing.
func (f *filing) store(ctx context.Context, tx carnet.Tx, sl *sealed) (carnet.SubmissionResult, error) {
	s, p := f.s, f.a.row.Key
	if prev, err := tx.SubmissionSetByUniqueID(ctx, p, f.filer, sl.set.UniqueID); err == nil {
		return s.replay(ctx, tx, prev, f.sub, f.a)
	} else if !carnet.IsKind(err, carnet.KindNotFound) {
		return carnet.SubmissionResult{}, err
	}
	var joined []string
	if f.newRecord {
		// A record created concurrently under another key makes this
		// filing prepare again.
		if err := tx.PutPatient(ctx, sl.newPatient); err != nil {
			if carnet.IsKind(err, carnet.KindConflict) {
				return carnet.SubmissionResult{}, errRetry
			}
			return carnet.SubmissionResult{}, err
		}
		joined = f.joinedNew()
	} else {
		// The care team and carried restrictions are changed from the
		// record as it is now, so that concurrent filings do not conflict.
		err := s.rewritePatient(ctx, tx, p, func(pt *carnet.Patient) (bool, error) {
			joined = f.addCareTeam(pt)
			restricted := f.carryRestrictions(pt, sl.docs)
			if len(joined) == 0 && !restricted {
				return false, nil
			}
			pt.Updated = f.now
			return true, nil
		})
		if err != nil {
			return carnet.SubmissionResult{}, err
		}
	}
	for i, sd := range f.sub.Documents {
		for _, rel := range sd.Meta.RelatesTo {
			if rel.Code == "replaces" {
				if err := f.supersede(ctx, tx, rel.Target, sd.Path); err != nil {
					return carnet.SubmissionResult{}, err
				}
			}
		}
		if err := tx.PutContent(ctx, p, sl.docRows[i].ContentID, sl.contents[i]); err != nil {
			return carnet.SubmissionResult{}, err
		}
		if err := tx.InsertDocument(ctx, sl.docRows[i]); err != nil {
			if carnet.IsKind(err, carnet.KindConflict) {
				// Only this filer's own documents are looked at: the answer
				// never depends on what the caller may not see. The attempt
				// is recorded in the patient's history.
				dup := carnet.Invalid(carnet.Issue{Severity: "error", Code: "duplicate", Diagnostics: fmt.Sprintf("you already filed a document with uniqueId %s in this record; nothing was stored", sd.UniqueID), Expression: sd.Path + ".masterIdentifier"})
				return carnet.SubmissionResult{}, f.a.refusal(carnet.ActionCreate, nil, "duplicate uniqueId from the same filer", dup)
			}
			return carnet.SubmissionResult{}, err
		}
		if sl.terms != nil {
			if err := tx.PutTerms(ctx, p, sl.docRows[i].LogicalID, sl.terms[i].len, sl.terms[i].tf); err != nil {
				return carnet.SubmissionResult{}, err
			}
		}
	}
	if err := tx.InsertSubmissionSet(ctx, sl.set); err != nil {
		return carnet.SubmissionResult{}, err
	}
	if err := tx.InsertItems(ctx, sl.items); err != nil {
		return carnet.SubmissionResult{}, err
	}
	if sl.newDocs != nil {
		if err := tx.InsertNotification(ctx, *sl.newDocs); err != nil {
			return carnet.SubmissionResult{}, err
		}
	}
	for _, id := range joined {
		if err := tx.InsertNotification(ctx, sl.joinNote[id]); err != nil {
			return carnet.SubmissionResult{}, err
		}
	}
	res := sl.res
	for _, ch := range f.sub.Changes {
		d, err := s.applyChange(ctx, tx, f.r, p, ch, f.now)
		if err != nil {
			return carnet.SubmissionResult{}, err
		}
		res.ChangedIDs = append(res.ChangedIDs, d.LogicalID)
	}
	return res, nil
}

// joinedNew returns who joined a record the filing creates (its care team
// was set when it was sealed).
func (f *filing) joinedNew() []string {
	var out []string
	for _, au := range f.joining {
		out = append(out, au.ID.Value)
	}
	return out
}

// carryRestrictions extends the patient's EHDS restrictions of replaced
// documents to their replacements.
func (f *filing) carryRestrictions(pt *carnet.Patient, docs []carnet.Document) bool {
	changed := false
	for i, sd := range f.sub.Documents {
		for _, rel := range sd.Meta.RelatesTo {
			if rel.Code != "replaces" || !f.replaced[rel.Target].restricted {
				continue
			}
			c := carnet.Consent{ID: carnet.NewID(), Kind: carnet.ConsentRestrict, Document: docs[i].LogicalID, Date: f.now, Recorder: carnet.ActorPatient}
			pt.Consents, _ = carnet.WithConsent(pt.Consents, c)
			changed = true
		}
	}
	return changed
}

// supersede marks a replaced document superseded, in the filing's
// transaction, after deciding again on it as it is now: a change of its
// labels since it was read makes the filing prepare again, so that the
// patient's choices carried over are the latest.
func (f *filing) supersede(ctx context.Context, tx carnet.Tx, target, path string) error {
	rep, err := f.s.replacementOf(ctx, tx, f.a, target, path)
	if err != nil {
		return err
	}
	if !slices.Equal(labelTokens(rep.latest), labelTokens(f.replaced[target].latest)) || rep.restricted != f.replaced[target].restricted {
		return errRetry
	}
	// The document's latest version changes status in place (XDS
	// deprecation is not a metadata version).
	old, err := tx.Document(ctx, f.a.row.Key, rep.latest.ID)
	if err != nil {
		return err
	}
	old.Status = carnet.StatusSuperseded
	// What was derived from it (items, terms) stays: it is shown exactly
	// when the document is, and a superseded document's items are not.
	return tx.UpdateDocument(ctx, old)
}

// sealSet seals a submission set with the fingerprint of what it files.
func (s *Service) sealSet(ctx context.Context, set carnet.SubmissionSet, sub carnet.Submission, filer string) (carnet.SubmissionSetRow, error) {
	row := carnet.SubmissionSetRow{Patient: set.Patient, ID: set.ID, UniqueID: set.UniqueID, Filer: filer, Date: set.Date, Tokens: carnet.SubmissionSetTokens(set)}
	// Remember what was filed, to recognise an identical retry.
	set.Fingerprint = submissionFingerprint(sub)
	pt, err := json.Marshal(set)
	if err != nil {
		return row, carnet.WrapError(carnet.KindInternal, "seal submission set", err)
	}
	row.Sealed, err = s.Sealer.Seal(ctx, set.Patient, carnet.Binding{Kind: "submissionset", ID: set.ID, Version: 1}, pt)
	return row, err
}

// submissionFingerprint identifies what a submission files: its documents'
// uniqueIds and content hashes, in order.
func submissionFingerprint(sub carnet.Submission) []byte {
	h := sha256.New()
	for _, d := range sub.Documents {
		sum := sha256.Sum256(d.Content)
		fmt.Fprintf(h, "%d:%s:%x;", len(d.UniqueID), d.UniqueID, sum)
	}
	return h.Sum(nil)
}

// replay answers an identical retry by the same filer as the first filing
// was answered; a different submission under that filer's set uniqueId is a
// duplicate, recorded in the patient's history.
func (s *Service) replay(ctx context.Context, tx carnet.Tx, prev carnet.SubmissionSetRow, sub carnet.Submission, a *access) (carnet.SubmissionResult, error) {
	set, err := s.openSet(ctx, prev)
	if err != nil {
		return carnet.SubmissionResult{}, err
	}
	if subtle.ConstantTimeCompare(set.Fingerprint, submissionFingerprint(sub)) != 1 {
		dup := carnet.Invalid(carnet.Issue{Severity: "error", Code: "duplicate", Diagnostics: fmt.Sprintf("you already filed a different submission set with uniqueId %s; nothing was stored", set.UniqueID), Expression: sub.SetPath + ".identifier"})
		return carnet.SubmissionResult{}, a.refusal(carnet.ActionCreate, nil, "another submission under a submission set uniqueId the same filer used", dup)
	}
	res := carnet.SubmissionResult{SetID: set.ID, Replayed: true}
	for _, id := range set.Documents {
		row, err := tx.Document(ctx, prev.Patient, id)
		if err != nil {
			return carnet.SubmissionResult{}, err
		}
		d, err := s.openDocument(ctx, row)
		if err != nil {
			return carnet.SubmissionResult{}, err
		}
		res.Documents = append(res.Documents, d)
		res.DocumentIDs = append(res.DocumentIDs, row.ID)
		res.ContentIDs = append(res.ContentIDs, row.ContentID)
	}
	return res, nil
}
