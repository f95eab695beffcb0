package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	carnet "github.com/carnet-sante/carnet"
	"github.com/carnet-sante/carnet/fhir"
	"github.com/carnet-sante/carnet/mhd"
	"github.com/carnet-sante/carnet/synth"
)

// benchLoad is `carnet bench load` (docs/PERFORMANCE.md, "Load"): it drives
// a running server over HTTP the way the DMP is used, with real synthetic
// CDA documents and real tokens. Software files documents (ITI-65, or
// ITI-105 with --publish iti105); the professional declares their care
// relationship once per record (a PCF care-team Consent), then searches
// the record (ITI-67) and reads documents it found (ITI-68). It stops after
// --count operations or --duration, whichever comes first, and prints the
// throughput and the latency percentiles of each operation.
//
// Tokens come from a --demo server's issuer (the demo software lgc and the
// demo GP), or are given (--software-token, --professional-token: a
// configured issuer's tokens for software of the GP practice and for the
// GP, whose documents are the ones filed).
func benchLoad(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("bench load", stderr)
	base := fs.String("url", defaultURL, "URL of the running server (a loopback or test address: this sends load); several nodes: URLs separated by commas, the clients spread over them")
	clients := fs.Int("clients", 8, "concurrent clients")
	count := fs.Int("count", 2000, "operations in all, then stop (0: until --duration)")
	duration := fs.Duration("duration", time.Minute, "stop after this long")
	mix := fs.String("mix", "file=1,search=1,read=1", "weights of the operations: file, search, read")
	patients := fs.Int("patients", 300, "records filed into and searched (1: every client works on one record)")
	seed := fs.Uint64("seed", 0, "synthetic data seed (0: from the clock, so that runs against one server never collide)")
	large := fs.Bool("large", true, "real-sized documents (20-50 KB CDA, synth LargeDocs)")
	publish := fs.String("publish", "iti65", "filing transaction: iti65 (Provide Document Bundle) or iti105 (Simplified Publish)")
	softTok := fs.String("software-token", "", "token of producing software of the GP practice (default: the --demo server's lgc)")
	proTok := fs.String("professional-token", "", "token of the GP (default: the --demo server's gp)")
	if err := fs.parse(args); err != nil {
		return err
	}
	weights, err := parseMix(*mix)
	if err != nil {
		return err
	}
	switch {
	case *clients < 1 || *clients > 1024:
		return fmt.Errorf("--clients %d: from 1 to 1024", *clients)
	case *patients < 1 || *patients > 100000:
		return fmt.Errorf("--patients %d: from 1 to 100000", *patients)
	case *count < 0 || (*count == 0 && *duration <= 0):
		return errors.New("bound the run: --count N or --duration D")
	case *publish != "iti65" && *publish != "iti105":
		return fmt.Errorf("--publish %q: iti65 or iti105", *publish)
	}
	if *duration <= 0 {
		*duration = 24 * time.Hour
	}
	if *seed == 0 {
		*seed = uint64(time.Now().UnixNano()>>20) % 1_000_000_000
	}
	var roots []string
	for u := range strings.SplitSeq(*base, ",") {
		roots = append(roots, strings.TrimSuffix(strings.TrimSpace(u), "/"))
	}
	root := roots[0]
	client := &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{
		MaxIdleConns: *clients * 2, MaxIdleConnsPerHost: *clients * 2, IdleConnTimeout: time.Minute}}
	if *softTok == "" {
		if *softTok, err = demoUserToken(ctx, client, root, "lgc"); err != nil {
			return err
		}
	}
	if *proTok == "" {
		if *proTok, err = demoUserToken(ctx, client, root, "gp"); err != nil {
			return err
		}
	}

	pool, err := newLoadPool(*seed, *patients, *large)
	if err != nil {
		return err
	}
	l := &loader{bases: roots, client: client, soft: *softTok, pro: *proTok, pool: pool, publish: *publish,
		stats: map[string]*opStats{}, declared: make([]atomic.Bool, len(pool.patients)),
		filed: make([]atomic.Int64, len(pool.patients)), gp: pool.docs[0].Meta.Authors[0].ID}
	for _, op := range []string{"file", "consent", "search", "read"} {
		l.stats[op] = &opStats{}
	}
	fmt.Fprintf(stdout, "load on %s: %d clients, mix %s, %d records, %d distinct %s documents (%.0f KB on average), seed %d, at most %d operations or %s\n",
		strings.Join(roots, ", "), *clients, *mix, len(pool.patients), len(pool.docs), *publish, pool.meanKB(), *seed, *count, *duration)

	runCtx, cancel := context.WithTimeout(ctx, *duration)
	defer cancel()
	var left atomic.Int64
	left.Store(int64(*count))
	if *count == 0 {
		left.Store(1 << 62)
	}
	start := time.Now()
	var wg sync.WaitGroup
	for c := range *clients {
		wg.Go(func() {
			rnd := rand.New(rand.NewPCG(*seed, uint64(c)))
			st := clientState{base: roots[c%len(roots)]}
			for runCtx.Err() == nil && left.Add(-1) >= 0 {
				l.step(runCtx, rnd, weights, &st)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	l.report(stdout, elapsed)
	if l.total(func(s *opStats) int { return len(s.lat) }) == 0 {
		return errors.New("no operation succeeded: see the errors above")
	}
	return nil
}

// demoUserToken asks a --demo server's issuer for a demo user's token.
func demoUserToken(ctx context.Context, client *http.Client, base, user string) (string, error) {
	form := url.Values{"grant_type": {"urn:carnet:params:oauth:grant-type:demo-user"}, "user": {user}, "ttl": {"86400"}}
	req, err := http.NewRequestWithContext(ctx, "POST", base+demoIssuerPath+"/token", strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("no Carnet server answers at %s (%v)", base, err)
	}
	defer res.Body.Close()
	var body struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(io.LimitReader(res.Body, 1<<20)).Decode(&body); err != nil || res.StatusCode != 200 || body.AccessToken == "" {
		return "", fmt.Errorf("%s gave no token for the demo user %s (%s): against a server without --demo, give --software-token and --professional-token", base, user, res.Status)
	}
	return body.AccessToken, nil
}

// parseMix reads "file=1,search=2,read=2".
func parseMix(s string) (map[string]int, error) {
	w := map[string]int{}
	for part := range strings.SplitSeq(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		n, err := strconv.Atoi(v)
		if !ok || err != nil || n < 0 || !slices.Contains([]string{"file", "search", "read"}, k) {
			return nil, fmt.Errorf("--mix %q: weights like file=1,search=2,read=2", s)
		}
		w[k] = n
	}
	if w["file"]+w["search"]+w["read"] == 0 {
		return nil, fmt.Errorf("--mix %q: some weight must be positive", s)
	}
	return w, nil
}

// loadPool is the synthetic data: records, and documents of the GP (the
// demo software files for the GP's practice) to file into them. A document
// is filed again under a new uniqueId (rewritten in the CDA and the
// metadata) when the run needs more filings than the pool holds.
type loadPool struct {
	patients []carnet.Identifier
	docs     []synth.Document
	byPat    [][]int // indexes of docs, by patient
	next     atomic.Int64
	seed     uint64
}

func newLoadPool(seed uint64, patients int, large bool) (*loadPool, error) {
	per := max(6, min(600, 2400/patients)) // about a third are the GP's
	ds := synth.Generate(synth.Options{Seed: seed, Patients: patients, DocsPerPatient: per, Professionals: len(synth.RosterLogins()), LargeDocs: large})
	p := &loadPool{seed: seed, byPat: make([][]int, patients)}
	for _, pat := range ds.Patients {
		p.patients = append(p.patients, pat.INS)
	}
	for _, d := range ds.Documents {
		if ds.Professionals[d.Author].Login != "gp" {
			continue
		}
		p.byPat[d.Patient] = append(p.byPat[d.Patient], len(p.docs))
		p.docs = append(p.docs, d)
	}
	// Records the GP wrote nothing for are left out.
	var keep []carnet.Identifier
	var byPat [][]int
	for i, ds := range p.byPat {
		if len(ds) > 0 {
			keep, byPat = append(keep, p.patients[i]), append(byPat, ds)
		}
	}
	if len(keep) == 0 {
		return nil, errors.New("the synthetic data has no document of the GP: raise --patients")
	}
	p.patients, p.byPat = keep, byPat
	return p, nil
}

func (p *loadPool) meanKB() float64 {
	n := 0
	for _, d := range p.docs {
		n += len(d.Content)
	}
	return float64(n) / float64(len(p.docs)) / 1024
}

// take returns the next filing for patient pi: a pool document under a
// uniqueId of its own.
func (p *loadPool) take(pi int) carnet.SubmittedDocument {
	n := p.next.Add(1) - 1
	ds := p.byPat[pi]
	d := p.docs[ds[int(n)%len(ds)]]
	// Always an id of its own: the pool's documents are filed again and
	// again.
	uid := d.UniqueID + "." + strconv.FormatInt(n+1, 10)
	content := bytes.ReplaceAll(d.Content, []byte(`"`+d.UniqueID+`"`), []byte(`"`+uid+`"`))
	return carnet.SubmittedDocument{UniqueID: uid, Meta: d.Meta, Content: content}
}

// loader is the shared state of the clients.
type loader struct {
	bases      []string
	client     *http.Client
	soft, pro  string
	pool       *loadPool
	gp         carnet.Identifier // the professional: the pool's author
	publish    string
	declared   []atomic.Bool  // by patient: the GP's care relationship declared
	filed      []atomic.Int64 // by patient: documents acknowledged
	mu         sync.Mutex
	stats      map[string]*opStats
	errSamples []string
}

type opStats struct {
	lat    []time.Duration
	errors int
}

// clientState is what one client remembers: the documents its last
// search returned, to read.
type clientState struct {
	base  string   // the node this client talks to
	found []string // attachment URLs
}

func (l *loader) step(ctx context.Context, rnd *rand.Rand, w map[string]int, st *clientState) {
	op := pickOp(rnd, w)
	pi := rnd.IntN(len(l.pool.patients))
	if op != "file" && l.filed[pi].Load() == 0 {
		// Nothing filed there yet: search a record that has something,
		// or file first.
		op = "file"
		for k := range len(l.pool.patients) {
			if j := (pi + k) % len(l.pool.patients); l.filed[j].Load() > 0 {
				pi, op = j, pickOp(rnd, map[string]int{"search": w["search"], "read": w["read"]})
				break
			}
		}
	}
	switch op {
	case "file":
		if l.file(ctx, st.base, pi) {
			l.filed[pi].Add(1)
		}
	case "search", "read":
		if l.declared[pi].CompareAndSwap(false, true) && !l.consent(ctx, st.base, pi) {
			l.declared[pi].Store(false) // another client tries again
		}
		if op == "read" && len(st.found) > 0 {
			l.read(ctx, st.base, st.found[rnd.IntN(len(st.found))])
			return
		}
		st.found = l.search(ctx, st.base, pi)
	}
}

func pickOp(rnd *rand.Rand, w map[string]int) string {
	total := w["file"] + w["search"] + w["read"]
	if total == 0 {
		return "search"
	}
	n := rnd.IntN(total)
	for _, op := range []string{"file", "search", "read"} {
		if n < w[op] {
			return op
		}
		n -= w[op]
	}
	return "search"
}

func (l *loader) file(ctx context.Context, base string, pi int) bool {
	ins := l.pool.patients[pi]
	d := l.pool.take(pi)
	sub := carnet.Submission{Patient: ins, Set: carnet.SubmissionSet{UniqueID: d.UniqueID + ".9", SourceID: "1.2.250.1.999.2", ContentType: d.Meta.Type},
		Documents: []carnet.SubmittedDocument{d}}
	b := mhd.ProvideBundle(sub)
	path, want := "/", 200
	var res any = b
	if l.publish == "iti105" {
		var dr fhir.DocumentReference
		if err := json.Unmarshal(b.Entry[1].Resource, &dr); err != nil {
			l.fail("file", err.Error())
			return false
		}
		dr.Content[0].Attachment.URL, dr.Content[0].Attachment.Data = "", d.Content
		path, want, res = "/DocumentReference", 201, dr
	}
	body, err := json.Marshal(res)
	if err != nil {
		l.fail("file", err.Error())
		return false
	}
	_, ok := l.do(ctx, base, "file", "POST", path, l.soft, "application/fhir+json", body, want)
	return ok
}

func (l *loader) consent(ctx context.Context, base string, pi int) bool {
	ins := l.pool.patients[pi]
	c := map[string]any{
		"resourceType": "Consent", "status": "active",
		"patient":    map[string]any{"identifier": map[string]any{"system": ins.System, "value": ins.Value}},
		"policyRule": map[string]any{"coding": []any{map[string]any{"system": "https://carnet-sante.fr/fhir/CodeSystem/consent-rule", "code": "care-team"}}},
		"provision": map[string]any{"type": "permit", "actor": []any{map[string]any{
			"role":      map[string]any{"coding": []any{map[string]any{"system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType", "code": "IRCP"}}},
			"reference": map[string]any{"identifier": map[string]any{"system": l.gp.System, "value": l.gp.Value}}}}},
	}
	body, _ := json.Marshal(c)
	_, ok := l.do(ctx, base, "consent", "POST", "/Consent", l.pro, "application/fhir+json", body, 201)
	return ok
}

func (l *loader) search(ctx context.Context, base string, pi int) []string {
	ins := l.pool.patients[pi]
	q := url.Values{"patient.identifier": {ins.System + "|" + ins.Value}, "status": {"current"}, "_count": {"20"}}
	b, ok := l.do(ctx, base, "search", "GET", "/DocumentReference?"+q.Encode(), l.pro, "", nil, 200)
	if !ok {
		return nil
	}
	var bundle struct {
		Entry []struct {
			Resource struct {
				Content []struct {
					Attachment struct {
						URL string `json:"url"`
					} `json:"attachment"`
				} `json:"content"`
			} `json:"resource"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(b, &bundle); err != nil {
		l.fail("search", "unreadable bundle: "+err.Error())
		return nil
	}
	var urls []string
	for _, e := range bundle.Entry {
		if len(e.Resource.Content) > 0 && e.Resource.Content[0].Attachment.URL != "" {
			urls = append(urls, e.Resource.Content[0].Attachment.URL)
		}
	}
	return urls
}

func (l *loader) read(ctx context.Context, base, u string) {
	path := u
	if i := strings.Index(u, "/Binary/"); i >= 0 {
		path = u[i:] // from this client's node, whichever named it
	}
	l.do(ctx, base, "read", "GET", path, l.pro, "", nil, 200)
}

// do sends one request and records its latency under op when it answers
// want; any other answer counts as an error.
func (l *loader) do(ctx context.Context, base, op, method, path, token, ctype string, body []byte, want int) ([]byte, bool) {
	req, err := http.NewRequestWithContext(ctx, method, base+path, bytes.NewReader(body))
	if err != nil {
		l.fail(op, err.Error())
		return nil, false
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	start := time.Now()
	res, err := l.client.Do(req)
	if err != nil {
		if ctx.Err() == nil {
			l.fail(op, err.Error())
		}
		return nil, false
	}
	b, err := io.ReadAll(io.LimitReader(res.Body, 64<<20))
	res.Body.Close()
	took := time.Since(start)
	if err != nil || res.StatusCode != want {
		if ctx.Err() == nil {
			l.fail(op, fmt.Sprintf("%s %s: %d %.200s", method, strings.SplitN(path, "?", 2)[0], res.StatusCode, b))
		}
		return nil, false
	}
	l.mu.Lock()
	l.stats[op].lat = append(l.stats[op].lat, took)
	l.mu.Unlock()
	return b, true
}

func (l *loader) fail(op, msg string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.stats[op].errors++
	if len(l.errSamples) < 5 {
		l.errSamples = append(l.errSamples, op+": "+msg)
	}
}

func (l *loader) total(f func(*opStats) int) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, s := range l.stats {
		n += f(s)
	}
	return n
}

func (l *loader) report(w io.Writer, elapsed time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(w, "\n%-8s %8s %7s %9s %9s %9s %9s %9s\n", "op", "ok", "errors", "per s", "p50", "p90", "p99", "max")
	ok := 0
	for _, op := range []string{"file", "consent", "search", "read"} {
		s := l.stats[op]
		if len(s.lat) == 0 && s.errors == 0 {
			continue
		}
		ok += len(s.lat)
		slices.Sort(s.lat)
		fmt.Fprintf(w, "%-8s %8d %7d %9.1f %9s %9s %9s %9s\n", op, len(s.lat), s.errors,
			float64(len(s.lat))/elapsed.Seconds(), pct(s.lat, 50), pct(s.lat, 90), pct(s.lat, 99), pct(s.lat, 100))
	}
	fmt.Fprintf(w, "%-8s %8d %7s %9.1f   in %s\n", "all", ok, "", float64(ok)/elapsed.Seconds(), elapsed.Round(time.Millisecond))
	for _, e := range l.errSamples {
		fmt.Fprintln(w, "error:", e)
	}
}

// pct is the p-th percentile of sorted latencies (nearest rank).
func pct(sorted []time.Duration, p int) string {
	if len(sorted) == 0 {
		return "-"
	}
	i := (len(sorted)*p + 99) / 100
	i = min(max(i-1, 0), len(sorted)-1)
	d := sorted[i]
	switch {
	case d < time.Millisecond:
		return fmt.Sprintf("%dµs", d.Microseconds())
	case d < 10*time.Second:
		return fmt.Sprintf("%.1fms", float64(d.Microseconds())/1000)
	}
	return d.Round(time.Millisecond).String()
}
