package web

import (
	"bytes"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"

	carnet "github.com/carnet-sante/carnet"
	"github.com/carnet-sante/carnet/mhd"
)

// view is what every page's template receives.
type view struct {
	Title     string
	User      string // who is signed in, as shown
	Role      string
	Space     string // patient, pro, audit, or ""
	Path      string // the page's path, for aria-current
	CSRF      string
	Demo      bool
	Message   string // a confirmation after a change (from ?message=)
	Emergency *banner
	Data      any
}

// banner is the emergency access banner of a record.
type banner struct {
	Mode, Reason, Since string
	Patient             carnet.PatientKey
}

// messages are the confirmations a redirect may carry (?message=code):
// codes, never data, in the URL.
var messages = map[string]string{
	"deconnecte":        "Vous êtes déconnecté. Votre session est terminée.",
	"masque":            "Le document est masqué aux professionnels de santé.",
	"demasque":          "Le document est de nouveau visible par les professionnels de santé qui ont accès à votre dossier.",
	"cache-rl":          "Le document est caché à vos représentants légaux.",
	"montre-rl":         "Le document est de nouveau visible par vos représentants légaux.",
	"restreint":         "Le document fait l'objet d'une restriction : les professionnels ne le voient pas et ne savent pas qu'il existe.",
	"restriction-levee": "La restriction est levée.",
	"choix":             "Votre choix est enregistré. Il s'applique dès maintenant.",
	"bloque":            "Ce professionnel est bloqué : il n'a plus aucun accès à votre dossier.",
	"debloque":          "Ce professionnel n'est plus bloqué.",
	"retire":            "Le consentement est retiré.",
	"relation":          "La relation de soins est déclarée ; le patient en est informé.",
	"urgence-fin":       "L'accès d'urgence est terminé.",
}

func (s *Server) parseTemplates() error {
	layout, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html")
	if err != nil {
		return err
	}
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return err
	}
	s.pages = map[string]*template.Template{}
	for _, n := range names {
		base := strings.TrimSuffix(path.Base(n), ".html")
		if base == "layout" {
			continue
		}
		t, err := template.Must(layout.Clone()).ParseFS(templateFS, n)
		if err != nil {
			return fmt.Errorf("template %s: %w", n, err)
		}
		s.pages[base] = t
	}
	return nil
}

// render writes page name with the layout. It renders to a buffer first,
// so that a template error is a clean 500, never half a page.
func (s *Server) render(w http.ResponseWriter, r *http.Request, c *call, status int, name, title string, data any) {
	v := view{Title: title, Path: r.URL.Path, Demo: s.cfg.Demo, Data: data, Message: messages[r.URL.Query().Get("message")]}
	if c != nil && c.sess.signedIn() {
		a := c.req.Actor
		v.User, v.CSRF = a.Name, c.sess.data.CSRF
		switch {
		case a.Kind == carnet.ActorPatient && a.LegalRepresentative:
			v.Space, v.Role = "patient", "Représentant légal"
		case a.Kind == carnet.ActorPatient:
			v.Space, v.Role = "patient", "Patient"
		case a.Kind == carnet.ActorProfessional:
			v.Space, v.Role = "pro", professionName(a.Profession, a.Specialty)
		case a.Kind == carnet.ActorSystem && auditor(a.Scopes):
			v.Space, v.Role = "audit", "Auditeur"
		}
		if key := carnet.PatientKey(r.PathValue("patient")); key != "" {
			if e, ok := c.sess.data.Emergency[key]; ok {
				v.Emergency = &banner{Mode: modeName(e.Mode), Reason: e.Reason, Since: frenchDateTime(e.Since), Patient: key}
			}
		}
	}
	t := s.pages[name]
	var buf bytes.Buffer
	if t == nil {
		s.log.Error("no such template", "name", name)
		http.Error(w, "erreur interne", http.StatusInternalServerError)
		return
	}
	if err := t.ExecuteTemplate(&buf, "layout", v); err != nil {
		s.log.Error("rendering a page", "page", name, "err", err)
		http.Error(w, "erreur interne", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

var paris = func() *time.Location {
	if l, err := time.LoadLocation("Europe/Paris"); err == nil {
		return l
	}
	return time.UTC
}()

func frenchDate(t time.Time) string {
	if t.IsZero() {
		return "date inconnue"
	}
	return t.In(paris).Format("02/01/2006")
}

func frenchDateTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.In(paris).Format("02/01/2006 à 15h04")
}

var funcs = template.FuncMap{
	"date":     frenchDate,
	"datetime": frenchDateTime,
	"iso":      func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"typeName": typeName,
	"label":    labelName,
	"mode":     modeName,
	"action":   actionName,
	// line hands a pro-record line and its record to the line template.
	"line": func(key carnet.PatientKey, l proLine) map[string]any { return map[string]any{"Key": key, "Line": l} },
}

// typeNames are the document types of the mission (JDV_J07, LOINC), as a
// patient reads them.
var typeNames = map[string]string{
	"11502-2": "Compte rendu de biologie", "57833-6": "Ordonnance", "57832-8": "Prescription de soins",
	"11490-0": "Lettre de liaison de sortie", "18748-4": "Compte rendu d'imagerie", "34112-3": "Compte rendu d'hospitalisation",
	"34874-8": "Compte rendu opératoire", "11488-4": "Compte rendu de consultation", "15507-7": "Passage aux urgences",
	"60591-5": "Synthèse médicale", "87273-9": "Note de vaccination", "11369-6": "Historique des vaccinations",
	"60593-1": "Dispensation de médicaments", "89601-9": "Certificat médical", "68599-0": "Synthèse psychiatrique",
	"83901-9": "Bilan psychologique", "60592-3": "Synthèse patient (IPS)", "11524-6": "Électrocardiogramme",
}

func typeName(c carnet.Coding) string {
	if n, ok := typeNames[c.Code]; ok {
		return n
	}
	if c.Display != "" {
		return c.Display
	}
	if c.Code != "" {
		return "Document (" + c.Code + ")"
	}
	return "Document"
}

func labelName(code string) string {
	switch code {
	case carnet.LabelMasquePS:
		return "masqué aux professionnels"
	case carnet.LabelInvisiblePatient:
		return "invisible pour le patient"
	case carnet.LabelInvisibleLegalRep:
		return "caché aux représentants légaux"
	}
	return ""
}

func modeName(m carnet.Mode) string {
	switch m {
	case carnet.ModeBreakGlass:
		return "bris de glace"
	case carnet.ModeCentre15:
		return "régulation centre 15 (SAMU)"
	}
	return "accès normal"
}

func actionName(a carnet.Action) string {
	switch a {
	case carnet.ActionRead:
		return "consultation"
	case carnet.ActionSearch:
		return "recherche dans le dossier"
	case carnet.ActionCreate:
		return "ajout de document"
	case carnet.ActionUpdate:
		return "modification"
	case carnet.ActionDelete:
		return "suppression"
	case carnet.ActionConsent:
		return "choix de confidentialité"
	case carnet.ActionSecondaryUse:
		return "utilisation secondaire de données pseudonymisées (permis de données)"
	}
	return string(a)
}

func professionName(profession, specialty string) string {
	switch specialty {
	case "G15_10/SM54":
		return "Médecin généraliste"
	case "G15_10/SM04":
		return "Cardiologue"
	case "G15_10/SM59":
		return "Médecin urgentiste"
	}
	switch profession {
	case "G15_10":
		return "Médecin"
	case "G15_21":
		return "Pharmacien"
	case "G15_40":
		return "Chirurgien-dentiste"
	case "G15_50":
		return "Sage-femme"
	case "G15_60":
		return "Infirmier"
	case "G15_70":
		return "Masseur-kinésithérapeute"
	}
	return "Professionnel de santé"
}

// authorNames are a document's authors as a patient reads them.
func authorNames(m carnet.DocumentMeta) string {
	var out []string
	for _, a := range m.Authors {
		if n := a.DisplayName(); n != "" {
			out = append(out, n)
		}
	}
	return strings.Join(out, ", ")
}

// fhirID is a document's stable id (its logicalId), the one its pages and
// the API name it by across metadata versions.
func fhirID(d carnet.Document) string { return mhd.FHIRID(d) }
