package record

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	carnet "github.com/carnet-sante/carnet"
)

// Service is the one place through which every read and write of patient
// data passes: validate, decide (Policy), seal (Sealer), store (Store),
// audit (Auditor), in that order. Transports (httpapi, web) only translate.
type Service struct {
	Store       carnet.Store
	Sealer      carnet.Sealer
	Policy      carnet.Policy
	Audit       carnet.Auditor
	Clock       carnet.Clock
	Terminology carnet.Terminology
	// Index analyses text for the full-text index; nil indexes nothing.
	Index carnet.TextIndexer
	// Extractor reads document content: metadata stated by CDA headers,
	// checked against what producers declare, and structured items. Nil
	// reads nothing.
	Extractor carnet.Extractor
	Logger    *slog.Logger
	// AllowTestINS accepts the test INS OIDs (demo and test mode only).
	AllowTestINS bool
	// DefaultCount and MaxCount bound search pages.
	DefaultCount, MaxCount int

	care careCache // the point-of-care view's clear fields, per record
}

func (s *Service) now() time.Time {
	if s.Clock == nil {
		return time.Now().UTC()
	}
	return s.Clock.Now().UTC()
}

func (s *Service) log() *slog.Logger {
	if s.Logger == nil {
		return slog.Default()
	}
	return s.Logger
}

// errRetry asks Provide to prepare again: the record was created meanwhile
// by a concurrent submission, under another key.
var errRetry = errors.New("patient record created concurrently")

// audit records a successful access; it must succeed before anything is served.
func (s *Service) audit(ctx context.Context, r carnet.Request, act carnet.Action, p carnet.PatientKey, docs []string) error {
	ev := carnet.AuditEvent{Time: s.now(), RequestID: r.RequestID, Actor: r.Actor, Action: act, Mode: r.Mode, Reason: r.Reason, Patient: p, Documents: docs, Outcome: "success"}
	if err := s.Audit.Record(ctx, ev); err != nil {
		return carnet.WrapError(carnet.KindUnavailable, "audit", err)
	}
	return nil
}

// ---- patients ----

func (s *Service) identityToken(id carnet.Identifier) (string, error) {
	return s.Sealer.IdentityToken("ins", carnet.NormalizeIdentifier(id.System)+"|"+id.Value)
}

// checkINS validates an identifier used to file or find a record.
func (s *Service) checkINS(id carnet.Identifier, path string) []carnet.Issue {
	ins, test := id.IsINS()
	switch {
	case id.Value == "":
		return []carnet.Issue{{Severity: "error", Code: "required", Diagnostics: "the patient must be identified by an INS (system urn:oid:1.2.250.1.213.1.4.8 or .9)", Expression: path}}
	case !ins:
		return []carnet.Issue{{Severity: "error", Code: "value", Diagnostics: fmt.Sprintf("the patient identifier system %q is not an INS (urn:oid:1.2.250.1.213.1.4.8 or .9)", id.System), Expression: path}}
	case test && !s.AllowTestINS:
		return []carnet.Issue{{Severity: "error", Code: "business-rule", Diagnostics: "a test INS (OID 1.2.250.1.213.1.4.10 or .11) is accepted only in demo or test mode", Expression: path}}
	case !validINSValue(id.Value):
		return []carnet.Issue{{Severity: "error", Code: "value", Diagnostics: "the INS value must be 15 characters: 13 digits (or 2A/2B for Corsica) and a 2-digit key", Expression: path}}
	}
	return nil
}

func validINSValue(v string) bool {
	if len(v) != 15 {
		return false
	}
	for i, r := range v {
		if (r >= '0' && r <= '9') || (i == 6 && (r == 'A' || r == 'B')) {
			continue
		}
		return false
	}
	return true
}

// findPatient returns the record of an INS, or KindNotFound.
func (s *Service) findPatient(ctx context.Context, id carnet.Identifier) (carnet.PatientRow, error) {
	tok, err := s.identityToken(id)
	if err != nil {
		return carnet.PatientRow{}, err
	}
	return s.Store.PatientByToken(ctx, tok)
}

// resolvePatient finds the record a search names, by key or by INS.
func (s *Service) resolvePatient(ctx context.Context, key carnet.PatientKey, id carnet.Identifier) (carnet.PatientRow, error) {
	if key != "" {
		return s.Store.Patient(ctx, key)
	}
	if id.Value == "" {
		return carnet.PatientRow{}, carnet.Invalid(carnet.Issue{Severity: "error", Code: "required", Diagnostics: "a search needs patient or patient.identifier", Expression: "patient"})
	}
	return s.findPatient(ctx, id)
}

func (s *Service) openPatient(ctx context.Context, row carnet.PatientRow) (carnet.Patient, error) {
	pt, err := s.Sealer.Open(ctx, row.Key, carnet.Binding{Kind: "patient", ID: string(row.Key), Version: row.Version}, row.Sealed)
	if err != nil {
		return carnet.Patient{}, err
	}
	var p carnet.Patient
	if err := json.Unmarshal(pt, &p); err != nil {
		return carnet.Patient{}, carnet.WrapError(carnet.KindInternal, "open patient", err)
	}
	p.Key, p.State, p.Version, p.Created, p.Updated = row.Key, row.State, row.Version, row.Created, row.Updated
	return p, nil
}

func (s *Service) sealPatient(ctx context.Context, p carnet.Patient) (carnet.PatientRow, error) {
	row := carnet.PatientRow{Key: p.Key, State: p.State, Version: p.Version, Created: p.Created, Updated: p.Updated}
	for _, id := range p.Identifiers {
		tok, err := s.identityToken(id)
		if err != nil {
			return row, err
		}
		row.IdentifierTokens = append(row.IdentifierTokens, tok)
	}
	pt, err := json.Marshal(p)
	if err != nil {
		return row, carnet.WrapError(carnet.KindInternal, "seal patient", err)
	}
	row.Sealed, err = s.Sealer.Seal(ctx, p.Key, carnet.Binding{Kind: "patient", ID: string(p.Key), Version: p.Version}, pt)
	return row, err
}

// Patient returns the record with key k.
func (s *Service) Patient(ctx context.Context, r carnet.Request, k carnet.PatientKey) (carnet.Patient, error) {
	row, err := s.Store.Patient(ctx, k)
	if err != nil {
		return carnet.Patient{}, err
	}
	a, err := s.access(ctx, r, &row)
	if err != nil {
		return carnet.Patient{}, err
	}
	if _, err := a.check(ctx, carnet.ActionRead, nil); err != nil {
		return carnet.Patient{}, err
	}
	return a.patient, a.served(ctx, carnet.ActionRead, nil)
}

// PatientByINS returns the record of an INS.
func (s *Service) PatientByINS(ctx context.Context, r carnet.Request, id carnet.Identifier) (carnet.Patient, error) {
	row, err := s.findPatient(ctx, id)
	if err != nil {
		return carnet.Patient{}, err
	}
	return s.Patient(ctx, r, row.Key)
}

// PutPatient creates or updates a record ahead of documents, from an
// identity feed (conditional update on the INS). It returns the record and
// whether it was created.
func (s *Service) PutPatient(ctx context.Context, r carnet.Request, id carnet.Identifier, ident carnet.Identity) (carnet.Patient, bool, error) {
	if issues := s.checkINS(id, "Patient.identifier"); len(issues) > 0 {
		return carnet.Patient{}, false, carnet.Invalid(issues...)
	}
	for range 3 {
		now := s.now()
		row, err := s.findPatient(ctx, id)
		created := carnet.IsKind(err, carnet.KindNotFound)
		var p carnet.Patient
		switch {
		case created:
			p = carnet.Patient{Key: carnet.PatientKey(carnet.NewID()), Identifiers: []carnet.Identifier{id}, State: carnet.RecordOpen, Version: 1, Created: now, Updated: now}
		case err != nil:
			return carnet.Patient{}, false, err
		default:
			if p, err = s.openPatient(ctx, row); err != nil {
				return carnet.Patient{}, false, err
			}
			p.Version++
			p.Updated = now
		}
		p.Identity = ident
		act := carnet.ActionUpdate
		if created {
			act = carnet.ActionCreate
		}
		if created {
			row = carnet.PatientRow{Key: p.Key, State: carnet.RecordOpen}
		}
		a, err := s.access(ctx, r, &row)
		if err != nil {
			return carnet.Patient{}, false, err
		}
		if _, err := a.check(ctx, act, nil); err != nil {
			return carnet.Patient{}, false, err
		}
		newRow, err := s.sealPatient(ctx, p)
		if err != nil {
			return carnet.Patient{}, false, err
		}
		err = s.Store.Update(ctx, func(tx carnet.Tx) error { return tx.PutPatient(ctx, newRow) })
		if carnet.IsKind(err, carnet.KindConflict) {
			continue // a concurrent feed or first document won; read again
		}
		if err != nil {
			return carnet.Patient{}, false, err
		}
		return p, created, s.audit(ctx, r, act, p.Key, nil)
	}
	return carnet.Patient{}, false, carnet.Errorf(carnet.KindConflict, "the patient record changed concurrently; retry")
}

// ---- documents ----

func (s *Service) openDocument(ctx context.Context, row carnet.DocumentRow) (carnet.Document, error) {
	pt, err := s.Sealer.Open(ctx, row.Patient, carnet.Binding{Kind: "document", ID: row.ID, Version: row.Version}, row.Sealed)
	if err != nil {
		return carnet.Document{}, err
	}
	var d carnet.Document
	if err := json.Unmarshal(pt, &d); err != nil {
		return carnet.Document{}, carnet.WrapError(carnet.KindInternal, "open document", err)
	}
	// The row is authoritative for what changes in place.
	d.Patient, d.ID, d.LogicalID, d.UniqueID = row.Patient, row.ID, row.LogicalID, row.UniqueID
	d.Version, d.Latest, d.Status, d.SubmissionSet, d.ContentID, d.Date = row.Version, row.Latest, row.Status, row.SubmissionSet, row.ContentID, row.Date
	return d, nil
}

// sealDocument builds the stored row of d: clear tokens and dates, the rest sealed.
func (s *Service) sealDocument(ctx context.Context, d carnet.Document) (carnet.DocumentRow, error) {
	row := carnet.DocumentRow{
		Patient: d.Patient, ID: d.ID, LogicalID: d.LogicalID, UniqueID: d.UniqueID, Version: d.Version,
		Latest: d.Latest, Status: d.Status, SubmissionSet: d.SubmissionSet, ContentID: d.ContentID,
		Date: d.Date, Created: d.Meta.Created, PeriodStart: d.Meta.ServicePeriod.Start, PeriodEnd: d.Meta.ServicePeriod.End,
		Tokens: carnet.DocumentTokens(d),
	}
	for _, a := range d.Meta.Authors {
		for kind, names := range map[string][]string{carnet.TokAuthorFamily: {a.Family}, carnet.TokAuthorGiven: a.Given} {
			for _, n := range names {
				if n = carnet.FoldName(n); n == "" {
					continue
				}
				tok, err := s.Sealer.Token(ctx, d.Patient, kind, n)
				if err != nil {
					return row, err
				}
				row.Tokens = append(row.Tokens, carnet.Token{Kind: kind, Value: tok})
			}
		}
	}
	if len(d.Meta.SHA256) > 0 {
		// Duplicates (the same content filed twice) are found without
		// unsealing: by a blind token of the content's hash.
		tok, err := s.Sealer.Token(ctx, d.Patient, carnet.TokContentHash, hex.EncodeToString(d.Meta.SHA256))
		if err != nil {
			return row, err
		}
		row.Tokens = append(row.Tokens, carnet.Token{Kind: carnet.TokContentHash, Value: tok})
	}
	slices.SortFunc(row.Tokens, func(a, b carnet.Token) int { return strings.Compare(a.Kind+"\x00"+a.Value, b.Kind+"\x00"+b.Value) })
	row.Tokens = slices.Compact(row.Tokens)
	pt, err := json.Marshal(d)
	if err != nil {
		return row, carnet.WrapError(carnet.KindInternal, "seal document", err)
	}
	row.Sealed, err = s.Sealer.Seal(ctx, d.Patient, carnet.Binding{Kind: "document", ID: d.ID, Version: d.Version}, pt)
	return row, err
}

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

// Provide files a submission: all of it, durably, or nothing (ITI-65, ITI-105).
func (s *Service) Provide(ctx context.Context, r carnet.Request, sub carnet.Submission) (carnet.SubmissionResult, error) {
	now := s.now()
	var issues []carnet.Issue
	issues = append(issues, s.checkINS(sub.Patient, sub.PatientPath)...)
	if len(sub.Documents) == 0 && len(sub.Changes) == 0 {
		issues = append(issues, carnet.Issue{Severity: "error", Code: "required", Diagnostics: "the submission has no document", Expression: sub.SetPath})
	}
	// Read what each document says of itself first: what the producer left
	// out is taken from the header, a contradiction is refused, structured
	// items are kept.
	sub.Documents = slices.Clone(sub.Documents)
	extracted := make([]carnet.Extraction, len(sub.Documents))
	warnings, reasons := make([][]carnet.Issue, len(sub.Documents)), make([][]carnet.Issue, len(sub.Documents))
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
			extracted[i] = x
			issues = append(issues, s.Extractor.Check(d.Meta, sub.Patient, x, d.Path)...)
			warnings[i], reasons[i] = fromHeader(d, x)
		}
	}
	if len(sub.Documents) == 1 && sub.Set.UniqueID == "" && sub.Documents[0].UniqueID != "" {
		sub.Set.UniqueID = carnet.DerivedSetUniqueID(sub.Documents[0].UniqueID)
	}
	if sub.Set.ContentType.Code == "" && len(sub.Documents) > 0 {
		sub.Set.ContentType = sub.Documents[0].Meta.Type
	}
	seen := map[string]int{}
	for i, d := range sub.Documents {
		issues = append(issues, explainRequired(s.validateDocument(d, now), reasons[i])...)
		if j, dup := seen[d.UniqueID]; dup && d.UniqueID != "" {
			issues = append(issues, carnet.Issue{Severity: "error", Code: "duplicate", Diagnostics: fmt.Sprintf("uniqueId %s is used by two documents of the submission (entries %d and %d)", d.UniqueID, j, i), Expression: d.Path + ".masterIdentifier"})
		}
		seen[d.UniqueID] = i
	}
	if len(issues) > 0 {
		return carnet.SubmissionResult{}, carnet.Invalid(issues...)
	}
	for range 3 {
		res, err := s.provide(ctx, r, sub, extracted, now)
		if errors.Is(err, errRetry) {
			continue
		}
		res.Warnings = warnings
		return res, err
	}
	return carnet.SubmissionResult{}, carnet.Errorf(carnet.KindConflict, "the patient record changed concurrently; retry")
}

func (s *Service) provide(ctx context.Context, r carnet.Request, sub carnet.Submission, extracted []carnet.Extraction, now time.Time) (carnet.SubmissionResult, error) {
	row, err := s.findPatient(ctx, sub.Patient)
	newRecord := carnet.IsKind(err, carnet.KindNotFound)
	if err != nil && !newRecord {
		return carnet.SubmissionResult{}, err
	}
	if newRecord {
		row = carnet.PatientRow{Key: carnet.PatientKey(carnet.NewID()), State: carnet.RecordOpen, Version: 1, Created: now, Updated: now}
	}
	if row.State == carnet.RecordClosed {
		return carnet.SubmissionResult{}, carnet.Invalid(carnet.Issue{Severity: "error", Code: "business-rule", Diagnostics: "the patient has closed their record: no document can be filed", Expression: sub.PatientPath})
	}
	a, err := s.access(ctx, r, &row)
	if err != nil {
		return carnet.SubmissionResult{}, err
	}
	if _, err := a.check(ctx, carnet.ActionCreate, nil); err != nil {
		return carnet.SubmissionResult{}, err
	}
	// The record changes with the filing when it is new, or when a
	// professional joins the care team (filing for a patient is treating
	// them). A new record is sealed here; an existing one is changed inside
	// the transaction, from its row as it is then, so that concurrent
	// filings for one patient do not conflict.
	presumed := presumedCareTeam(r.Actor, sub.Documents)
	addCareTeam := func(pt *carnet.Patient) bool {
		changed := false
		blocked := pt.Settings().Blocked
		for _, au := range presumed {
			if slices.Contains(blocked, au.ID.Value) || slices.Contains(pt.Withdrawn, au.ID.Value) ||
				slices.ContainsFunc(pt.Consents, func(c carnet.Consent) bool {
					return c.Kind == carnet.ConsentCareTeam && c.Professional.Value == au.ID.Value
				}) {
				continue
			}
			pt.Consents = append(pt.Consents, carnet.Consent{ID: carnet.NewID(), Kind: carnet.ConsentCareTeam, Permit: true, Professional: au.ID,
				ProfessionalName: au.DisplayName(), Date: now, Recorder: r.Actor.Kind})
			changed = true
		}
		return changed
	}
	var newPatient carnet.PatientRow
	if newRecord {
		pt := carnet.Patient{Key: row.Key, Identifiers: []carnet.Identifier{sub.Patient}, State: carnet.RecordOpen, Version: 1, Created: now, Updated: now}
		addCareTeam(&pt)
		if newPatient, err = s.sealPatient(ctx, pt); err != nil {
			return carnet.SubmissionResult{}, err
		}
	}
	joins := false
	if !newRecord {
		current := a.patient
		joins = addCareTeam(&current) // anyone to add, as the record was read
	}

	// Seal everything before taking the writer: the transaction only writes.
	p := row.Key
	set := sub.Set
	set.Patient, set.ID, set.Date = p, carnet.NewID(), now
	if set.UniqueID == "" {
		set.UniqueID = "urn:uuid:" + set.ID
	}
	res := carnet.SubmissionResult{SetID: set.ID}
	docRows := make([]carnet.DocumentRow, len(sub.Documents))
	contents := make([][]byte, len(sub.Documents))
	var itemRows []carnet.ItemRow
	for i, sd := range sub.Documents {
		d := carnet.Document{Patient: p, ID: carnet.NewID(), LogicalID: carnet.NewID(), UniqueID: sd.UniqueID, Version: 1, Latest: true,
			Status: carnet.StatusCurrent, SubmissionSet: set.ID, ContentID: carnet.NewID(), Date: now, Meta: sd.Meta}
		if a.settings.MaskNew && !d.Meta.HasLabel(carnet.LabelMasquePS) {
			// The patient chose that new documents be masked to professionals.
			d.Meta.Confidentiality = append(slices.Clone(d.Meta.Confidentiality), carnet.Coding{System: "urn:oid:" + carnet.OIDVisibility, Code: carnet.LabelMasquePS})
		}
		if len(d.Meta.SHA256) == 0 {
			sum := sha256.Sum256(sd.Content)
			d.Meta.SHA256 = sum[:]
		}
		d.Meta.Size = int64(len(sd.Content))
		if docRows[i], err = s.sealDocument(ctx, d); err != nil {
			return carnet.SubmissionResult{}, err
		}
		if contents[i], err = s.Sealer.Seal(ctx, p, carnet.Binding{Kind: "content", ID: d.ContentID, Version: 1}, sd.Content); err != nil {
			return carnet.SubmissionResult{}, err
		}
		for _, it := range extracted[i].Items {
			it.Patient, it.ID, it.SourceID, it.SourceLogicalID = p, carnet.NewID(), d.ID, d.LogicalID
			row, err := s.sealItem(ctx, it)
			if err != nil {
				return carnet.SubmissionResult{}, err
			}
			itemRows = append(itemRows, row)
		}
		set.Documents = append(set.Documents, d.ID)
		res.Documents = append(res.Documents, d)
		res.DocumentIDs = append(res.DocumentIDs, d.ID)
		res.ContentIDs = append(res.ContentIDs, d.ContentID)
	}
	setRow, err := s.sealSet(ctx, set, sub)
	if err != nil {
		return carnet.SubmissionResult{}, err
	}
	// The full-text index: each document's terms, blind-indexed.
	type indexed struct {
		tf  map[string]int
		len int
	}
	var terms []indexed
	if s.Index != nil {
		terms = make([]indexed, len(sub.Documents))
		for i, sd := range sub.Documents {
			if terms[i].tf, terms[i].len, err = s.indexText(ctx, p, documentText(sd, extracted[i])); err != nil {
				return carnet.SubmissionResult{}, err
			}
		}
	}
	note, err := s.sealNotification(ctx, newDocumentsNotification(p, res.Documents, r.Actor, now))
	if err != nil {
		return carnet.SubmissionResult{}, err
	}

	var replayed *carnet.SubmissionResult
	err = s.Store.Update(ctx, func(tx carnet.Tx) error {
		replayed = nil
		if newPatient.Key != "" {
			// A record created concurrently under another key makes this
			// filing prepare again.
			if err := tx.PutPatient(ctx, newPatient); err != nil {
				if carnet.IsKind(err, carnet.KindConflict) {
					return errRetry
				}
				return err
			}
		} else if joins {
			err := s.rewritePatient(ctx, tx, p, func(pt *carnet.Patient) (bool, error) {
				if !addCareTeam(pt) {
					return false, nil
				}
				pt.Updated = now
				return true, nil
			})
			if err != nil {
				return err
			}
		}
		// An identical retry of a filed submission answers as the first time.
		if prev, err := tx.SubmissionSetByUniqueID(ctx, p, set.UniqueID); err == nil {
			rp, err := s.replay(ctx, tx, prev, sub)
			if err != nil {
				return err
			}
			replayed = &rp
			return nil
		} else if !carnet.IsKind(err, carnet.KindNotFound) {
			return err
		}
		for i, sd := range sub.Documents {
			for _, rel := range sd.Meta.RelatesTo {
				if rel.Code != "replaces" {
					continue
				}
				if err := s.supersede(ctx, tx, a, p, rel.Target, sd.Path); err != nil {
					return err
				}
			}
			if err := tx.PutContent(ctx, p, docRows[i].ContentID, contents[i]); err != nil {
				return err
			}
			if err := tx.InsertDocument(ctx, docRows[i]); err != nil {
				if carnet.IsKind(err, carnet.KindConflict) {
					return carnet.Invalid(carnet.Issue{Severity: "error", Code: "duplicate", Diagnostics: fmt.Sprintf("a document with uniqueId %s is already in the record; nothing was stored", sd.UniqueID), Expression: sd.Path + ".masterIdentifier"})
				}
				return err
			}
			if terms != nil {
				if err := tx.PutTerms(ctx, p, docRows[i].LogicalID, terms[i].len, terms[i].tf); err != nil {
					return err
				}
			}
		}
		if err := tx.InsertSubmissionSet(ctx, setRow); err != nil {
			return err
		}
		if err := tx.InsertItems(ctx, itemRows); err != nil {
			return err
		}
		if len(sub.Documents) > 0 {
			if err := tx.InsertNotification(ctx, note); err != nil {
				return err
			}
		}
		res.ChangedIDs = res.ChangedIDs[:0]
		for _, ch := range sub.Changes {
			d, err := s.applyChange(ctx, tx, r, p, ch, now)
			if err != nil {
				return err
			}
			res.ChangedIDs = append(res.ChangedIDs, d.ID)
		}
		return nil
	})
	if err != nil {
		return carnet.SubmissionResult{}, s.recordDenial(ctx, err)
	}
	if replayed != nil {
		res = *replayed
	}
	return res, a.served(ctx, carnet.ActionCreate, res.DocumentIDs)
}

func (s *Service) sealSet(ctx context.Context, set carnet.SubmissionSet, sub carnet.Submission) (carnet.SubmissionSetRow, error) {
	row := carnet.SubmissionSetRow{Patient: set.Patient, ID: set.ID, UniqueID: set.UniqueID, Date: set.Date, Tokens: carnet.SubmissionSetTokens(set)}
	// Remember what was filed, to recognise an identical retry.
	set.Fingerprint = submissionFingerprint(sub)
	pt, err := json.Marshal(set)
	if err != nil {
		return row, carnet.WrapError(carnet.KindInternal, "seal submission set", err)
	}
	row.Sealed, err = s.Sealer.Seal(ctx, set.Patient, carnet.Binding{Kind: "submissionset", ID: set.ID, Version: 1}, pt)
	return row, err
}

// presumedCareTeam returns the professionals a filing puts in the care
// team. A professional filing joins it themselves, and no one else: naming
// another author grants that author nothing. Producing software
// (authenticated by client credentials, registered with the deployment)
// files for the authors its documents name: they join it, unless the
// patient withdrew them (Patient.Withdrawn) or blocked them. A patient
// filing puts no one in it.
func presumedCareTeam(actor carnet.Actor, docs []carnet.SubmittedDocument) []carnet.Author {
	var out []carnet.Author
	seen := map[string]bool{}
	for _, sd := range docs {
		for _, au := range sd.Meta.Authors {
			if au.ID.Value == "" || au.ID.OID() != carnet.OIDRPPS || seen[au.ID.Value] {
				continue
			}
			switch {
			case actor.Kind == carnet.ActorSystem:
			case actor.Kind == carnet.ActorProfessional && au.ID.Value == actor.ID.Value:
			default:
				continue
			}
			seen[au.ID.Value] = true
			out = append(out, au)
		}
	}
	if actor.Kind == carnet.ActorProfessional && !seen[actor.ID.Value] && actor.ID.Value != "" {
		out = append(out, carnet.Author{ID: actor.ID, Family: actor.Name})
	}
	return out
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

func (s *Service) replay(ctx context.Context, tx carnet.Tx, prev carnet.SubmissionSetRow, sub carnet.Submission) (carnet.SubmissionResult, error) {
	set, err := s.openSet(ctx, prev)
	if err != nil {
		return carnet.SubmissionResult{}, err
	}
	if subtle.ConstantTimeCompare(set.Fingerprint, submissionFingerprint(sub)) != 1 {
		return carnet.SubmissionResult{}, carnet.Invalid(carnet.Issue{Severity: "error", Code: "duplicate", Diagnostics: fmt.Sprintf("a different submission set with uniqueId %s was already filed; nothing was stored", set.UniqueID), Expression: sub.SetPath + ".identifier"})
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

// supersede marks the replaced document superseded, in the submission's transaction.
func (s *Service) supersede(ctx context.Context, tx carnet.Tx, a *access, p carnet.PatientKey, target, path string) error {
	absent := carnet.Invalid(carnet.Issue{Severity: "error", Code: "not-found", Diagnostics: fmt.Sprintf("the replaced document %s is not in this patient's record", target), Expression: path + ".relatesTo"})
	old, err := tx.Document(ctx, p, target)
	if carnet.IsKind(err, carnet.KindNotFound) {
		return absent
	}
	if err != nil {
		return err
	}
	// Replacing is changing the document: its author's (or the software
	// filing for them) to do. Anyone else is told it is not there, whatever
	// its status: a replacement says nothing of hidden documents.
	if a != nil {
		current, err := s.latestOf(ctx, tx, old)
		if err != nil {
			return err
		}
		if !a.permits(carnet.ActionUpdate, &current) {
			return absent
		}
	}
	if !old.Latest || old.Status != carnet.StatusCurrent {
		return carnet.Invalid(carnet.Issue{Severity: "error", Code: "business-rule", Diagnostics: fmt.Sprintf("the replaced document %s is not current (status %s)", target, old.Status), Expression: path + ".relatesTo"})
	}
	old.Status = carnet.StatusSuperseded
	if err := tx.UpdateDocument(ctx, old); err != nil {
		return err
	}
	// Replacing a document replaces its extracted items; the replaced one
	// is no longer found by its text.
	if _, err = tx.DeleteItems(ctx, p, old.LogicalID); err != nil {
		return err
	}
	if s.Index != nil {
		return tx.DeleteTerms(ctx, p, old.LogicalID)
	}
	return nil
}

// applyChange makes a new metadata version of a document (PDSm PATCH).
func (s *Service) applyChange(ctx context.Context, tx carnet.Tx, r carnet.Request, p carnet.PatientKey, ch carnet.DocumentChange, now time.Time) (carnet.Document, error) {
	row, err := tx.Document(ctx, p, ch.DocumentID)
	if err != nil {
		return carnet.Document{}, err
	}
	act := carnet.ActionUpdate
	if ch.Status == carnet.StatusDeleted {
		act = carnet.ActionDelete
	}
	prow, err := tx.Patient(ctx, p)
	if err != nil {
		return carnet.Document{}, err
	}
	a, err := s.access(ctx, r, &prow)
	if err != nil {
		return carnet.Document{}, err
	}
	// Decided as the document is now (its latest version), whichever
	// version is named.
	current, err := s.latestOf(ctx, tx, row)
	if err != nil {
		return carnet.Document{}, err
	}
	if current.Status == carnet.StatusDeleted {
		if a.couldRead(current) {
			return carnet.Document{}, a.refusal(act, &row, "deleted", carnet.Errorf(carnet.KindGone, "document deleted"))
		}
		_, err := a.checkInTx(act, &current)
		return carnet.Document{}, err
	}
	if _, err := a.checkInTx(act, &current); err != nil {
		if a.couldRead(current) {
			// Whoever may read the document is told why they may not
			// change it; anyone else is told it does not exist.
			return carnet.Document{}, a.refusal(act, &row, "only the author changes a document",
				&carnet.Error{Kind: carnet.KindForbidden, Msg: "only the author of a document (or the software filing for them) may change or delete it"})
		}
		return carnet.Document{}, err
	}
	if slices.Contains(ch.RemoveLabels, carnet.LabelMasquePS) && r.Actor.Kind != carnet.ActorPatient {
		// Unmasking is the patient's choice.
		return carnet.Document{}, a.refusal(act, &row, "only the patient unmasks",
			&carnet.Error{Kind: carnet.KindForbidden, Msg: "only the patient (or a legal representative) may unmask a document"})
	}
	if !row.Latest {
		return carnet.Document{}, carnet.Errorf(carnet.KindConflict, "document %s is not the latest metadata version; change the latest one", ch.DocumentID)
	}
	d, err := s.openDocument(ctx, row)
	if err != nil {
		return carnet.Document{}, err
	}
	next := d
	next.ID, next.Version, next.Latest, next.Date = carnet.NewID(), d.Version+1, true, now
	if ch.Status != "" {
		next.Status = ch.Status
	}
	labels := slices.DeleteFunc(slices.Clone(d.Meta.Confidentiality), func(c carnet.Coding) bool { return slices.Contains(ch.RemoveLabels, c.Code) })
	for _, c := range ch.AddLabels {
		if !slices.ContainsFunc(labels, func(x carnet.Coding) bool { return x.Code == c.Code }) {
			labels = append(labels, c)
		}
	}
	next.Meta.Confidentiality = labels
	nextRow, err := s.sealDocument(ctx, next)
	if err != nil {
		return carnet.Document{}, err
	}
	row.Latest = false
	if err := tx.UpdateDocument(ctx, row); err != nil {
		return carnet.Document{}, err
	}
	if err := tx.InsertDocument(ctx, nextRow); err != nil {
		return carnet.Document{}, err
	}
	if next.Status == carnet.StatusDeleted || next.Status == carnet.StatusSuperseded {
		if _, err := tx.DeleteItems(ctx, p, next.LogicalID); err != nil {
			return carnet.Document{}, err
		}
		if s.Index != nil {
			if err := tx.DeleteTerms(ctx, p, next.LogicalID); err != nil {
				return carnet.Document{}, err
			}
		}
	}
	return next, nil
}

// ChangeDocument applies a PDSm metadata change to document id and returns
// the new metadata version.
func (s *Service) ChangeDocument(ctx context.Context, r carnet.Request, id string, ch carnet.DocumentChange) (carnet.Document, error) {
	p, err := s.route(ctx, id)
	if err != nil {
		return carnet.Document{}, err
	}
	ch.DocumentID = id
	var out carnet.Document
	err = s.Store.Update(ctx, func(tx carnet.Tx) error {
		var err error
		out, err = s.applyChange(ctx, tx, r, p, ch, s.now())
		return err
	})
	if err != nil {
		return carnet.Document{}, s.recordDenial(ctx, err)
	}
	return out, s.audit(ctx, r, carnet.ActionUpdate, p, []string{id, out.ID})
}

// Document returns one metadata version of a document (GET DocumentReference/{id}).
func (s *Service) Document(ctx context.Context, r carnet.Request, id string) (carnet.Document, []string, error) {
	p, err := s.route(ctx, id)
	if err != nil {
		return carnet.Document{}, nil, err
	}
	row, err := s.Store.Document(ctx, p, id)
	if err != nil {
		return carnet.Document{}, nil, err
	}
	prow, err := s.Store.Patient(ctx, p)
	if err != nil {
		return carnet.Document{}, nil, err
	}
	a, err := s.access(ctx, r, &prow)
	if err != nil {
		return carnet.Document{}, nil, err
	}
	// An older metadata version is read as the document is now: its
	// current labels and status decide (a mask or a deletion added later
	// covers every version).
	current, err := s.latestOf(ctx, s.Store, row)
	if err != nil {
		return carnet.Document{}, nil, err
	}
	dec, err := a.check(ctx, carnet.ActionRead, &current)
	if err != nil {
		return carnet.Document{}, nil, err
	}
	d, err := s.openDocument(ctx, row)
	if err != nil {
		return carnet.Document{}, nil, err
	}
	return d, dec.Warnings, a.served(ctx, carnet.ActionRead, []string{id}, dec)
}

// Content returns a document's bytes by content id (ITI-68), checked
// against the hash recorded when it was filed.
func (s *Service) Content(ctx context.Context, r carnet.Request, contentID string) (carnet.Document, []byte, error) {
	p, err := s.route(ctx, contentID)
	if err != nil {
		return carnet.Document{}, nil, err
	}
	rows, err := s.Store.FindDocuments(ctx, p, carnet.DocumentFilter{Tokens: []carnet.TokenFilter{{Kind: carnet.TokContent, Values: []string{contentID}}}})
	if err != nil {
		return carnet.Document{}, nil, err
	}
	if len(rows) == 0 {
		return carnet.Document{}, nil, carnet.Errorf(carnet.KindNotFound, "not found")
	}
	row := rows[0]
	prow, err := s.Store.Patient(ctx, p)
	if err != nil {
		return carnet.Document{}, nil, err
	}
	a, err := s.access(ctx, r, &prow)
	if err != nil {
		return carnet.Document{}, nil, err
	}
	if row.Status == carnet.StatusDeleted && a.couldRead(row) {
		return carnet.Document{}, nil, carnet.Errorf(carnet.KindGone, "this document was deleted by its author")
	}
	dec, err := a.check(ctx, carnet.ActionRead, &row)
	if err != nil {
		return carnet.Document{}, nil, err
	}
	d, err := s.openDocument(ctx, row)
	if err != nil {
		return carnet.Document{}, nil, err
	}
	sealed, err := s.Store.Content(ctx, p, contentID)
	if err != nil {
		return carnet.Document{}, nil, err
	}
	b, err := s.Sealer.Open(ctx, p, carnet.Binding{Kind: "content", ID: contentID, Version: 1}, sealed)
	if err != nil {
		return carnet.Document{}, nil, err
	}
	sum := sha256.Sum256(b)
	if subtle.ConstantTimeCompare(sum[:], d.Meta.SHA256) != 1 || int64(len(b)) != d.Meta.Size {
		return carnet.Document{}, nil, carnet.WrapError(carnet.KindInternal, "content", fmt.Errorf("content %s does not match its recorded hash", contentID))
	}
	return d, b, a.served(ctx, carnet.ActionRead, []string{row.ID}, dec)
}

// searchable resolves the record a search names and asks the policy. It
// returns nil (and no error) when there is nothing to search: an unknown
// patient (zero hits, audited) or a denied search (looks the same).
func (s *Service) searchable(ctx context.Context, r carnet.Request, key carnet.PatientKey, id carnet.Identifier) (*access, error) {
	prow, err := s.resolvePatient(ctx, key, id)
	if carnet.IsKind(err, carnet.KindNotFound) {
		return nil, s.audit(ctx, r, carnet.ActionSearch, "", nil)
	}
	if err != nil {
		return nil, err
	}
	a, err := s.access(ctx, r, &prow)
	if err != nil {
		return nil, err
	}
	if _, err := a.check(ctx, carnet.ActionSearch, nil); err != nil {
		if carnet.IsKind(err, carnet.KindNotFound) {
			return nil, nil
		}
		return nil, err
	}
	return a, nil
}

// FindDocuments answers ITI-67. Policy filtering happens before paging and
// totals; only the page is unsealed.
func (s *Service) FindDocuments(ctx context.Context, r carnet.Request, q carnet.DocumentSearch) (carnet.Page[carnet.Document], error) {
	// An unknown patient has nothing: zero hits, not an error.
	a, err := s.searchable(ctx, r, q.PatientKey, q.PatientID)
	if a == nil || err != nil {
		return carnet.Page[carnet.Document]{}, err
	}
	prow := a.row
	f := q.Filter
	f.Tokens = slices.Clone(f.Tokens)
	for i, tf := range f.Tokens {
		if tf.Kind != carnet.TokAuthorFamily && tf.Kind != carnet.TokAuthorGiven {
			continue
		}
		vals := make([]string, 0, len(tf.Values))
		for _, v := range tf.Values {
			tok, err := s.Sealer.Token(ctx, prow.Key, tf.Kind, carnet.FoldName(v))
			if err != nil {
				return carnet.Page[carnet.Document]{}, err
			}
			vals = append(vals, tok)
		}
		f.Tokens[i] = carnet.TokenFilter{Kind: tf.Kind, Values: vals}
	}
	if len(f.Statuses) == 0 {
		f.Statuses = []carnet.DocumentStatus{carnet.StatusCurrent, carnet.StatusSuperseded, carnet.StatusArchived}
	}
	f.WithoutSealed = true // decide on clear fields; unseal the page only
	rows, err := s.Store.FindDocuments(ctx, prow.Key, f)
	if err != nil {
		return carnet.Page[carnet.Document]{}, err
	}
	var warnings []string
	visible := rows[:0]
	for i := range rows {
		if dec := a.decide(carnet.ActionRead, &rows[i]); dec.Permit {
			visible = append(visible, rows[i])
			warnings = append(warnings, dec.Warnings...)
		}
	}
	page, next, err := s.pageOf(visible, q.Count, q.Page)
	if err != nil {
		return carnet.Page[carnet.Document]{}, err
	}
	out := carnet.Page[carnet.Document]{Total: len(visible), Next: next, Warnings: slices.Compact(warnings)}
	ids := make([]string, 0, len(page))
	for _, row := range page {
		if row, err = s.Store.Document(ctx, prow.Key, row.ID); err != nil {
			return carnet.Page[carnet.Document]{}, err
		}
		d, err := s.openDocument(ctx, row)
		if err != nil {
			return carnet.Page[carnet.Document]{}, err
		}
		out.Items = append(out.Items, d)
		ids = append(ids, d.ID)
	}
	return out, a.served(ctx, carnet.ActionSearch, ids)
}

func (s *Service) count(n int) int {
	def, max := s.DefaultCount, s.MaxCount
	if def <= 0 {
		def = 20
	}
	if max <= 0 {
		max = 200
	}
	switch {
	case n <= 0:
		return def
	case n > max:
		return max
	}
	return n
}

// pageOf cuts rows (sorted by date desc, id asc) after the cursor. The
// cursor names the last row served, so pages stay stable when documents
// are added meanwhile.
func (s *Service) pageOf(rows []carnet.DocumentRow, count int, cursor string) ([]carnet.DocumentRow, string, error) {
	n := s.count(count)
	start := 0
	if cursor != "" {
		at, id, err := decodeCursor(cursor)
		if err != nil {
			return nil, "", err
		}
		start = len(rows)
		for i, r := range rows {
			if r.Date.Before(at) || (r.Date.Equal(at) && r.ID > id) {
				start = i
				break
			}
		}
	}
	end := min(start+n, len(rows))
	next := ""
	if end < len(rows) && end > start {
		last := rows[end-1]
		next = encodeCursor(last.Date, last.ID)
	}
	return rows[start:end], next, nil
}

func encodeCursor(at time.Time, id string) string {
	var b bytes.Buffer
	_ = binary.Write(&b, binary.BigEndian, at.UnixNano())
	b.WriteString(id)
	return base64.RawURLEncoding.EncodeToString(b.Bytes())
}

func decodeCursor(c string) (time.Time, string, error) {
	raw, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || len(raw) < 8 || len(raw) > 8+64 {
		return time.Time{}, "", carnet.Invalid(carnet.Issue{Severity: "error", Code: "value", Diagnostics: "the _page cursor is not one this server made", Expression: "_page"})
	}
	ns := int64(binary.BigEndian.Uint64(raw[:8]))
	return time.Unix(0, ns).UTC(), string(raw[8:]), nil
}

// ---- submission sets ----

func (s *Service) openSet(ctx context.Context, row carnet.SubmissionSetRow) (carnet.SubmissionSet, error) {
	pt, err := s.Sealer.Open(ctx, row.Patient, carnet.Binding{Kind: "submissionset", ID: row.ID, Version: 1}, row.Sealed)
	if err != nil {
		return carnet.SubmissionSet{}, err
	}
	var set carnet.SubmissionSet
	if err := json.Unmarshal(pt, &set); err != nil {
		return carnet.SubmissionSet{}, carnet.WrapError(carnet.KindInternal, "open submission set", err)
	}
	return set, nil
}

// latestOf returns the latest metadata version of row's document: the one
// whose labels and status decide access to every version.
func (s *Service) latestOf(ctx context.Context, r carnet.Reader, row carnet.DocumentRow) (carnet.DocumentRow, error) {
	if row.Latest {
		return row, nil
	}
	rows, err := r.FindDocuments(ctx, row.Patient, carnet.DocumentFilter{LogicalID: row.LogicalID, WithoutSealed: true})
	if err != nil {
		return carnet.DocumentRow{}, err
	}
	if len(rows) == 0 {
		return row, nil
	}
	return rows[0], nil
}

// visibleSet keeps of a submission set the documents the caller may see;
// a set of which the caller sees nothing is not shown at all (false), so
// that a restricted or masked document does not show through its set.
func (s *Service) visibleSet(ctx context.Context, a *access, set carnet.SubmissionSet) (carnet.SubmissionSet, bool, error) {
	rows, err := s.Store.FindDocuments(ctx, a.row.Key, carnet.DocumentFilter{SubmissionSet: set.ID, AllVersions: true, WithoutSealed: true})
	if err != nil {
		return set, false, err
	}
	// Every version is decided as its document is now (its latest row).
	latest := make(map[string]bool, len(rows))
	for i := range rows {
		if rows[i].Latest {
			latest[rows[i].LogicalID] = a.permits(carnet.ActionRead, &rows[i])
		}
	}
	ok := make(map[string]bool, len(rows))
	for i := range rows {
		ok[rows[i].ID] = latest[rows[i].LogicalID]
	}
	kept := set.Documents[:0:0]
	for _, id := range set.Documents {
		if ok[id] {
			kept = append(kept, id)
		}
	}
	set.Documents = kept
	return set, len(kept) > 0, nil
}

// FindLists answers ITI-66 (submission sets; folders are not supported).
func (s *Service) FindLists(ctx context.Context, r carnet.Request, q carnet.ListSearch) (carnet.Page[carnet.SubmissionSet], error) {
	// An unknown patient has nothing: zero hits, not an error.
	a, err := s.searchable(ctx, r, q.PatientKey, q.PatientID)
	if a == nil || err != nil {
		return carnet.Page[carnet.SubmissionSet]{}, err
	}
	rows, err := s.Store.FindSubmissionSets(ctx, a.row.Key, q.Filter)
	if err != nil {
		return carnet.Page[carnet.SubmissionSet]{}, err
	}
	// A set shows only the documents the caller may see; sets are few per
	// patient, so they are opened and filtered before paging.
	var sets []carnet.SubmissionSet
	for _, row := range rows {
		set, err := s.openSet(ctx, row)
		if err != nil {
			return carnet.Page[carnet.SubmissionSet]{}, err
		}
		set, ok, err := s.visibleSet(ctx, a, set)
		if err != nil {
			return carnet.Page[carnet.SubmissionSet]{}, err
		}
		if ok {
			sets = append(sets, set)
		}
	}
	n := s.count(q.Count)
	start := 0
	if q.Page != "" {
		start = len(sets)
		for i, set := range sets {
			if set.ID == q.Page {
				start = i + 1
				break
			}
		}
	}
	end := min(start+n, len(sets))
	out := carnet.Page[carnet.SubmissionSet]{Total: len(sets)}
	if end < len(sets) && end > start {
		out.Next = sets[end-1].ID
	}
	out.Items = append(out.Items, sets[start:end]...)
	return out, a.served(ctx, carnet.ActionSearch, nil)
}

// List returns one submission set by id.
func (s *Service) List(ctx context.Context, r carnet.Request, id string) (carnet.SubmissionSet, error) {
	p, err := s.route(ctx, id)
	if err != nil {
		return carnet.SubmissionSet{}, err
	}
	row, err := s.Store.SubmissionSet(ctx, p, id)
	if err != nil {
		return carnet.SubmissionSet{}, err
	}
	prow, err := s.Store.Patient(ctx, p)
	if err != nil {
		return carnet.SubmissionSet{}, err
	}
	a, err := s.access(ctx, r, &prow)
	if err != nil {
		return carnet.SubmissionSet{}, err
	}
	if _, err := a.check(ctx, carnet.ActionRead, nil); err != nil {
		return carnet.SubmissionSet{}, err
	}
	set, err := s.openSet(ctx, row)
	if err != nil {
		return carnet.SubmissionSet{}, err
	}
	set, ok, err := s.visibleSet(ctx, a, set)
	if err != nil {
		return carnet.SubmissionSet{}, err
	}
	if !ok {
		return carnet.SubmissionSet{}, s.recordDenial(ctx, a.refusal(carnet.ActionRead, nil, "no document of the submission set is visible", nil))
	}
	return set, a.served(ctx, carnet.ActionRead, set.Documents)
}
