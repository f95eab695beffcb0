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
)

// Config configures the API.
type Config struct {
	Service *carnet.Service
	// BaseURL is the public base of the FHIR endpoint (no trailing slash);
	// empty means derive it from each request's Host.
	BaseURL string
	Logger  *slog.Logger
	// MaxBody bounds a request body (default 64 MiB: an ITI-65 bundle
	// carries its documents in base64).
	MaxBody int64
	// Version is the software version shown in /metadata.
	Version string
	// Authenticate returns the actor of a request. Until OIDC lands (issue
	// 4) the server wires AnonymousSystem, which says so in its name.
	Authenticate func(*http.Request) (carnet.Actor, error)
}

// AnonymousSystem authenticates nobody: every request acts as one
// unauthenticated producing system. It exists only until OIDC
// authentication is wired (issue 4); the policy is permit-all meanwhile.
func AnonymousSystem(*http.Request) (carnet.Actor, error) {
	return carnet.Actor{Kind: carnet.ActorSystem, ID: carnet.Identifier{System: "urn:carnet:actor", Value: "anonymous"}, Name: "anonymous (no authentication configured)"}, nil
}

// Server is the FHIR API: IHE MHD (ITI-65/66/67/68/105), PDSm PATCH and the
// Patient identity feed.
type Server struct {
	cfg Config
	svc *carnet.Service
	log *slog.Logger
	mux *http.ServeMux
	// started dates the CapabilityStatement.
	started time.Time
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
		cfg.Authenticate = AnonymousSystem
	}
	s := &Server{cfg: cfg, svc: cfg.Service, log: cfg.Logger, mux: http.NewServeMux(), started: time.Now().UTC()}
	s.routes()
	return s
}

func (s *Server) routes() {
	h := func(pattern string, fn func(http.ResponseWriter, *http.Request, carnet.Request) error) {
		s.mux.Handle(pattern, s.wrap(fn))
	}
	s.mux.HandleFunc("GET /metadata", s.metadata)
	h("POST /{$}", s.transaction)
	h("POST /DocumentReference", s.simplifiedPublish)
	h("GET /DocumentReference", s.searchDocuments)
	h("POST /DocumentReference/_search", s.searchDocuments)
	h("GET /DocumentReference/{id}", s.readDocument)
	h("PATCH /DocumentReference/{id}", s.patchDocument)
	h("GET /List", s.searchLists)
	h("POST /List/_search", s.searchLists)
	h("GET /List/{id}", s.readList)
	h("GET /Binary/{id}", s.retrieve)
	h("PUT /Patient", s.putPatient)
	h("GET /Patient", s.searchPatients)
	h("GET /Patient/{id}", s.readPatient)
	s.itemRoutes()
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.writeError(w, r, carnet.Errorf(carnet.KindNotFound, "no such endpoint: %s %s", r.Method, r.URL.Path))
	})
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mux.ServeHTTP(w, r)
}

type ctxKey int

const requestIDKey ctxKey = 0

// wrap gives every data endpoint the same frame: a request id, the caller's
// identity, a bounded body, panic recovery, and one way to report errors.
func (s *Server) wrap(fn func(http.ResponseWriter, *http.Request, carnet.Request) error) http.Handler {
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
		req := carnet.Request{Actor: actor, Mode: carnet.ModeNormal, RequestID: rid}
		if err := fn(w, r, req); err != nil {
			s.writeError(w, r, err)
		}
	})
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
		w.Header().Set("WWW-Authenticate", `Bearer realm="carnet"`)
	}
	s.writeResource(w, statusOf(k), fhir.OutcomeFromError(err))
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
