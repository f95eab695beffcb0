package edge

import (
	"net/http"
	"sync"
)

// BodyBudget bounds the request bodies a node holds at once, whoever sends
// them. Each client's in-flight bound (Limits.MaxInFlight) does not: a
// filing may be 64 MiB (MHD, XDS.b) and is held in memory, decoded and
// checked before it is stored, so a few dozen clients each sending large
// bodies at once could exhaust the node's memory. A request with a body
// reserves its declared length (or PerRequest when it declares none, as a
// chunked upload) for as long as it is served; one that does not fit is
// answered 503 with Retry-After at once, before its body is read.
//
// The handlers reserve once the caller is authenticated (Reserve): a
// budget taken before would let anyone hold it with a few slow uploads
// declaring large bodies.
type BodyBudget struct {
	// Max is the bytes of bodies held at once (0: no bound).
	Max int64
	// PerRequest is the most a request may send (what the endpoints
	// accept): what a body of unknown length reserves, and the most any
	// reserves.
	PerRequest int64

	mu   sync.Mutex
	used int64
}

// Reserve takes r's body from the budget; ok is false when it does not fit
// (then Refuse answers). release gives it back, once r is served.
func (b *BodyBudget) Reserve(r *http.Request) (release func(), ok bool) {
	n := r.ContentLength
	if b == nil || b.Max <= 0 || n == 0 || r.Body == nil || r.Body == http.NoBody {
		return func() {}, true
	}
	if n < 0 || b.PerRequest > 0 && n > b.PerRequest {
		n = b.PerRequest
	}
	n = min(n, b.Max)
	if !b.take(n) {
		return nil, false
	}
	return func() { b.give(n) }, true
}

// Refuse answers a request whose body did not fit: 503, Retry-After and an
// OperationOutcome.
func Refuse(w http.ResponseWriter) {
	w.Header().Set("Retry-After", "1")
	writeOutcome(w, http.StatusServiceUnavailable, "transient", "the server is receiving too many large requests at once: retry shortly")
}

func (b *BodyBudget) take(n int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.used+n > b.Max {
		return false
	}
	b.used += n
	return true
}

func (b *BodyBudget) give(n int64) {
	b.mu.Lock()
	b.used -= n
	b.mu.Unlock()
}

// Held is the bytes reserved now (for /metrics and tests).
func (b *BodyBudget) Held() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used
}
