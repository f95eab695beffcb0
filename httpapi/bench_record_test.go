package httpapi_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	carnet "github.com/carnet-sante/carnet"
	"github.com/carnet-sante/carnet/internal/cputime"
	"github.com/carnet-sante/carnet/internal/testenv"
	"github.com/carnet-sante/carnet/synth"
)

// Searches whose cost does not grow with the record (issue 15): records of
// several sizes in one store, searched and read by a GP of their care team
// with 8 concurrent clients, as a hospital's software opens charts.
//
//	go test ./httpapi -run '^$' -bench 'RecordSearch|RecordRetrieve' -benchtime 2000x
//
// CARNET_BENCH_RECORDS lists the record sizes (default 10,30,300,3000);
// CARNET_BENCH_STORE_DOCS is the store's size, the records included
// (default 10,000: the rest in patients of 1,000 documents).

type recordFixture struct {
	env   *testenv.Env
	token string // the GP's, a member of every record's care team
	recs  []benchRecord
}

type benchRecord struct {
	size    int
	ins     carnet.Identifier
	typ     carnet.Coding // the record's most common type
	typN    int
	binary  []string // attachment URLs of its first documents
	current int      // its current documents
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

func recordFixtureFor(b *testing.B, be testenv.Backend) *recordFixture {
	recordFixturesMu.Lock()
	defer recordFixturesMu.Unlock()
	if f := recordFixtures[be.Name]; f != nil {
		return f
	}
	sizes := benchEnvInts("CARNET_BENCH_RECORDS", []int{10, 30, 300, 3000})
	storeDocs := benchEnvInts("CARNET_BENCH_STORE_DOCS", []int{10_000})[0]
	env := testenv.New(fixtureTB{b}, be, testenv.Options{AccessMatrix: testenv.HasShared(b)})
	ctx := context.Background()
	start := time.Now()
	filed := 0
	// file sends a patient's documents in submissions of 50; with gp set,
	// the first document of each names the GP, who joins the care team.
	file := func(ins carnet.Identifier, docs []synth.Document, gp *carnet.Author) {
		for i := 0; i < len(docs); i += 50 {
			var batch []carnet.SubmittedDocument
			for _, d := range docs[i:min(i+50, len(docs))] {
				batch = append(batch, carnet.SubmittedDocument{UniqueID: d.UniqueID, Meta: d.Meta, Content: d.Content, Path: "bench"})
			}
			if gp != nil {
				batch[0].Meta.Authors = append(batch[0].Meta.Authors, *gp)
			}
			sub := carnet.Submission{Patient: ins, Set: carnet.SubmissionSet{UniqueID: batch[0].UniqueID + ".set", SourceID: "1.2.250.1.999.2", ContentType: batch[0].Meta.Type}, Documents: batch}
			if _, err := env.Service.Provide(ctx, testenv.SoftwareFiling("bench", sub), sub); err != nil {
				b.Fatal(err)
			}
			filed += len(batch)
		}
	}
	// The records: patients 10… of one dataset (the first ones are the
	// same in every dataset), each with its first size documents.
	maxSize := 0
	for _, n := range sizes {
		maxSize = max(maxSize, n)
	}
	o := synth.Options{Seed: 15, Patients: 10 + len(sizes), DocsPerPatient: maxSize}
	pats, pros := o.People()
	var gp carnet.Author
	for _, p := range pros {
		if p.Login == "gp" {
			gp = p.Author
		}
	}
	docs := make([][]synth.Document, len(sizes))
	err := o.EachDocument(func(d synth.Document) error {
		if i := d.Patient - 10; i >= 0 && len(docs[i]) < sizes[i] {
			docs[i] = append(docs[i], d)
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	f := &recordFixture{env: env}
	for i, n := range sizes {
		file(pats[10+i].INS, docs[i], &gp)
		r := benchRecord{size: n, ins: pats[10+i].INS}
		types := map[carnet.Coding]int{}
		for _, d := range docs[i] {
			types[d.Meta.Type]++
			if types[d.Meta.Type] > r.typN {
				r.typ, r.typN = d.Meta.Type, types[d.Meta.Type]
			}
		}
		f.recs = append(f.recs, r)
	}
	// The rest of the store: other patients, 1,000 documents each.
	if rest := storeDocs - filed; rest >= 1000 {
		fo := synth.Options{Seed: 16, Patients: 10 + rest/1000, DocsPerPatient: 1000}
		fpats, _ := fo.People()
		var cur []synth.Document
		curPatient := -1
		err := fo.EachDocument(func(d synth.Document) error {
			if d.Patient < 10 {
				return nil
			}
			if d.Patient != curPatient && len(cur) > 0 {
				file(fpats[curPatient].INS, cur, nil)
				cur = cur[:0]
			}
			curPatient = d.Patient
			cur = append(cur, d)
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		if len(cur) > 0 {
			file(fpats[curPatient].INS, cur, nil)
		}
	}
	b.Logf("%s: %d documents filed in %s (records of %v)", be.Name, filed, time.Since(start).Round(time.Second), sizes)
	if be.Name == "postgres" {
		if _, err := env.DB.Exec("ANALYZE"); err != nil {
			b.Fatal(err)
		}
	}
	f.token = env.ProfessionalToken(b, gp, "")
	c := newClient(b, env).as(f.token)
	for i := range f.recs {
		r := &f.recs[i]
		found, _ := c.search(insQuery(r.ins) + "&status=current&_count=200&_total=accurate")
		r.current = len(found)
		for _, dr := range found[:min(len(found), 200)] {
			r.binary = append(r.binary, dr.Content[0].Attachment.URL)
		}
	}
	recordFixtures[be.Name] = f
	return f
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
	reportLatency(b, lat)
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
				u := f.env.URL + "/DocumentReference?" + insQuery(r.ins) + "&status=current"
				matches := r.current
				if q == "type" {
					u += "&type=" + url.QueryEscape(r.typ.System+"|"+r.typ.Code)
					matches = r.typN
				}
				b.Run(fmt.Sprintf("record=%d/%s", r.size, q), func(b *testing.B) {
					concurrently(b, 8, func(httpc *http.Client, _ int) { f.get(b, httpc, u) })
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
			b.Run(fmt.Sprintf("record=%d", r.size), func(b *testing.B) {
				if len(r.binary) == 0 {
					b.Skip("no document visible")
				}
				pick := make([]string, b.N)
				rnd := rand.New(rand.NewPCG(uint64(r.size), 2))
				for i := range pick {
					pick[i] = r.binary[rnd.IntN(len(r.binary))]
				}
				concurrently(b, 8, func(httpc *http.Client, i int) { f.get(b, httpc, pick[i]) })
			})
		}
	})
}
