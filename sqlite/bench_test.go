package sqlite

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/carnet-sante/carnet"
	"github.com/carnet-sante/carnet/storetest"
)

var benchTypes = []string{"11488-4", "11502-2", "18842-5", "34133-9", "57833-6", "60591-5", "68604-8", "75492-9", "11506-3", "18748-4"}

// benchDocument is a plausible row: ten type codes, mostly current, some
// older versions, a dozen tokens and 1.5 KB of sealed metadata.
func benchDocument(rng *rand.Rand, p carnet.PatientKey, i int) carnet.DocumentRow {
	d := storetest.NewDocumentRow(p, storetest.NewID("doc-"))
	d.UniqueID = fmt.Sprintf("1.2.250.1.999.%s.%d", p, i)
	d.Date = storetest.Epoch.Add(time.Duration(i) * time.Hour)
	d.Tokens = append(storetest.TypeTokens(benchTypes[rng.IntN(len(benchTypes))]), d.Tokens[2:]...)
	d.Tokens = append(d.Tokens, carnet.Token{Kind: "event", Value: fmt.Sprintf("ev|%d", rng.IntN(50))})
	switch r := rng.IntN(20); {
	case r < 2:
		d.Latest, d.Status = false, carnet.StatusSuperseded
	case r == 2:
		d.Status = carnet.StatusArchived
	case r == 3:
		d.Status = carnet.StatusDeleted
	}
	d.Sealed = storetest.NewContent(1500)
	return d
}

func percentile(sorted []time.Duration, p float64) time.Duration {
	return sorted[min(len(sorted)-1, int(float64(len(sorted))*p))]
}

const benchPatients, benchPerPatient = 100, 1000

// fillBenchStore files benchPerPatient documents for each of benchPatients
// patients, one Update per patient, unless a previous run already did.
func fillBenchStore(b *testing.B, s *Store) {
	ctx := context.Background()
	docs, err := s.FindDocuments(ctx, benchPatient(benchPatients-1), carnet.DocumentFilter{AllVersions: true})
	if err != nil {
		b.Fatal(err)
	}
	if len(docs) == benchPerPatient {
		return
	}
	rng := rand.New(rand.NewPCG(1, 2))
	start := time.Now()
	for p := range benchPatients {
		storetest.MustUpdate(b, s, func(tx carnet.Tx) error {
			for i := range benchPerPatient {
				if err := tx.InsertDocument(ctx, benchDocument(rng, benchPatient(p), i)); err != nil {
					return err
				}
			}
			return nil
		})
	}
	b.Logf("filed %d documents in %v", benchPatients*benchPerPatient, time.Since(start).Round(time.Millisecond))
}

func benchPatient(i int) carnet.PatientKey { return carnet.PatientKey(fmt.Sprintf("patient-%03d", i)) }

// BenchmarkFindDocuments searches one patient's 1,000 documents in a store
// of 100,000 (100 patients), reporting latency percentiles per search.
// CARNET_BENCH_DB names a database kept between runs (filled if empty).
func BenchmarkFindDocuments(b *testing.B) {
	ctx := context.Background()
	path := os.Getenv("CARNET_BENCH_DB")
	if path == "" {
		path = filepath.Join(b.TempDir(), "bench.db")
	}
	s := openTest(b, path)
	fillBenchStore(b, s)
	const patients, perPatient = benchPatients, benchPerPatient

	current := []carnet.DocumentStatus{carnet.StatusCurrent}
	for _, bc := range []struct {
		name   string
		filter func(rng *rand.Rand) carnet.DocumentFilter
	}{
		{"status+type", func(rng *rand.Rand) carnet.DocumentFilter {
			return carnet.DocumentFilter{Statuses: current, Tokens: []carnet.TokenFilter{
				{Kind: "type", Values: []string{storetest.LOINC + "|" + benchTypes[rng.IntN(len(benchTypes))]}}}}
		}},
		{"status+type+date", func(rng *rand.Rand) carnet.DocumentFilter {
			from := storetest.Epoch.Add(time.Duration(rng.IntN(perPatient)) * time.Hour)
			return carnet.DocumentFilter{Statuses: current, Date: carnet.TimeRange{From: from, To: from.Add(200 * time.Hour)},
				Tokens: []carnet.TokenFilter{{Kind: "type", Values: []string{benchTypes[rng.IntN(len(benchTypes))]}}}}
		}},
		{"all-latest", func(*rand.Rand) carnet.DocumentFilter { return carnet.DocumentFilter{} }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			rng := rand.New(rand.NewPCG(3, 4))
			lat := make([]time.Duration, 0, b.N)
			rows := 0
			for b.Loop() {
				p := benchPatient(rng.IntN(patients))
				f := bc.filter(rng)
				t0 := time.Now()
				docs, err := s.FindDocuments(ctx, p, f)
				lat = append(lat, time.Since(t0))
				if err != nil {
					b.Fatal(err)
				}
				rows += len(docs)
			}
			slices.Sort(lat)
			b.ReportMetric(float64(percentile(lat, 0.50).Microseconds()), "p50-µs")
			b.ReportMetric(float64(percentile(lat, 0.99).Microseconds()), "p99-µs")
			b.ReportMetric(float64(rows)/float64(len(lat)), "rows/op")
		})
	}
}

// BenchmarkUpdateGroupCommit files one document row and 32 KB of content per
// Update, from 1 and from 8 concurrent writers, with synchronous=FULL.
func BenchmarkUpdateGroupCommit(b *testing.B) {

	for _, writers := range []int{1, 8, 64} {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
			ctx := context.Background()
			s := openTest(b, filepath.Join(b.TempDir(), "bench.db"))
			content := storetest.NewContent(32 << 10)
			rng := rand.New(rand.NewPCG(5, 6))
			docs := make(chan carnet.DocumentRow, 1024)
			go func() {
				defer close(docs)
				for i := range b.N {
					docs <- benchDocument(rng, benchPatient(i%benchPatients), i)
				}
			}()
			b.ResetTimer()
			var wg sync.WaitGroup
			for range writers {
				wg.Go(func() {
					for d := range docs {
						err := s.Update(ctx, func(tx carnet.Tx) error {
							if err := tx.InsertDocument(ctx, d); err != nil {
								return err
							}
							return tx.PutContent(ctx, d.Patient, d.ContentID, content)
						})
						if err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "docs/s")
			b.ReportMetric(time.Duration(s.commitNanos.Load()).Seconds()/b.Elapsed().Seconds(), "commit-share")
			b.ReportMetric(float64(b.N)/float64(s.commits.Load()), "docs/commit")
		})
	}
}

// BenchmarkLargeUpdate files n documents in one Update, as one submission
// of many documents does (the card's fixture files 2,000 that way): each
// with its tokens and 60 postings, into one record. The cost per document
// must not grow with n:
//
//	go test ./sqlite -run '^$' -bench LargeUpdate -benchtime 3x
func BenchmarkLargeUpdate(b *testing.B) {
	for _, n := range []int{100, 1000} {
		b.Run(fmt.Sprintf("docs=%d", n), func(b *testing.B) {
			ctx := context.Background()
			s := openTest(b, filepath.Join(b.TempDir(), "bench.db"))
			rng := rand.New(rand.NewPCG(7, 8))
			next := 0
			for b.Loop() {
				storetest.MustUpdate(b, s, func(tx carnet.Tx) error {
					for range n {
						d := benchDocument(rng, "p1", next)
						tf, length := storetest.NewTermFreqs(next*15, 60)
						next++
						if err := tx.InsertDocument(ctx, d); err != nil {
							return err
						}
						if err := tx.PutTerms(ctx, "p1", d.LogicalID, length, tf); err != nil {
							return err
						}
					}
					return nil
				})
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N*n), "ms/doc")
		})
	}
}
