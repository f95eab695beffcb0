package postgres_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/carnet-sante/carnet"
	"github.com/carnet-sante/carnet/auditlog"
	"github.com/carnet-sante/carnet/postgres"
	"github.com/carnet-sante/carnet/postgres/pgtest"
	"github.com/carnet-sante/carnet/seal"
	"github.com/carnet-sante/carnet/storetest"
	"github.com/jackc/pgx/v5"
)

// benchTypes are the document types of the benchmark records (JDV_J07
// LOINC codes): ten types, so a type filter keeps about a tenth.
var benchTypes = []string{
	storetest.TypeBio, storetest.TypeCR, "34133-9", "18842-5", "57833-6",
	"60591-5", "11506-3", "15507-7", "34794-8", "18748-4",
}

// benchDocument returns document i of patient p: a latest version most of
// the time (current 80%, archived 8%, deleted 4%), else an older superseded
// version; dated over ten years; with a type, class, format, label, author,
// facility and setting, as the Service writes them; 1 KiB of sealed
// metadata.
func benchDocument(r *rand.Rand, p carnet.PatientKey, i int, sealed []byte) carnet.DocumentRow {
	id := fmt.Sprintf("%s-doc-%05d", p, i)
	d := storetest.NewDocumentRow(p, id)
	d.Tokens = nil
	d.Tokens = append(d.Tokens, storetest.TypeTokens(benchTypes[r.IntN(len(benchTypes))])...)
	d.Tokens = append(d.Tokens, carnet.CodingTokens("class", carnet.Coding{System: storetest.ClassSystem, Code: storetest.ClassCR})...)
	d.Tokens = append(d.Tokens, carnet.CodingTokens("format", carnet.Coding{System: storetest.FormatSystem, Code: storetest.FormatPDF})...)
	d.Tokens = append(d.Tokens, storetest.LabelTokens(carnet.LabelNormal)...)
	d.Tokens = append(d.Tokens,
		carnet.Token{Kind: "author", Value: fmt.Sprintf("urn:oid:1.2.250.1.71.4.2.1|8100000%05d", r.IntN(50))},
		carnet.Token{Kind: "facility", Value: fmt.Sprintf("urn:oid:1.2.250.1.71.4.2.2|%09d", r.IntN(20))},
		carnet.Token{Kind: "setting", Value: "urn:oid:1.2.250.1.213.1.1.4.9|CABINET"},
	)
	switch n := r.IntN(100); {
	case n < 80:
	case n < 88:
		d.Status = carnet.StatusArchived
	case n < 92:
		d.Status = carnet.StatusDeleted
	default:
		d.Status, d.Latest = carnet.StatusSuperseded, false
	}
	d.Date = storetest.Epoch.Add(-time.Duration(r.Int64N(int64(3650 * 24 * time.Hour)))).Truncate(time.Millisecond)
	d.Created = d.Date.Add(-time.Hour)
	d.Sealed = sealed
	return d
}

// loadDocuments writes the documents of patients p0..p(n-1) with COPY, the
// way InsertDocument stores them (row, tokens, route), then analyzes.
func loadDocuments(b *testing.B, dsn string, patients, perPatient int) {
	b.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(ctx)
	r := rand.New(rand.NewPCG(1, 2))
	sealed := storetest.NewContent(1024)
	for p := range patients {
		key := carnet.PatientKey(fmt.Sprintf("p%03d", p))
		var docs, tokens, routes [][]any
		for i := range perPatient {
			d := benchDocument(r, key, i, sealed)
			for _, t := range d.Tokens {
				tokens = append(tokens, []any{string(key), d.ID, t.Kind, []byte(t.Value)})
			}
			docs = append(docs, []any{string(key), d.ID, d.LogicalID, d.UniqueID, d.Version, d.Latest,
				string(d.Status), d.SubmissionSet, d.ContentID, d.Date, d.Created, d.PeriodStart, d.PeriodEnd,
				postgres.EncodeTokens(d.Tokens), d.Sealed})
			routes = append(routes, []any{d.ID, string(key), "document"})
		}
		for _, c := range []struct {
			table string
			cols  []string
			rows  [][]any
		}{
			{"documents", []string{"patient_key", "id", "logical_id", "unique_id", "version", "latest",
				"status", "submission_set", "content_id", "date", "created", "period_start", "period_end",
				"tokens", "sealed"}, docs},
			{"document_tokens", []string{"patient_key", "doc_id", "kind", "value"}, tokens},
			{"routes", []string{"id", "patient_key", "kind"}, routes},
		} {
			if _, err := conn.CopyFrom(ctx, pgx.Identifier{c.table}, c.cols, pgx.CopyFromRows(c.rows)); err != nil {
				b.Fatalf("copy %s: %v", c.table, err)
			}
		}
	}
	if _, err := conn.Exec(ctx, "VACUUM ANALYZE"); err != nil { // as autovacuum would have
		b.Fatal(err)
	}
}

// reportLatencies reports the median and 99th percentile of ds.
func reportLatencies(b *testing.B, ds []time.Duration) {
	if len(ds) == 0 {
		return
	}
	slices.Sort(ds)
	at := func(q float64) float64 {
		return float64(ds[min(len(ds)-1, int(q*float64(len(ds))))].Microseconds())
	}
	b.ReportMetric(at(0.50), "p50-us")
	b.ReportMetric(at(0.99), "p99-us")
}

// BenchmarkFindDocuments searches one patient's record (1,000 documents) in
// a store of 100,000 (100 patients), the query behind a record's document
// list: latest, current, of one type — and without the type filter.
func BenchmarkFindDocuments(b *testing.B) {
	const patients, perPatient = 100, 1000
	dsn := pgtest.DSN(b)
	ctx := context.Background()
	s, err := postgres.Open(ctx, dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	loadDocuments(b, dsn, patients, perPatient)

	// The loader wrote rows the Store reads back as it would have written them.
	want := benchDocument(rand.New(rand.NewPCG(1, 2)), "p000", 0, nil)
	got, err := s.Document(ctx, "p000", want.ID)
	if err != nil {
		b.Fatal(err)
	}
	got.Sealed = nil
	if d := storetest.DocumentRowDiff(got, want); d != "" {
		b.Fatalf("loaded document: %s", d)
	}

	current := []carnet.DocumentStatus{carnet.StatusCurrent}
	for _, bc := range []struct {
		name   string
		filter carnet.DocumentFilter
	}{
		{"status+type", carnet.DocumentFilter{Statuses: current, Tokens: []carnet.TokenFilter{
			{Kind: "type", Values: []string{storetest.LOINC + "|" + storetest.TypeBio}}}}},
		{"status", carnet.DocumentFilter{Statuses: current}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var lat []time.Duration
			rows, i := 0, 0
			for b.Loop() {
				p := carnet.PatientKey(fmt.Sprintf("p%03d", i%patients))
				i++
				start := time.Now()
				docs, err := s.FindDocuments(ctx, p, bc.filter)
				lat = append(lat, time.Since(start))
				if err != nil {
					b.Fatal(err)
				}
				rows += len(docs)
			}
			b.ReportMetric(float64(rows)/float64(i), "rows/op")
			reportLatencies(b, lat)
		})
	}
}

// BenchmarkUpdate files documents: one Update per document, storing its
// row and 32 KiB of sealed content, with 1 and 8 concurrent writers. Every
// commit waits for its WAL flush.
func BenchmarkUpdate(b *testing.B) {
	content := storetest.NewContent(32 << 10)
	for _, writers := range []int{1, 8} {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
			s := pgtest.Open(b, postgres.WithMaxConns(writers))
			ctx := context.Background()
			run := storetest.NewID("r")[:9] // ids stay unique across the runs of this benchmark
			var next atomic.Int64
			lats := make([][]time.Duration, writers)
			var wg sync.WaitGroup
			b.ResetTimer()
			start := time.Now()
			for w := range writers {
				wg.Go(func() {
					r := rand.New(rand.NewPCG(uint64(w), 7))
					for {
						i := int(next.Add(1)) - 1
						if i >= b.N {
							return
						}
						p := carnet.PatientKey(fmt.Sprintf("w%d-p%d", w, i%10))
						d := benchDocument(r, p, i, content[:1024])
						d.ID = fmt.Sprintf("%s-doc-%d", run, i)
						d.UniqueID, d.ContentID = "1.2.250.1.999.1."+d.ID, run+"-content-"+fmt.Sprint(i)
						d.Status, d.Latest = carnet.StatusCurrent, true
						t0 := time.Now()
						err := s.Update(ctx, func(tx carnet.Tx) error {
							if err := tx.InsertDocument(ctx, d); err != nil {
								return err
							}
							return tx.PutContent(ctx, p, d.ContentID, content)
						})
						lats[w] = append(lats[w], time.Since(t0))
						if err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			elapsed := time.Since(start)
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "docs/s")
			reportLatencies(b, slices.Concat(lats...))
		})
	}
}

// BenchmarkAuditNodes measures audited events per second through 1, 2
// and 3 nodes on one database: each node a Store with its Recorder (one
// batching goroutine, as `carnet serve` has), 24 concurrent requests
// spread over the nodes, each recording one event and waiting until it
// is durable.
//
//	CARNET_TEST_POSTGRES=… go test ./postgres -run '^$' -bench AuditNodes -benchtime 3000x
func BenchmarkAuditNodes(b *testing.B) {
	ctx := context.Background()
	for _, nodes := range []int{1, 2, 3} {
		b.Run(fmt.Sprintf("nodes=%d", nodes), func(b *testing.B) {
			dsn := pgtest.DSN(b)
			kek, err := seal.GenerateKEK()
			if err != nil {
				b.Fatal(err)
			}
			kr, err := seal.NewKeyring(kek)
			if err != nil {
				b.Fatal(err)
			}
			sealer := seal.New(kr, seal.NewMemoryKeys())
			recs := make([]*auditlog.Recorder, nodes)
			for i := range recs {
				s, err := postgres.Open(ctx, dsn)
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { s.Close() })
				recs[i] = auditlog.NewRecorder(s, sealer, auditlog.RecorderOptions{})
				b.Cleanup(func() { recs[i].Close() })
			}
			const clients = 24
			var next atomic.Int64
			b.ResetTimer()
			var wg sync.WaitGroup
			for c := range clients {
				wg.Go(func() {
					r := recs[c%nodes]
					for {
						i := next.Add(1)
						if i > int64(b.N) {
							return
						}
						ev := carnet.AuditEvent{ID: fmt.Sprintf("ev-%d", i), Patient: "p1", Action: carnet.ActionRead, Outcome: "success"}
						if err := r.Record(ctx, ev); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}
