package httpapi

import (
	"bufio"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	carnet "github.com/carnet-sante/carnet"
	"github.com/carnet-sante/carnet/fhir"
	"github.com/carnet-sante/carnet/secondary"
)

// FHIR Bulk Data Access (v2) for permit holders, and the operator's
// permit routes (docs/SECONDARY.md). Jobs run in this process; their
// NDJSON files are written under a private directory, one file per
// resource type, and served gzip-encoded when the client accepts it.

const (
	bulkRetryAfter       = "1" // seconds between status polls of a running export
	bulkQueuedRetryAfter = "5" // of a queued one: it cannot move before a running one ends
	maxRunningJobs       = 4   // per server
	maxJobsPerPermit     = 6   // queued, running or not yet deleted, per permit
	maxQueuedJobs        = 16  // per server
	ndjsonContentType    = "application/fhir+ndjson"
)

// bulkRetention is how long an export and its files are kept after its
// kick-off (the manifest's Expires); a variable for the tests.
var bulkRetention = 24 * time.Hour

type jobState int

const (
	jobQueued jobState = iota
	jobRunning
	jobDone
	jobFailed
)

type bulkJob struct {
	id, client, permit string
	request            string
	started            time.Time // the kick-off
	ctx                context.Context
	cancel             context.CancelFunc
	finished           chan struct{} // closed when a started job has ended
	export             secondary.ExportRequest

	// dir is set when the job starts: a queued job has nothing on disk.
	dir string

	mu                sync.Mutex
	state             jobState
	pass, done, total int
	files             []*bulkFile
	report            secondary.KReport
	err               error
	transactionTime   time.Time
}

type bulkFile struct {
	typ   string
	path  string
	count int
	f     *os.File
	w     *bufio.Writer
}

// bulkJobs are this server's export jobs. The running slots are shared
// fairly between permits (docs/SECONDARY.md, "Queue"): a kick-off past
// them waits in queue, and a slot that frees goes to the waiting permit
// running the fewest exports, among equals to the one served longest ago.
type bulkJobs struct {
	mu      sync.Mutex
	root    string // created on first use
	jobs    map[string]*bulkJob
	queue   []*bulkJob        // waiting, in kick-off order
	running map[string]int    // running exports per permit
	served  map[string]uint64 // per permit with jobs, the turn it was last served at
	turn    uint64
	closed  bool
	// gate, when set (tests only), is called by each export once it has
	// started, before it reads anything.
	gate func(ctx context.Context, job string)
}

// startOrder returns the queued jobs in the order they would start if no
// running export ended meanwhile: each turn goes to the permit running
// the fewest exports, among equals to the one served longest ago (then
// the one that queued first), and takes that permit's oldest job. One
// permit holding many jobs therefore delays another's first job by one
// turn at most.
func startOrder(queue []*bulkJob, running map[string]int, served map[string]uint64, turn uint64) []*bulkJob {
	pending := slices.Clone(queue)
	run, last := map[string]int{}, map[string]uint64{}
	order := make([]*bulkJob, 0, len(pending))
	for len(pending) > 0 {
		best := 0
		for i, j := range pending {
			b := pending[best].permit
			ri, rb := running[j.permit]+run[j.permit], running[b]+run[b]
			si, sb := max(served[j.permit], last[j.permit]), max(served[b], last[b])
			if ri < rb || ri == rb && si < sb {
				best = i
			}
		}
		j := pending[best]
		pending = slices.Delete(pending, best, best+1)
		order = append(order, j)
		turn++
		run[j.permit]++
		last[j.permit] = turn
	}
	return order
}

// position is a queued job's place in the start order (1: next), or 0
// when it is not waiting.
func (b *bulkJobs) position(j *bulkJob) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Index(startOrder(b.queue, b.running, b.served, b.turn), j) + 1
}

// startable takes the jobs that may start now off the queue and marks them
// running; the caller holds b.mu and starts them.
func (b *bulkJobs) startable() []*bulkJob {
	busy := 0
	for _, n := range b.running {
		busy += n
	}
	if b.closed || busy >= maxRunningJobs || len(b.queue) == 0 {
		return nil
	}
	order := startOrder(b.queue, b.running, b.served, b.turn)
	next := order[:min(len(order), maxRunningJobs-busy)]
	for _, j := range next {
		b.queue = slices.DeleteFunc(b.queue, func(x *bulkJob) bool { return x == j })
		b.running[j.permit]++
		b.turn++
		b.served[j.permit] = b.turn
		j.mu.Lock()
		j.state = jobRunning
		j.mu.Unlock()
	}
	return next
}

// forget drops what the scheduler keeps of a permit without jobs waiting or
// running; the caller holds b.mu.
func (b *bulkJobs) forget(permit string) {
	if b.running[permit] > 0 || slices.ContainsFunc(b.queue, func(j *bulkJob) bool { return j.permit == permit }) {
		return
	}
	delete(b.running, permit)
	delete(b.served, permit)
}

// schedule starts the queued jobs that may start.
func (s *Server) schedule() {
	s.bulk.mu.Lock()
	next := s.bulk.startable()
	s.bulk.mu.Unlock()
	for _, j := range next {
		go s.runExport(j)
	}
}

func (b *bulkJobs) dir(base string) (string, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.root == "" {
		if base != "" {
			if err := os.MkdirAll(base, 0o700); err != nil {
				return "", err
			}
		}
		d, err := os.MkdirTemp(base, "carnet-bulk-")
		if err != nil {
			return "", err
		}
		b.root = d
	}
	return b.root, nil
}

// sink writes a job's NDJSON, one file per type, buffered.
type sink struct{ job *bulkJob }

func (k sink) Write(typ string, line []byte) error {
	j := k.job
	var f *bulkFile
	for _, x := range j.files {
		if x.typ == typ {
			f = x
		}
	}
	if f == nil {
		path := filepath.Join(j.dir, typ+".ndjson")
		fh, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if err != nil {
			return carnet.WrapError(carnet.KindInternal, "bulk file", err)
		}
		f = &bulkFile{typ: typ, path: path, f: fh, w: bufio.NewWriterSize(fh, 64<<10)}
		j.mu.Lock()
		j.files = append(j.files, f)
		j.mu.Unlock()
	}
	if _, err := f.w.Write(line); err != nil {
		return carnet.WrapError(carnet.KindInternal, "bulk file", err)
	}
	if err := f.w.WriteByte('\n'); err != nil {
		return carnet.WrapError(carnet.KindInternal, "bulk file", err)
	}
	j.mu.Lock()
	f.count++
	j.mu.Unlock()
	return nil
}

func (k sink) close() error {
	var first error
	for _, f := range k.job.files {
		if err := f.w.Flush(); err != nil && first == nil {
			first = err
		}
		if err := f.f.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

func (s *Server) bulkRoutes() {
	if s.cfg.Secondary == nil {
		return
	}
	s.bulk.jobs, s.bulk.running, s.bulk.served = map[string]*bulkJob{}, map[string]int{}, map[string]uint64{}
	h := func(pattern, resource string, act carnet.Action, fn handler) {
		s.mux.Handle(pattern, s.wrap(resource, act, fn))
	}
	h("GET /$export", "", "", s.kickOff)
	h("POST /$export", "", "", s.kickOff)
	h("GET /Group/{id}/$export", "", "", s.kickOff)
	h("POST /Group/{id}/$export", "", "", s.kickOff)
	h("GET /bulk/{job}", "", "", s.bulkStatus)
	h("DELETE /bulk/{job}", "", "", s.bulkCancel)
	h("GET /bulk/{job}/{file}", "", "", s.bulkFile)
	h("GET /$stats", "", "", s.stats)
	h("POST /Permit", "Permit", carnet.ActionCreate, s.createPermit)
	h("GET /Permit", "Permit", carnet.ActionSearch, s.listPermits)
	h("GET /Permit/{id}", "Permit", carnet.ActionRead, s.readPermit)
	h("DELETE /Permit/{id}", "Permit", carnet.ActionDelete, s.revokePermit)
}

// exportParams are a kick-off's parameters, from the query (GET) or a
// Parameters resource (POST).
type exportParams struct {
	types   []string
	since   time.Time
	filters map[string][]string
}

var exportParamNames = []string{"_outputFormat", "_type", "_since", "_typeFilter"}

func (s *Server) readExportParams(r *http.Request) (exportParams, error) {
	var out exportParams
	values := map[string][]string{}
	if r.Method == http.MethodPost {
		body, _, err := s.readBody(r, fhirJSON...)
		if err != nil {
			return out, err
		}
		var ps struct {
			ResourceType string `json:"resourceType"`
			Parameter    []struct {
				Name         string  `json:"name"`
				ValueString  *string `json:"valueString"`
				ValueInstant *string `json:"valueInstant"`
			} `json:"parameter"`
		}
		if err := json.Unmarshal(body, &ps); err != nil || ps.ResourceType != "Parameters" {
			return out, refuse(carnet.KindInvalid, "invalid", "a POST kick-off carries a Parameters resource")
		}
		if len(ps.Parameter) > 100 {
			return out, refuse(carnet.KindInvalid, "too-costly", "at most 100 parameters")
		}
		for _, p := range ps.Parameter {
			switch {
			case p.ValueString != nil:
				values[p.Name] = append(values[p.Name], *p.ValueString)
			case p.ValueInstant != nil:
				values[p.Name] = append(values[p.Name], *p.ValueInstant)
			default:
				return out, refuse(carnet.KindInvalid, "invalid", "parameter "+p.Name+" has no valueString or valueInstant")
			}
		}
	} else {
		values = r.URL.Query()
	}
	for name, vs := range values {
		if !slices.Contains(exportParamNames, name) {
			return out, refuse(carnet.KindInvalid, "not-supported", "parameter "+name+" is not supported by this server's $export")
		}
		if name != "_typeFilter" && len(vs) > 1 {
			return out, refuse(carnet.KindInvalid, "invalid", "parameter "+name+" given twice")
		}
	}
	if f := values["_outputFormat"]; len(f) == 1 {
		switch f[0] {
		case "application/fhir+ndjson", "application/ndjson", "ndjson":
		default:
			return out, refuse(carnet.KindInvalid, "not-supported", "_outputFormat: only application/fhir+ndjson")
		}
	}
	if t := values["_type"]; len(t) == 1 {
		for _, typ := range strings.Split(t[0], ",") {
			if typ = strings.TrimSpace(typ); typ != "" && !slices.Contains(out.types, typ) {
				out.types = append(out.types, typ)
			}
		}
	}
	if v := values["_since"]; len(v) == 1 {
		t, err := time.Parse(time.RFC3339Nano, v[0])
		if err != nil {
			return out, refuse(carnet.KindInvalid, "invalid", "_since is a FHIR instant (2024-01-01T00:00:00Z)")
		}
		out.since = t.UTC()
	}
	for _, f := range values["_typeFilter"] {
		typ, codes, err := secondary.ParseTypeFilter(f)
		if err != nil {
			return out, err
		}
		if out.filters == nil {
			out.filters = map[string][]string{}
		}
		// Several filters on one type: any of them (OR).
		for _, c := range codes {
			if !slices.Contains(out.filters[typ], c) {
				out.filters[typ] = append(out.filters[typ], c)
			}
		}
	}
	return out, nil
}

func clientKey(a carnet.Actor) string { return a.ID.System + "|" + a.ID.Value }

// admit returns the permit an export is made under, when the request may
// export these types under it: at kick-off, and again when the export
// leaves the queue (the permit may have been revoked or have expired
// meanwhile). A refusal is audited.
func (s *Server) admit(ctx context.Context, req carnet.Request, permitID string, types []string, filters map[string][]string) (carnet.Permit, error) {
	sec := s.cfg.Secondary
	permit, err := sec.PermitOf(ctx, req, permitID)
	if err != nil {
		return carnet.Permit{}, err
	}
	if err := secondary.CheckExport(permit, types, filters); err != nil {
		_ = sec.AuditUse(ctx, req, permit.ID, "export refused: "+carnet.ErrorMessage(err))
		return carnet.Permit{}, err
	}
	return permit, nil
}

// kickOff accepts an export (Bulk Data IG: $export kick-off): it starts at
// once when a running slot is free, else it waits in the queue.
func (s *Server) kickOff(w http.ResponseWriter, r *http.Request, req carnet.Request) error {
	if pref := r.Header.Get("Prefer"); pref != "" && !strings.Contains(pref, "respond-async") {
		return refuse(carnet.KindInvalid, "not-supported", "$export answers asynchronously only: Prefer: respond-async")
	}
	if acc := r.Header.Get("Accept"); acc != "" && !strings.Contains(acc, "application/fhir+json") && !strings.Contains(acc, "*/*") {
		return refuse(carnet.KindInvalid, "not-supported", "$export kick-off: Accept: application/fhir+json")
	}
	params, err := s.readExportParams(r)
	if err != nil {
		return err
	}
	groupID := r.PathValue("id")
	permit, err := s.admit(r.Context(), req, groupID, params.types, params.filters)
	if err != nil {
		return err
	}
	s.dropExpiredJobs()
	id := carnet.NewID()
	ctx, cancel := context.WithCancel(context.WithoutCancel(r.Context()))
	job := &bulkJob{id: id, client: clientKey(req.Actor), permit: permit.ID, request: s.base(r) + r.URL.RequestURI(), started: time.Now().UTC(),
		ctx: ctx, cancel: cancel, finished: make(chan struct{}), state: jobQueued,
		export: secondary.ExportRequest{Request: req, Permit: permit, Group: groupID != "", Types: params.types, Since: params.since, Filters: params.filters}}
	// The job counts against the bounds from here, while its kick-off is
	// audited; it joins the queue after.
	if err := s.reserve(job); err != nil {
		cancel()
		if carnet.IsKind(err, carnet.KindRateLimited) {
			w.Header().Set("Retry-After", "30")
		}
		return err
	}
	if err := s.cfg.Secondary.AuditUse(r.Context(), req, permit.ID, "export "+id+" accepted: "+r.URL.String()); err != nil {
		s.unreserve(job)
		return err
	}
	s.bulk.mu.Lock()
	if s.bulk.closed || s.bulk.jobs[id] != job { // stopping, or dropped meanwhile
		s.bulk.mu.Unlock()
		s.unreserve(job)
		return carnet.Errorf(carnet.KindUnavailable, "the server is stopping")
	}
	s.bulk.queue = append(s.bulk.queue, job)
	s.bulk.mu.Unlock()
	s.schedule()
	msg := "export accepted: poll the Content-Location"
	if pos := s.bulk.position(job); pos > 0 {
		msg = fmt.Sprintf("export accepted, queued at position %d behind the running exports: poll the Content-Location", pos)
	}
	w.Header().Set("Content-Location", s.base(r)+"/bulk/"+id)
	oo := fhir.OutcomeFromIssues([]carnet.Issue{{Severity: "information", Code: "informational", Diagnostics: msg}})
	s.writeResource(w, http.StatusAccepted, oo)
	return nil
}

// reserve registers a new job when its permit and the server's queue have
// room: a permit has at most maxJobsPerPermit jobs not yet deleted
// (queued, running or finished), the server at most maxQueuedJobs waiting.
func (s *Server) reserve(job *bulkJob) error {
	s.bulk.mu.Lock()
	defer s.bulk.mu.Unlock()
	if s.bulk.closed {
		return carnet.Errorf(carnet.KindUnavailable, "the server is stopping")
	}
	mine, waiting := 0, 0
	for _, j := range s.bulk.jobs {
		if j.permit == job.permit {
			mine++
		}
		j.mu.Lock()
		if j.state == jobQueued {
			waiting++
		}
		j.mu.Unlock()
	}
	if mine >= maxJobsPerPermit {
		return refuse(carnet.KindRateLimited, "throttled", fmt.Sprintf("too many exports under this permit (at most %d queued, running or not yet deleted): wait for one to finish, or delete a finished one (DELETE its status URL)", maxJobsPerPermit))
	}
	if waiting >= maxQueuedJobs {
		return refuse(carnet.KindRateLimited, "throttled", fmt.Sprintf("too many exports waiting on this server (%d): kick off again later", maxQueuedJobs))
	}
	s.bulk.jobs[job.id] = job
	return nil
}

// unreserve forgets a job that never joined the queue.
func (s *Server) unreserve(job *bulkJob) {
	job.cancel()
	s.bulk.mu.Lock()
	delete(s.bulk.jobs, job.id)
	s.bulk.mu.Unlock()
}

// runExport runs a job that has left the queue: its permit is checked
// again (as at kick-off), its directory created, then the export writes
// into it. When it ends, its slot goes to the next queued job.
func (s *Server) runExport(job *bulkJob) {
	defer close(job.finished)
	report, err := s.export(job)
	s.bulk.mu.Lock()
	s.bulk.running[job.permit]--
	s.bulk.forget(job.permit)
	job.mu.Lock()
	job.report = report
	if err != nil {
		job.state, job.err = jobFailed, err
		if job.ctx.Err() == nil && !carnet.IsKind(err, carnet.KindForbidden) {
			s.log.Error("export failed", "job", job.id, "permit", job.permit, "err", err)
		}
	} else {
		job.state = jobDone
	}
	job.mu.Unlock()
	s.bulk.mu.Unlock()
	s.schedule()
}

func (s *Server) export(job *bulkJob) (secondary.KReport, error) {
	ctx, req := job.ctx, job.export
	permit, err := s.admit(ctx, req.Request, job.permit, req.Types, req.Filters)
	if err != nil {
		return secondary.KReport{}, err
	}
	req.Permit = permit
	root, err := s.bulk.dir(s.cfg.BulkDir)
	if err != nil {
		return secondary.KReport{}, carnet.WrapError(carnet.KindInternal, "bulk directory", err)
	}
	dir := filepath.Join(root, job.id)
	if err := os.Mkdir(dir, 0o700); err != nil {
		return secondary.KReport{}, carnet.WrapError(carnet.KindInternal, "bulk directory", err)
	}
	job.mu.Lock()
	job.dir, job.transactionTime = dir, time.Now().UTC()
	job.mu.Unlock()
	if s.bulk.gate != nil {
		s.bulk.gate(ctx, job.id)
	}
	k := sink{job}
	report, err := s.cfg.Secondary.Export(ctx, req, k, func(pass, done, total int) {
		job.mu.Lock()
		job.pass, job.done, job.total = pass, done, total
		job.mu.Unlock()
	})
	if cerr := k.close(); err == nil && cerr != nil {
		err = carnet.WrapError(carnet.KindInternal, "bulk file", cerr)
	}
	return report, err
}

// job returns the caller's job: another client's is not found.
func (s *Server) job(r *http.Request, req carnet.Request) (*bulkJob, error) {
	s.bulk.mu.Lock()
	j := s.bulk.jobs[r.PathValue("job")]
	s.bulk.mu.Unlock()
	// The job's client, with its permit's scope still in the token.
	if j == nil || j.client != clientKey(req.Actor) || !slices.Contains(req.Actor.Scopes, secondary.ScopePrefix+j.permit) {
		return nil, carnet.Errorf(carnet.KindNotFound, "no such export")
	}
	if time.Since(j.started) > bulkRetention {
		s.dropJob(j)
		return nil, carnet.Errorf(carnet.KindNotFound, "no such export")
	}
	return j, nil
}

// dropJob takes a job off the queue, or stops it, and deletes its files.
func (s *Server) dropJob(j *bulkJob) {
	j.cancel()
	s.bulk.mu.Lock()
	j.mu.Lock()
	queued := j.state == jobQueued // it starts under s.bulk.mu only
	j.mu.Unlock()
	if queued {
		// Never started: nothing on disk, no goroutine to wait for.
		s.bulk.queue = slices.DeleteFunc(s.bulk.queue, func(x *bulkJob) bool { return x == j })
		delete(s.bulk.jobs, j.id)
		s.bulk.forget(j.permit)
		s.bulk.mu.Unlock()
		return
	}
	s.bulk.mu.Unlock()
	<-j.finished
	s.bulk.mu.Lock()
	delete(s.bulk.jobs, j.id)
	s.bulk.mu.Unlock()
	if j.dir == "" {
		return
	}
	if err := os.RemoveAll(j.dir); err != nil {
		s.log.Error("delete export files", "job", j.id, "err", err)
	}
}

// dropExpiredJobs deletes the exports past their retention, polled or not.
func (s *Server) dropExpiredJobs() {
	s.bulk.mu.Lock()
	var old []*bulkJob
	for _, j := range s.bulk.jobs {
		if time.Since(j.started) > bulkRetention {
			old = append(old, j)
		}
	}
	s.bulk.mu.Unlock()
	for _, j := range old {
		s.dropJob(j)
	}
}

// still checks that a job's permit is still valid; when it is not (revoked,
// expired) the job's files, which nobody may read any more, are deleted.
func (s *Server) still(ctx context.Context, j *bulkJob) error {
	err := s.cfg.Secondary.Still(ctx, j.permit)
	if carnet.IsKind(err, carnet.KindForbidden) {
		s.dropJob(j)
	}
	return err
}

// bulkStatus answers a status poll: 202 while queued or running, the
// manifest when done, an OperationOutcome when it failed.
func (s *Server) bulkStatus(w http.ResponseWriter, r *http.Request, req carnet.Request) error {
	j, err := s.job(r, req)
	if err != nil {
		return err
	}
	if err := s.still(r.Context(), j); err != nil {
		return err
	}
	pos := s.bulk.position(j)
	j.mu.Lock()
	defer j.mu.Unlock()
	switch j.state {
	case jobQueued:
		if pos == 0 { // dropped meanwhile
			return carnet.Errorf(carnet.KindNotFound, "no such export")
		}
		w.Header().Set("Retry-After", bulkQueuedRetryAfter)
		w.Header().Set("X-Progress", fmt.Sprintf("queued: position %d", pos))
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusAccepted)
		return nil
	case jobRunning:
		w.Header().Set("Retry-After", bulkRetryAfter)
		if j.pass <= 1 {
			w.Header().Set("X-Progress", fmt.Sprintf("counting: %d records read", j.done))
		} else {
			w.Header().Set("X-Progress", fmt.Sprintf("%d of %d records", j.done, j.total))
		}
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusAccepted)
		return nil
	case jobFailed:
		return j.err
	}
	type output struct {
		Type  string `json:"type"`
		URL   string `json:"url"`
		Count int    `json:"count"`
	}
	m := struct {
		TransactionTime     string   `json:"transactionTime"`
		Request             string   `json:"request"`
		RequiresAccessToken bool     `json:"requiresAccessToken"`
		Output              []output `json:"output"`
		Error               []output `json:"error"`
		Extension           any      `json:"extension"`
	}{TransactionTime: j.transactionTime.Format(time.RFC3339Nano), Request: j.request, RequiresAccessToken: true,
		Output: []output{}, Error: []output{},
		Extension: map[string]any{"kAnonymity": j.report, "permit": j.permit}}
	for _, t := range secondary.ExportTypes {
		for _, f := range j.files {
			if f.typ == t && f.count > 0 {
				m.Output = append(m.Output, output{Type: t, URL: s.base(r) + "/bulk/" + j.id + "/" + t + ".ndjson", Count: f.count})
			}
		}
	}
	w.Header().Set("Expires", j.started.Add(bulkRetention).UTC().Format(http.TimeFormat))
	s.writeJSON(w, m)
	return nil
}

// bulkCancel takes a queued export off the queue, cancels a running one or
// deletes a finished one's files.
func (s *Server) bulkCancel(w http.ResponseWriter, r *http.Request, req carnet.Request) error {
	j, err := s.job(r, req)
	if err != nil {
		return err
	}
	s.dropJob(j)
	if err := s.cfg.Secondary.AuditUse(r.Context(), req, j.permit, "export "+j.id+" deleted"); err != nil {
		return err
	}
	w.WriteHeader(http.StatusAccepted)
	return nil
}

// bulkFile serves one NDJSON file of a finished export, streamed, gzip
// when the client accepts it.
func (s *Server) bulkFile(w http.ResponseWriter, r *http.Request, req carnet.Request) error {
	j, err := s.job(r, req)
	if err != nil {
		return err
	}
	if err := s.still(r.Context(), j); err != nil {
		return err
	}
	name := r.PathValue("file")
	j.mu.Lock()
	var f *bulkFile
	if j.state == jobDone {
		for _, x := range j.files {
			if x.typ+".ndjson" == name {
				f = x
			}
		}
	}
	j.mu.Unlock()
	if f == nil {
		return carnet.Errorf(carnet.KindNotFound, "no such file")
	}
	fh, err := os.Open(f.path)
	if err != nil {
		return carnet.WrapError(carnet.KindInternal, "bulk file", err)
	}
	defer fh.Close()
	if err := s.cfg.Secondary.AuditUse(r.Context(), req, j.permit, "export "+j.id+" file "+name+" downloaded"); err != nil {
		return err
	}
	h := w.Header()
	h.Set("Content-Type", ndjsonContentType)
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Add("Vary", "Accept-Encoding")
	var out io.Writer = w
	if acceptsGzip(r) {
		h.Set("Content-Encoding", "gzip")
		gz := gzip.NewWriter(w)
		defer gz.Close()
		out = gz
	}
	w.WriteHeader(http.StatusOK)
	if _, err := io.Copy(out, fh); err != nil && !errors.Is(err, context.Canceled) {
		s.log.Info("bulk download interrupted", "job", j.id, "err", err)
	}
	return nil
}

func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		enc, q, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(enc), "gzip") && strings.ReplaceAll(strings.TrimSpace(q), " ", "") != "q=0" {
			return true
		}
	}
	return false
}

// Close stops the running exports, drops the queued ones and deletes every
// export's files; no export starts after it.
func (s *Server) Close() {
	s.bulk.mu.Lock()
	s.bulk.closed = true
	var started []*bulkJob
	for _, j := range s.bulk.jobs {
		j.cancel()
		j.mu.Lock()
		if j.state != jobQueued {
			started = append(started, j)
		}
		j.mu.Unlock()
	}
	s.bulk.queue = nil
	root := s.bulk.root
	s.bulk.mu.Unlock()
	for _, j := range started {
		<-j.finished
	}
	if root != "" {
		os.RemoveAll(root)
	}
}

// stats answers aggregate statistics with differential-privacy noise.
func (s *Server) stats(w http.ResponseWriter, r *http.Request, req carnet.Request) error {
	q := r.URL.Query()
	for name := range q {
		if !slices.Contains([]string{"code", "granularity", "epsilon", "permit"}, name) {
			return refuse(carnet.KindInvalid, "not-supported", "parameter "+name+" is not supported by $stats")
		}
	}
	permit, err := s.cfg.Secondary.PermitOf(r.Context(), req, q.Get("permit"))
	if err != nil {
		return err
	}
	var eps float64
	if v := q.Get("epsilon"); v != "" {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || !(f > 0 && f <= 10) {
			return refuse(carnet.KindInvalid, "invalid", "epsilon is a number in (0, 10]")
		}
		eps = f
	}
	var codes []string
	for _, c := range q["code"] {
		codes = append(codes, strings.Split(c, ",")...)
	}
	res, err := s.cfg.Secondary.Stats(r.Context(), secondary.StatsRequest{Request: req, Permit: permit, Codes: codes,
		Granularity: q.Get("granularity"), Epsilon: eps})
	if err != nil {
		return err
	}
	s.writeJSON(w, res)
	return nil
}

// permitJSON is a permit on the operator's wire: everything but its
// secret.
type permitJSON struct {
	ID            string     `json:"id,omitempty"`
	Status        string     `json:"status,omitempty"` // active, expired, revoked (read only)
	Purpose       string     `json:"purpose"`
	Recipient     string     `json:"recipient"`
	Client        string     `json:"client"`
	Issuer        string     `json:"issuer,omitempty"` // the client's token issuer (default: the operator's)
	DocumentTypes []string   `json:"documentTypes,omitempty"`
	ItemTypes     []string   `json:"itemTypes,omitempty"`
	Codes         []string   `json:"codes,omitempty"`
	Cohort        []string   `json:"cohort,omitempty"`
	PeriodStart   *time.Time `json:"periodStart,omitempty"`
	PeriodEnd     *time.Time `json:"periodEnd,omitempty"`
	Expires       time.Time  `json:"expires"`
	MinK          int        `json:"minK,omitempty"`
	Dates         string     `json:"dates,omitempty"`
	ShiftDays     int        `json:"shiftDays,omitempty"`
	Narrative     string     `json:"narrative,omitempty"`
	Epsilon       float64    `json:"epsilon,omitempty"`
	EpsilonSpent  float64    `json:"epsilonSpent,omitempty"`
	Created       *time.Time `json:"created,omitempty"`
	Revoked       *time.Time `json:"revoked,omitempty"`
}

func permitView(p carnet.Permit, now time.Time) permitJSON {
	v := permitJSON{ID: p.ID, Purpose: p.Purpose, Recipient: p.Recipient, Client: p.Client, Issuer: p.Issuer, DocumentTypes: p.DocumentTypes,
		Codes: p.Codes, Cohort: p.Cohort, Expires: p.Expires, MinK: p.MinK, Dates: p.Dates, ShiftDays: p.ShiftDays,
		Narrative: p.Narrative, Epsilon: p.Epsilon, EpsilonSpent: p.EpsilonSpent, Status: "active"}
	for _, k := range p.ItemTypes {
		v.ItemTypes = append(v.ItemTypes, string(k))
	}
	if !p.Period.From.IsZero() {
		v.PeriodStart = &p.Period.From
	}
	if !p.Period.To.IsZero() {
		v.PeriodEnd = &p.Period.To
	}
	if !p.Created.IsZero() {
		v.Created = &p.Created
	}
	if !p.Revoked.IsZero() {
		v.Revoked, v.Status = &p.Revoked, "revoked"
	} else if !now.Before(p.Expires) {
		v.Status = "expired"
	}
	return v
}

func (s *Server) createPermit(w http.ResponseWriter, r *http.Request, req carnet.Request) error {
	body, _, err := s.readBody(r, "application/json")
	if err != nil {
		return err
	}
	var in permitJSON
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		return refuse(carnet.KindInvalid, "invalid", "the permit is not valid JSON of the permit's fields: "+err.Error())
	}
	p := carnet.Permit{Purpose: in.Purpose, Recipient: in.Recipient, Client: in.Client, Issuer: in.Issuer, DocumentTypes: in.DocumentTypes,
		Codes: in.Codes, Cohort: in.Cohort, Expires: in.Expires.UTC(), MinK: in.MinK, Dates: in.Dates, ShiftDays: in.ShiftDays,
		Narrative: in.Narrative, Epsilon: in.Epsilon}
	for _, k := range in.ItemTypes {
		p.ItemTypes = append(p.ItemTypes, carnet.ItemKind(k))
	}
	if in.PeriodStart != nil {
		p.Period.From = in.PeriodStart.UTC()
	}
	if in.PeriodEnd != nil {
		p.Period.To = in.PeriodEnd.UTC()
	}
	p, err = s.cfg.Secondary.CreatePermit(r.Context(), req, p)
	if err != nil {
		return err
	}
	w.Header().Set("Location", s.base(r)+"/Permit/"+p.ID)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusCreated)
	return json.NewEncoder(w).Encode(permitView(p, time.Now()))
}

func (s *Server) listPermits(w http.ResponseWriter, r *http.Request, req carnet.Request) error {
	ps, err := s.cfg.Secondary.ListPermits(r.Context(), req)
	if err != nil {
		return err
	}
	out := make([]permitJSON, 0, len(ps))
	for _, p := range ps {
		out = append(out, permitView(p, time.Now()))
	}
	s.writeJSON(w, out)
	return nil
}

func (s *Server) readPermit(w http.ResponseWriter, r *http.Request, req carnet.Request) error {
	p, err := s.cfg.Secondary.Permit(r.Context(), req, r.PathValue("id"))
	if err != nil {
		return err
	}
	s.writeJSON(w, permitView(p, time.Now()))
	return nil
}

func (s *Server) revokePermit(w http.ResponseWriter, r *http.Request, req carnet.Request) error {
	if err := s.cfg.Secondary.RevokePermit(r.Context(), req, r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
