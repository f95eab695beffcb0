package edge

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// SecureHeaders sets the secure headers on every answer before the handler
// runs (a handler may still set its own Content-Security-Policy or
// Cache-Control, e.g. a web page). HSTS only over TLS.
func SecureHeaders(next http.Handler, tls bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		if tls {
			h.Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
		}
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), interest-cohort=()")
		h.Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}

// Limits are the per-client request budgets.
type Limits struct {
	Rate        float64 // requests per second, sustained
	Burst       int     // requests at once above the rate
	MaxInFlight int     // requests of one client being served at once
	// Cost weighs a request (default 1); proofs of the log cost more.
	Cost func(*http.Request) int
	Now  func() time.Time
}

// ClientKey is who a request counts against: the client certificate's key
// when there is one, else the peer address (without the port). Behind a
// reverse proxy, the proxy must do the limiting: its address is everyone's.
func ClientKey(r *http.Request) string {
	if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
		return "cert:" + KeyID(r.TLS.PeerCertificates[0])
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	// Hashed: the key is kept in memory only, but never as an address.
	h := sha256.Sum256([]byte(host))
	return "ip:" + hex.EncodeToString(h[:12])
}

type bucket struct {
	tokens   float64
	last     time.Time
	inFlight int
}

// Limiter enforces Limits per client. Its memory is bounded: idle clients
// are forgotten.
type Limiter struct {
	l       Limits
	mu      sync.Mutex
	clients map[string]*bucket
	sweep   time.Time
}

// maxClients bounds the table; past it, idle entries are swept at once.
const maxClients = 100000

// NewLimiter returns a Limiter.
func NewLimiter(l Limits) *Limiter {
	if l.Now == nil {
		l.Now = time.Now
	}
	if l.Burst < 1 {
		l.Burst = 1
	}
	return &Limiter{l: l, clients: map[string]*bucket{}}
}

// admit takes a request's cost from its client's bucket; it returns how
// long to wait when the budget is spent.
func (lm *Limiter) admit(key string, cost int) (ok bool, retry time.Duration) {
	now := lm.l.Now()
	lm.mu.Lock()
	defer lm.mu.Unlock()
	if len(lm.clients) > maxClients || now.Sub(lm.sweep) > time.Minute {
		for k, b := range lm.clients {
			if b.inFlight == 0 && now.Sub(b.last) > time.Minute {
				delete(lm.clients, k)
			}
		}
		lm.sweep = now
	}
	b := lm.clients[key]
	if b == nil {
		b = &bucket{tokens: float64(lm.l.Burst), last: now}
		lm.clients[key] = b
	}
	if lm.l.Rate > 0 {
		b.tokens = math.Min(float64(lm.l.Burst), b.tokens+now.Sub(b.last).Seconds()*lm.l.Rate)
	}
	b.last = now
	if lm.l.MaxInFlight > 0 && b.inFlight >= lm.l.MaxInFlight {
		return false, time.Second
	}
	if lm.l.Rate > 0 && b.tokens < float64(cost) {
		return false, time.Duration((float64(cost) - b.tokens) / lm.l.Rate * float64(time.Second))
	}
	if lm.l.Rate > 0 {
		b.tokens -= float64(cost)
	}
	b.inFlight++
	return true, 0
}

func (lm *Limiter) done(key string) {
	lm.mu.Lock()
	defer lm.mu.Unlock()
	if b := lm.clients[key]; b != nil && b.inFlight > 0 {
		b.inFlight--
	}
}

// Wrap refuses requests over their client's budget with 429, an
// OperationOutcome and Retry-After.
func (lm *Limiter) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := ClientKey(r)
		cost := 1
		if lm.l.Cost != nil {
			cost = max(1, lm.l.Cost(r))
		}
		ok, retry := lm.admit(key, cost)
		if !ok {
			secs := int(math.Ceil(retry.Seconds()))
			w.Header().Set("Retry-After", strconv.Itoa(max(1, secs)))
			writeOutcome(w, http.StatusTooManyRequests, "throttled", "too many requests from this client: retry later")
			return
		}
		defer lm.done(key)
		next.ServeHTTP(w, r)
	})
}

// ProofCost makes the log's proof endpoints cost more: they read the log.
func ProofCost(r *http.Request) int {
	if strings.HasPrefix(r.URL.Path, "/log/proof/") {
		return 4
	}
	return 1
}

func writeOutcome(w http.ResponseWriter, status int, code, text string) {
	w.Header().Set("Content-Type", "application/fhir+json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":%q,"diagnostics":%q}]}`, code, text)
}
