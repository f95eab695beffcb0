package httpapi

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	carnet "github.com/carnet-sante/carnet"
	"github.com/carnet-sante/carnet/auth"
	"github.com/carnet-sante/carnet/balp"
	"github.com/carnet-sante/carnet/fhir"
)

// AuditLog is the tamper-evident log as the API shows it: signed
// checkpoints and proofs (auditlog.Log and auditlog.Checkpointer behind).
// Nothing in it is clinical: leaves are digests.
type AuditLog interface {
	// Checkpoint returns the latest signed checkpoint (a signed note).
	Checkpoint(ctx context.Context) ([]byte, error)
	InclusionProof(ctx context.Context, index, size uint64) ([][]byte, error)
	ConsistencyProof(ctx context.Context, from, to uint64) ([][]byte, error)
	// VerifierKey is the public key checkpoints are signed with (note
	// verifier key format), for clients to pin.
	VerifierKey() string
}

func (s *Server) auditRoutes() {
	s.mux.Handle("GET /AuditEvent", s.wrap("AuditEvent", carnet.ActionSearch, s.searchAudit))
	if s.cfg.AuditLog == nil {
		return
	}
	// The log's endpoints serve digests only, nothing clinical. Checkpoints
	// and the key are public (any monitor may watch the log); proofs are
	// for authenticated callers (a patient checking their history, an
	// auditor). Each client's budget is the server's (edge.Limiter, where
	// a proof costs more).
	s.mux.HandleFunc("GET /log/checkpoint", s.logCheckpoint)
	s.mux.HandleFunc("GET /log/key", s.logKey)
	s.mux.Handle("GET /log/proof/inclusion", s.authenticated(s.logInclusion))
	s.mux.Handle("GET /log/proof/consistency", s.authenticated(s.logConsistency))
}

// authenticated refuses a request without a valid bearer token (or a web
// session, Config.SignedIn).
func (s *Server) authenticated(fn http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Request-Id", carnet.NewID())
		if s.cfg.SignedIn != nil && r.Header.Get("Authorization") == "" && s.cfg.SignedIn(r) {
			fn(w, r)
			return
		}
		if _, err := s.cfg.Authenticate(r); err != nil {
			s.writeError(w, r, err)
			return
		}
		fn(w, r)
	})
}

// searchAudit is GET /AuditEvent[?patient.identifier=…][&date=ge…&date=lt…]
// [&agent.identifier=sys|value][&_count=n][&_page=cursor]: who accessed the
// record, newest first (IHE BALP shapes).
func (s *Server) searchAudit(w http.ResponseWriter, r *http.Request, req carnet.Request) error {
	if req.Actor.Kind == carnet.ActorSystem && !auditorScope(req.Actor.Scopes) {
		// Producing software with wildcard scopes is not an auditor.
		return refuse(carnet.KindForbidden, "forbidden", "insufficient_scope: reading access histories needs system/AuditEvent.rs, named explicitly")
	}
	id, err := patientParam(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	f := carnet.AuditFilter{Limit: 50}
	if v := q.Get("_count"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 500 {
			return refuse(carnet.KindInvalid, "value", "_count must be between 1 and 500")
		}
		f.Limit = n
	}
	if v := q.Get("_page"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil || n == 0 {
			return refuse(carnet.KindInvalid, "value", "_page is not a cursor this server made")
		}
		f.Before = n
	}
	for _, v := range q["date"] {
		prefix, rest := v[:min(2, len(v))], v[min(2, len(v)):]
		t, err := time.Parse(time.RFC3339Nano, rest)
		if err != nil {
			if d, err2 := time.Parse("2006-01-02", rest); err2 == nil {
				t, err = d, nil
			}
		}
		if err != nil || (prefix != "ge" && prefix != "lt") {
			return refuse(carnet.KindInvalid, "value", "date takes ge<date> and lt<date>, e.g. date=ge2026-01-01&date=lt2026-02-01")
		}
		if prefix == "ge" {
			f.Time.From = t
		} else {
			f.Time.To = t
		}
	}
	var actors []carnet.Identifier
	for _, v := range q["agent.identifier"] {
		a, err := parseIdentifierParam(v, "agent.identifier")
		if err != nil {
			return err
		}
		if a.OID() == carnet.OIDRPPS && !carnet.ValidRPPS(a.Value) {
			return refuse(carnet.KindInvalid, "value", "agent.identifier names an RPPS that is not one: 11 digits, the last its key (or 8 and those 11 digits)")
		}
		actors = append(actors, a)
	}
	entries, err := s.svc.AuditHistory(r.Context(), req, id, f, actors)
	if carnet.IsKind(err, carnet.KindNotFound) {
		return s.searchBundle(w, r, "AuditEvent", nil, nil)
	}
	if err != nil {
		return err
	}
	patient := id
	if patient.Value == "" {
		patient = req.Actor.ID
	}
	ids, res := make([]string, len(entries)), make([]any, len(entries))
	for i, e := range entries {
		ids[i], res[i] = e.Event.ID, balp.Render(e, patient, req.Actor.Kind == carnet.ActorPatient)
	}
	b := fhir.Bundle{Type: "searchset"}
	b.ID = carnet.NewID()
	for i, rsc := range res {
		raw, err := json.Marshal(rsc)
		if err != nil {
			return carnet.WrapError(carnet.KindInternal, "encode", err)
		}
		b.Entry = append(b.Entry, fhir.BundleEntry{FullURL: s.base(r) + "/AuditEvent/" + ids[i], Resource: raw, Search: &fhir.BundleSearch{Mode: "match"}})
	}
	b.Link = append(b.Link, fhir.BundleLink{Relation: "self", URL: s.base(r) + r.URL.RequestURI()})
	if len(entries) == f.Limit && entries[len(entries)-1].Seq > 0 {
		next := r.URL.Query()
		next.Set("_page", strconv.FormatUint(entries[len(entries)-1].Seq, 10))
		b.Link = append(b.Link, fhir.BundleLink{Relation: "next", URL: s.base(r) + "/AuditEvent?" + next.Encode()})
	} else if f.Before == 0 {
		// One page holds the whole history: its size is the total, for free.
		total := len(entries)
		b.Total = &total
	}
	s.writeResource(w, http.StatusOK, b)
	return nil
}

// auditorScope reports whether scopes name AuditEvent explicitly with
// read and search.
func auditorScope(scopes []string) bool {
	for _, sc := range scopes {
		p, err := auth.ParseScope(sc)
		if err == nil && p.Context == "system" && p.Resource == "AuditEvent" && p.Query == "" &&
			p.Perms&auth.PermOf(carnet.ActionRead) != 0 && p.Perms&auth.PermOf(carnet.ActionSearch) != 0 {
			return true
		}
	}
	return false
}

func (s *Server) logCheckpoint(w http.ResponseWriter, r *http.Request) {
	note, err := s.cfg.AuditLog.Checkpoint(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeText(w, note)
}

func (s *Server) logKey(w http.ResponseWriter, r *http.Request) {
	writeText(w, []byte(s.cfg.AuditLog.VerifierKey()+"\n"))
}

func writeText(w http.ResponseWriter, b []byte) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write(b)
}

// Proof is the JSON of a proof: the hashes in base64, in order.
type Proof struct {
	Index  *uint64  `json:"index,omitempty"`
	Size   uint64   `json:"size,omitempty"`
	From   uint64   `json:"from,omitempty"`
	To     uint64   `json:"to,omitempty"`
	Hashes []string `json:"hashes"`
}

func uintParams(r *http.Request, names ...string) ([]uint64, error) {
	out := make([]uint64, len(names))
	for i, n := range names {
		v, err := strconv.ParseUint(r.URL.Query().Get(n), 10, 64)
		if err != nil {
			return nil, refuse(carnet.KindInvalid, "value", "give "+strings.Join(names, " and ")+" as unsigned integers")
		}
		out[i] = v
	}
	return out, nil
}

func (s *Server) logInclusion(w http.ResponseWriter, r *http.Request) {
	v, err := uintParams(r, "index", "size")
	if err == nil && v[0] >= v[1] {
		err = refuse(carnet.KindInvalid, "value", "index must be below size")
	}
	var hashes [][]byte
	if err == nil {
		hashes, err = s.cfg.AuditLog.InclusionProof(r.Context(), v[0], v[1])
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeJSON(w, Proof{Index: &v[0], Size: v[1], Hashes: b64(hashes)})
}

func (s *Server) logConsistency(w http.ResponseWriter, r *http.Request) {
	v, err := uintParams(r, "from", "to")
	if err == nil && v[0] > v[1] {
		err = refuse(carnet.KindInvalid, "value", "from must not exceed to")
	}
	var hashes [][]byte
	if err == nil {
		hashes, err = s.cfg.AuditLog.ConsistencyProof(r.Context(), v[0], v[1])
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeJSON(w, Proof{From: v[0], To: v[1], Hashes: b64(hashes)})
}

func b64(hs [][]byte) []string {
	out := make([]string, len(hs))
	for i, h := range hs {
		out[i] = base64.StdEncoding.EncodeToString(h)
	}
	return out
}

func (s *Server) writeJSON(w http.ResponseWriter, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write(b)
}
