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
	bulkRetryAfter    = "1" // seconds between status polls
	maxRunningJobs    = 4   // per server
	maxJobsPerClient  = 2   // running or not yet deleted, per client
	ndjsonContentType = "application/fhir+ndjson"
)

// bulkRetention is how long an export and its files are kept after its
// kick-off (the manifest's Expires); a variable for the tests.
var bulkRetention = 24 * time.Hour

type jobState int

const (
	jobRunning jobState = iota
	jobDone
	jobFailed
)

type bulkJob struct {
	id, client, permit string
	request            string
	started            time.Time
	dir                string
	cancel             context.CancelFunc
	finished           chan struct{}

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

// bulkJobs are this server's export jobs.
type bulkJobs struct {
	mu   sync.Mutex
	root string // created on first use
	jobs map[string]*bulkJob
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
	s.bulk.jobs = map[string]*bulkJob{}
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

// kickOff starts an export (Bulk Data IG: $export kick-off).
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
	sec := s.cfg.Secondary
	groupID := r.PathValue("id")
	permit, err := sec.PermitOf(r.Context(), req, groupID)
	if err != nil {
		return err
	}
	if err := secondary.CheckExport(permit, params.types, params.filters); err != nil {
		_ = sec.AuditUse(r.Context(), req, permit.ID, "export refused: "+carnet.ErrorMessage(err))
		return err
	}
	client := clientKey(req.Actor)
	s.dropExpiredJobs()
	s.bulk.mu.Lock()
	running, mine := 0, 0
	for _, j := range s.bulk.jobs {
		j.mu.Lock()
		if j.state == jobRunning {
			running++
		}
		j.mu.Unlock()
		if j.client == client {
			mine++
		}
	}
	s.bulk.mu.Unlock()
	if running >= maxRunningJobs || mine >= maxJobsPerClient {
		w.Header().Set("Retry-After", "30")
		return refuse(carnet.KindRateLimited, "throttled", "too many exports: wait for one to finish, or delete a finished one (DELETE its status URL)")
	}
	root, err := s.bulk.dir(s.cfg.BulkDir)
	if err != nil {
		return carnet.WrapError(carnet.KindInternal, "bulk directory", err)
	}
	id := carnet.NewID()
	dir := filepath.Join(root, id)
	if err := os.Mkdir(dir, 0o700); err != nil {
		return carnet.WrapError(carnet.KindInternal, "bulk directory", err)
	}
	if err := sec.AuditUse(r.Context(), req, permit.ID, "export "+id+" started: "+r.URL.String()); err != nil {
		os.RemoveAll(dir)
		return err
	}
	ctx, cancel := context.WithCancel(context.WithoutCancel(r.Context()))
	job := &bulkJob{id: id, client: client, permit: permit.ID, request: s.base(r) + r.URL.RequestURI(), started: time.Now().UTC(),
		dir: dir, cancel: cancel, finished: make(chan struct{}), transactionTime: time.Now().UTC()}
	s.bulk.mu.Lock()
	s.bulk.jobs[id] = job
	s.bulk.mu.Unlock()
	ereq := secondary.ExportRequest{Request: req, Permit: permit, Group: groupID != "", Types: params.types, Since: params.since, Filters: params.filters}
	go s.runExport(ctx, job, ereq)
	w.Header().Set("Content-Location", s.base(r)+"/bulk/"+id)
	oo := fhir.OutcomeFromIssues([]carnet.Issue{{Severity: "information", Code: "informational", Diagnostics: "export accepted: poll the Content-Location"}})
	s.writeResource(w, http.StatusAccepted, oo)
	return nil
}

func (s *Server) runExport(ctx context.Context, job *bulkJob, req secondary.ExportRequest) {
	defer close(job.finished)
	k := sink{job}
	report, err := s.cfg.Secondary.Export(ctx, req, k, func(pass, done, total int) {
		job.mu.Lock()
		job.pass, job.done, job.total = pass, done, total
		job.mu.Unlock()
	})
	if cerr := k.close(); err == nil && cerr != nil {
		err = carnet.WrapError(carnet.KindInternal, "bulk file", cerr)
	}
	job.mu.Lock()
	defer job.mu.Unlock()
	job.report = report
	if err != nil {
		job.state, job.err = jobFailed, err
		if ctx.Err() == nil {
			s.log.Error("export failed", "job", job.id, "permit", job.permit, "err", err)
		}
		return
	}
	job.state = jobDone
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

// dropJob stops a job and deletes its files.
func (s *Server) dropJob(j *bulkJob) {
	j.cancel()
	<-j.finished
	s.bulk.mu.Lock()
	delete(s.bulk.jobs, j.id)
	s.bulk.mu.Unlock()
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

// bulkStatus answers a status poll: 202 while running, the manifest when
// done, an OperationOutcome when it failed.
func (s *Server) bulkStatus(w http.ResponseWriter, r *http.Request, req carnet.Request) error {
	j, err := s.job(r, req)
	if err != nil {
		return err
	}
	if err := s.still(r.Context(), j); err != nil {
		return err
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	switch j.state {
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

// bulkCancel cancels a running export or deletes a finished one's files.
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

// Close stops the running exports and deletes every export's files.
func (s *Server) Close() {
	s.bulk.mu.Lock()
	jobs := make([]*bulkJob, 0, len(s.bulk.jobs))
	for _, j := range s.bulk.jobs {
		jobs = append(jobs, j)
	}
	root := s.bulk.root
	s.bulk.mu.Unlock()
	for _, j := range jobs {
		j.cancel()
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
