package web

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	carnet "github.com/carnet-sante/carnet"
	"github.com/carnet-sante/carnet/auth"
	"github.com/carnet-sante/carnet/pastille"
	"github.com/carnet-sante/carnet/record"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Config configures the web spaces.
type Config struct {
	Service *record.Service
	// Sessions keeps the sessions (the Store: every server over one
	// database shares them); Sealer seals their content.
	Sessions carnet.SessionStore
	Sealer   carnet.Sealer
	// Login are the issuers people sign in with (OpenID Connect code flow
	// with PKCE); the first one is the one SMART discovery names.
	Login []*auth.RelyingParty
	// BaseURL is the public base (no trailing slash); empty: from each
	// request's Host. An https base makes cookies Secure.
	BaseURL string
	Logger  *slog.Logger
	Clock   carnet.Clock
	// Demo marks every page as a demonstration.
	Demo bool
	// HasAuditLog says whether /log/… is served (the history is verified
	// in the browser only then).
	HasAuditLog bool
}

// Session lifetimes.
const (
	IdleTimeout     = 30 * time.Minute
	AbsoluteTimeout = 8 * time.Hour
	loginTimeout    = 10 * time.Minute
	touchEvery      = time.Minute
)

// Server is the web spaces' handler.
type Server struct {
	cfg   Config
	svc   *record.Service
	log   *slog.Logger
	mux   *http.ServeMux
	pages map[string]*template.Template
	care  pastille.ViewCache

	authorsMu    sync.Mutex
	authorsCache map[authorsKey][]record.RecordProfessional
}

// New checks cfg and returns the web spaces.
func New(cfg Config) (*Server, error) {
	if cfg.Service == nil || cfg.Sessions == nil || cfg.Sealer == nil {
		return nil, errors.New("web: a Service, a session store and a sealer are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Clock == nil {
		cfg.Clock = carnet.SystemClock{}
	}
	cfg.BaseURL = strings.TrimSuffix(cfg.BaseURL, "/")
	s := &Server{cfg: cfg, svc: cfg.Service, log: cfg.Logger, mux: http.NewServeMux()}
	if err := s.parseTemplates(); err != nil {
		return nil, err
	}
	s.routes()
	return s, nil
}

// Patterns are the paths the web spaces answer; cmd/carnet routes them here
// and everything else to the API.
var Patterns = []string{"GET /{$}", "/connexion", "/connexion/", "/deconnexion", "/patient", "/patient/", "/pro", "/pro/",
	"/audit", "/static/", "GET /.well-known/smart-configuration"}

// Mount routes the web spaces' patterns on mux.
func (s *Server) Mount(mux *http.ServeMux) {
	for _, p := range Patterns {
		mux.Handle(p, s)
	}
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

func (s *Server) routes() {
	static, _ := fs.Sub(staticFS, "static")
	files := http.StripPrefix("/static/", http.FileServerFS(static))
	s.mux.Handle("GET /static/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		securityHeaders(w)
		w.Header().Set("Cache-Control", "no-cache") // revalidated: a new release is seen at once
		files.ServeHTTP(w, r)
	}))
	s.mux.HandleFunc("GET /.well-known/smart-configuration", s.smartConfiguration)
	s.mux.Handle("GET /{$}", s.page(anyone, s.home))
	s.mux.Handle("GET /connexion", s.page(anyone, s.loginStart))
	s.mux.Handle("GET /connexion/retour", s.page(anyone, s.loginCallback))
	s.mux.Handle("POST /deconnexion", s.page(signedIn, s.logout))

	s.mux.Handle("GET /patient", s.page(patients, s.patientDocuments))
	s.mux.Handle("POST /patient", s.page(patients, s.patientDocuments))
	s.mux.Handle("GET /patient/documents/{id}", s.page(patients, s.patientDocument))
	s.mux.Handle("GET /patient/documents/{id}/pdf", s.page(patients, s.documentPDF))
	s.mux.Handle("GET /patient/documents/{id}/original", s.page(patients, s.documentOriginal))
	s.mux.Handle("POST /patient/documents/{id}", s.page(patients, s.patientDocumentChange))
	s.mux.Handle("GET /patient/choix", s.page(patients, s.patientChoices))
	s.mux.Handle("POST /patient/choix", s.page(patients, s.patientChoicesChange))
	s.mux.Handle("GET /patient/notifications", s.page(patients, s.patientNotifications))
	s.mux.Handle("GET /patient/historique", s.page(patients, s.patientHistory))
	s.mux.Handle("GET /patient/export", s.page(patients, s.patientExport))

	s.mux.Handle("GET /pro", s.page(professionals, s.proHome))
	s.mux.Handle("POST /pro", s.page(professionals, s.proFind))
	s.mux.Handle("GET /pro/dossier/{patient}", s.page(professionals, s.proRecord))
	s.mux.Handle("POST /pro/dossier/{patient}", s.page(professionals, s.proRecord))
	s.mux.Handle("POST /pro/dossier/{patient}/urgence/fin", s.page(professionals, s.proEndEmergency))
	s.mux.Handle("GET /pro/dossier/{patient}/documents/{id}", s.page(professionals, s.proDocument))
	s.mux.Handle("GET /pro/dossier/{patient}/documents/{id}/pdf", s.page(professionals, s.documentPDF))
	s.mux.Handle("GET /pro/dossier/{patient}/tendances", s.page(professionals, s.proTrends))

	s.mux.Handle("GET /audit", s.page(auditors, s.auditHome))
	s.mux.Handle("POST /audit", s.page(auditors, s.auditSearch))
	s.mux.Handle("/", s.page(anyone, func(w http.ResponseWriter, r *http.Request, c *call) error {
		return carnet.Errorf(carnet.KindNotFound, "no such page")
	}))
}

// who may open a page.
type audience int

const (
	anyone audience = iota
	signedIn
	patients
	professionals
	auditors
)

// call is one page request: the session (nil when signed out) and the
// request for the Service.
type call struct {
	sess *session
	req  carnet.Request
}

type pageFunc func(w http.ResponseWriter, r *http.Request, c *call) error

// page gives every page the same frame: security headers, a request id,
// panic recovery, the session, who may open it, the CSRF check of every
// POST, and one way to show errors.
func (s *Server) page(who audience, fn pageFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		securityHeaders(w)
		rid := carnet.NewID()
		w.Header().Set("X-Request-Id", rid)
		defer func() {
			if v := recover(); v != nil {
				s.log.Error("panic serving page", "request_id", rid, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
				s.errorPage(w, r, nil, carnet.Errorf(carnet.KindInternal, "panic"))
			}
		}()
		r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
		sess, err := s.loadSession(r)
		if err != nil {
			s.errorPage(w, r, nil, err)
			return
		}
		c := &call{sess: sess}
		if sess != nil && sess.signedIn() {
			c.req = carnet.Request{Actor: sess.actor(), Mode: carnet.ModeNormal, RequestID: rid}
			s.touch(r.Context(), sess)
		}
		if who != anyone {
			if sess == nil || !sess.signedIn() {
				if r.Method == http.MethodGet {
					s.redirectToLogin(w, r, sess)
					return
				}
				s.errorPage(w, r, c, carnet.Errorf(carnet.KindUnauthenticated, "session expirée"))
				return
			}
			if !allowed(who, c.req.Actor) {
				s.errorPage(w, r, c, &carnet.Error{Kind: carnet.KindForbidden, Msg: "Cet espace n'est pas le vôtre."})
				return
			}
		}
		if r.Method == http.MethodPost {
			if err := r.ParseForm(); err != nil {
				s.errorPage(w, r, c, carnet.Errorf(carnet.KindInvalid, "formulaire illisible"))
				return
			}
			if sess == nil || !sess.checkCSRF(r.PostForm.Get("csrf")) {
				s.errorPage(w, r, c, &carnet.Error{Kind: carnet.KindForbidden, Msg: csrfRefused})
				return
			}
		}
		if err := fn(w, r, c); err != nil {
			s.errorPage(w, r, c, err)
		}
	})
}

const csrfRefused = "Formulaire refusé : son jeton de sécurité manque ou n'est pas celui de votre session. Rechargez la page et recommencez."

func allowed(who audience, a carnet.Actor) bool {
	switch who {
	case patients:
		return a.Kind == carnet.ActorPatient
	case professionals:
		return a.Kind == carnet.ActorProfessional
	case auditors:
		return a.Kind == carnet.ActorSystem && auditor(a.Scopes)
	}
	return true
}

// auditor reports whether scopes name AuditEvent explicitly with read and
// search (as the API requires of auditors).
func auditor(scopes []string) bool {
	for _, sc := range scopes {
		p, err := auth.ParseScope(sc)
		if err == nil && p.Context == "system" && p.Resource == "AuditEvent" && p.Query == "" &&
			p.Perms&auth.PermOf(carnet.ActionRead) != 0 && p.Perms&auth.PermOf(carnet.ActionSearch) != 0 {
			return true
		}
	}
	return false
}

// securityHeaders are every web response's (docs/WEB.md).
func securityHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()")
}

// base is the public base URL.
func (s *Server) base(r *http.Request) string {
	if s.cfg.BaseURL != "" {
		return s.cfg.BaseURL
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// secure reports whether cookies must be Secure: TLS here, or an https
// public base (TLS ends at a proxy).
func (s *Server) secure(r *http.Request) bool {
	return r.TLS != nil || strings.HasPrefix(s.cfg.BaseURL, "https://")
}

// errorPage shows an error in French; denied and absent look the same.
func (s *Server) errorPage(w http.ResponseWriter, r *http.Request, c *call, err error) {
	k := carnet.ErrorKind(err)
	status, title, msg := http.StatusInternalServerError, "Erreur", "Une erreur est survenue ; elle a été enregistrée. Réessayez plus tard."
	switch k {
	case carnet.KindNotFound, carnet.KindGone:
		status, title, msg = http.StatusNotFound, "Introuvable", "Cette page ou ce document n'existe pas, ou vous n'y avez pas accès."
	case carnet.KindInvalid, carnet.KindUnprocessable:
		status, title, msg = http.StatusBadRequest, "Demande incorrecte", frenchMessage(err, "La demande est incomplète ou incorrecte.")
	case carnet.KindForbidden:
		status, title, msg = http.StatusForbidden, "Refusé", frenchMessage(err, "Cette action ne vous est pas permise.")
	case carnet.KindUnauthenticated:
		status, title, msg = http.StatusUnauthorized, "Connexion nécessaire", "Votre session a expiré ou vous n'êtes pas connecté. Connectez-vous pour continuer."
	case carnet.KindUnavailable:
		status, title, msg = http.StatusServiceUnavailable, "Service indisponible", "Le service est momentanément indisponible. Réessayez dans quelques instants."
	}
	if k == carnet.KindInternal || k == carnet.KindUnavailable {
		s.log.Error("page failed", "request_id", w.Header().Get("X-Request-Id"), "kind", k.String(), "err", err)
	}
	s.render(w, r, c, status, "error", title, map[string]string{"Message": msg})
}

// frenchMessage is the message of an error written for the page (a
// *carnet.Error whose Msg starts with a capital letter); otherwise def.
func frenchMessage(err error, def string) string {
	var ce *carnet.Error
	if errors.As(err, &ce) && ce.Msg != "" {
		if r, _ := utf8.DecodeRuneInString(ce.Msg); unicode.IsUpper(r) {
			return ce.Msg
		}
	}
	return def
}

// userError is an error shown to the user as written (French, capitalised).
func userError(k carnet.Kind, msg string) error { return &carnet.Error{Kind: k, Msg: msg} }

func (s *Server) now() time.Time { return s.cfg.Clock.Now().UTC() }

// ctx gives the Service calls of a page a bound.
func pageContext(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.Context(), time.Minute)
}
