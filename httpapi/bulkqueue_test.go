package httpapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/carnet-sante/carnet/httpapi"
	"github.com/carnet-sante/carnet/internal/testenv"
)

// N5 of the third review (docs/SECURITY-REVIEW-3.md): four running exports
// per server and two per client, the rest refused, so that two permit
// holders kept every slot busy and everyone else was answered 429 for as
// long as they liked. Now a kick-off within its permit's bound waits in a
// queue, and each freed slot goes to the waiting permit running the
// fewest exports.

// exportGate holds each started export until the test lets it go: the
// running slots stay busy for as long as a test needs, without timing.
type exportGate struct {
	mu      sync.Mutex
	release map[string]chan struct{}
	started chan string
}

func newExportGate() *exportGate {
	return &exportGate{release: map[string]chan struct{}{}, started: make(chan string, 64)}
}

func (g *exportGate) ch(job string) chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.release[job] == nil {
		g.release[job] = make(chan struct{})
	}
	return g.release[job]
}

func (g *exportGate) hold(ctx context.Context, job string) {
	g.started <- job
	select {
	case <-g.ch(job):
	case <-ctx.Done():
	}
}

func (g *exportGate) let(job string) { close(g.ch(job)) }

// next returns the next export to start.
func (g *exportGate) next(t *testing.T) string {
	t.Helper()
	select {
	case j := <-g.started:
		return j
	case <-time.After(time.Minute):
		t.Fatal("no export started")
		return ""
	}
}

// laterClock is the real time moved forward by d: a permit expires while
// its export waits.
type laterClock struct {
	mu sync.Mutex
	d  time.Duration
}

func (c *laterClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().UTC().Add(c.d)
}

func (c *laterClock) advance(d time.Duration) {
	c.mu.Lock()
	c.d += d
	c.mu.Unlock()
}

type queueServer struct {
	t       *testing.T
	env     *testenv.Env
	api     *httpapi.Server
	base    string
	bulkDir string
	gate    *exportGate
	clock   *laterClock
	op      bulkClient
}

// newQueueServer serves env with exports held by a gate and permits judged
// by a clock the test moves.
func newQueueServer(t *testing.T, env *testenv.Env) *queueServer {
	q := &queueServer{t: t, env: env, gate: newExportGate(), clock: &laterClock{}, bulkDir: t.TempDir()}
	sec := *env.Secondary
	sec.Clock = q.clock
	q.api = httpapi.New(httpapi.Config{Service: env.Service, Authenticate: env.Authenticate, Secondary: &sec, BulkDir: q.bulkDir})
	httpapi.SetExportGate(q.api, q.gate.hold)
	t.Cleanup(q.api.Close)
	srv := httptest.NewServer(q.api)
	t.Cleanup(srv.Close)
	q.base = srv.URL
	q.op = bulkClient{t: t, base: q.base, token: env.OperatorToken(t)}
	return q
}

// holder creates a permit for client, expiring after ttl, and returns its
// holder and the permit's id.
func (q *queueServer) holder(client string, docTypes []string, ttl time.Duration) (bulkClient, string) {
	q.t.Helper()
	code, body := postJSON(q.t, q.op, "/Permit", map[string]any{"purpose": "Étude", "recipient": "Institut", "client": client,
		"documentTypes": docTypes, "expires": time.Now().Add(ttl), "minK": 2})
	if code != http.StatusCreated {
		q.t.Fatalf("create permit: %d %s", code, body)
	}
	var p struct{ ID string }
	json.Unmarshal(body, &p)
	return bulkClient{t: q.t, base: q.base, token: q.env.PermitToken(q.t, client, p.ID)}, p.ID
}

func (q *queueServer) kick(c bulkClient) string {
	q.t.Helper()
	status, code, body := c.kickOff("/$export")
	if status == "" {
		q.t.Fatalf("kick-off: %d %s", code, body)
	}
	return status
}

// refused checks that a kick-off is answered 429 with Retry-After and an
// OperationOutcome saying why.
func (q *queueServer) refused(c bulkClient, why string) {
	q.t.Helper()
	res := c.do("GET", c.base+"/$export", map[string]string{"Accept": "application/fhir+json", "Prefer": "respond-async"}, nil)
	body := readAll(q.t, res)
	if res.StatusCode != http.StatusTooManyRequests || res.Header.Get("Retry-After") == "" || !strings.Contains(string(body), why) {
		q.t.Errorf("kick-off past the bound: %d, Retry-After %q, %s; want 429 saying %q", res.StatusCode, res.Header.Get("Retry-After"), body, why)
	}
}

// progress polls a status URL: its status code and X-Progress.
func (q *queueServer) progress(c bulkClient, status string) (int, string) {
	q.t.Helper()
	res := c.do("GET", status, nil, nil)
	readAll(q.t, res)
	if res.StatusCode == http.StatusAccepted && res.Header.Get("Retry-After") == "" {
		q.t.Errorf("202 without Retry-After")
	}
	return res.StatusCode, res.Header.Get("X-Progress")
}

func (q *queueServer) queuedAt(c bulkClient, status string, want int) {
	q.t.Helper()
	code, p := q.progress(c, status)
	if code != http.StatusAccepted || p != "queued: position "+string(rune('0'+want)) {
		q.t.Errorf("status of job %s: %d %q, want 202 queued at position %d", jobOf(status), code, p, want)
	}
}

// onDisk reports whether the job has a directory in the bulk directory.
func (q *queueServer) onDisk(status string) bool {
	dirs, _ := filepath.Glob(filepath.Join(q.bulkDir, "carnet-bulk-*", jobOf(status)))
	return len(dirs) > 0
}

func jobOf(status string) string { return status[strings.LastIndex(status, "/")+1:] }

func docTypesOf(pop *population) []string {
	var out []string
	for _, d := range pop.ds.Documents {
		if tok := d.Meta.Type.Token(); !slices.Contains(out, tok) {
			out = append(out, tok)
		}
	}
	return out
}

// Permit A fills every running slot and queues two more; permit B's
// kick-off is accepted, queued ahead of A's, and B's export starts in the
// first slot that frees, and completes; a queued export answers 202 with
// its position, shows nothing to another client, and leaves the queue on
// DELETE without ever running.
func TestBulkQueueSharesSlotsFairly(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b testenv.Backend) {
		env := testenv.New(t, b, testenv.Options{})
		pop := newPopulation(t, env)
		q := newQueueServer(t, env)
		a, _ := q.holder("labo-a", docTypesOf(pop), time.Hour)
		bh, _ := q.holder("labo-b", docTypesOf(pop), time.Hour)

		var running []string
		for range 4 {
			running = append(running, q.kick(a))
		}
		var started []string
		for range 4 {
			started = append(started, q.gate.next(t))
		}
		for _, s := range running {
			if !slices.Contains(started, jobOf(s)) {
				t.Fatalf("A's first four exports should run at once: %v started, kicked off %v", started, running)
			}
			if !q.onDisk(s) {
				t.Errorf("a running export has no directory: the on-disk check proves nothing")
			}
		}
		a5, a6 := q.kick(a), q.kick(a)
		q.queuedAt(a, a5, 1)
		q.queuedAt(a, a6, 2)
		q.refused(a, "under this permit")

		// B's first export goes ahead of A's queued ones.
		b1 := q.kick(bh)
		q.queuedAt(bh, b1, 1)
		q.queuedAt(a, a5, 2)
		q.queuedAt(a, a6, 3)
		for _, s := range []string{a5, a6, b1} {
			if q.onDisk(s) {
				t.Errorf("queued export %s has a directory on disk", jobOf(s))
			}
		}

		// Another client sees nothing of a queued export and cannot drop it.
		if code, p := q.progress(bh, a5); code != http.StatusNotFound || p != "" {
			t.Errorf("B reads A's queued export: %d %q", code, p)
		}
		if res := bh.do("DELETE", a5, nil, nil); res.StatusCode != http.StatusNotFound {
			t.Errorf("B deletes A's queued export: %d", res.StatusCode)
		}
		q.queuedAt(a, a5, 2)

		// One of A's exports ends: the slot goes to B.
		q.gate.let(jobOf(running[0]))
		a.wait(running[0])
		if got := q.gate.next(t); got != jobOf(b1) {
			t.Fatalf("after A's export ended, %s started, want B's %s", got, jobOf(b1))
		}
		q.queuedAt(a, a5, 1)

		// DELETE takes a queued export off the queue.
		if res := a.do("DELETE", a6, nil, nil); res.StatusCode != http.StatusAccepted {
			t.Errorf("DELETE of a queued export: %d", res.StatusCode)
		}
		if code, _ := q.progress(a, a6); code != http.StatusNotFound {
			t.Errorf("status of a deleted queued export: %d", code)
		}

		// B's export completes, with data; its slot goes to A's next.
		q.gate.let(jobOf(b1))
		if m := bh.wait(b1); len(m.Output) == 0 || m.Output[0].Count == 0 {
			t.Errorf("B's export completed empty: %+v", m.Output)
		}
		if got := q.gate.next(t); got != jobOf(a5) {
			t.Fatalf("after B's export ended, %s started, want A's %s", got, jobOf(a5))
		}

		// Stopping the server drops what waits: nothing else ever starts.
		a7 := q.kick(a)
		q.queuedAt(a, a7, 1)
		q.api.Close()
		select {
		case j := <-q.gate.started:
			t.Errorf("export %s started after the server stopped (the deleted one is %s)", j, jobOf(a6))
		default:
		}
		if q.onDisk(a6) || q.onDisk(a7) {
			t.Errorf("a dropped queued export has files")
		}
	})
}

// The queue is bounded: per permit, jobs queued, running or not yet
// deleted; per server, the jobs waiting. Past either, 429 as before.
func TestBulkQueueBounds(t *testing.T) {
	env := testenv.New(t, testenv.SQLite, testenv.Options{})
	q := newQueueServer(t, env)
	types := []string{"http://loinc.org|11488-4"}
	l, _ := q.holder("labo-l", types, time.Hour)
	for range 6 {
		q.kick(l) // four run, two wait
	}
	q.refused(l, "under this permit")
	c, _ := q.holder("labo-c", types, time.Hour)
	d, _ := q.holder("labo-d", types, time.Hour)
	e, _ := q.holder("labo-e", types, time.Hour)
	var mine []string
	for range 6 {
		mine = append(mine, q.kick(c))
	}
	for range 6 {
		q.kick(d)
	}
	q.kick(e)
	q.kick(e) // sixteen waiting
	q.refused(e, "waiting on this server")

	// A queued export deleted makes room.
	if res := c.do("DELETE", mine[0], nil, nil); res.StatusCode != http.StatusAccepted {
		t.Fatalf("DELETE of a queued export: %d", res.StatusCode)
	}
	q.kick(e)
	q.refused(e, "waiting on this server")
}

// A permit revoked or expired while its export waits stops the export
// when it leaves the queue, before it reads anything, with the error a
// kick-off would get; its slot goes at once to the next export.
func TestBulkQueuedPermitCheckedAtStart(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b testenv.Backend) {
		env := testenv.New(t, b, testenv.Options{})
		q := newQueueServer(t, env)
		types := []string{"http://loinc.org|11488-4"}
		l, _ := q.holder("labo-l", types, 24*time.Hour)
		r, permitR := q.holder("labo-r", types, 24*time.Hour)
		x, _ := q.holder("labo-x", types, time.Hour)
		var running []string
		for range 4 {
			running = append(running, q.kick(l))
		}
		for range 4 {
			q.gate.next(t)
		}
		r1, x1, l5 := q.kick(r), q.kick(x), q.kick(l)
		q.queuedAt(r, r1, 1)
		q.queuedAt(x, x1, 2)
		q.queuedAt(l, l5, 3)

		if res := q.op.do("DELETE", q.base+"/Permit/"+permitR, nil, nil); res.StatusCode != http.StatusNoContent {
			t.Fatalf("revoke: %d", res.StatusCode)
		}
		q.clock.advance(2 * time.Hour) // x's permit expires; l's holds

		q.gate.let(jobOf(running[0]))
		l.wait(running[0])
		if got := q.gate.next(t); got != jobOf(l5) {
			t.Fatalf("export %s started, want %s: the revoked and expired permits' exports must fail when they leave the queue", got, jobOf(l5))
		}
		for _, tc := range []struct {
			name   string
			c      bulkClient
			status string
		}{{"revoked", r, r1}, {"expired", x, x1}} {
			res := tc.c.do("GET", tc.status, nil, nil)
			got := readAll(t, res)
			_, code, want := tc.c.kickOff("/$export")
			if res.StatusCode != http.StatusForbidden || code != http.StatusForbidden || diagnostics(t, got) != diagnostics(t, want) {
				t.Errorf("%s permit: the queued export's status is %d %s, a kick-off gets %d %s", tc.name, res.StatusCode, got, code, want)
			}
			if q.onDisk(tc.status) {
				t.Errorf("%s permit: the export made a directory", tc.name)
			}
		}
	})
}

// diagnostics is an OperationOutcome's first issue's text.
func diagnostics(t *testing.T, body []byte) string {
	t.Helper()
	var oo struct {
		Issue []struct{ Diagnostics string }
	}
	if err := json.Unmarshal(body, &oo); err != nil || len(oo.Issue) == 0 {
		t.Fatalf("not an OperationOutcome: %s", body)
	}
	return oo.Issue[0].Diagnostics
}
