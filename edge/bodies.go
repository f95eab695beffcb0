package edge

import (
	"errors"
	"io"
	"net/http"
	"sync"
)

// BodyBudget bounds the request bodies a node holds at once, whoever sends
// them. Each client's in-flight bound (Limits.MaxInFlight) does not: a
// filing may be 64 MiB (MHD, XDS.b) and is held in memory, decoded and
// checked before it is stored, so a few dozen clients each sending large
// bodies at once could exhaust the node's memory. A request reserves its
// declared length for as long as it is served, and one that does not fit
// is answered 503 with Retry-After at once, before its body is read. A
// body of unknown length (a chunked upload) reserves as it is read, a
// chunk at a time: small ones cost what they are, and one that outgrows
// what is left fails its reading with ErrBodyBudget (503 as well).
//
// The handlers reserve once the caller is authenticated (Reserve): a
// budget taken before would let anyone hold it with a few slow uploads
// declaring large bodies.
type BodyBudget struct {
	// Max is the bytes of bodies held at once (0: no bound).
	Max int64
	// PerRequest is the most a request may send (what the endpoints
	// accept): the most any reserves.
	PerRequest int64

	mu   sync.Mutex
	used int64
}

// ErrBodyBudget is what reading a body of unknown length returns when the
// node's budget cannot hold more of it. It says BodyBudgetExceeded, so
// that a handler that wraps it answers 503.
var ErrBodyBudget error = budgetError{}

type budgetError struct{}

func (budgetError) Error() string            { return "the server is receiving too many large requests at once" }
func (budgetError) BodyBudgetExceeded() bool { return true }

// bodyChunk is what a body of unknown length reserves at a time.
const bodyChunk = 256 << 10

// Reserve takes r's body from the budget; ok is false when it does not fit
// (then Refuse answers). release gives it back, once r is served. A body
// of unknown length is wrapped (r.Body) so as to reserve as it is read.
func (b *BodyBudget) Reserve(r *http.Request) (release func(), ok bool) {
	n := r.ContentLength
	if b == nil || b.Max <= 0 || n == 0 || r.Body == nil || r.Body == http.NoBody {
		return func() {}, true
	}
	if n < 0 {
		cb := &chunkedBody{ReadCloser: r.Body, b: b}
		if !cb.grow() {
			return nil, false
		}
		r.Body = cb
		return cb.release, true
	}
	if b.PerRequest > 0 && n > b.PerRequest {
		n = b.PerRequest
	}
	n = min(n, b.Max)
	if !b.take(n) {
		return nil, false
	}
	return func() { b.give(n) }, true
}

// chunkedBody reserves a body of unknown length as it is read.
type chunkedBody struct {
	io.ReadCloser
	b              *BodyBudget
	mu             sync.Mutex
	read, reserved int64
}

func (c *chunkedBody) grow() bool {
	n := int64(bodyChunk)
	if p := c.b.PerRequest; p > 0 {
		n = min(n, max(p-c.reserved, 0))
	}
	if n == 0 || !c.b.take(n) {
		return false
	}
	c.reserved += n
	return true
}

func (c *chunkedBody) Read(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.read >= c.reserved && !c.grow() {
		if c.b.PerRequest > 0 && c.reserved >= c.b.PerRequest {
			return c.ReadCloser.Read(p) // the endpoint's own bound answers (413)
		}
		return 0, ErrBodyBudget
	}
	if room := c.reserved - c.read; int64(len(p)) > room {
		p = p[:room]
	}
	n, err := c.ReadCloser.Read(p)
	c.read += int64(n)
	return n, err
}

func (c *chunkedBody) release() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.b.give(c.reserved)
	c.reserved = 0
}

// Exceeded says whether err comes from a body the budget could not hold.
func Exceeded(err error) bool {
	var e interface{ BodyBudgetExceeded() bool }
	return errors.As(err, &e) && e.BodyBudgetExceeded()
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

// Held is the bytes reserved now (the tests read it; /metrics does not
// show it yet).
func (b *BodyBudget) Held() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used
}
