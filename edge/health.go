package edge

import (
	"context"
	"encoding/json"
	"net/http"
	"sync/atomic"
	"time"
)

// Check is one readiness condition: nil when it holds.
type Check struct {
	Name string
	Fn   func(context.Context) error
}

// Health serves /healthz (the process answers) and /readyz (every check
// holds and the server is not draining). Answers name the failing checks,
// never their errors' details.
type Health struct {
	Checks   []Check
	Draining atomic.Bool
}

// Healthz answers 200 while the process runs.
func (h *Health) Healthz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write([]byte("ok\n"))
}

// Readyz answers 200 when ready, 503 naming what is not.
func (h *Health) Readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	out := map[string]string{}
	ready := !h.Draining.Load()
	if !ready {
		out["shutdown"] = "draining"
	}
	for _, c := range h.Checks {
		if err := c.Fn(ctx); err != nil {
			out[c.Name] = "fail"
			ready = false
		} else {
			out[c.Name] = "ok"
		}
	}
	w.Header().Set("Content-Type", "application/json")
	if !ready {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	json.NewEncoder(w).Encode(out)
}

// Mount puts /healthz and /readyz in front of next.
func (h *Health) Mount(next http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", h.Healthz)
	mux.HandleFunc("GET /readyz", h.Readyz)
	mux.Handle("/", next)
	return mux
}
