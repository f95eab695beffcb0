package httpapi_test

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	carnet "github.com/carnet-sante/carnet"
	"github.com/carnet-sante/carnet/fhir"
	"github.com/carnet-sante/carnet/httpapi"
	"github.com/carnet-sante/carnet/internal/cputime"
	"github.com/carnet-sante/carnet/internal/testenv"
	"github.com/carnet-sante/carnet/postgres"
	"github.com/carnet-sante/carnet/sqlite"
	"github.com/carnet-sante/carnet/synth"
)

// Searches whose cost does not grow with the record (issue 15): records of
// several sizes in one store, searched and read by a GP of their care team
// with 8 concurrent clients, as a hospital's software opens charts.
//
//	go test ./httpapi -run '^$' -bench 'RecordSearch|RecordRetrieve|RecordCard' -benchtime 2000x
//
// CARNET_BENCH_RECORDS lists the record sizes (default 10,30,300,3000);
// CARNET_BENCH_STORE_DOCS is the store's size, the records included
// (default 10,000: the rest in patients of 1,000 documents).
//
// The store is filled the way Carnet fills it: every document filed
// through the Service (record.Service.Provide, submissions of 50 by a
// producing software, CDA read and cross-checked, items extracted,
// everything sealed, tokens, full text, care team, audit), with
// CARNET_BENCH_FILL_WORKERS (default 4) filings at a time on different
// records. With CARNET_BENCH_STORE_DIR the filled store is kept and
// opened again by the next run: SQLite in DIR/sqlite-<docs>-<records>/
// (carnet.db and its key files), PostgreSQL in the database named by
// CARNET_BENCH_STORE_POSTGRES (a DSN; create the database first) with its
// key files in DIR/postgres-<docs>-<records>/. A fill that stopped is
// resumed: the records filed whole are listed in fill.json there, and a
// record filed in part is filed again, its submissions answered as
// replays. CARNET_BENCH_FILL=0 measures a kept store as a stopped fill
// left it.

type recordFixture struct {
	env   *testenv.Env
	token string // the GP's, a member of every record's care team
	recs  []benchRecord
}

type benchRecord struct {
	Size    int
	INS     carnet.Identifier
	Type    carnet.Coding // the record's most common type
	TypeN   int
	binary  []string // attachment URLs of its first documents
	current int      // its current documents
}

// fillState is what a kept store holds (fill.json beside it).
type fillState struct {
	Records   []int
	StoreDocs int
	Recs      []benchRecord
	// Done are the records filed whole: "r<i>" for record i, "p<n>" for
	// patient n of the rest of the store.
	Done     map[string]bool
	Complete bool
	Filed    int           // documents filed, all runs together
	Took     time.Duration // the fills' time, all runs together
	// Retries are the filings sent again after the store answered
	// KindUnavailable (see fillStore).
	Retries int
}

var (
	recordFixtures   = map[string]*recordFixture{}
	recordFixturesMu sync.Mutex
)

func benchEnvInts(name string, def []int) []int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	var out []int
	for _, s := range strings.Split(v, ",") {
		if n, err := strconv.Atoi(strings.TrimSpace(s)); err == nil && n > 0 {
			out = append(out, n)
		}
	}
	if len(out) == 0 {
		return def
	}
	return out
}

// keptBackend opens the store kept in dir (SQLite) or the database
// CARNET_BENCH_STORE_POSTGRES names, as it was left.
func keptBackend(b *testing.B, be testenv.Backend, dir string) testenv.Backend {
	if be.Name == "sqlite" {
		return testenv.Backend{Name: be.Name, Open: func(t testing.TB) (carnet.Store, string, *sql.DB) {
			path := filepath.Join(dir, "carnet.db")
			s, err := sqlite.Open(context.Background(), path)
			if err != nil {
				t.Fatalf("sqlite.Open: %v", err)
			}
			db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)")
			if err != nil {
				t.Fatal(err)
			}
			return s, dir, db
		}}
	}
	dsn := os.Getenv("CARNET_BENCH_STORE_POSTGRES")
	if dsn == "" {
		b.Skip("CARNET_BENCH_STORE_DIR keeps a PostgreSQL store in the database CARNET_BENCH_STORE_POSTGRES names: set it too")
	}
	return testenv.Backend{Name: be.Name, Open: func(t testing.TB) (carnet.Store, string, *sql.DB) {
		s, err := postgres.Open(context.Background(), dsn)
		if err != nil {
			t.Fatalf("postgres.Open: %v", err)
		}
		db, err := sql.Open("pgx", dsn)
		if err != nil {
			t.Fatal(err)
		}
		return s, "", db
	}}
}

func recordFixtureFor(b *testing.B, be testenv.Backend) *recordFixture {
	recordFixturesMu.Lock()
	defer recordFixturesMu.Unlock()
	if f := recordFixtures[be.Name]; f != nil {
		return f
	}
	sizes := benchEnvInts("CARNET_BENCH_RECORDS", []int{10, 30, 300, 3000})
	storeDocs := benchEnvInts("CARNET_BENCH_STORE_DOCS", []int{10_000})[0]
	st := &fillState{Records: sizes, StoreDocs: storeDocs, Done: map[string]bool{}}
	opts := testenv.Options{AccessMatrix: testenv.HasShared(b)}
	statePath := ""
	if root := os.Getenv("CARNET_BENCH_STORE_DIR"); root != "" {
		var name []string
		for _, n := range sizes {
			name = append(name, strconv.Itoa(n))
		}
		dir := filepath.Join(root, fmt.Sprintf("%s-%d-%s", be.Name, storeDocs, strings.Join(name, "_")))
		if err := os.MkdirAll(dir, 0o700); err != nil {
			b.Fatal(err)
		}
		be, opts.KeyDir = keptBackend(b, be, dir), dir
		statePath = filepath.Join(dir, "fill.json")
		if data, err := os.ReadFile(statePath); err == nil {
			if err := json.Unmarshal(data, st); err != nil {
				b.Fatalf("%s: %v", statePath, err)
			}
		}
	}
	env := testenv.New(fixtureTB{b}, be, opts)
	switch {
	case !st.Complete && os.Getenv("CARNET_BENCH_FILL") == "0":
		// Measure the kept store as a stopped fill left it: a record
		// filed in part is measured at the size it has (its type
		// search, whose type is known once it is generated whole, is
		// skipped).
		for i, n := range st.Records {
			if i >= len(st.Recs) {
				st.Recs = append(st.Recs, benchRecord{})
			}
			if st.Recs[i].INS.Value == "" {
				pats, _ := synth.Options{Seed: 15, Patients: 11 + i, DocsPerPatient: n}.People()
				st.Recs[i] = benchRecord{Size: n, INS: pats[10+i].INS}
			}
		}
		b.Logf("%s: the fill is incomplete (CARNET_BENCH_FILL=0): measured as it is", be.Name)
		if be.Name == "postgres" {
			if _, err := env.DB.Exec("ANALYZE"); err != nil {
				b.Fatal(err)
			}
		}
	case !st.Complete:
		fillStore(b, env, st, statePath)
		if be.Name == "postgres" {
			if _, err := env.DB.Exec("ANALYZE"); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Logf("%s: store of %d documents (records of %v), filed in %s (%.0f docs/s)%s", be.Name, st.Filed, sizes,
		st.Took.Round(time.Second), float64(st.Filed)/st.Took.Seconds(), storeSize(env, be.Name))
	_, pros := synth.Options{Seed: 15, Patients: 1}.People()
	var gp carnet.Author
	for _, p := range pros {
		if p.Login == "gp" {
			gp = p.Author
		}
	}
	f := &recordFixture{env: env, recs: st.Recs}
	f.token = env.ProfessionalToken(b, gp, "")
	c := newClient(b, env).as(f.token)
	for i := range f.recs {
		r := &f.recs[i]
		// The first page of 200 and the accurate total: not every page
		// of a record of 30,000.
		res := c.get("/DocumentReference?" + insQuery(r.INS) + "&status=current&_count=200&_total=accurate")
		if res.Status != 200 {
			b.Fatalf("search: %d %s", res.Status, res.Body)
		}
		page := decode[fhir.Bundle](b, res)
		if page.Total != nil {
			r.current = *page.Total
		}
		if r.current == 0 && st.Complete {
			b.Fatalf("%s: the kept store has no document of a record it lists (fill.json): its database was dropped or replaced? remove %s to fill it again", be.Name, filepath.Dir(statePath))
		}
		for _, e := range page.Entry {
			var dr fhir.DocumentReference
			if json.Unmarshal(e.Resource, &dr) == nil && len(dr.Content) > 0 {
				r.binary = append(r.binary, dr.Content[0].Attachment.URL)
			}
		}
	}
	recordFixtures[be.Name] = f
	return f
}

// storeSize says how large the store is on disk.
func storeSize(env *testenv.Env, backend string) string {
	var n int64
	if backend == "postgres" {
		if err := env.DB.QueryRow("SELECT pg_database_size(current_database())").Scan(&n); err != nil {
			return ""
		}
	} else {
		for _, f := range []string{"carnet.db", "carnet.db-wal"} {
			if fi, err := os.Stat(filepath.Join(env.Dir, f)); err == nil {
				n += fi.Size()
			}
		}
	}
	return fmt.Sprintf(", %.1f GB on disk", float64(n)/1e9)
}

// fillSub is one submission of the fill; done, when set, is called once it
// is filed: the last of a record.
type fillSub struct {
	ins  carnet.Identifier
	docs []synth.Document
	gp   *carnet.Author
	done func()
}

// fillStore files what st lacks: the records (patients 10… of dataset 15,
// each with its first documents, the GP named in every submission, so in
// the care team), then the rest of the store (patients 10… of dataset 16,
// 1,000 documents each), saving st after each record filed whole.
func fillStore(b *testing.B, env *testenv.Env, st *fillState, statePath string) {
	ctx := context.Background()
	workers := benchEnvInts("CARNET_BENCH_FILL_WORKERS", []int{4})[0]
	var mu sync.Mutex // st
	start, took, filed := time.Now(), st.Took, st.Filed
	save := func(done string, n int) {
		mu.Lock()
		defer mu.Unlock()
		if done != "" {
			st.Done[done] = true
		}
		if st.Filed/10_000 != (st.Filed+n)/10_000 {
			fmt.Fprintf(os.Stderr, "fill: %d documents, %s\n", st.Filed+n, time.Since(start).Round(time.Second))
		}
		st.Filed += n
		st.Took = took + time.Since(start)
		if statePath == "" {
			return
		}
		data, _ := json.MarshalIndent(st, "", "  ")
		if err := os.WriteFile(statePath+".new", data, 0o600); err != nil {
			b.Error(err)
		} else if err := os.Rename(statePath+".new", statePath); err != nil {
			b.Error(err)
		}
	}
	// Worker 0 files the records, one after the other; the others the
	// rest, a patient's submissions always to the same worker, in order.
	chans := make([]chan fillSub, max(workers, 1))
	for i := range chans {
		chans[i] = make(chan fillSub, 64)
	}
	var wg sync.WaitGroup
	var failed error // under mu
	for _, ch := range chans {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for s := range ch {
				mu.Lock()
				stop := failed != nil
				mu.Unlock()
				if stop {
					continue
				}
				if len(s.docs) == 0 {
					s.done()
					continue
				}
				var batch []carnet.SubmittedDocument
				for _, d := range s.docs {
					batch = append(batch, carnet.SubmittedDocument{UniqueID: d.UniqueID, Meta: d.Meta, Content: d.Content, Path: "bench"})
				}
				if s.gp != nil {
					batch[0].Meta.Authors = append(slices.Clone(batch[0].Meta.Authors), *s.gp)
				}
				sub := carnet.Submission{Patient: s.ins, Set: carnet.SubmissionSet{UniqueID: batch[0].UniqueID + ".set", SourceID: "1.2.250.1.999.2", ContentType: batch[0].Meta.Type}, Documents: batch}
				// A filing the store could not serialise after its own
				// retries (KindUnavailable: PostgreSQL, several filings
				// at a time) is sent again, as a client would; the
				// count is kept in fill.json.
				res, err := env.Service.Provide(ctx, testenv.SoftwareFiling("bench", sub), sub)
				for try := 0; carnet.IsKind(err, carnet.KindUnavailable) && try < 20; try++ {
					mu.Lock()
					st.Retries++
					mu.Unlock()
					time.Sleep(time.Second)
					res, err = env.Service.Provide(ctx, testenv.SoftwareFiling("bench", sub), sub)
				}
				if err != nil {
					mu.Lock()
					failed = cmp.Or(failed, err)
					mu.Unlock()
					continue
				}
				if res.Replayed { // filed by a stopped fill
					save("", 0)
				} else {
					save("", len(batch))
				}
				if s.done != nil {
					s.done()
				}
			}
		}()
	}
	rest := func(n int) chan fillSub { return chans[0] }
	if len(chans) > 1 {
		rest = func(n int) chan fillSub { return chans[1+n%(len(chans)-1)] }
	}
	// send cuts a patient's documents into submissions of 50.
	send := func(ch chan fillSub, ins carnet.Identifier, docs []synth.Document, gp *carnet.Author, done func()) {
		for i := 0; i < len(docs); i += 50 {
			s := fillSub{ins: ins, docs: docs[i:min(i+50, len(docs))], gp: gp}
			if i+50 >= len(docs) {
				s.done = done
			}
			ch <- s
		}
	}
	var gen sync.WaitGroup
	var genErr [2]error
	gen.Add(2)
	go func() { // the records
		defer gen.Done()
		if len(st.Recs) < len(st.Records) {
			st.Recs = make([]benchRecord, len(st.Records))
		}
		for i, n := range st.Records {
			if st.Done[fmt.Sprintf("r%d", i)] {
				continue
			}
			o := synth.Options{Seed: 15, Patients: 11 + i, DocsPerPatient: n, From: 10 + i}
			pats, pros := o.People()
			var gp carnet.Author
			for _, p := range pros {
				if p.Login == "gp" {
					gp = p.Author
				}
			}
			r := benchRecord{Size: n, INS: pats[10+i].INS}
			types := map[carnet.Coding]int{}
			var docs []synth.Document
			err := o.EachDocument(func(d synth.Document) error {
				types[d.Meta.Type]++
				if types[d.Meta.Type] > r.TypeN {
					r.Type, r.TypeN = d.Meta.Type, types[d.Meta.Type]
				}
				docs = append(docs, d)
				if len(docs) == 50 {
					send(chans[0], r.INS, docs, &gp, nil)
					docs = nil
				}
				return nil
			})
			if err != nil {
				genErr[0] = err
				return
			}
			mu.Lock()
			st.Recs[i] = r
			mu.Unlock()
			key := fmt.Sprintf("r%d", i)
			last := func() { save(key, 0) }
			if len(docs) > 0 {
				send(chans[0], r.INS, docs, &gp, last)
			} else { // after its last submission
				chans[0] <- fillSub{done: last}
			}
		}
	}()
	go func() { // the rest of the store
		defer gen.Done()
		sum := 0
		for _, n := range st.Records {
			sum += n
		}
		patients := (st.StoreDocs - sum) / 1000
		if patients <= 0 {
			return
		}
		from := 10
		for from < 10+patients && st.Done[fmt.Sprintf("p%d", from)] {
			from++
		}
		o := synth.Options{Seed: 16, Patients: 10 + patients, DocsPerPatient: 1000, From: from}
		pats, _ := o.People()
		var cur []synth.Document
		flush := func() {
			p := cur[0].Patient
			key := fmt.Sprintf("p%d", p)
			send(rest(p), pats[p].INS, cur, nil, func() { save(key, 0) })
			cur = nil
		}
		genErr[1] = o.EachDocument(func(d synth.Document) error {
			if st.Done[fmt.Sprintf("p%d", d.Patient)] {
				return nil
			}
			if len(cur) > 0 && d.Patient != cur[0].Patient {
				flush()
			}
			cur = append(cur, d)
			return nil
		})
		if len(cur) > 0 {
			flush()
		}
	}()
	gen.Wait()
	for _, ch := range chans {
		close(ch)
	}
	wg.Wait()
	for _, err := range append(genErr[:], failed) {
		if err != nil {
			b.Fatal(err)
		}
	}
	st.Complete = true
	save("", 0)
	b.Logf("filled %d documents in %s", st.Filed-filed, time.Since(start).Round(time.Second))
}

// concurrently is concurrently, and on PostgreSQL also reports the
// database server's CPU time per call (db-cpu-µs/req): its backends
// serving this database, read from /proc (the server runs on this host).
func (f *recordFixture) concurrently(b *testing.B, clients int, fn func(httpc *http.Client, i int)) {
	if f.env.Dir != "" || f.env.DB == nil { // SQLite: in the process, in cpu-µs/req
		concurrently(b, clients, fn)
		return
	}
	d0 := f.dbCPU()
	concurrently(b, clients, fn)
	used := time.Duration(0)
	for pid, t := range f.dbCPU() {
		used += t - d0[pid]
	}
	b.ReportMetric(float64(used.Microseconds())/float64(b.N), "db-cpu-µs/req")
}

// dbCPU is the CPU time of each PostgreSQL backend connected to the
// fixture's database.
func (f *recordFixture) dbCPU() map[int]time.Duration {
	out := map[int]time.Duration{}
	rows, err := f.env.DB.Query("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
	if err != nil {
		return out
	}
	defer rows.Close()
	for rows.Next() {
		var pid int
		if rows.Scan(&pid) != nil {
			continue
		}
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		// utime and stime are fields 14 and 15, in clock ticks (100/s),
		// after the command name in parentheses.
		fields := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+1:]))
		if len(fields) > 13 {
			u, _ := strconv.Atoi(fields[11])
			s, _ := strconv.Atoi(fields[12])
			out[pid] = time.Duration(u+s) * 10 * time.Millisecond
		}
	}
	return out
}

// concurrently runs b.N calls of fn over clients goroutines and reports
// the latency percentiles, the throughput and the CPU time per call (client
// and server: they share the process). On a shared machine the latencies
// measure the neighbours too; the CPU time much less so.
func concurrently(b *testing.B, clients int, fn func(httpc *http.Client, i int)) {
	httpc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients}}
	var mu sync.Mutex
	next := 0
	lat := make([]time.Duration, 0, b.N)
	resetPeakRSS()
	b.ResetTimer()
	start, cpu0 := time.Now(), cputime.Process()
	var wg sync.WaitGroup
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				i := next
				next++
				mu.Unlock()
				if i >= b.N {
					return
				}
				t0 := time.Now()
				fn(httpc, i)
				d := time.Since(t0)
				mu.Lock()
				lat = append(lat, d)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	elapsed, cpu := time.Since(start), cputime.Process()-cpu0
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "req/s")
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/req")
	if kb := peakRSSKB(); kb > 0 {
		b.ReportMetric(float64(kb)/1024, "peak-RSS-MB")
	}
	reportLatency(b, lat)
}

// resetPeakRSS starts the process's peak resident set size (VmHWM) again
// from its current size (Linux: clear_refs 5), so that each benchmark
// reports its own peak.
func resetPeakRSS() { os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

// peakRSSKB is the process's peak resident set size since the last
// resetPeakRSS, in KiB (0 where /proc does not tell).
func peakRSSKB() int {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			return n
		}
	}
	return 0
}

func (f *recordFixture) get(b *testing.B, httpc *http.Client, u string) {
	req, _ := http.NewRequest("GET", u, nil)
	req.Header.Set("Authorization", "Bearer "+f.token)
	res, err := httpc.Do(req)
	if err != nil {
		b.Errorf("GET %s: %v", u, err)
		return
	}
	defer res.Body.Close()
	var buf [32 << 10]byte
	for {
		if _, err := res.Body.Read(buf[:]); err != nil {
			break
		}
	}
	if res.StatusCode != 200 {
		b.Errorf("GET %s: %d", u, res.StatusCode)
	}
}

// BenchmarkRecordSearch: ITI-67 of one record by a GP of its care team,
// 8 clients, the default page of 20: patient + status + the record's most
// common type ("type"), and patient + status where every current document
// matches ("all").
func BenchmarkRecordSearch(b *testing.B) {
	benchBackends(b, func(b *testing.B, be testenv.Backend) {
		f := recordFixtureFor(b, be)
		for _, r := range f.recs {
			for _, q := range []string{"type", "all"} {
				u := f.env.URL + "/DocumentReference?" + insQuery(r.INS) + "&status=current"
				matches := r.current
				if q == "type" && r.TypeN == 0 {
					continue // a record filed in part (CARNET_BENCH_FILL=0)
				}
				if q == "type" {
					u += "&type=" + url.QueryEscape(r.Type.System+"|"+r.Type.Code)
					matches = r.TypeN
				}
				b.Run(fmt.Sprintf("record=%d/%s", r.Size, q), func(b *testing.B) {
					f.concurrently(b, 8, func(httpc *http.Client, _ int) { f.get(b, httpc, u) })
					b.ReportMetric(float64(matches), "matches")
				})
			}
		}
	})
}

// BenchmarkRecordRetrieve: ITI-68 of a random document of each record by
// the GP, 8 clients.
func BenchmarkRecordRetrieve(b *testing.B) {
	benchBackends(b, func(b *testing.B, be testenv.Backend) {
		f := recordFixtureFor(b, be)
		for _, r := range f.recs {
			b.Run(fmt.Sprintf("record=%d", r.Size), func(b *testing.B) {
				if len(r.binary) == 0 {
					b.Skip("no document visible")
				}
				pick := make([]string, b.N)
				rnd := rand.New(rand.NewPCG(uint64(r.Size), 2))
				for i := range pick {
					pick[i] = r.binary[rnd.IntN(len(r.binary))]
				}
				f.concurrently(b, 8, func(httpc *http.Client, i int) { f.get(b, httpc, pick[i]) })
			})
		}
	})
}

// BenchmarkRecordCard: the pastille's CDS Hooks card of each record, as a
// GP of its care team opens it, 8 clients (client JWTs minted before the
// clock starts). The first card of a record, timed alone before, is
// reported as first-ms: it reads the record's point-of-care view.
func BenchmarkRecordCard(b *testing.B) {
	benchBackends(b, func(b *testing.B, be testenv.Backend) {
		f := recordFixtureFor(b, be)
		_, pros := synth.Options{Seed: 15, Patients: 1}.People()
		var gp carnet.Author
		for _, p := range pros {
			if p.Login == "gp" {
				gp = p.Author
			}
		}
		u := f.env.URL + "/cds-services/" + httpapi.PastilleService
		for _, r := range f.recs {
			body, _ := json.Marshal(map[string]any{
				"hook": "patient-view", "hookInstance": "bench",
				"fhirAuthorization": map[string]any{"access_token": f.token, "token_type": "Bearer"},
				"context":           map[string]any{"userId": "Practitioner/" + gp.ID.Value, "patientId": r.INS.System + "|" + r.INS.Value},
			})
			first := time.Duration(0)
			b.Run(fmt.Sprintf("record=%d", r.Size), func(b *testing.B) {
				jwts := make([]string, b.N+1)
				for i := range jwts {
					j, err := f.env.Issuer.Issue("", map[string]any{"sub": "lgc", "jti": carnet.NewID()}, u, 4*time.Minute) // at most 5 minutes (CDS Hooks)
					if err != nil {
						b.Fatal(err)
					}
					jwts[i] = j
				}
				call := func(httpc *http.Client, jwt string) {
					req, _ := http.NewRequest("POST", u, strings.NewReader(string(body)))
					req.Header.Set("Content-Type", "application/json")
					req.Header.Set("Authorization", "Bearer "+jwt)
					res, err := httpc.Do(req)
					if err != nil {
						b.Errorf("card: %v", err)
						return
					}
					io.Copy(io.Discard, res.Body)
					res.Body.Close()
					if res.StatusCode != 200 {
						b.Errorf("card: %d", res.StatusCode)
					}
				}
				if first == 0 {
					t0 := time.Now()
					call(http.DefaultClient, jwts[b.N])
					first = time.Since(t0)
				}
				f.concurrently(b, 8, func(httpc *http.Client, i int) { call(httpc, jwts[i]) })
				b.ReportMetric(float64(first.Microseconds())/1000, "first-ms")
			})
		}
	})
}

// BenchmarkRecordItems: a QEDm search (Observation, the default page) of
// each record by the GP, 8 clients: the items whose source document the
// GP may read; then the same with category=laboratory (a token most of
// the record's Observations have).
func BenchmarkRecordItems(b *testing.B) {
	benchBackends(b, func(b *testing.B, be testenv.Backend) {
		f := recordFixtureFor(b, be)
		for _, r := range f.recs {
			u := f.env.URL + "/Observation?" + insQuery(r.INS)
			b.Run(fmt.Sprintf("record=%d", r.Size), func(b *testing.B) {
				f.concurrently(b, 8, func(httpc *http.Client, _ int) { f.get(b, httpc, u) })
			})
		}
		for _, r := range f.recs {
			u := f.env.URL + "/Observation?" + insQuery(r.INS) + "&category=laboratory&_count=20"
			b.Run(fmt.Sprintf("record=%d,category", r.Size), func(b *testing.B) {
				f.concurrently(b, 8, func(httpc *http.Client, _ int) { f.get(b, httpc, u) })
			})
		}
	})
}
