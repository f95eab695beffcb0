package web

import (
	"encoding/hex"
	"net/http"
	"slices"
	"strconv"

	carnet "github.com/carnet-sante/carnet"
	"github.com/carnet-sante/carnet/record"
)

// proChoice is a professional of the record as the choices page shows it.
type proChoice struct {
	Label, RPPS, Name string
	Blocked           bool
	BlockID           string // the block consent to revoke
	Relations         []string
	Authored          int
}

// consentLine is an active consent as the choices page lists it.
type consentLine struct {
	ID, Text, Date string
}

// patientChoices shows the record's choices: the professionals who appear
// in it (to block by name), emergency choices, masking new documents,
// secondary use, every active consent.
func (s *Server) patientChoices(w http.ResponseWriter, r *http.Request, c *call) error {
	ctx, cancel := pageContext(r)
	defer cancel()
	p, consents, err := s.svc.Consents(ctx, c.req, c.req.Actor.ID)
	if err != nil {
		return err
	}
	pros, err := s.svc.Professionals(ctx, c.req, c.req.Actor.ID)
	if err != nil {
		return err
	}
	st := p.Settings()
	var choices []proChoice
	for _, pr := range pros {
		pc := proChoice{Label: proLabel(pr), RPPS: pr.ID.Value, Name: pr.Name, Authored: pr.Authored}
		for _, k := range pr.Consents {
			pc.Relations = append(pc.Relations, consentKindName(k))
		}
		if i := slices.IndexFunc(consents, func(c carnet.Consent) bool {
			return c.Kind == carnet.ConsentBlock && c.Professional.Value == pr.ID.Value
		}); i >= 0 {
			pc.Blocked, pc.BlockID = true, consents[i].ID
		}
		choices = append(choices, pc)
	}
	var lines []consentLine
	for _, cs := range consents {
		lines = append(lines, consentLine{ID: cs.ID, Text: consentText(cs), Date: frenchDate(cs.Date)})
	}
	s.render(w, r, c, http.StatusOK, "patient-choices", "Mes choix de confidentialité", map[string]any{
		"Professionals": choices, "Settings": st, "Consents": lines,
	})
	return nil
}

func consentKindName(k carnet.ConsentKind) string {
	switch k {
	case carnet.ConsentCareTeam:
		return "équipe de soins"
	case carnet.ConsentAccess:
		return "accès autorisé par vous"
	case carnet.ConsentBlock:
		return "bloqué"
	case carnet.ConsentDesignate:
		return "peut voir les documents masqués"
	}
	return string(k)
}

func consentText(c carnet.Consent) string {
	who := c.ProfessionalName
	if who == "" && c.Professional.Value != "" {
		who = "le professionnel RPPS " + c.Professional.Value
	}
	switch c.Kind {
	case carnet.ConsentCareTeam:
		return who + " fait partie de votre équipe de soins"
	case carnet.ConsentAccess:
		return who + " a accès à votre dossier avec votre accord"
	case carnet.ConsentBlock:
		return who + " est bloqué : aucun accès"
	case carnet.ConsentDesignate:
		return who + " peut voir vos documents masqués"
	case carnet.ConsentBTG:
		if c.Permit {
			return "Bris de glace autorisé"
		}
		return "Bris de glace refusé"
	case carnet.ConsentCentre15:
		if c.Permit {
			return "Accès par le centre 15 (SAMU) autorisé"
		}
		return "Accès par le centre 15 (SAMU) refusé"
	case carnet.ConsentMasked:
		if c.Permit {
			return "Documents masqués visibles en cas d'urgence"
		}
		return "Documents masqués invisibles même en urgence"
	case carnet.ConsentMaskNew:
		if c.Permit {
			return "Nouveaux documents visibles par les professionnels"
		}
		return "Nouveaux documents masqués aux professionnels par défaut"
	case carnet.ConsentRestrict:
		return "Restriction d'un document (EHDS) : les professionnels ne le voient pas"
	case carnet.ConsentSecondaryUse:
		if c.Permit {
			return "Utilisation secondaire de vos données acceptée"
		}
		return "Opposition à l'utilisation secondaire de vos données"
	}
	return string(c.Kind)
}

// patientChoicesChange records one choice.
func (s *Server) patientChoicesChange(w http.ResponseWriter, r *http.Request, c *call) error {
	ctx, cancel := pageContext(r)
	defer cancel()
	v := r.PostForm
	id := c.req.Actor.ID
	add := func(cs carnet.Consent) error {
		_, err := s.svc.AddConsent(ctx, c.req, id, cs, "Consent")
		return err
	}
	msg := "choix"
	switch v.Get("action") {
	case "bloquer":
		rpps := v.Get("rpps")
		// Only a professional who appears in the record can be picked.
		pros, err := s.svc.Professionals(ctx, c.req, id)
		if err != nil {
			return err
		}
		i := slices.IndexFunc(pros, func(p record.RecordProfessional) bool { return p.ID.Value == rpps })
		if i < 0 {
			return userError(carnet.KindInvalid, "Choisissez un professionnel de la liste.")
		}
		if err := add(carnet.Consent{Kind: carnet.ConsentBlock, Professional: pros[i].ID, ProfessionalName: pros[i].Name}); err != nil {
			return err
		}
		msg = "bloque"
	case "revoquer":
		if err := s.svc.RevokeConsent(ctx, c.req, id, v.Get("consent")); err != nil {
			return err
		}
		msg = "retire"
		if v.Get("debloquer") != "" {
			msg = "debloque"
		}
	case "urgence":
		for _, t := range []struct {
			field string
			kind  carnet.ConsentKind
		}{{"btg", carnet.ConsentBTG}, {"centre15", carnet.ConsentCentre15}, {"masques", carnet.ConsentMasked}} {
			permit, err := strconv.ParseBool(v.Get(t.field))
			if err != nil {
				return userError(carnet.KindInvalid, "Répondez à chaque question.")
			}
			if err := add(carnet.Consent{Kind: t.kind, Permit: permit}); err != nil {
				return err
			}
		}
	case "nouveaux":
		mask, err := strconv.ParseBool(v.Get("masquer"))
		if err != nil {
			return userError(carnet.KindInvalid, "Répondez à la question.")
		}
		if err := add(carnet.Consent{Kind: carnet.ConsentMaskNew, Permit: !mask}); err != nil {
			return err
		}
	case "secondaire":
		optOut, err := strconv.ParseBool(v.Get("opposition"))
		if err != nil {
			return userError(carnet.KindInvalid, "Répondez à la question.")
		}
		if err := add(carnet.Consent{Kind: carnet.ConsentSecondaryUse, Permit: !optOut}); err != nil {
			return err
		}
	default:
		return userError(carnet.KindInvalid, "Action inconnue.")
	}
	http.Redirect(w, r, "/patient/choix?message="+msg, http.StatusSeeOther)
	return nil
}

// noteLine is a notification as shown.
type noteLine struct {
	Date, Text string
	Emergency  bool
}

func (s *Server) patientNotifications(w http.ResponseWriter, r *http.Request, c *call) error {
	ctx, cancel := pageContext(r)
	defer cancel()
	notes, err := s.svc.Notifications(ctx, c.req, c.req.Actor.ID, carnet.NotificationFilter{Limit: 100})
	if err != nil {
		return err
	}
	lines := make([]noteLine, 0, len(notes))
	for _, n := range notes {
		lines = append(lines, noteLine{Date: frenchDateTime(n.Time), Text: n.Text, Emergency: n.Kind == carnet.NotifyEmergency})
	}
	s.render(w, r, c, http.StatusOK, "patient-notifications", "Mes notifications", map[string]any{"Notes": lines})
	return nil
}

// historyLine is one access as the history shows it, with its log entry
// for the browser's check.
type historyLine struct {
	Date, Who, Role, Action, Mode, Reason string
	Documents                             int
	Emergency, Denied, Pruned             bool
	// The log entry: index, event id, exact time, digest (hex).
	Index             uint64
	EventID, LeafTime string
	Digest            string
}

// leafTime is the leaf's time format (docs/AUDIT.md).
const leafTime = "2006-01-02T15:04:05.000000000Z"

func historyLines(entries []carnet.AuditEntry, self carnet.Actor) []historyLine {
	lines := make([]historyLine, 0, len(entries))
	for _, e := range entries {
		ev := e.Event
		l := historyLine{Date: frenchDateTime(ev.Time), Index: e.Seq, EventID: ev.ID,
			LeafTime: ev.Time.UTC().Format(leafTime), Digest: hex.EncodeToString(e.Digest), Pruned: e.Pruned}
		if e.Pruned {
			l.Who = "—"
			l.Action = "événement au-delà de sa durée de conservation : seule son empreinte reste dans le journal"
			lines = append(lines, l)
			continue
		}
		a := ev.Actor
		l.Who = a.Name
		switch a.Kind {
		case carnet.ActorPatient:
			l.Role = "patient"
			if a.LegalRepresentative {
				l.Role = "représentant légal"
			}
			if a.ID == self.ID && a.LegalRepresentative == self.LegalRepresentative {
				l.Who = "Vous"
			}
		case carnet.ActorProfessional:
			l.Role = professionName(a.Profession, a.Specialty)
		case carnet.ActorSystem:
			l.Role = "logiciel"
		}
		if l.Who == "" {
			l.Who = "Inconnu"
		}
		l.Action, l.Documents = actionName(ev.Action), len(ev.Documents)
		l.Emergency = ev.Mode == carnet.ModeBreakGlass || ev.Mode == carnet.ModeCentre15
		l.Mode, l.Reason = modeName(ev.Mode), ev.Reason
		l.Denied = ev.Outcome == carnet.OutcomeDenied
		lines = append(lines, l)
	}
	return lines
}

// patientHistory is the access history; static/verify.js checks each line
// against the signed log in the browser.
func (s *Server) patientHistory(w http.ResponseWriter, r *http.Request, c *call) error {
	ctx, cancel := pageContext(r)
	defer cancel()
	f := carnet.AuditFilter{Limit: 50}
	if v := r.URL.Query().Get("avant"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil || n == 0 {
			return userError(carnet.KindInvalid, "Page inconnue.")
		}
		f.Before = n
	}
	entries, err := s.svc.AuditHistory(ctx, c.req, c.req.Actor.ID, f, nil)
	if err != nil {
		return err
	}
	next := uint64(0)
	if len(entries) == f.Limit && entries[len(entries)-1].Seq > 0 {
		next = entries[len(entries)-1].Seq
	}
	s.render(w, r, c, http.StatusOK, "patient-history", "Historique des accès à mon dossier", map[string]any{
		"Lines": historyLines(entries, c.req.Actor), "Next": next, "Verify": s.cfg.HasAuditLog,
	})
	return nil
}
