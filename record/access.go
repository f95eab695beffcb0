package record

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

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

// publicActor is what a notification says of who acted: no scopes.
func publicActor(a carnet.Actor) carnet.Actor {
	a.Scopes = nil
	return a
}

func (s *Service) sealNotification(ctx context.Context, n carnet.Notification) (carnet.NotificationRow, error) {
	b, err := json.Marshal(n)
	if err != nil {
		return carnet.NotificationRow{}, carnet.WrapError(carnet.KindInternal, "seal notification", err)
	}
	sealed, err := s.Sealer.Seal(ctx, n.Patient, carnet.Binding{Kind: "notification", ID: n.ID, Version: 1}, b)
	if err != nil {
		return carnet.NotificationRow{}, err
	}
	return carnet.NotificationRow{Patient: n.Patient, ID: n.ID, Time: n.Time, Sealed: sealed}, nil
}

func (s *Service) openNotification(ctx context.Context, row carnet.NotificationRow) (carnet.Notification, error) {
	b, err := s.Sealer.Open(ctx, row.Patient, carnet.Binding{Kind: "notification", ID: row.ID, Version: 1}, row.Sealed)
	if err != nil {
		return carnet.Notification{}, err
	}
	var n carnet.Notification
	if err := json.Unmarshal(b, &n); err != nil {
		return carnet.Notification{}, carnet.WrapError(carnet.KindInternal, "open notification", err)
	}
	n.Patient, n.ID = row.Patient, row.ID
	return n, nil
}

// newDocumentsNotification tells the patient of documents filed.
func newDocumentsNotification(p carnet.PatientKey, docs []carnet.Document, actor carnet.Actor, now time.Time) carnet.Notification {
	ids := make([]string, len(docs))
	for i, d := range docs {
		ids[i] = d.ID
	}
	by := ""
	if len(docs) > 0 && len(docs[0].Meta.Authors) > 0 {
		by = docs[0].Meta.Authors[0].DisplayName()
	}
	return carnet.Notification{ID: carnet.NewID(), Patient: p, Kind: carnet.NotifyNewDocument, Time: now, Actor: publicActor(actor),
		Documents: ids, Text: newDocumentsText(len(docs), by)}
}

// ---- French texts of notifications ----

var professionNames = map[string]string{
	"G15_10": "médecin", "G15_21": "pharmacien", "G15_40": "chirurgien-dentiste",
	"G15_50": "sage-femme", "G15_60": "infirmier", "G15_70": "masseur-kinésithérapeute",
}

func frenchTime(t time.Time) string {
	if loc, err := time.LoadLocation("Europe/Paris"); err == nil {
		t = t.In(loc)
	}
	return t.Format("02/01/2006 à 15h04")
}

func actorLabel(a carnet.Actor) string {
	name := strings.TrimSpace(a.Name)
	if name == "" {
		name = "Un professionnel de santé"
	}
	if p, ok := professionNames[a.Profession]; ok {
		return name + " (" + p + ")"
	}
	return name
}

func newDocumentsText(n int, by string) string {
	msg := "Un nouveau document a été ajouté à votre dossier médical"
	if n > 1 {
		msg = fmt.Sprintf("%d nouveaux documents ont été ajoutés à votre dossier médical", n)
	}
	if by != "" {
		msg += " par " + by
	}
	return msg + "."
}

func firstAccessText(a carnet.Actor, at time.Time) string {
	return actorLabel(a) + " a consulté votre dossier médical pour la première fois, le " + frenchTime(at) + "."
}

func emergencyText(a carnet.Actor, m carnet.Mode, reason string, at time.Time) string {
	how := "en mode bris de glace"
	if m == carnet.ModeCentre15 {
		how = "par la régulation du centre 15 (SAMU)"
	}
	msg := "Accès en urgence à votre dossier médical " + how + " : " + actorLabel(a) + ", le " + frenchTime(at) + "."
	if strings.TrimSpace(reason) != "" {
		msg += " Motif déclaré : " + strings.TrimSpace(reason) + "."
	}
	return msg
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
	return a.patient, a.patient.Consents, a.s.audit(ctx, r, carnet.ActionRead, a.row.Key, nil)
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
	case carnet.ActorProfessional:
		if c.Kind != carnet.ConsentCareTeam || c.Professional.Value != r.Actor.ID.Value {
			return carnet.Consent{}, s.recordDenial(ctx, a.refusal(carnet.ActionConsent, nil, "a professional may only declare their own care relationship",
				&carnet.Error{Kind: carnet.KindForbidden, Msg: "a professional may only declare their own care relationship (care-team, naming themselves)"}))
		}
		if c.ProfessionalName == "" {
			c.ProfessionalName = r.Actor.Name
		}
	}
	if _, err := a.check(ctx, carnet.ActionConsent, nil); err != nil {
		return carnet.Consent{}, err
	}
	if c.Kind == carnet.ConsentRestrict {
		// The patient names the document by its id; the restriction holds
		// for every version of it.
		// A Consent read back names it by logicalId; both are accepted.
		logical := ""
		if row, err := s.Store.Document(ctx, a.row.Key, c.Document); err == nil {
			logical = row.LogicalID
		} else if rows, err := s.Store.FindDocuments(ctx, a.row.Key, carnet.DocumentFilter{LogicalID: c.Document, AllVersions: true, WithoutSealed: true}); err == nil && len(rows) > 0 {
			logical = c.Document
		}
		if logical == "" {
			return carnet.Consent{}, carnet.Invalid(carnet.Issue{Severity: "error", Code: "not-found", Diagnostics: "the restricted document is not in this record", Expression: path + ".provision.data"})
		}
		c.Document = logical
	}
	c.ID, c.Date, c.Recorder, c.RecorderLegal = carnet.NewID(), s.now(), r.Actor.Kind, r.Actor.LegalRepresentative
	if err := s.changeConsents(ctx, a.row.Key, func(cs []carnet.Consent) ([]carnet.Consent, error) {
		next, _ := carnet.WithConsent(cs, c)
		return next, nil
	}); err != nil {
		return carnet.Consent{}, err
	}
	return c, s.audit(ctx, r, carnet.ActionConsent, a.row.Key, nil)
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

// changeConsents rewrites the record's consents in one transaction.
func (s *Service) changeConsents(ctx context.Context, key carnet.PatientKey, change func([]carnet.Consent) ([]carnet.Consent, error)) error {
	return s.Store.Update(ctx, func(tx carnet.Tx) error {
		return s.rewritePatient(ctx, tx, key, func(p *carnet.Patient) (bool, error) {
			var err error
			p.Consents, err = change(p.Consents)
			p.Updated = s.now()
			return err == nil, err
		})
	})
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

// Notifications returns the record's notifications, newest first, for the
// patient or a legal representative.
func (s *Service) Notifications(ctx context.Context, r carnet.Request, id carnet.Identifier, f carnet.NotificationFilter) ([]carnet.Notification, error) {
	a, err := s.ownRecord(ctx, r, id)
	if err != nil {
		return nil, err
	}
	if err := a.patientSide(ctx, carnet.ActionRead); err != nil {
		return nil, err
	}
	rows, err := s.Store.Notifications(ctx, a.row.Key, f)
	if err != nil {
		return nil, err
	}
	out := make([]carnet.Notification, 0, len(rows))
	for _, row := range rows {
		n, err := s.openNotification(ctx, row)
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, s.audit(ctx, r, carnet.ActionRead, a.row.Key, nil)
}

// PendingNotifications returns up to limit notifications not yet delivered,
// oldest first. It is for the deployment's own webhook sender, not for
// callers: no actor, no policy.
func (s *Service) PendingNotifications(ctx context.Context, limit int) ([]carnet.PendingNotification, error) {
	rows, err := s.Store.Undelivered(ctx, limit)
	if err != nil {
		return nil, err
	}
	out := make([]carnet.PendingNotification, 0, len(rows))
	for _, row := range rows {
		n, err := s.openNotification(ctx, row)
		if err != nil {
			return nil, err
		}
		prow, err := s.Store.Patient(ctx, row.Patient)
		if err != nil {
			return nil, err
		}
		p, err := s.openPatient(ctx, prow)
		if err != nil {
			return nil, err
		}
		pn := carnet.PendingNotification{Notification: n}
		if len(p.Identifiers) > 0 {
			pn.INS = p.Identifiers[0]
		}
		out = append(out, pn)
	}
	return out, nil
}

// NotificationDelivered records that a notification was delivered.
func (s *Service) NotificationDelivered(ctx context.Context, p carnet.PatientKey, id string) error {
	now := s.now()
	return s.Store.Update(ctx, func(tx carnet.Tx) error { return tx.MarkDelivered(ctx, p, id, now) })
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
