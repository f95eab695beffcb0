package edge

import (
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Metrics counts requests by route pattern, method and status, and their
// latencies, and serves them with the registered gauges in the Prometheus
// text exposition format (version 0.0.4). Labels are route patterns
// ("GET /DocumentReference/{id}"), never paths: no id, no INS, no query
// string reaches a metric.
type Metrics struct {
	mu       sync.Mutex
	requests map[reqKey]uint64
	latency  map[latKey]*histogram
	gauges   []gauge
	started  time.Time
}

type reqKey struct{ route, method, code string }
type latKey struct{ route, method string }
type gauge struct {
	name, help string
	fn         func() float64
}

// buckets of request latency, in seconds.
var buckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

type histogram struct {
	counts []uint64 // per bucket, then +Inf
	sum    float64
	n      uint64
}

// NewMetrics returns empty metrics.
func NewMetrics() *Metrics {
	return &Metrics{requests: map[reqKey]uint64{}, latency: map[latKey]*histogram{}, started: time.Now()}
}

// Gauge registers a value read at each scrape. name must be a valid
// metric name; fn must not return anything about a patient.
func (m *Metrics) Gauge(name, help string, fn func() float64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.gauges = append(m.gauges, gauge{name, help, fn})
}

type recorder struct {
	http.ResponseWriter
	status int
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// Observe wraps next: each request is counted under the route pattern the
// mux matched, and, with a logger, logged as one line (method, pattern,
// status, duration, request id: nothing of the path or query).
func (m *Metrics) Observe(next http.Handler, logger *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t0 := time.Now()
		rec := &recorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		d := time.Since(t0)
		route := routeOf(r)
		code := rec.status
		if code == 0 {
			code = http.StatusOK
		}
		m.record(route, r.Method, code, d)
		if logger != nil {
			logger.Info("request", "method", r.Method, "route", route, "status", code,
				"duration_ms", float64(d.Microseconds())/1000, "request_id", w.Header().Get("X-Request-Id"))
		}
	})
}

// routeOf is the pattern the innermost mux matched, without its method
// (the method is a label of its own); "other" when none matched.
func routeOf(r *http.Request) string {
	p := r.Pattern
	if _, path, ok := strings.Cut(p, " "); ok {
		p = path
	}
	if p == "" || p == "/" {
		return "other"
	}
	return p
}

func (m *Metrics) record(route, method string, code int, d time.Duration) {
	switch method {
	case "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS":
	default:
		method = "other"
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.requests[reqKey{route, method, strconv.Itoa(code)}]++
	h := m.latency[latKey{route, method}]
	if h == nil {
		h = &histogram{counts: make([]uint64, len(buckets)+1)}
		m.latency[latKey{route, method}] = h
	}
	s := d.Seconds()
	i := sort.SearchFloat64s(buckets, s)
	h.counts[i]++
	h.sum += s
	h.n++
}

// ServeHTTP writes the exposition.
func (m *Metrics) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	m.WriteTo(w)
}

// WriteTo writes the exposition to w.
func (m *Metrics) WriteTo(w io.Writer) (int64, error) {
	m.mu.Lock()
	var b strings.Builder
	b.WriteString("# HELP carnet_http_requests_total HTTP requests answered, by route pattern, method and status.\n# TYPE carnet_http_requests_total counter\n")
	keys := make([]reqKey, 0, len(m.requests))
	for k := range m.requests {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		return keys[i].route+keys[i].method+keys[i].code < keys[j].route+keys[j].method+keys[j].code
	})
	for _, k := range keys {
		fmt.Fprintf(&b, "carnet_http_requests_total{route=%s,method=%s,code=%s} %d\n", quote(k.route), quote(k.method), quote(k.code), m.requests[k])
	}
	b.WriteString("# HELP carnet_http_request_duration_seconds Time to answer HTTP requests, by route pattern and method.\n# TYPE carnet_http_request_duration_seconds histogram\n")
	lks := make([]latKey, 0, len(m.latency))
	for k := range m.latency {
		lks = append(lks, k)
	}
	sort.Slice(lks, func(i, j int) bool { return lks[i].route+lks[i].method < lks[j].route+lks[j].method })
	for _, k := range lks {
		h := m.latency[k]
		lbl := fmt.Sprintf("route=%s,method=%s", quote(k.route), quote(k.method))
		var cum uint64
		for i, le := range buckets {
			cum += h.counts[i]
			fmt.Fprintf(&b, "carnet_http_request_duration_seconds_bucket{%s,le=%q} %d\n", lbl, strconv.FormatFloat(le, 'g', -1, 64), cum)
		}
		cum += h.counts[len(buckets)]
		fmt.Fprintf(&b, "carnet_http_request_duration_seconds_bucket{%s,le=\"+Inf\"} %d\n", lbl, cum)
		fmt.Fprintf(&b, "carnet_http_request_duration_seconds_sum{%s} %s\n", lbl, strconv.FormatFloat(h.sum, 'g', -1, 64))
		fmt.Fprintf(&b, "carnet_http_request_duration_seconds_count{%s} %d\n", lbl, h.n)
	}
	gauges := append([]gauge(nil), m.gauges...)
	m.mu.Unlock()
	for _, g := range gauges {
		v := g.fn()
		if math.IsNaN(v) {
			continue // not applicable to this deployment
		}
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s gauge\n%s %s\n", g.name, g.help, g.name, g.name, strconv.FormatFloat(v, 'g', -1, 64))
	}
	n, err := io.WriteString(w, b.String())
	return int64(n), err
}

// quote escapes a label value as the exposition format wants.
func quote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	return `"` + r.Replace(s) + `"`
}
