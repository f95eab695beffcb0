package xds

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime/debug"
	"sync"
	"time"

	carnet "github.com/carnet-sante/carnet"
	"github.com/carnet-sante/carnet/auth"
	"github.com/carnet-sante/carnet/record"
	"github.com/carnet-sante/carnet/xua"
)

// DefaultRepositoryUniqueID is the repositoryUniqueId of a deployment that
// configures none (an OID of the test arc: set Config.RepositoryUniqueID).
const DefaultRepositoryUniqueID = "1.2.250.1.999.1.1.1"

// Config configures the XDS.b endpoints.
type Config struct {
	Service *record.Service
	// Authenticate returns the actor of a request (bearer token or
	// software certificate), the same as the FHIR API's.
	Authenticate       func(*http.Request) (carnet.Actor, error)
	Logger             *slog.Logger
	RepositoryUniqueID string
	Limits             Limits
	ContentTypes       []string
	// XUA, when set, verifies the SAML assertion of a request's
	// WS-Security header: the professional it names is the actor, its
	// purpose of use the access mode (docs/XDS.md, "Authentication").
	XUA *xua.Verifier
	// RequireXUA refuses requests without an assertion.
	RequireXUA bool
	// Bodies, when set, bounds the request bodies the node holds at once
	// (edge.BodyBudget): a request reserves its body once its caller is
	// authenticated, or is answered 503 with Retry-After.
	Bodies interface {
		Reserve(r *http.Request) (release func(), ok bool)
	}
}

// bodiesFull answers a request whose body the node's budget cannot hold,
// at once or as it is read: 503, and when to try again.
func (s *Server) bodiesFull(w http.ResponseWriter) {
	w.Header().Set("Retry-After", "1")
	s.fault(w, http.StatusServiceUnavailable, &Fault{Code: "Receiver", Reason: "the server is receiving too many large requests at once: retry shortly"})
}

// Server serves the Document Repository (ITI-41, ITI-43) and Registry
// (ITI-18, ITI-57) on /xds/repository and /xds/registry.
type Server struct {
	cfg    Config
	svc    *record.Service
	log    *slog.Logger
	lim    Limits
	recent *recentRecords
}

// New returns the XDS.b handler; mount it on /xds/.
func New(cfg Config) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.RepositoryUniqueID == "" {
		cfg.RepositoryUniqueID = DefaultRepositoryUniqueID
	}
	if cfg.Authenticate == nil {
		cfg.Authenticate = func(*http.Request) (carnet.Actor, error) {
			return carnet.Actor{}, carnet.Errorf(carnet.KindUnauthenticated, "no authentication configured")
		}
	}
	return &Server{cfg: cfg, svc: cfg.Service, log: cfg.Logger, lim: cfg.Limits.withDefaults(), recent: newRecent(10000, 64, time.Hour)}
}

// answer is what a transaction answers: a SOAP body, or a whole MTOM
// package.
type answer struct {
	action      string
	body        string
	raw         []byte
	contentType string
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rid := carnet.NewID()
	w.Header().Set("X-Request-Id", rid)
	defer func() {
		if v := recover(); v != nil {
			s.log.Error("panic serving XDS request", "request_id", rid, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			s.fault(w, http.StatusInternalServerError, &Fault{Code: "Receiver", Reason: "internal error"})
		}
	}()
	if r.URL.Path != "/xds/repository" && r.URL.Path != "/xds/registry" {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		s.fault(w, http.StatusMethodNotAllowed, senderFault("XDS.b endpoints take SOAP 1.2 POST requests"))
		return
	}
	// The caller first: an unauthenticated one gets no buffer of up to
	// MaxBytes (the bearer token and the certificate are not in the body).
	actor, err := s.cfg.Authenticate(r)
	if err != nil {
		s.log.Info("XDS request not authenticated", "request_id", rid, "reason", err)
		s.fault(w, http.StatusUnauthorized, &Fault{Code: "Sender", Subcode: "wsse:FailedAuthentication", Reason: "authentication failed: a bearer token or a software certificate is required"})
		return
	}
	if s.cfg.Bodies != nil {
		release, ok := s.cfg.Bodies.Reserve(r)
		if !ok {
			s.bodiesFull(w)
			return
		}
		defer release()
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.lim.MaxBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			s.fault(w, http.StatusRequestEntityTooLarge, senderFault("the message exceeds %d bytes", s.lim.MaxBytes))
			return
		}
		var over interface{ BodyBudgetExceeded() bool }
		if errors.As(err, &over) && over.BodyBudgetExceeded() { // a chunked body outgrew the node's budget
			s.bodiesFull(w)
			return
		}
		s.fault(w, http.StatusBadRequest, senderFault("the body cannot be read"))
		return
	}
	m, err := ReadMessage(body, r.Header.Get("Content-Type"), s.lim)
	if err != nil {
		var f *Fault
		if !errors.As(err, &f) {
			f = senderFault("the message cannot be read")
		}
		s.fault(w, http.StatusBadRequest, f)
		return
	}
	req := carnet.Request{Actor: actor, Mode: carnet.ModeNormal, RequestID: rid}
	switch {
	case s.cfg.XUA != nil:
		as, err := s.cfg.XUA.VerifyContext(r.Context(), m.Envelope)
		if err != nil {
			s.log.Info("XUA assertion refused", "request_id", rid, "reason", err)
			s.fault(w, http.StatusUnauthorized, &Fault{Code: "Sender", Subcode: "wsse:InvalidSecurityToken", Reason: "the SAML assertion is refused"})
			return
		}
		if as == nil && s.cfg.RequireXUA {
			s.fault(w, http.StatusUnauthorized, &Fault{Code: "Sender", Subcode: "wsse:FailedAuthentication", Reason: "a SAML assertion (IHE XUA) naming the professional is required"})
			return
		}
		if as != nil {
			// The software authenticated by its certificate or token acts
			// for the professional its trusted issuer vouches for. A
			// patient's credential never carries a professional's
			// assertion, nor a professional's another's.
			if actor.Kind == carnet.ActorPatient || (actor.Kind == carnet.ActorProfessional && actor.ID != as.Actor.ID) {
				s.log.Info("XUA assertion refused: it names another person than the caller", "request_id", rid)
				s.fault(w, http.StatusUnauthorized, &Fault{Code: "Sender", Subcode: "wsse:InvalidSecurityToken", Reason: "the SAML assertion names another person than the caller's credential"})
				return
			}
			s.log.Debug("XUA assertion accepted", "request_id", rid, "assertion", as.ID, "transport_actor", string(actor.Kind))
			req.Actor, req.Mode, req.Reason = as.Actor, as.Mode, as.Reason
			m.Patient = as.Patient
		}
	case m.HasSecurity:
		// No XUA configured: the caller is who its certificate or token
		// says, whatever an assertion names.
		s.log.Debug("WS-Security header ignored (no XUA configured)", "request_id", rid)
	}
	ctx := r.Context()
	var a answer
	switch m.Action {
	case ActionProvide:
		a = s.provide(ctx, req, m)
	case ActionRetrieve:
		a = s.retrieve(ctx, req, m)
	case ActionQuery:
		a = s.query(ctx, req, m)
	case ActionUpdate:
		a = s.update(ctx, req, m)
	}
	if a.raw != nil {
		w.Header().Set("Content-Type", a.contentType)
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(a.raw)
		return
	}
	out := envelope(a.action, m.MessageID, a.body)
	w.Header().Set("Content-Type", `application/soap+xml; charset=UTF-8; action="`+a.action+`"`)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(out)
}

func (s *Server) fault(w http.ResponseWriter, status int, f *Fault) {
	w.Header().Set("Content-Type", "application/soap+xml; charset=UTF-8")
	w.WriteHeader(status)
	_, _ = w.Write(faultEnvelope(f))
}

// failed logs an internal error and turns any error into registry errors.
func (s *Server) failed(req carnet.Request, err error) []RegistryError {
	if k := carnet.ErrorKind(err); k == carnet.KindInternal || k == carnet.KindUnavailable {
		var xe *Errors
		if !errors.As(err, &xe) {
			s.log.Error("XDS request failed", "request_id", req.RequestID, "kind", k.String(), "err", err)
		}
	}
	return FromError(err).List
}

// allowed checks SMART scopes for each resource and action a transaction
// touches, as the FHIR API does for MHD.
func allowed(a carnet.Actor, needs ...[2]string) error {
	for _, n := range needs {
		if !auth.Allows(a.Scopes, a.Kind, n[0], carnet.Action(n[1])) {
			return &Errors{List: []RegistryError{{Code: ErrRegistry, Context: "not authorized: the token's scopes do not grant " + n[1] + " on " + n[0]}}}
		}
	}
	return nil
}

// provide answers ITI-41.
func (s *Server) provide(ctx context.Context, req carnet.Request, m *Message) answer {
	a := answer{action: ActionProvide + responseActionSuffix}
	if err := allowed(req.Actor, [2]string{"DocumentReference", "create"}, [2]string{"List", "create"}, [2]string{"Binary", "create"}); err != nil {
		a.body = registryResponse(s.failed(req, err))
		return a
	}
	sub, err := ParseProvide(m, ParseOptions{Limits: s.lim, ContentTypes: s.cfg.ContentTypes})
	if err != nil {
		a.body = registryResponse(s.failed(req, err))
		return a
	}
	if err := m.samePatient(sub.Patient, "SubmissionSet.patientId"); err != nil {
		a.body = registryResponse(s.failed(req, err))
		return a
	}
	res, err := s.svc.Provide(ctx, req, sub)
	if err != nil {
		a.body = registryResponse(s.failed(req, err))
		return a
	}
	if len(res.Documents) > 0 {
		s.recent.remember(req.Actor, res.Documents[0].Patient, sub.Patient)
	}
	var warns []RegistryError
	for i, ws := range res.Warnings {
		for _, w := range ws {
			loc := fhirToXDS.Replace(w.Expression)
			if loc == "" && i < len(sub.Documents) {
				loc = sub.Documents[i].Path
			}
			warns = append(warns, RegistryError{Code: ErrRegistryMetadata, Context: w.Diagnostics, Location: loc, Warning: true})
		}
	}
	a.body = registryResponse(warns)
	return a
}

// recentRecords remembers, per caller, the records they worked on through
// XDS (a query naming the patient, a filing), so that transactions naming
// no patient (ITI-43, queries by uniqueId) can find a uniqueId, which is
// unique per record and filer only (docs/XDS.md).
type recentRecords struct {
	mu         sync.Mutex
	maxActors  int
	maxRecords int
	ttl        time.Duration
	byActor    map[string]map[carnet.PatientKey]recentRecord
	now        func() time.Time
}

type recentRecord struct {
	ins carnet.Identifier
	at  time.Time
}

func newRecent(actors, records int, ttl time.Duration) *recentRecords {
	return &recentRecords{maxActors: actors, maxRecords: records, ttl: ttl, byActor: map[string]map[carnet.PatientKey]recentRecord{}, now: time.Now}
}

// actorKey names a caller: a hash, so that the map holds no identifier.
func actorKey(a carnet.Actor) string {
	rep := "0"
	if a.LegalRepresentative {
		rep = "1"
	}
	h := sha256.Sum256([]byte(string(a.Kind) + "\x00" + a.ID.System + "\x00" + a.ID.Value + "\x00" + rep))
	return hex.EncodeToString(h[:16])
}

func (rr *recentRecords) remember(a carnet.Actor, k carnet.PatientKey, ins carnet.Identifier) {
	if k == "" || ins.Value == "" {
		return
	}
	rr.mu.Lock()
	defer rr.mu.Unlock()
	now := rr.now()
	key := actorKey(a)
	m := rr.byActor[key]
	if m == nil {
		if len(rr.byActor) >= rr.maxActors {
			rr.evictActor(now)
		}
		m = map[carnet.PatientKey]recentRecord{}
		rr.byActor[key] = m
	}
	if _, ok := m[k]; !ok && len(m) >= rr.maxRecords {
		var oldest carnet.PatientKey
		var at time.Time
		for pk, r := range m {
			if oldest == "" || r.at.Before(at) {
				oldest, at = pk, r.at
			}
		}
		delete(m, oldest)
	}
	m[k] = recentRecord{ins: ins, at: now}
}

// evictActor drops expired entries, or else one actor.
func (rr *recentRecords) evictActor(now time.Time) {
	for key, m := range rr.byActor {
		for pk, r := range m {
			if now.Sub(r.at) > rr.ttl {
				delete(m, pk)
			}
		}
		if len(m) == 0 {
			delete(rr.byActor, key)
		}
	}
	for key := range rr.byActor {
		if len(rr.byActor) < rr.maxActors {
			return
		}
		delete(rr.byActor, key)
	}
}

// records returns the caller's recent records, newest first.
func (rr *recentRecords) records(a carnet.Actor) map[carnet.PatientKey]carnet.Identifier {
	rr.mu.Lock()
	defer rr.mu.Unlock()
	out := map[carnet.PatientKey]carnet.Identifier{}
	now := rr.now()
	for k, r := range rr.byActor[actorKey(a)] {
		if now.Sub(r.at) <= rr.ttl {
			out[k] = r.ins
		}
	}
	return out
}

// ins returns the INS the caller named for record k, if known.
func (rr *recentRecords) ins(a carnet.Actor, k carnet.PatientKey) (carnet.Identifier, bool) {
	id, ok := rr.records(a)[k]
	return id, ok
}

// samePatient refuses a transaction about another patient than the one
// the XUA assertion names (its resource-id), when it names one.
func (m *Message) samePatient(id carnet.Identifier, location string) error {
	if m.Patient.Value == "" {
		return nil
	}
	if id.Value != m.Patient.Value || carnet.NormalizeIdentifier(id.System) != carnet.NormalizeIdentifier(m.Patient.System) {
		return &Errors{List: []RegistryError{{Code: ErrPatientIDMismatch, Context: "the patient is not the one the SAML assertion names (resource-id)", Location: location}}}
	}
	return nil
}
