package web

import (
	"cmp"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	carnet "github.com/carnet-sante/carnet"
	"github.com/carnet-sante/carnet/pastille"
)

// insSystems are the INS a professional may search by; the test ones only
// where the deployment accepts them.
var insSystems = []option{
	{Value: carnet.OIDInsNIR, Label: "INS-NIR (matricule INS)"},
	{Value: carnet.OIDInsNIA, Label: "INS-NIA (identifiant d'attente)"},
	{Value: carnet.OIDInsTestNIR, Label: "INS-NIR de test (démonstration)"},
	{Value: carnet.OIDInsTestNIA, Label: "INS-NIA de test (démonstration)"},
}

// proForm is the professional's search form, posted.
type proForm struct {
	INS, System, Reason string
	Problem             string
	NotFound            bool
	Systems             []option
	Regulator           bool // may use the centre 15 mode (a regulator)
}

func (s *Server) proForm(c *call, f proForm) proForm {
	f.Systems = nil
	for _, o := range insSystems {
		if (o.Value == carnet.OIDInsTestNIR || o.Value == carnet.OIDInsTestNIA) && !s.svc.AllowTestINS {
			continue
		}
		o.Selected = o.Value == f.System
		f.Systems = append(f.Systems, o)
	}
	if f.System == "" && s.svc.AllowTestINS && len(f.Systems) > 2 {
		f.Systems[2].Selected = true
	}
	f.Regulator = c.req.Actor.Centre15 // regulators of a SAMU – centre 15 only (docs/ACCESS.md)
	return f
}

// proHome is the professional's start: find a patient by INS (posted).
func (s *Server) proHome(w http.ResponseWriter, r *http.Request, c *call) error {
	s.render(w, r, c, http.StatusOK, "pro-home", "Espace professionnel", s.proForm(c, proForm{}))
	return nil
}

// validReason keeps a stated reason printable and short (it is shown to the
// patient and kept in the history).
func validReason(s string) (string, bool) {
	s = strings.TrimSpace(s)
	return s, s != "" && carnet.ValidReason(s)
}

// proFind opens a record by INS: normally, after declaring the care
// relationship, in bris de glace (a reason is required) or as the centre 15.
func (s *Server) proFind(w http.ResponseWriter, r *http.Request, c *call) error {
	ctx, cancel := pageContext(r)
	defer cancel()
	v := r.PostForm
	f := proForm{INS: strings.TrimSpace(v.Get("ins")), System: v.Get("systeme"), Reason: v.Get("motif")}
	again := func(status int, problem string, notFound bool) error {
		f.Problem, f.NotFound = problem, notFound
		s.render(w, r, c, status, "pro-home", "Espace professionnel", s.proForm(c, f))
		return nil
	}
	if !slices.ContainsFunc(s.proForm(c, proForm{}).Systems, func(o option) bool { return o.Value == f.System }) {
		return again(http.StatusBadRequest, "Choisissez le type d'identifiant.", false)
	}
	if len(f.INS) != 15 {
		return again(http.StatusBadRequest, "L'INS compte 15 caractères (13 chiffres et la clé).", false)
	}
	id := carnet.Identifier{System: "urn:oid:" + f.System, Value: f.INS}
	req := c.req
	var em *emergency
	switch v.Get("action") {
	case "ouvrir":
	case "relation":
		if v.Get("attestation") != "oui" {
			return again(http.StatusBadRequest, "Cochez l'attestation : vous prenez ce patient en charge.", true)
		}
		a := c.req.Actor
		_, err := s.svc.AddConsent(ctx, c.req, id, carnet.Consent{Kind: carnet.ConsentCareTeam, Permit: true, Professional: a.ID, ProfessionalName: a.Name}, "Consent")
		if carnet.IsKind(err, carnet.KindNotFound) || carnet.IsKind(err, carnet.KindForbidden) {
			return again(http.StatusNotFound, "Aucun dossier n'est accessible pour cet INS.", true)
		}
		if err != nil {
			return err
		}
	case "urgence", "centre15":
		mode := carnet.ModeBreakGlass
		if v.Get("action") == "centre15" {
			mode = carnet.ModeCentre15
		}
		reason, ok := validReason(f.Reason)
		if !ok {
			if mode == carnet.ModeBreakGlass {
				return again(http.StatusBadRequest, "Un motif est obligatoire pour un accès en bris de glace : décrivez la situation d'urgence (300 caractères au plus).", true)
			}
			return again(http.StatusBadRequest, "Indiquez le motif de la régulation (300 caractères au plus).", true)
		}
		req.Mode, req.Reason = mode, reason
		em = &emergency{Mode: mode, Reason: reason, Since: s.now()}
	default:
		return userError(carnet.KindInvalid, "Action inconnue.")
	}
	p, err := s.svc.PatientByINS(ctx, req, id)
	if carnet.IsKind(err, carnet.KindNotFound) {
		if em != nil {
			return again(http.StatusNotFound, "Accès d'urgence impossible : aucun dossier accessible pour cet INS (ou le patient a refusé ce mode d'accès).", true)
		}
		return again(http.StatusNotFound, "Aucun dossier n'est accessible pour cet INS. Si vous prenez ce patient en charge, déclarez la relation de soins ; en cas d'urgence, utilisez le bris de glace.", true)
	}
	if err != nil {
		return err
	}
	dest := "/pro/dossier/" + url.PathEscape(string(p.Key))
	if em != nil {
		if c.sess.data.Emergency == nil {
			c.sess.data.Emergency = map[carnet.PatientKey]emergency{}
		}
		c.sess.data.Emergency[p.Key] = *em
		if err := s.save(ctx, c.sess); err != nil {
			return err
		}
	}
	if v.Get("action") == "relation" {
		dest += "?message=relation"
	}
	http.Redirect(w, r, dest, http.StatusSeeOther)
	return nil
}

// recordRequest is the request for one record: in its emergency mode while
// an emergency access to it lasts.
func (s *Server) recordRequest(c *call, key carnet.PatientKey) carnet.Request {
	req := c.req
	if e, ok := c.sess.data.Emergency[key]; ok && key != "" {
		req.Mode, req.Reason = e.Mode, e.Reason
	}
	return req
}

// proEndEmergency ends the emergency access to a record.
func (s *Server) proEndEmergency(w http.ResponseWriter, r *http.Request, c *call) error {
	key := carnet.PatientKey(r.PathValue("patient"))
	if _, ok := c.sess.data.Emergency[key]; ok {
		delete(c.sess.data.Emergency, key)
		if err := s.save(r.Context(), c.sess); err != nil {
			return err
		}
	}
	http.Redirect(w, r, "/pro?message=urgence-fin", http.StatusSeeOther)
	return nil
}

// proLine is one line of the pastille view.
type proLine struct {
	docLine
	Opened bool
	Rank   int
}

const proShow = 10

// proRecord is the pastille view: the card's summary, what is new since the
// last visit, then the ranked list with its reasons; filters and full-text
// search (posted).
func (s *Server) proRecord(w http.ResponseWriter, r *http.Request, c *call) error {
	ctx, cancel := pageContext(r)
	defer cancel()
	key := carnet.PatientKey(r.PathValue("patient"))
	req := s.recordRequest(c, key)
	var q, typ string
	var onlyNew bool
	show := proShow
	if r.Method == http.MethodPost {
		q = strings.TrimSpace(r.PostForm.Get("q"))
		if len(q) > 200 {
			q = q[:200]
		}
		typ, onlyNew = r.PostForm.Get("type"), r.PostForm.Get("nouveaux") == "oui"
		if n, err := strconv.Atoi(r.PostForm.Get("afficher")); err == nil && n > 0 {
			show = min(n, 500)
		}
	}
	// The visit this session counts from: the card's (since=), else the
	// record's at the first opening of the session, which marks the visit.
	opts := pastille.RankOptions{Actor: req.Actor, Show: show, NewFirst: true, Cache: &s.care}
	prev, seen := c.sess.data.Visits[key]
	mark := false
	if v := r.URL.Query().Get("since"); v != "" || r.URL.Query().Get("premiere") == "1" {
		var t time.Time
		if v != "" {
			var err error
			if t, err = time.Parse(time.RFC3339Nano, v); err != nil {
				return userError(carnet.KindInvalid, "Le lien de la pastille est incorrect (since).")
			}
		}
		prev, seen = visit{Since: t}, true
		if c.sess.data.Visits == nil {
			c.sess.data.Visits = map[carnet.PatientKey]visit{}
		}
		c.sess.data.Visits[key] = prev
		if err := s.save(ctx, c.sess); err != nil {
			return err
		}
	}
	if seen {
		opts.Since, opts.FirstVisit = prev.Since, prev.Since.IsZero()
	} else {
		mark = true
	}
	if typ != "" || onlyNew {
		opts.Keep = func(rk pastille.Ranked) bool {
			return (typ == "" || rk.Doc.Type.Code == typ) && (!onlyNew || rk.New)
		}
	}
	gather := func(pick func(carnet.CareView) []string) (carnet.CareView, carnet.CareDetails, error) {
		return s.svc.PointOfCare(ctx, req, key, carnet.Identifier{}, q, mark, pick)
	}
	cr, err := pastille.RankView(gather, opts)
	if err != nil {
		return err
	}
	if cr.View.Patient == "" {
		return carnet.Errorf(carnet.KindNotFound, "no record")
	}
	if mark {
		if c.sess.data.Visits == nil {
			c.sess.data.Visits = map[carnet.PatientKey]visit{}
		}
		c.sess.data.Visits[key] = visit{Since: cr.View.LastVisit}
		if err := s.save(ctx, c.sess); err != nil {
			return err
		}
	}
	card := pastille.Summarize(cr.Input, cr.All, "")
	var fresh, rest []proLine
	for i, rk := range cr.Ranked {
		if _, opened := cr.Details.Documents[rk.Doc.ID]; !opened {
			break // the lines shown are the ones opened (and recorded as served)
		}
		l := proLine{Rank: i + 1}
		d := rk.Doc
		l.ID, l.Type, l.New = cmp.Or(d.LogicalID, d.ID), typeName(d.Type), rk.New
		l.Title = d.Title
		if l.Title == "" {
			l.Title = l.Type
		}
		at := d.Created
		if at.IsZero() {
			at = d.Date
		}
		l.Date = frenchDate(at)
		l.Authors = strings.Join(d.AuthorNames, ", ")
		_, l.Opened = cr.Details.Documents[d.ID]
		for _, reason := range rk.Reasons {
			l.Reasons = append(l.Reasons, reason.Text)
		}
		for _, f := range d.Findings {
			if f.Display != "" {
				l.Findings = append(l.Findings, fmt.Sprintf("%s %s (%s)", f.Display, f.Value, interpretationName(f.Interpretation)))
			}
		}
		for _, lb := range d.Labels {
			if n := labelName(lb); n != "" {
				l.Labels = append(l.Labels, n)
			}
			if lb == carnet.LabelInvisiblePatient {
				l.Warning = "Document invisible pour le patient : ne lui en parlez qu'après l'annonce."
			}
		}
		l.Status = statusName(d.Status)
		if rk.New {
			fresh = append(fresh, l)
		} else {
			rest = append(rest, l)
		}
	}
	types := map[string]bool{}
	for _, rk := range cr.All {
		types[rk.Doc.Type.Code] = true
	}
	var typeOpts []option
	for code := range types {
		if code != "" {
			typeOpts = append(typeOpts, option{Value: code, Label: typeName(carnet.Coding{Code: code}), Selected: code == typ})
		}
	}
	slices.SortFunc(typeOpts, func(a, b option) int { return strings.Compare(a.Label, b.Label) })
	lastVisit := "votre première consultation de ce dossier"
	if !cr.Input.LastVisit.IsZero() {
		lastVisit = "votre dernière visite, le " + frenchDateTime(cr.Input.LastVisit)
	}
	opened := 0
	for _, l := range append(slices.Clone(fresh), rest...) {
		if l.Opened {
			opened++
		}
	}
	s.render(w, r, c, http.StatusOK, "pro-record", "Dossier du patient", map[string]any{
		"Key": key, "Card": card, "New": fresh, "Rest": rest, "LastVisit": lastVisit, "Q": q, "Types": typeOpts,
		"OnlyNew": onlyNew, "Total": len(cr.Ranked), "Shown": opened, "More": min(show+proShow, 500),
		"Filtered": q != "" || typ != "" || onlyNew, "Type": typ,
	})
	return nil
}

func interpretationName(code string) string {
	switch code {
	case "H":
		return "élevé"
	case "HH":
		return "critique, très élevé"
	case "L":
		return "bas"
	case "LL":
		return "critique, très bas"
	case "AA":
		return "critique"
	}
	return "anormal"
}

// proDocument is the viewer for a professional, in the record's emergency
// mode when one lasts, with the policy's warnings (a document invisible to
// the patient).
func (s *Server) proDocument(w http.ResponseWriter, r *http.Request, c *call) error {
	key := carnet.PatientKey(r.PathValue("patient"))
	id := r.PathValue("id")
	if !s.svc.InRecord(r.Context(), id, key) {
		return carnet.Errorf(carnet.KindNotFound, "not in this record")
	}
	cc := *c
	cc.req = s.recordRequest(c, key)
	v, err := s.openDocument(r, &cc, id)
	if err != nil {
		return err
	}
	v.Base = "/pro/dossier/" + url.PathEscape(string(key)) + "/documents/" + url.PathEscape(fhirID(v.Doc))
	var warnings []string
	for _, w := range v.Warnings {
		warnings = append(warnings, warningText(w))
	}
	if v.Doc.Meta.HasLabel(carnet.LabelInvisiblePatient) && !slices.Contains(warnings, warningText("invisible")) {
		warnings = append(warnings, warningText("invisible"))
	}
	s.render(w, r, c, http.StatusOK, "pro-document", v.Line.Title, map[string]any{"View": v, "Key": key, "Warnings": slices.Compact(warnings)})
	return nil
}

// warningText says a policy warning in French.
func warningText(w string) string {
	switch {
	case strings.Contains(w, "representative") || strings.Contains(w, "REPRESENTANTS"):
		return "Ce document est caché aux représentants légaux du patient."
	case strings.Contains(w, "invisible") || strings.Contains(w, "INVISIBLE_PATIENT"):
		return "Ce document est invisible pour le patient (en attente d'annonce) : il ne le voit pas dans son espace."
	}
	return w
}

// CardLink is the pastille card's link to a record's page (httpapi's
// CDSConfig.Link): the record's opaque key, and since= the visit the card
// counted from, so that the page shows as new what the card announced. A
// first visit (zero) has no since: the page then counts from the record's
// own last visit, which the card has just set, and ranks as a first
// opening.
func CardLink(base string, patient carnet.PatientKey, since time.Time) string {
	u := base + "/pro/dossier/" + url.PathEscape(string(patient))
	if since.IsZero() {
		return u + "?premiere=1"
	}
	return u + "?since=" + url.QueryEscape(since.UTC().Format(time.RFC3339Nano))
}
