package httpapi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	carnet "github.com/carnet-sante/carnet"
	"github.com/carnet-sante/carnet/fhir"
	"github.com/carnet-sante/carnet/pastille"
	"github.com/carnet-sante/carnet/record"
	"github.com/carnet-sante/carnet/secondary"
)

// Config configures the API.
type Config struct {
	Service *record.Service
	// BaseURL is the public base of the FHIR endpoint (no trailing slash);
	// empty means derive it from each request's Host.
	BaseURL string
	Logger  *slog.Logger
	// MaxBody bounds a request body (default 64 MiB: an ITI-65 bundle
	// carries its documents in base64).
	MaxBody int64
	// Bodies, when set, bounds the request bodies the node holds at once
	// (edge.BodyBudget): a request with a body reserves it once its caller
	// is authenticated, or is answered 503 with Retry-After.
	Bodies BodyReserver
	// Version is the software version shown in /metadata.
	Version string
	// Authenticate returns the actor of a request from its bearer token
	// (auth.Verifier.Authenticate). Nil refuses every data request: there
	// is no anonymous access.
	Authenticate func(*http.Request) (carnet.Actor, error)
	// AuditLog serves the log's checkpoints and proofs (/log/…); nil
	// serves none.
	AuditLog AuditLog
	// SignedIn, when set, also lets a request read the log's proofs: a
	// person signed in to the web spaces, whose browser checks their
	// history (proofs are digests, read with GET: a session cookie grants
	// nothing else of the API).
	SignedIn func(*http.Request) bool
	// CDS lets CDS Clients call the pastille (CDS Hooks); nil serves only
	// an empty discovery.
	CDS *CDSConfig
	// Secondary serves secondary use under data permits: Bulk $export,
	// $stats and the operator's /Permit routes (docs/SECONDARY.md); nil
	// serves none of them.
	Secondary *secondary.Service
	// BulkDir is where export files are written (a private directory is
	// made in it); empty: the system's temporary directory.
	BulkDir string
}

// noAuthentication is what a server without an identity provider answers.
func noAuthentication(*http.Request) (carnet.Actor, error) {
	return carnet.Actor{}, &carnet.Error{Kind: carnet.KindUnauthenticated, Msg: "invalid or missing bearer token"}
}

// Server is the FHIR API: IHE MHD (ITI-65/66/67/68/105), PDSm PATCH and the
// Patient identity feed.
type Server struct {
	cfg Config
	svc *record.Service
	log *slog.Logger
	mux *http.ServeMux
	// started dates the CapabilityStatement.
	started time.Time
	// care caches the ranking's form of recently ranked records' documents.
	care pastille.ViewCache
	// bulk are the running and finished exports.
	bulk bulkJobs
}

// New returns the API handler.
func New(cfg Config) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = 64 << 20
	}
	if cfg.Authenticate == nil {
		cfg.Authenticate = noAuthentication
	}
	s := &Server{cfg: cfg, svc: cfg.Service, log: cfg.Logger, mux: http.NewServeMux(), started: time.Now().UTC()}
	s.routes()
	return s
}

func (s *Server) routes() {
	// Each data route names the resource and action its SMART scopes must
	// grant; the transaction checks each of its entries instead.
	h := func(pattern, resource string, act carnet.Action, fn handler) {
		s.mux.Handle(pattern, s.wrap(resource, act, fn))
	}
	s.mux.HandleFunc("GET /metadata", s.metadata)
	h("POST /{$}", "", "", s.transaction)
	h("POST /DocumentReference", "DocumentReference", carnet.ActionCreate, s.simplifiedPublish)
	h("GET /DocumentReference", "DocumentReference", carnet.ActionSearch, s.searchDocuments)
	h("POST /DocumentReference/_search", "DocumentReference", carnet.ActionSearch, s.searchDocuments)
	h("GET /DocumentReference/{id}", "DocumentReference", carnet.ActionRead, s.readDocument)
	h("GET /DocumentReference/{id}/_history/{vid}", "DocumentReference", carnet.ActionRead, s.readDocument)
	h("GET /DocumentReference/{id}/_history", "DocumentReference", carnet.ActionRead, s.documentHistory)
	h("PATCH /DocumentReference/{id}", "DocumentReference", carnet.ActionUpdate, s.patchDocument)
	h("GET /List", "List", carnet.ActionSearch, s.searchLists)
	h("POST /List/_search", "List", carnet.ActionSearch, s.searchLists)
	h("GET /List/{id}", "List", carnet.ActionRead, s.readList)
	h("GET /Binary/{id}", "Binary", carnet.ActionRead, s.retrieve)
	h("PUT /Patient", "Patient", carnet.ActionUpdate, s.putPatient)
	h("GET /Patient", "Patient", carnet.ActionSearch, s.searchPatients)
	h("GET /Patient/{id}", "Patient", carnet.ActionRead, s.readPatient)
	h("GET /Consent", "Consent", carnet.ActionSearch, s.searchConsents)
	h("POST /Consent", "Consent", carnet.ActionCreate, s.createConsent)
	h("DELETE /Consent/{id}", "Consent", carnet.ActionDelete, s.deleteConsent)
	h("GET /Communication", "Communication", carnet.ActionSearch, s.searchNotifications)
	h("GET /DocumentReference/$relevant", "DocumentReference", carnet.ActionSearch, s.relevant)
	s.itemRoutes()
	s.summaryRoutes()
	s.auditRoutes()
	s.cdsRoutes()
	s.bulkRoutes()
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.writeError(w, r, carnet.Errorf(carnet.KindNotFound, "no such endpoint: %s %s", r.Method, r.URL.Path))
	})
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Add("Vary", "Accept")
	if !wantsXML(r) {
		s.mux.ServeHTTP(w, r)
		return
	}
	x := &xmlWriter{ResponseWriter: w, s: s}
	s.mux.ServeHTTP(x, r)
	x.finish(r)
}

type ctxKey int

const requestIDKey ctxKey = 0

type handler func(http.ResponseWriter, *http.Request, carnet.Request) error

// wrap gives every data endpoint the same frame: a request id, the caller's
// identity and scopes, the access mode, a bounded body, panic recovery, and
// one way to report errors.
func (s *Server) wrap(resource string, act carnet.Action, fn handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rid := carnet.NewID()
		w.Header().Set("X-Request-Id", rid)
		r = r.WithContext(context.WithValue(r.Context(), requestIDKey, rid))
		defer func() {
			if v := recover(); v != nil {
				s.log.Error("panic serving request", "request_id", rid, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
				s.writeError(w, r, carnet.WrapError(carnet.KindInternal, "panic", fmt.Errorf("%v", v)))
			}
		}()
		if r.Body != nil {
			r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxBody)
		}
		actor, err := s.cfg.Authenticate(r)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if s.cfg.Bodies != nil {
			release, ok := s.cfg.Bodies.Reserve(r)
			if !ok {
				w.Header().Set("Retry-After", "1")
				s.writeResource(w, http.StatusServiceUnavailable, fhir.OutcomeFromError(bodiesFull(nil)))
				return
			}
			defer release()
		}
		req := carnet.Request{Actor: actor, Mode: carnet.ModeNormal, RequestID: rid}
		if resource != "" {
			if err := allow(actor, resource, act); err != nil {
				s.writeError(w, r, err)
				return
			}
		}
		if req.Mode, req.Reason, err = accessMode(r); err != nil {
			s.writeError(w, r, err)
			return
		}
		if err := s.xmlBody(r); err != nil {
			s.writeError(w, r, err)
			return
		}
		if err := fn(w, r, req); err != nil {
			if budgetExceeded(err) { // a chunked body outgrew the node's budget
				w.Header().Set("Retry-After", "1")
				err = bodiesFull(err)
			}
			s.writeError(w, r, err)
		}
	})
}

// bodiesFull is the answer (503) to a request whose body the node's budget
// cannot hold, at once or as it is read (cause).
func bodiesFull(cause error) *carnet.Error {
	return &carnet.Error{Kind: carnet.KindUnavailable, Op: "httpapi", Msg: "the server is receiving too many large requests at once: retry shortly", Err: cause}
}

// budgetExceeded says whether err comes from reading a body the node's
// budget could not hold (edge.ErrBodyBudget).
func budgetExceeded(err error) bool {
	var e interface{ BodyBudgetExceeded() bool }
	return errors.As(err, &e) && e.BodyBudgetExceeded()
}

// BodyReserver bounds the request bodies a node holds at once
// (edge.BodyBudget).
type BodyReserver interface {
	Reserve(r *http.Request) (release func(), ok bool)
}

// statusOf is the one mapping from error kinds to HTTP statuses.
func statusOf(k carnet.Kind) int {
	switch k {
	case carnet.KindInvalid:
		return http.StatusBadRequest
	case carnet.KindUnprocessable:
		return http.StatusUnprocessableEntity
	case carnet.KindNotFound:
		return http.StatusNotFound
	case carnet.KindGone:
		return http.StatusGone
	case carnet.KindConflict:
		return http.StatusConflict
	case carnet.KindUnauthenticated:
		return http.StatusUnauthorized
	case carnet.KindForbidden:
		return http.StatusForbidden
	case carnet.KindUnavailable:
		return http.StatusServiceUnavailable
	case carnet.KindTooLarge:
		return http.StatusRequestEntityTooLarge
	case carnet.KindUnsupported:
		return http.StatusUnsupportedMediaType
	case carnet.KindPreconditionFailed:
		return http.StatusPreconditionFailed
	case carnet.KindRateLimited:
		return http.StatusTooManyRequests
	case carnet.KindNotAcceptable:
		return http.StatusNotAcceptable
	}
	return http.StatusInternalServerError
}

func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	k := carnet.ErrorKind(err)
	rid, _ := r.Context().Value(requestIDKey).(string)
	if k == carnet.KindInternal || k == carnet.KindUnavailable {
		// The cause stays here, in the operator's log; the caller gets none of it.
		s.log.Error("request failed", "request_id", rid, "kind", k.String(), "err", err)
	}
	if k == carnet.KindUnauthenticated {
		w.Header().Set("WWW-Authenticate", bearerChallenge("carnet", r, err))
		// The precise reason (which check failed) is the operator's.
		s.log.Info("bearer token refused", "request_id", rid, "reason", err)
	}
	s.writeResource(w, statusOf(k), fhir.OutcomeFromError(err))
}

// bearerChallenge is the WWW-Authenticate of a refused request (RFC 6750):
// with error="invalid_token" and what is wrong when a token was presented,
// none when there was none.
func bearerChallenge(realm string, r *http.Request, err error) string {
	c := `Bearer realm="` + realm + `"`
	if r.Header.Get("Authorization") == "" {
		return c
	}
	desc := strings.Map(func(r rune) rune {
		if r == '"' || r == '\\' || r < 0x20 || r > 0x7e {
			return -1
		}
		return r
	}, carnet.ErrorMessage(err))
	return c + `, error="invalid_token", error_description="` + desc + `"`
}

func (s *Server) writeResource(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	if err := fhir.Encode(&buf, v); err != nil {
		s.log.Error("encode response", "err", err)
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/fhir+json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// base is the public base URL for links and locations.
func (s *Server) base(r *http.Request) string {
	if s.cfg.BaseURL != "" {
		return strings.TrimSuffix(s.cfg.BaseURL, "/")
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// readBody reads a bounded body, refusing media types other than want.
func (s *Server) readBody(r *http.Request, want ...string) ([]byte, string, error) {
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct == "" {
		ct = "application/fhir+json"
	}
	ok := false
	for _, w := range want {
		ok = ok || ct == w
	}
	if !ok {
		return nil, ct, refuse(carnet.KindUnsupported, "not-supported", fmt.Sprintf("content type %s is not supported here; use %s", ct, strings.Join(want, " or ")))
	}
	b, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, ct, refuse(carnet.KindTooLarge, "too-costly", fmt.Sprintf("the body exceeds the limit of %d bytes", s.cfg.MaxBody))
		}
		return nil, ct, carnet.WrapError(carnet.KindInvalid, "read body", err)
	}
	return b, ct, nil
}

// refuse is an error of kind k whose one issue tells the caller why.
func refuse(k carnet.Kind, code, msg string) *carnet.Error {
	return &carnet.Error{Kind: k, Msg: msg, Issues: []carnet.Issue{{Severity: "error", Code: code, Diagnostics: msg}}}
}

var fhirJSON = []string{"application/fhir+json", "application/json"}
