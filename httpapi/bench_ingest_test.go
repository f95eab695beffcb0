package httpapi_test

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	carnet "github.com/carnet-sante/carnet"
	"github.com/carnet-sante/carnet/fhir"
	"github.com/carnet-sante/carnet/internal/cputime"
	"github.com/carnet-sante/carnet/internal/testenv"
	"github.com/carnet-sante/carnet/mhd"
	"github.com/carnet-sante/carnet/qedm"
	"github.com/carnet-sante/carnet/sqlite"
	"github.com/carnet-sante/carnet/synth"
)

// The ingest benchmarks of issue 15: ITI-105 Simplified Publish of a 36 KB
// N3 lab report (the ANS example BIO-TROD COVID-19 / grippe A / grippe B,
// its header rewritten for each patient and document) by 8 clients, beside
// the floor measured in the same run on the same request bodies:
//
//	go test ./httpapi -run '^$' -bench 'IngestFloor|Publish' -benchtime 2000x
//
// docs/PERFORMANCE.md keeps the figures.

const (
	ingestClients  = 8
	ingestPatients = 300
	ingestExample  = "BIO-TROD_2024.01_COVID-19_Grippe-A_Grippe-B.xml"
	// The example's patient and document id, replaced in each copy.
	ingestINS   = `extension="279035121518989" root="1.2.250.1.213.1.4.10"`
	ingestDocID = `<id root="1.2.250.1.213.1.1.1.59.2024.3.1"/>`
)

// ingestWork is n ITI-105 bodies, each a copy of the example for one of
// patients patients, and the software token that files them.
type ingestWork struct {
	bodies [][]byte
	token  string
	size   int // bytes of CDA per document
}

func newIngestWork(b testing.TB, env *testenv.Env, n, patients int) ingestWork {
	b.Helper()
	orig, err := os.ReadFile(filepath.Join(testenv.Shared(b, "corpus", "ans-cda"), ingestExample))
	if err != nil {
		b.Fatal(err)
	}
	if !bytes.Contains(orig, []byte(ingestINS)) || !bytes.Contains(orig, []byte(ingestDocID)) {
		b.Fatalf("%s no longer holds the patient and id the benchmark replaces", ingestExample)
	}
	x, ok, err := qedm.Extractor{}.Extract("text/xml", orig)
	if err != nil || !ok {
		b.Fatalf("%s: header not read: %v", ingestExample, err)
	}
	meta := x.Derived
	meta.ContentType = "text/xml"
	if len(meta.Confidentiality) == 0 {
		meta.Confidentiality = []carnet.Coding{{System: "urn:oid:2.16.840.1.113883.5.25", Code: "N"}}
	}
	pats, _ := synth.Options{Seed: 15, Patients: patients}.People()
	w := ingestWork{size: len(orig)}
	if env != nil {
		w.token = env.SoftwareToken(b, "lgc-bench-ingest", meta.Authors...)
	}
	for i := range n {
		ins := pats[i%patients].INS
		uid := fmt.Sprintf("1.2.250.1.999.15.%d.%d", time.Now().UnixNano()%1e9, i)
		doc := bytes.Replace(orig, []byte(ingestINS), fmt.Appendf(nil, `extension="%s" root="%s"`, ins.Value, ins.OID()), 1)
		doc = bytes.Replace(doc, []byte(ingestDocID), fmt.Appendf(nil, `<id root="%s"/>`, uid), 1)
		w.bodies = append(w.bodies, ingestBody(ins, uid, meta, doc))
	}
	return w
}

// ingestBody is an ITI-105 DocumentReference carrying content inline.
func ingestBody(ins carnet.Identifier, uid string, meta carnet.DocumentMeta, content []byte) []byte {
	d := carnet.Document{UniqueID: uid, Status: carnet.StatusCurrent, Meta: meta}
	d.Meta.Size = int64(len(content))
	dr := mhd.DocumentReference(d, "")
	dr.Meta, dr.Date = nil, ""
	dr.Subject = &fhir.Reference{Identifier: &fhir.Identifier{System: ins.System, Value: ins.Value}}
	dr.Content[0].Attachment.Data = content
	body, err := json.Marshal(dr)
	if err != nil {
		panic(err)
	}
	return body
}

// run sends every body with ingestClients clients through send and
// returns the documents per second, the latencies and the process's CPU
// time per document (the benchmark's own client included).
func (w ingestWork) run(b *testing.B, send func(body []byte) error) (float64, []time.Duration, time.Duration) {
	var (
		mu     sync.Mutex
		next   int
		lat    = make([]time.Duration, 0, len(w.bodies))
		failed error
		wg     sync.WaitGroup
	)
	start, cpu := time.Now(), cputime.Process()
	for range ingestClients {
		wg.Go(func() {
			for {
				mu.Lock()
				i := next
				next++
				mu.Unlock()
				if i >= len(w.bodies) {
					return
				}
				t0 := time.Now()
				err := send(w.bodies[i])
				mu.Lock()
				lat = append(lat, time.Since(t0))
				if err != nil && failed == nil {
					failed = err
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	elapsed, cpu := time.Since(start), cputime.Process()-cpu
	if failed != nil {
		b.Fatal(failed)
	}
	return float64(len(w.bodies)) / elapsed.Seconds(), lat, cpu / time.Duration(len(w.bodies))
}

// floorStore is the floor's store: one SQLite table in WAL mode with
// synchronous=FULL, written by one goroutine that commits whatever is
// waiting in one transaction (group commit), as Carnet's SQLite store does.
type floorStore struct {
	db    *sql.DB
	queue chan floorRow
}

type floorRow struct {
	id     string
	hash   []byte
	sealed []byte
	done   chan error
}

func openFloorStore(b *testing.B) *floorStore {
	path := filepath.Join(b.TempDir(), "floor.db")
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=busy_timeout(5000)")
	if err != nil {
		b.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	if _, err := db.Exec("CREATE TABLE doc (id TEXT PRIMARY KEY, hash BLOB NOT NULL, sealed BLOB NOT NULL) STRICT"); err != nil {
		b.Fatal(err)
	}
	s := &floorStore{db: db, queue: make(chan floorRow)}
	stop := make(chan struct{})
	go s.writeLoop(stop)
	b.Cleanup(func() { close(stop); db.Close() })
	return s
}

func (s *floorStore) writeLoop(stop chan struct{}) {
	ctx := context.Background()
	conn, err := s.db.Conn(ctx)
	if err != nil {
		panic(err)
	}
	defer conn.Close()
	for {
		var batch []floorRow
		select {
		case <-stop:
			return
		case r := <-s.queue:
			batch = append(batch, r)
		}
	gather:
		for len(batch) < 128 {
			select {
			case r := <-s.queue:
				batch = append(batch, r)
			default:
				break gather
			}
		}
		_, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE")
		for _, r := range batch {
			if err == nil {
				_, err = conn.ExecContext(ctx, "INSERT INTO doc (id, hash, sealed) VALUES (?, ?, ?)", r.id, r.hash, r.sealed)
			}
		}
		if err == nil {
			_, err = conn.ExecContext(ctx, "COMMIT")
		} else {
			conn.ExecContext(ctx, "ROLLBACK")
		}
		for _, r := range batch {
			r.done <- err
		}
	}
}

// floorIngest is the least any durable, sealed ingest of the same request
// does: decode the JSON (and the base64 of its document), hash the
// document, seal it with AES-256-GCM, insert it durably.
func floorIngest(b *testing.B) func(body []byte) error {
	st := openFloorStore(b)
	key := make([]byte, 32)
	rand.Read(key)
	block, _ := aes.NewCipher(key)
	aead, _ := cipher.NewGCM(block)
	return func(body []byte) error {
		var dr struct {
			MasterIdentifier struct{ Value string }
			Content          []struct{ Attachment struct{ Data []byte } }
		}
		if err := json.Unmarshal(body, &dr); err != nil {
			return err
		}
		if len(dr.Content) == 0 || len(dr.Content[0].Attachment.Data) == 0 {
			return fmt.Errorf("no document in the body")
		}
		doc := dr.Content[0].Attachment.Data
		sum := sha256.Sum256(doc)
		nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(doc)+aead.Overhead())
		rand.Read(nonce)
		sealed := aead.Seal(nonce, nonce, doc, []byte(dr.MasterIdentifier.Value))
		done := make(chan error, 1)
		st.queue <- floorRow{id: dr.MasterIdentifier.Value, hash: sum[:], sealed: sealed, done: done}
		return <-done
	}
}

// BenchmarkIngestFloor: the floor alone (see floorIngest), 8 clients.
func BenchmarkIngestFloor(b *testing.B) {
	w := newIngestWork(b, nil, b.N, ingestPatients)
	send := floorIngest(b)
	b.ResetTimer()
	rate, lat, cpu := w.run(b, send)
	b.StopTimer()
	b.ReportMetric(rate, "docs/s")
	b.ReportMetric(float64(cpu.Microseconds())/1000, "cpu-ms/doc")
	reportLatency(b, lat)
}

// BenchmarkPublish: ITI-105 over HTTP with every duty of a filing (CDA
// reading and cross-check, extraction, sealing, care team, notification,
// full-text index, audit), 8 clients, spread over 300 patients or all
// into one record; each run measures the floor first on the same bodies
// and reports Carnet's rate as a share of it.
func BenchmarkPublish(b *testing.B) {
	benchBackends(b, func(b *testing.B, be testenv.Backend) {
		for _, c := range []struct {
			name     string
			patients int
		}{{"spread", ingestPatients}, {"one-record", 1}} {
			b.Run(c.name, func(b *testing.B) {
				env := testenv.New(b, be, testenv.Options{ValueSets: true})
				w := newIngestWork(b, env, b.N, c.patients)
				floorRate, _, floorCPU := w.run(b, floorIngest(b))
				httpc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: ingestClients}}
				send := func(body []byte) error {
					req, _ := http.NewRequest("POST", env.URL+"/DocumentReference", bytes.NewReader(body))
					req.Header.Set("Content-Type", "application/fhir+json")
					req.Header.Set("Authorization", "Bearer "+w.token)
					res, err := httpc.Do(req)
					if err != nil {
						return err
					}
					out, _ := io.ReadAll(res.Body)
					res.Body.Close()
					if res.StatusCode != http.StatusCreated {
						return fmt.Errorf("ITI-105: %d %s", res.StatusCode, out)
					}
					return nil
				}
				retries, _ := env.Store.(interface{ Retries() uint64 })
				var before uint64
				if retries != nil {
					before = retries.Retries()
				}
				// On PostgreSQL, the server's CPU too: its backends serving
				// this database (other work on the same database counts).
				db := &recordFixture{env: env}
				var db0 map[int]time.Duration
				if be.Name == "postgres" {
					db0 = db.dbCPU()
				}
				ws, _ := env.Store.(interface{ WriterStats() sqlite.WriterStats })
				var wsBefore sqlite.WriterStats
				if ws != nil {
					wsBefore = ws.WriterStats()
				}
				b.ResetTimer()
				rate, lat, cpu := w.run(b, send)
				b.StopTimer()
				if retries != nil {
					// Transactions rolled back on a lost race and run again.
					b.ReportMetric(float64(retries.Retries()-before)/float64(len(w.bodies)), "retries/doc")
				}
				if db0 != nil {
					var used time.Duration
					for pid, t := range db.dbCPU() {
						used += t - db0[pid]
					}
					b.ReportMetric(float64(used.Microseconds())/1000/float64(len(w.bodies)), "db-cpu-ms/doc")
				}
				if ws != nil {
					// The single writer's share of the run and its time per
					// document (statements and COMMIT), and how many filings
					// a group commit held.
					after := ws.WriterStats()
					busy := after.WriterBusy - wsBefore.WriterBusy
					b.ReportMetric(float64(b.N)/float64(max(1, after.Commits-wsBefore.Commits)), "docs/commit")
					b.ReportMetric(float64(busy.Microseconds())/1000/float64(b.N), "writer-ms/doc")
					b.ReportMetric(float64((after.CommitTime-wsBefore.CommitTime).Microseconds())/1000/float64(b.N), "commit-ms/doc")
				}
				b.ReportMetric(float64(w.size)/1024, "KB/doc")
				b.ReportMetric(floorRate, "floor-docs/s")
				b.ReportMetric(rate, "docs/s")
				b.ReportMetric(rate/floorRate, "of-floor")
				b.ReportMetric(float64(floorCPU.Microseconds())/1000, "floor-cpu-ms/doc")
				b.ReportMetric(float64(cpu.Microseconds())/1000, "cpu-ms/doc")
				reportLatency(b, lat)
			})
		}
	})
}
