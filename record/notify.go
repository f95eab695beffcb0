package record

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	carnet "github.com/carnet-sante/carnet"
)

// Notifications are written when something happens (a filing, a first
// access, an emergency access, a professional joining the care team) and
// decided when they are read or delivered, on the documents as they are
// then: a notification names only the documents its reader may see, and
// its text is written again from those (docs/ACCESS.md, "What each person
// is told").

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

// newDocumentsNotification tells the patient of documents filed (or made
// visible to them).
func newDocumentsNotification(p carnet.PatientKey, docs []carnet.Document, actor carnet.Actor, now time.Time) carnet.Notification {
	n := carnet.Notification{ID: carnet.NewID(), Patient: p, Kind: carnet.NotifyNewDocument, Time: now, Actor: publicActor(actor)}
	for _, d := range docs {
		by := ""
		if len(d.Meta.Authors) > 0 {
			by = d.Meta.Authors[0].DisplayName()
		}
		n.Documents = append(n.Documents, d.LogicalID) // the FHIR id
		n.DocumentAuthors = append(n.DocumentAuthors, by)
	}
	n.Text = noteText(n)
	return n
}

// careTeamNotification tells the patient that a professional joined their
// care team, by filing documents (docs: shown only to whom may see one of
// them) or by declaring the relationship (docs nil).
func careTeamNotification(p carnet.PatientKey, who carnet.Author, actor carnet.Actor, docs []string, now time.Time) carnet.Notification {
	declared := docs == nil
	name := strings.TrimSpace(who.DisplayName())
	if name == "" {
		name = "Un professionnel de santé"
	}
	if role := professionalRole(who); role != "" {
		name += " (" + role + ")"
	}
	how := "en déposant un document dans votre dossier médical"
	if declared {
		how = "en déclarant vous prendre en charge"
	}
	return carnet.Notification{ID: carnet.NewID(), Patient: p, Kind: carnet.NotifyCareTeam, Time: now, Actor: publicActor(actor), Documents: docs,
		Text: name + " a rejoint votre équipe de soins " + how + ", le " + frenchTime(now) +
			". Vous pouvez le retirer ou le bloquer dans vos paramètres de confidentialité."}
}

// noteText writes a notification's text from the documents it names.
func noteText(n carnet.Notification) string {
	if n.Kind != carnet.NotifyNewDocument {
		return n.Text
	}
	by := ""
	if len(n.DocumentAuthors) > 0 {
		by = n.DocumentAuthors[0]
	}
	return newDocumentsText(len(n.Documents), by)
}

// latestRows maps every version id of a record's documents to the latest
// version of its document, whose labels and status decide.
//
// The map is kept per record under its stamp (the access history, the
// notifications and the choices pages ask for it on every view) and must
// not be changed by callers.
func (s *Service) latestRows(ctx context.Context, p carnet.PatientKey) (map[string]carnet.DocumentRow, error) {
	stamp, err := s.Store.RecordStamp(ctx, p)
	if err != nil {
		return nil, err
	}
	c := &s.latest
	c.mu.Lock()
	if e, ok := c.entries[p]; ok && e.stamp == stamp {
		c.mu.Unlock()
		return e.rows, nil
	}
	c.mu.Unlock()
	out, err := s.readLatestRows(ctx, p)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil || len(c.entries) >= maxLatestEntries {
		c.entries = map[carnet.PatientKey]latestEntry{}
	}
	c.entries[p] = latestEntry{stamp: stamp, rows: out}
	return out, nil
}

// maxLatestEntries bounds the records whose latest rows are kept.
const maxLatestEntries = 256

type latestCache struct {
	mu      sync.Mutex
	entries map[carnet.PatientKey]latestEntry
}

type latestEntry struct {
	stamp string
	rows  map[string]carnet.DocumentRow
}

func (s *Service) readLatestRows(ctx context.Context, p carnet.PatientKey) (map[string]carnet.DocumentRow, error) {
	rows, err := s.Store.FindDocuments(ctx, p, carnet.DocumentFilter{AllVersions: true, WithoutSealed: true})
	if err != nil {
		return nil, err
	}
	latest := map[string]carnet.DocumentRow{}
	for _, r := range rows {
		if r.Latest {
			latest[r.LogicalID] = r
		}
	}
	out := make(map[string]carnet.DocumentRow, len(rows))
	for _, r := range rows {
		if l, ok := latest[r.LogicalID]; ok {
			out[r.ID] = l
		}
	}
	return out, nil
}

// shownAs returns n as a reader who may see the documents sees permits
// is shown it, and whether it is shown at all: only the documents they may
// see are named, and the text is written from those. A notification about
// documents only, none of which they may see, is not shown; an access
// whose documents are hidden is shown without them.
func shownAs(n carnet.Notification, latest map[string]carnet.DocumentRow, sees func(*carnet.DocumentRow) bool) (carnet.Notification, bool) {
	if len(n.Documents) == 0 {
		return n, true
	}
	var docs, authors []string
	for i, id := range n.Documents {
		row, ok := latest[id]
		if !ok || !sees(&row) {
			continue
		}
		docs = append(docs, id)
		if i < len(n.DocumentAuthors) {
			authors = append(authors, n.DocumentAuthors[i])
		}
	}
	if len(docs) == 0 && (n.Kind == carnet.NotifyNewDocument || n.Kind == carnet.NotifyCareTeam) {
		return n, false
	}
	n.Documents, n.DocumentAuthors = docs, authors
	n.Text = noteText(n)
	return n, true
}

// ---- French texts of notifications ----

var professionNames = map[string]string{
	"G15_10": "médecin", "G15_21": "pharmacien", "G15_40": "chirurgien-dentiste",
	"G15_50": "sage-femme", "G15_60": "infirmier", "G15_70": "masseur-kinésithérapeute",
}

// professionalRole is a professional's profession as a patient reads it.
func professionalRole(a carnet.Author) string {
	if a.Profession.Display != "" {
		return strings.ToLower(a.Profession.Display)
	}
	return professionNames[a.Profession.Code]
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

// ---- reading and delivering ----

// Notifications returns the record's notifications, newest first, for the
// patient or a legal representative: each as its reader may see it.
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
	latest, err := s.latestRows(ctx, a.row.Key)
	if err != nil {
		return nil, err
	}
	sees := func(d *carnet.DocumentRow) bool { return a.permits(carnet.ActionRead, d) }
	out := make([]carnet.Notification, 0, len(rows))
	for _, row := range rows {
		n, err := s.openNotification(ctx, row)
		if err != nil {
			return nil, err
		}
		if n, ok := shownAs(n, latest, sees); ok {
			out = append(out, n)
		}
	}
	return out, s.audit(ctx, r, carnet.ActionRead, a.row.Key, nil)
}

// PendingNotifications returns up to limit notifications not yet delivered,
// oldest first, as the deployment's webhook sender delivers them (no actor,
// no policy of a caller). The webhook cannot tell who reads the patient's
// messages: a notification names only the documents both the patient and
// their legal representatives may see, and one it cannot send at all is
// counted as delivered here.
func (s *Service) PendingNotifications(ctx context.Context, limit int) ([]carnet.PendingNotification, error) {
	rows, err := s.Store.Undelivered(ctx, limit)
	if err != nil {
		return nil, err
	}
	out := make([]carnet.PendingNotification, 0, len(rows))
	latest := map[carnet.PatientKey]map[string]carnet.DocumentRow{}
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
		if _, ok := latest[row.Patient]; !ok && len(n.Documents) > 0 {
			if latest[row.Patient], err = s.latestRows(ctx, row.Patient); err != nil {
				return nil, err
			}
		}
		shown, ok := shownAs(n, latest[row.Patient], s.patientSideSees(&prow, p))
		if !ok {
			if err := s.NotificationDelivered(ctx, row.Patient, row.ID); err != nil {
				return nil, err
			}
			continue
		}
		pn := carnet.PendingNotification{Notification: shown}
		if len(p.Identifiers) > 0 {
			pn.INS = p.Identifiers[0]
		}
		out = append(out, pn)
	}
	return out, nil
}

// patientSideSees decides whether both the patient and their legal
// representatives may see a document of the record.
func (s *Service) patientSideSees(row *carnet.PatientRow, p carnet.Patient) func(*carnet.DocumentRow) bool {
	var ins carnet.Identifier
	if len(p.Identifiers) > 0 {
		ins = p.Identifiers[0]
	}
	settings := p.Settings()
	return func(d *carnet.DocumentRow) bool {
		for _, rel := range []carnet.PatientRelation{carnet.RelationSelf, carnet.RelationLegalRep} {
			req := carnet.AccessRequest{Actor: carnet.Actor{Kind: carnet.ActorPatient, ID: ins, LegalRepresentative: rel == carnet.RelationLegalRep},
				Action: carnet.ActionRead, Mode: carnet.ModeNormal, Patient: row, Document: d, Now: s.now(), Settings: settings, Relation: rel}
			if !s.Policy.Decide(req).Permit {
				return false
			}
		}
		return true
	}
}

// NotificationDelivered records that a notification was delivered.
func (s *Service) NotificationDelivered(ctx context.Context, p carnet.PatientKey, id string) error {
	now := s.now()
	return s.Store.Update(ctx, func(tx carnet.Tx) error { return tx.MarkDelivered(ctx, p, id, now) })
}
