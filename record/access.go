package record

import (
	"context"
	"errors"
	"fmt"
	"slices"

	carnet "github.com/carnet-sante/carnet"
)

// access is one request's standing towards one record: the record, its
// unsealed consents and how a patient actor relates to it. Every decision of
// the request about that record goes through it.
type access struct {
	s        *Service
	r        carnet.Request
	row      *carnet.PatientRow
	patient  carnet.Patient // zero for a record not stored yet
	settings carnet.AccessSettings
	relation carnet.PatientRelation
	// record is the record-level decision, when one was made.
	record carnet.Decision
}

// access opens the record's consents and finds how the actor relates to it.
func (s *Service) access(ctx context.Context, r carnet.Request, row *carnet.PatientRow) (*access, error) {
	if r.Reason != "" && !carnet.ValidReason(r.Reason) {
		// Whatever the transport: a reason is shown to the patient as typed.
		return nil, carnet.Invalid(carnet.Issue{Severity: "error", Code: "value", Diagnostics: fmt.Sprintf("the access reason must be one line of text of at most %d characters, without control or format characters", carnet.MaxReasonChars)})
	}
	a := &access{s: s, r: r, row: row}
	if row.Sealed != nil {
		p, err := s.openPatient(ctx, *row)
		if err != nil {
			return nil, err
		}
		a.patient = p
		a.settings = p.Settings()
	}
	a.settings.Closed = a.settings.Closed || row.State == carnet.RecordClosed
	if r.Actor.Kind == carnet.ActorPatient && r.Actor.ID.Value != "" {
		tok, err := s.identityToken(r.Actor.ID)
		if err != nil {
			return nil, err
		}
		if slices.Contains(row.IdentifierTokens, tok) {
			a.relation = carnet.RelationSelf
			if r.Actor.LegalRepresentative {
				a.relation = carnet.RelationLegalRep
			}
		}
	}
	return a, nil
}

func (a *access) request(act carnet.Action, d *carnet.DocumentRow) carnet.AccessRequest {
	return carnet.AccessRequest{Actor: a.r.Actor, Action: act, Mode: a.r.Mode, Reason: a.r.Reason,
		Patient: a.row, Document: d, Now: a.s.now(), Settings: a.settings, Relation: a.relation}
}

// decide asks the policy, recording nothing.
func (a *access) decide(act carnet.Action, d *carnet.DocumentRow) carnet.Decision {
	return a.s.Policy.Decide(a.request(act, d))
}

// permits is decide(act, d).Permit, for filtering many documents.
func (a *access) permits(act carnet.Action, d *carnet.DocumentRow) bool {
	if pc, ok := a.s.Policy.(carnet.PermitChecker); ok {
		return pc.Permits(a.request(act, d))
	}
	return a.decide(act, d).Permit
}

// check asks the policy and records a denial in the audit log. A denial is
// returned as not-found: denied and absent look the same to the caller.
func (a *access) check(ctx context.Context, act carnet.Action, d *carnet.DocumentRow) (carnet.Decision, error) {
	dec, err := a.checkInTx(act, d)
	if err != nil {
		return dec, a.s.recordDenial(ctx, err)
	}
	return dec, nil
}

// checkInTx is check inside a transaction, where nothing else may be
// written: a denial is returned as a *denial, which the caller records
// with recordDenial once the transaction is over.
func (a *access) checkInTx(act carnet.Action, d *carnet.DocumentRow) (carnet.Decision, error) {
	dec := a.decide(act, d)
	if d == nil {
		a.record = dec
	}
	if dec.Permit {
		return dec, nil
	}
	den := a.refusal(act, d, "", nil)
	den.ev.Detail = dec.Reasons
	return dec, den
}

// denial is a refused access not yet recorded.
type denial struct {
	ev carnet.AuditEvent
	// answer is what the caller is told; nil: not found.
	answer error
}

func (d *denial) Error() string {
	if d.answer != nil {
		return d.answer.Error()
	}
	return "not found"
}

// refusal is a denial not yet recorded, told to the caller as answer (403,
// 410) or, when answer is nil, as not-found.
func (a *access) refusal(act carnet.Action, d *carnet.DocumentRow, why string, answer error) *denial {
	ev := carnet.AuditEvent{Time: a.s.now(), RequestID: a.r.RequestID, Actor: a.r.Actor, Action: act, Mode: a.r.Mode, Reason: a.r.Reason,
		Patient: a.row.Key, Outcome: carnet.OutcomeDenied, Detail: []string{why}}
	if d != nil {
		ev.Documents = []string{d.ID}
	}
	return &denial{ev: ev, answer: answer}
}

// recordDenial records the denial err carries, if any, and returns what
// the caller is told: not found, or the refusal's answer. Other errors
// pass through.
func (s *Service) recordDenial(ctx context.Context, err error) error {
	var d *denial
	if !errors.As(err, &d) {
		return err
	}
	if err := s.Audit.Record(ctx, d.ev); err != nil {
		return carnet.WrapError(carnet.KindUnavailable, "audit", err)
	}
	if d.answer != nil {
		return d.answer
	}
	return errNotFound()
}

// recordAbsent records a request for an id that does not exist as a
// refusal, like a denied one, so that both take the same path (an audited
// refusal) and the same time: which ids exist does not show in the answer
// nor in how long it takes. Other errors pass through.
func (s *Service) recordAbsent(ctx context.Context, r carnet.Request, act carnet.Action, err error) error {
	if !carnet.IsKind(err, carnet.KindNotFound) {
		return err
	}
	ev := carnet.AuditEvent{Time: s.now(), RequestID: r.RequestID, Actor: r.Actor, Action: act, Mode: r.Mode, Reason: r.Reason,
		Outcome: carnet.OutcomeDenied, Detail: []string{"not found"}}
	if err := s.Audit.Record(ctx, ev); err != nil {
		return carnet.WrapError(carnet.KindUnavailable, "audit", err)
	}
	return errNotFound()
}

// couldRead reports whether the actor may read the document, or could
// before it was deleted: they are the ones told it is gone or why they may
// not change it.
func (a *access) couldRead(row carnet.DocumentRow) bool {
	if row.Status == carnet.StatusDeleted {
		row.Status = carnet.StatusCurrent
	}
	return a.decide(carnet.ActionRead, &row).Permit
}

// errNotFound is the one answer for what is absent or denied.
func errNotFound() error { return carnet.Errorf(carnet.KindNotFound, "not found") }

// served is called once a request was permitted, before anything is
// served: it tells the patient of a professional's first access and of
// every emergency access (decision Notify), then records the access.
// event is the audit event served records for a successful access.
func (a *access) event(act carnet.Action, docs []string) carnet.AuditEvent {
	return a.s.successEvent(a.r, act, a.row.Key, docs)
}

func (a *access) served(ctx context.Context, act carnet.Action, docs []string, decs ...carnet.Decision) error {
	if err := a.notifyAccess(ctx, act, docs, decs...); err != nil {
		return err
	}
	return a.s.audit(ctx, a.r, act, a.row.Key, docs)
}

func (a *access) notifyAccess(ctx context.Context, act carnet.Action, docs []string, decs ...carnet.Decision) error {
	actor := a.r.Actor
	if actor.Kind != carnet.ActorProfessional || a.row.Sealed == nil {
		return nil
	}
	emergency := a.record.Notify
	for _, d := range decs {
		emergency = emergency || d.Notify
	}
	// Filing is not opening the record; reading and searching are.
	first := (act == carnet.ActionRead || act == carnet.ActionSearch) && !slices.Contains(a.patient.Seen, actor.ID.Value)
	if !emergency && !first {
		return nil
	}
	now := a.s.now()
	var notes []carnet.Notification
	if first {
		notes = append(notes, carnet.Notification{Kind: carnet.NotifyFirstAccess, Text: firstAccessText(actor, now)})
	}
	if emergency {
		notes = append(notes, carnet.Notification{Kind: carnet.NotifyEmergency, Mode: a.r.Mode, Reason: a.r.Reason, Documents: docs,
			Text: emergencyText(actor, a.r.Mode, a.r.Reason, now)})
	}
	for i := range notes {
		notes[i].ID, notes[i].Patient, notes[i].Time, notes[i].Actor = carnet.NewID(), a.row.Key, now, publicActor(actor)
	}
	rows := make([]carnet.NotificationRow, len(notes))
	for i, n := range notes {
		var err error
		if rows[i], err = a.s.sealNotification(ctx, n); err != nil {
			return err
		}
	}
	return a.s.Store.Update(ctx, func(tx carnet.Tx) error {
		keep := rows
		if first {
			err := a.s.rewritePatient(ctx, tx, a.row.Key, func(p *carnet.Patient) (bool, error) {
				if slices.Contains(p.Seen, actor.ID.Value) {
					// A concurrent request told the patient already.
					keep = slices.DeleteFunc(slices.Clone(rows), func(r carnet.NotificationRow) bool { return r.ID == notes[0].ID })
					return false, nil
				}
				p.Seen = append(p.Seen, actor.ID.Value)
				return true, nil
			})
			if err != nil {
				return err
			}
		}
		for _, r := range keep {
			if err := tx.InsertNotification(ctx, r); err != nil {
				return err
			}
		}
		return nil
	})
}

// ---- consents and notifications, for the patient ----

// ownRecord resolves the record a patient-side request names: the given
// INS, or the actor's own when none is given.
func (s *Service) ownRecord(ctx context.Context, r carnet.Request, id carnet.Identifier) (*access, error) {
	if id.Value == "" && r.Actor.Kind == carnet.ActorPatient {
		id = r.Actor.ID
	}
	if id.Value == "" {
		return nil, carnet.Invalid(carnet.Issue{Severity: "error", Code: "required", Diagnostics: "name the patient by INS (patient.identifier)", Expression: "patient"})
	}
	if issues := s.checkINS(id, "patient.identifier"); len(issues) > 0 {
		return nil, carnet.Invalid(issues...)
	}
	row, err := s.findPatient(ctx, id)
	if carnet.IsKind(err, carnet.KindNotFound) {
		return nil, errNotFound()
	}
	if err != nil {
		return nil, err
	}
	return s.access(ctx, r, &row)
}

// patientSide checks that the actor is the record's patient or legal
// representative; anyone else is told the record does not exist.
func (a *access) patientSide(ctx context.Context, act carnet.Action) error {
	if a.r.Actor.Kind != carnet.ActorPatient {
		return a.s.recordDenial(ctx, a.refusal(act, nil, "patient-side: only the patient or a legal representative", nil))
	}
	_, err := a.check(ctx, act, nil)
	return err
}

// Consents returns the record's active consents, for the patient or a
// legal representative.
func (s *Service) Consents(ctx context.Context, r carnet.Request, id carnet.Identifier) (carnet.Patient, []carnet.Consent, error) {
	a, err := s.ownRecord(ctx, r, id)
	if err != nil {
		return carnet.Patient{}, nil, err
	}
	if err := a.patientSide(ctx, carnet.ActionConsent); err != nil {
		return carnet.Patient{}, nil, err
	}
	consents, err := s.shownConsents(ctx, a)
	if err != nil {
		return carnet.Patient{}, nil, err
	}
	return a.patient, consents, a.s.audit(ctx, r, carnet.ActionRead, a.row.Key, nil)
}

// shownConsents are the record's consents as the patient side is shown
// them: a professional who joined the care team by filing is shown while
// one of their documents is visible to the reader (a join by a filing
// hidden from them would tell what the label hides).
func (s *Service) shownConsents(ctx context.Context, a *access) ([]carnet.Consent, error) {
	if !slices.ContainsFunc(a.patient.Consents, func(c carnet.Consent) bool { return c.ByFiling }) {
		return a.patient.Consents, nil
	}
	latest, err := s.latestRows(ctx, a.row.Key) // kept under the record's stamp
	if err != nil {
		return nil, err
	}
	authors := map[string]bool{}
	for id, row := range latest {
		if id != row.ID || !a.couldRead(row) {
			continue // an older version: its latest row is read once
		}
		for _, t := range row.Tokens {
			if t.Kind == carnet.TokAuthor {
				authors[t.Value] = true
			}
		}
	}
	var out []carnet.Consent
	for _, c := range a.patient.Consents {
		if !c.ByFiling || authors[c.Professional.Value] {
			out = append(out, c)
		}
	}
	return out, nil
}

// AddConsent records a consent: the patient's (or a legal
// representative's) choice, or a professional declaring their own care
// relationship. The same choice made before is replaced. The very next
// request is decided with it.
func (s *Service) AddConsent(ctx context.Context, r carnet.Request, id carnet.Identifier, c carnet.Consent, path string) (carnet.Consent, error) {
	if issues := c.Check(path); len(issues) > 0 {
		return carnet.Consent{}, carnet.Invalid(issues...)
	}
	a, err := s.ownRecord(ctx, r, id)
	if err != nil {
		return carnet.Consent{}, err
	}
	switch r.Actor.Kind {
	case carnet.ActorPatient:
		if c.Kind == carnet.ConsentCareTeam {
			c.Kind = carnet.ConsentAccess // the patient's word is explicit consent
		}
		if c.Kind.NamesProfessional() {
			// Shown to the patient by name and profession, not a number.
			if name, role := s.knownProfessional(ctx, a, c.Professional); name != "" {
				c.ProfessionalName, c.ProfessionalRole = name, role
			}
		}
	case carnet.ActorProfessional:
		if c.Kind != carnet.ConsentCareTeam || c.Professional.Value != r.Actor.ID.Value {
			return carnet.Consent{}, s.recordDenial(ctx, a.refusal(carnet.ActionConsent, nil, "a professional may only declare their own care relationship",
				&carnet.Error{Kind: carnet.KindForbidden, Msg: "a professional may only declare their own care relationship (care-team, naming themselves)"}))
		}
		if c.ProfessionalName == "" {
			c.ProfessionalName = r.Actor.Name
		}
		c.ProfessionalRole = s.professionName(r.Actor.Profession)
	}
	if _, err := a.check(ctx, carnet.ActionConsent, nil); err != nil {
		return carnet.Consent{}, err
	}
	if c.Kind == carnet.ConsentRestrict {
		if c.Document, err = s.restrictedDocument(ctx, a, c.Document, path); err != nil {
			return carnet.Consent{}, err
		}
	}
	c.ID, c.Date, c.Recorder, c.RecorderLegal = carnet.NewID(), s.now(), r.Actor.Kind, r.Actor.LegalRepresentative
	var note *carnet.NotificationRow
	if r.Actor.Kind == carnet.ActorProfessional {
		// The patient is told of every professional who declares
		// themselves in their care team.
		row, err := s.sealNotification(ctx, careTeamNotification(a.row.Key, carnet.Author{ID: r.Actor.ID, Family: c.ProfessionalName,
			Profession: carnet.Coding{Code: r.Actor.Profession}}, r.Actor, nil, c.Date))
		if err != nil {
			return carnet.Consent{}, err
		}
		note = &row
	}
	err = s.Store.Update(ctx, func(tx carnet.Tx) error {
		return s.rewritePatient(ctx, tx, a.row.Key, func(p *carnet.Patient) (bool, error) {
			pro := c.Professional.Value
			if r.Actor.Kind == carnet.ActorProfessional {
				// Withdrawn or blocked by the patient: only the patient lets
				// them back, never their own declaration.
				if slices.Contains(p.Withdrawn, pro) || slices.Contains(p.Settings().Blocked, pro) {
					return false, a.refusal(carnet.ActionConsent, nil, "declaration by a professional the patient withdrew or blocked",
						&carnet.Error{Kind: carnet.KindForbidden, Msg: "the patient's choices do not allow you to declare a care relationship: only the patient can grant you access"})
				}
				if slices.ContainsFunc(p.Consents, func(x carnet.Consent) bool { return x.Kind == carnet.ConsentCareTeam && x.Professional.Value == pro }) {
					note = nil // already in the care team: nothing new to tell
				}
			}
			if r.Actor.Kind == carnet.ActorPatient && c.Kind == carnet.ConsentAccess {
				// The patient's new grant lifts their earlier withdrawal.
				p.Withdrawn = slices.DeleteFunc(slices.Clone(p.Withdrawn), func(w string) bool { return w == pro })
			}
			p.Consents, _ = carnet.WithConsent(p.Consents, c)
			p.Updated = s.now()
			if note != nil {
				if err := tx.InsertNotification(ctx, *note); err != nil {
					return false, err
				}
			}
			return true, nil
		})
	})
	if err != nil {
		return carnet.Consent{}, s.recordDenial(ctx, err)
	}
	return c, s.audit(ctx, r, carnet.ActionConsent, a.row.Key, nil)
}

// restrictedDocument returns the logicalId of the document a restriction
// names by its id (or by its logicalId, as a Consent read back names it):
// the restriction holds for every version of it.
func (s *Service) restrictedDocument(ctx context.Context, a *access, doc, path string) (string, error) {
	logical := doc
	if row, err := s.Store.Document(ctx, a.row.Key, doc); err == nil {
		logical = row.LogicalID
	}
	// Only a document the caller sees can be restricted: the answer says
	// nothing of the others.
	rows, err := s.Store.FindDocuments(ctx, a.row.Key, carnet.DocumentFilter{LogicalID: logical, WithoutSealed: true})
	if err != nil {
		return "", err
	}
	if len(rows) == 0 || !a.permits(carnet.ActionRead, &rows[0]) {
		return "", carnet.Invalid(carnet.Issue{Severity: "error", Code: "not-found", Diagnostics: "the restricted document is not in this record", Expression: path + ".provision.data"})
	}
	return logical, nil
}

// RevokeConsent withdraws consent id from the record; it is the patient's
// (or a legal representative's) act.
func (s *Service) RevokeConsent(ctx context.Context, r carnet.Request, id carnet.Identifier, consentID string) error {
	a, err := s.ownRecord(ctx, r, id)
	if err != nil {
		return err
	}
	if err := a.patientSide(ctx, carnet.ActionConsent); err != nil {
		return err
	}
	err = s.Store.Update(ctx, func(tx carnet.Tx) error {
		return s.rewritePatient(ctx, tx, a.row.Key, func(p *carnet.Patient) (bool, error) {
			i := slices.IndexFunc(p.Consents, func(c carnet.Consent) bool { return c.ID == consentID })
			if i < 0 {
				return false, errNotFound()
			}
			if c := p.Consents[i]; c.Kind == carnet.ConsentCareTeam && !slices.Contains(p.Withdrawn, c.Professional.Value) {
				// Withdrawn for good: a later filing does not put them back.
				p.Withdrawn = append(p.Withdrawn, c.Professional.Value)
			}
			p.Consents = slices.Delete(slices.Clone(p.Consents), i, i+1)
			p.Updated = s.now()
			return true, nil
		})
	})
	if err != nil {
		return err
	}
	return s.audit(ctx, r, carnet.ActionConsent, a.row.Key, nil)
}

// rewritePatient changes the sealed record key in tx: change edits it and
// says whether anything changed; if so it is sealed again as the next
// version.
func (s *Service) rewritePatient(ctx context.Context, tx carnet.Tx, key carnet.PatientKey, change func(*carnet.Patient) (bool, error)) error {
	row, err := tx.Patient(ctx, key)
	if err != nil {
		return err
	}
	p, err := s.openPatient(ctx, row)
	if err != nil {
		return err
	}
	changed, err := change(&p)
	if err != nil || !changed {
		return err
	}
	p.Version++
	next, err := s.sealPatient(ctx, p)
	if err != nil {
		return err
	}
	return tx.PutPatient(ctx, next)
}

// route finds the record an id belongs to. An unknown id gets the one
// not-found answer, whatever words the Store uses, so that it is
// indistinguishable from a denial.
func (s *Service) route(ctx context.Context, id string) (carnet.PatientKey, error) {
	p, err := s.Store.Route(ctx, id)
	if carnet.IsKind(err, carnet.KindNotFound) {
		return "", errNotFound()
	}
	return p, err
}
