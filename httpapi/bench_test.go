package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	carnet "github.com/carnet-sante/carnet"
	"github.com/carnet-sante/carnet/httpapi"
	"github.com/carnet-sante/carnet/internal/cputime"
	"github.com/carnet-sante/carnet/internal/gctune"
	"github.com/carnet-sante/carnet/internal/testenv"
	"github.com/carnet-sante/carnet/mhd"
	"github.com/carnet-sante/carnet/synth"
)

// Benchmarks of the HTTP API on a real store, over loopback, as clients see
// it. Run: go test ./httpapi -run '^$' -bench . -benchtime 2000x
// (PostgreSQL too when CARNET_TEST_POSTGRES is set). docs/PERFORMANCE.md
// keeps the figures.

// reportLatency reports p50 and p99 of the measured durations.
func reportLatency(b *testing.B, d []time.Duration) {
	if len(d) == 0 {
		return
	}
	slices.Sort(d)
	q := func(p float64) float64 { return float64(d[int(p*float64(len(d)-1))].Microseconds()) }
	b.ReportMetric(q(0.50), "p50-µs")
	b.ReportMetric(q(0.99), "p99-µs")
}

func benchBackends(b *testing.B, fn func(b *testing.B, be testenv.Backend)) {
	// The collector runs as `carnet serve` runs it.
	_, restore := gctune.Apply()
	defer restore()
	for _, be := range testenv.Backends {
		b.Run(be.Name, func(b *testing.B) {
			if be.Name == "postgres" && os.Getenv("CARNET_TEST_POSTGRES") == "" {
				b.Skip("set CARNET_TEST_POSTGRES to benchmark PostgreSQL")
			}
			fn(b, be)
		})
	}
}

// BenchmarkProvide: ITI-65 ingest of one realistic 20–50 KB CDA document
// per submission, with 1 and 8 concurrent clients.
func BenchmarkProvide(b *testing.B) {
	benchBackends(b, func(b *testing.B, be testenv.Backend) {
		for _, clients := range []int{1, 8} {
			b.Run(fmt.Sprintf("clients=%d", clients), func(b *testing.B) {
				env := testenv.New(b, be, testenv.Options{})
				// Bundles are built before the clock starts.
				bodies := make([][]byte, 0, b.N)
				tokens := make([]string, 0, b.N) // software of each document's authors
				software := map[string]string{}
				o := synth.Options{Seed: uint64(b.N), Patients: max(1, b.N/20), DocsPerPatient: 20, LargeDocs: true}
				pats, _ := o.People()
				bytesIn := 0
				err := o.EachDocument(func(d synth.Document) error {
					if len(bodies) == b.N {
						return io.EOF
					}
					sub := carnet.Submission{Patient: pats[d.Patient].INS, Set: carnet.SubmissionSet{UniqueID: d.UniqueID + ".1", SourceID: "1.2.250.1.999.2", ContentType: d.Meta.Type},
						Documents: []carnet.SubmittedDocument{{UniqueID: d.UniqueID, Meta: d.Meta, Content: d.Content}}}
					body, err := json.Marshal(mhd.ProvideBundle(sub))
					bodies = append(bodies, body)
					org := carnet.OrgKey(d.Meta.Authors[0].OrgID)
					if software[org] == "" {
						software[org] = env.SoftwareToken(b, "lgc-"+org, d.Meta.Authors...)
					}
					tokens = append(tokens, software[org])
					bytesIn += len(d.Content)
					return err
				})
				if err != nil && err != io.EOF {
					b.Fatal(err)
				}
				b.ReportMetric(float64(bytesIn)/float64(len(bodies))/1024, "KB/doc")
				httpc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients}}
				var next, failed int64
				var mu sync.Mutex
				lat := make([]time.Duration, 0, b.N)
				b.ResetTimer()
				start := time.Now()
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
							if int(i) >= len(bodies) {
								return
							}
							t0 := time.Now()
							req, _ := http.NewRequest("POST", env.URL+"/", bytesReader(bodies[i]))
							req.Header.Set("Content-Type", "application/fhir+json")
							req.Header.Set("Authorization", "Bearer "+tokens[i])
							res, err := httpc.Do(req)
							ok := err == nil && res.StatusCode == 200
							if err == nil {
								io.Copy(io.Discard, res.Body)
								res.Body.Close()
							}
							mu.Lock()
							lat = append(lat, time.Since(t0))
							if !ok {
								failed++
							}
							mu.Unlock()
						}
					}()
				}
				wg.Wait()
				elapsed := time.Since(start)
				b.StopTimer()
				if failed > 0 {
					b.Fatalf("%d submissions failed", failed)
				}
				b.ReportMetric(float64(len(bodies))/elapsed.Seconds(), "docs/s")
				reportLatency(b, lat)
			})
		}
	})
}

// searchFixture is a store of many documents where one patient has 1,000.
type searchFixture struct {
	env     *testenv.Env
	token   string // the patient's
	auditor carnet.Auditor
	target  carnet.Identifier
	typ     carnet.Coding
	matches int
	binary  []string // attachment URLs of the target's documents
}

var (
	fixtures   = map[string]*searchFixture{}
	fixturesMu sync.Mutex
)

// benchStoreDocs is the store size for search and retrieve benchmarks
// (CARNET_BENCH_DOCS, default 100,000), in patients of 1,000 documents.
func benchStoreDocs() int {
	if n, err := strconv.Atoi(os.Getenv("CARNET_BENCH_DOCS")); err == nil && n >= 1000 {
		return n
	}
	return 100_000
}

func fixture(b *testing.B, be testenv.Backend) *searchFixture {
	fixturesMu.Lock()
	defer fixturesMu.Unlock()
	if f := fixtures[be.Name]; f != nil {
		return f
	}
	// The fixture outlives one benchmark run: give it its own cleanup scope.
	env := testenv.New(fixtureTB{b}, be, testenv.Options{})
	perPatient := 1000
	o := synth.Options{Seed: 99, Patients: benchStoreDocs() / perPatient, DocsPerPatient: perPatient}
	pats, _ := o.People()
	ctx := context.Background()
	req := carnet.Request{Actor: carnet.Actor{Kind: carnet.ActorSystem, ID: carnet.Identifier{System: "urn:carnet:actor", Value: "bench"}}, Mode: carnet.ModeNormal}
	start := time.Now()
	var batch []carnet.SubmittedDocument
	batchPatient := -1
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		sub := carnet.Submission{Patient: pats[batchPatient].INS, Set: carnet.SubmissionSet{UniqueID: batch[0].UniqueID + ".set", SourceID: "1.2.250.1.999.2", ContentType: batch[0].Meta.Type}, Documents: batch}
		_, err := env.Service.Provide(ctx, req, sub)
		batch = nil
		return err
	}
	f := &searchFixture{env: env, target: pats[0].INS}
	types := map[string]int{}
	err := o.EachDocument(func(d synth.Document) error {
		if d.Patient != batchPatient || len(batch) == 50 {
			if err := flush(); err != nil {
				return err
			}
			batchPatient = d.Patient
		}
		if d.Patient == 0 {
			types[d.Meta.Type.Code]++
			if types[d.Meta.Type.Code] > f.matches {
				f.matches, f.typ = types[d.Meta.Type.Code], d.Meta.Type
			}
		}
		batch = append(batch, carnet.SubmittedDocument{UniqueID: d.UniqueID, Meta: d.Meta, Content: d.Content, Path: "bench"})
		return nil
	})
	if err == nil {
		err = flush()
	}
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("%s fixture: %d documents over %d patients filed in %s", be.Name, o.Patients*perPatient, o.Patients, time.Since(start).Round(time.Second))
	if be.Name == "postgres" {
		// After a bulk load, refresh the planner's statistics as autovacuum
		// would shortly: a plan made for empty tables is not what production sees.
		if _, err := env.DB.Exec("ANALYZE"); err != nil {
			b.Fatal(err)
		}
	}
	f.token = env.PatientToken(b, f.target, false)
	f.auditor = env.Service.Audit
	c := newClient(b, env).as(f.token)
	found, _ := c.search(insQuery(f.target) + "&_count=200")
	for _, dr := range found {
		f.binary = append(f.binary, dr.Content[0].Attachment.URL)
	}
	fixtures[be.Name] = f
	return f
}

// fixtureTB lets a fixture's resources live for the whole benchmark binary.
type fixtureTB struct{ testing.TB }

func (fixtureTB) Cleanup(func()) {}

// auditModes runs fn with every access recorded in the tamper-evident log
// (as served), then with nothing recorded, on the same store: the
// difference is what auditing costs.
func auditModes(b *testing.B, f *searchFixture, fn func(b *testing.B)) {
	for _, on := range []bool{true, false} {
		b.Run(fmt.Sprintf("audit=%v", on), func(b *testing.B) {
			f.env.Service.Audit = f.auditor
			if !on {
				f.env.Service.Audit = carnet.NoAuditor{}
			}
			defer func() { f.env.Service.Audit = f.auditor }()
			fn(b)
		})
	}
}

func (f *searchFixture) get(b *testing.B, httpc *http.Client, u string) {
	req, _ := http.NewRequest("GET", u, nil)
	req.Header.Set("Authorization", "Bearer "+f.token)
	res, err := httpc.Do(req)
	if err != nil || res.StatusCode != 200 {
		b.Fatalf("GET %s: %v %v", u, err, res)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
}

// BenchmarkSearch: ITI-67 by patient + status + type for a patient with
// 1,000 documents in a store of 100,000, read by the patient.
func BenchmarkSearch(b *testing.B) {
	benchBackends(b, func(b *testing.B, be testenv.Backend) {
		f := fixture(b, be)
		u := f.env.URL + "/DocumentReference?" + insQuery(f.target) + "&status=current&type=" + url.QueryEscape(f.typ.System+"|"+f.typ.Code)
		auditModes(b, f, func(b *testing.B) {
			httpc := &http.Client{}
			lat := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for range b.N {
				t0 := time.Now()
				f.get(b, httpc, u)
				lat = append(lat, time.Since(t0))
			}
			b.StopTimer()
			b.ReportMetric(float64(f.matches), "matches")
			reportLatency(b, lat)
		})
	})
}

// BenchmarkRetrieve: ITI-68 of a random document of that patient.
func BenchmarkRetrieve(b *testing.B) {
	benchBackends(b, func(b *testing.B, be testenv.Backend) {
		f := fixture(b, be)
		auditModes(b, f, func(b *testing.B) {
			httpc := &http.Client{}
			r := rand.New(rand.NewPCG(1, 2))
			lat := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for range b.N {
				t0 := time.Now()
				f.get(b, httpc, f.binary[r.IntN(len(f.binary))])
				lat = append(lat, time.Since(t0))
			}
			b.StopTimer()
			reportLatency(b, lat)
		})
	})
}

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }

// BenchmarkCard: the pastille's CDS Hooks card for a patient with 2,000
// documents (CARNET_BENCH_CARD_DOCS), as a GP of the care team opens the
// record: client JWT checked, the clinician's token checked, every visible
// document decided and ranked, the top five opened, the visit and the
// access recorded. The client's JWTs are minted before the clock starts.
//
// warm: the record opened again and again by one server. cold: each card
// is the first opening of the record by a server just started (a new
// Service and HTTP server on the same store: nothing in memory), which
// reads the record's stored point-of-care form; the restart is outside
// the clock. cold-without-form: the same through a Store that keeps no
// forms (every document row read, as before migration 0013), for
// comparison in the same run.
func BenchmarkCard(b *testing.B) {
	benchBackends(b, func(b *testing.B, be testenv.Backend) {
		f := newCardFixture(b, be)
		for _, mode := range []string{"warm", "cold", "cold-without-form"} {
			cold := mode != "warm"
			b.Run(mode, func(b *testing.B) {
				jwts := f.jwts(b, b.N+1)
				f.call(b, jwts[b.N]) // the first visit
				if mode == "cold" {
					f.env.Service.FlushCareForms()
					if fs, ok := f.env.Store.(carnet.CareFormStore); ok {
						keys, _ := f.env.Store.PatientKeys(context.Background(), "", 10)
						for _, k := range keys {
							if _, sealed, err := fs.CareForm(context.Background(), k); err == nil {
								b.Logf("the record's point-of-care form: %d KiB sealed", len(sealed)>>10)
							}
						}
					}
				}
				lat := make([]time.Duration, 0, b.N)
				var cpu time.Duration
				b.ResetTimer()
				for i := range b.N {
					if cold {
						b.StopTimer()
						f.env.Restart(b)
						if mode == "cold-without-form" {
							f.env.Service.Store = struct{ carnet.Store }{f.env.Service.Store}
						}
						b.StartTimer()
					}
					t0, c0 := time.Now(), cputime.Process()
					f.call(b, jwts[i])
					lat = append(lat, time.Since(t0))
					cpu += cputime.Process() - c0
				}
				b.StopTimer()
				b.ReportMetric(float64(f.docs), "docs")
				b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/req")
				reportLatency(b, lat)
			})
		}
	})
}

// cardFixture is a record of many documents whose card a GP of its care
// team opens through CDS Hooks.
type cardFixture struct {
	env   *testenv.Env
	docs  int
	body  []byte
	httpc *http.Client
}

func newCardFixture(b *testing.B, be testenv.Backend) *cardFixture {
	docs := 2000
	if n, err := strconv.Atoi(os.Getenv("CARNET_BENCH_CARD_DOCS")); err == nil && n > 0 {
		docs = n
	}
	env := testenv.New(b, be, testenv.Options{})
	o := synth.Options{Seed: 71, Patients: 1, DocsPerPatient: docs}
	pats, pros := o.People()
	var gp carnet.Author
	for _, p := range pros {
		if p.Login == "gp" {
			gp = p.Author
		}
	}
	ctx := context.Background()
	req := carnet.Request{Actor: carnet.Actor{Kind: carnet.ActorSystem, ID: carnet.Identifier{System: "urn:carnet:actor", Value: "bench"}}}
	var batch []carnet.SubmittedDocument
	flush := func() {
		if len(batch) == 0 {
			return
		}
		// Each batch names the GP among its authors: the GP is in the care team.
		batch[0].Meta.Authors = append(batch[0].Meta.Authors, gp)
		sub := carnet.Submission{Patient: pats[0].INS, Set: carnet.SubmissionSet{UniqueID: batch[0].UniqueID + ".set", SourceID: "1.2.250.1.999.2", ContentType: batch[0].Meta.Type}, Documents: batch}
		// Filed as software acting for the authors' organisations, as
		// the write rules want.
		req := req
		for _, d := range batch {
			for _, a := range d.Meta.Authors {
				req.Actor.Orgs = append(req.Actor.Orgs, a.OrgID)
			}
		}
		if _, err := env.Service.Provide(ctx, req, sub); err != nil {
			b.Fatal(err)
		}
		batch = nil
	}
	start := time.Now()
	err := o.EachDocument(func(d synth.Document) error {
		batch = append(batch, carnet.SubmittedDocument{UniqueID: d.UniqueID, Meta: d.Meta, Content: d.Content, Path: "bench"})
		if len(batch) == 50 {
			flush()
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	flush()
	if be.Name == "postgres" {
		if _, err := env.DB.Exec("ANALYZE"); err != nil {
			b.Fatal(err)
		}
	}
	b.Logf("%s: %d documents filed in %s", be.Name, docs, time.Since(start).Round(time.Second))
	tok := env.ProfessionalToken(b, gp, "")
	body, _ := json.Marshal(map[string]any{
		"hook": "patient-view", "hookInstance": "bench",
		"fhirAuthorization": map[string]any{"access_token": tok, "token_type": "Bearer"},
		"context":           map[string]any{"userId": "Practitioner/" + gp.ID.Value, "patientId": pats[0].INS.System + "|" + pats[0].INS.Value},
	})
	return &cardFixture{env: env, docs: docs, body: body, httpc: &http.Client{}}
}

// jwts mints n CDS client JWTs (each is used once).
func (f *cardFixture) jwts(b *testing.B, n int) []string {
	out := make([]string, n)
	for i := range out {
		j, err := f.env.Issuer.Issue("", map[string]any{"sub": "lgc", "jti": carnet.NewID()}, f.env.URL+"/cds-services/"+httpapi.PastilleService, 4*time.Minute)
		if err != nil {
			b.Fatal(err)
		}
		out[i] = j
	}
	return out
}

func (f *cardFixture) call(b *testing.B, jwt string) {
	r, _ := http.NewRequest("POST", f.env.URL+"/cds-services/"+httpapi.PastilleService, bytes.NewReader(f.body))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("Authorization", "Bearer "+jwt)
	res, err := f.httpc.Do(r)
	if err != nil || res.StatusCode != 200 {
		b.Fatalf("card: %v %v", err, res)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
}
