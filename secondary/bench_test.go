package secondary_test

import (
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"fmt"
	"os"
	"regexp"
	"runtime"
	"runtime/metrics"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	carnet "github.com/carnet-sante/carnet"
	"github.com/carnet-sante/carnet/internal/testenv"
	"github.com/carnet-sante/carnet/secondary"
	"github.com/carnet-sante/carnet/synth"
)

// countingSink counts what an export writes and keeps none of it, so that
// the heap measured is the export's own.
type countingSink struct{ lines, bytes atomic.Int64 }

func (c *countingSink) Write(_ string, line []byte) error {
	c.lines.Add(1)
	c.bytes.Add(int64(len(line)) + 1)
	return nil
}

// heapSampler records the peak of the live heap (objects) while it runs.
type heapSampler struct {
	stop chan struct{}
	wg   sync.WaitGroup
	peak uint64
}

func heapObjects() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

func startSampler() *heapSampler {
	h := &heapSampler{stop: make(chan struct{})}
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for {
			if v := heapObjects(); v > h.peak {
				h.peak = v
			}
			select {
			case <-h.stop:
				return
			case <-t.C:
			}
		}
	}()
	return h
}

func (h *heapSampler) done() uint64 { close(h.stop); h.wg.Wait(); return h.peak }

var (
	reBirth  = regexp.MustCompile(`<birthTime value="\d+"`)
	rePostal = regexp.MustCompile(`<postalCode>\d+</postalCode>`)
)

// commonQI gives the benchmark's patients four birth years and one
// département, so that k-anonymity releases them and the export writes.
func commonQI(d synth.Document) synth.Document {
	c := reBirth.ReplaceAll(d.Content, []byte(`<birthTime value="19`+strconv.Itoa(50+d.Patient%4)+`0101"`))
	d.Content = rePostal.ReplaceAll(c, []byte("<postalCode>75011</postalCode>"))
	s1, s256 := sha1.Sum(d.Content), sha256.Sum256(d.Content)
	d.Meta.SHA1, d.Meta.SHA256, d.Meta.Size = s1[:], s256[:], int64(len(d.Content))
	return d
}

// BenchmarkExportMemory measures the peak heap of an export above the
// heap before it, for a population of CARNET_BENCH_EXPORT_PATIENTS
// records (default 100) of 6 large documents each: the figure must not
// grow with the population (docs/SECONDARY.md, "Figures").
//
//	CARNET_BENCH_EXPORT_PATIENTS=1000 go test ./secondary -run XXX -bench ExportMemory -benchtime 1x
func BenchmarkExportMemory(b *testing.B) {
	n := 100
	if v, err := strconv.Atoi(os.Getenv("CARNET_BENCH_EXPORT_PATIENTS")); err == nil && v > 0 {
		n = v
	}
	env := testenv.New(b, testenv.SQLite, testenv.Options{NoAudit: true})
	ctx := context.Background()
	o := synth.Options{Seed: 81, Patients: n, DocsPerPatient: 6, LargeDocs: true}
	pats, _ := o.People()
	var batch []synth.Document
	flush := func() {
		if len(batch) == 0 {
			return
		}
		p := pats[batch[0].Patient]
		sub := carnet.Submission{Patient: p.INS, Set: carnet.SubmissionSet{UniqueID: fmt.Sprintf("1.2.250.1.999.81.%d", batch[0].Patient), SourceID: "1.2.250.1.999.2", ContentType: batch[0].Meta.Type}}
		for _, d := range batch {
			sub.Documents = append(sub.Documents, carnet.SubmittedDocument{UniqueID: d.UniqueID, Meta: d.Meta, Content: d.Content})
		}
		if _, err := env.Service.Provide(ctx, testenv.SoftwareFiling("logiciel-bench", sub), sub); err != nil {
			b.Fatal(err)
		}
		batch = batch[:0]
	}
	var stored int64
	if err := o.EachDocument(func(d synth.Document) error {
		if len(batch) > 0 && batch[0].Patient != d.Patient {
			flush()
		}
		d = commonQI(d)
		stored += int64(len(d.Content))
		batch = append(batch, d)
		return nil
	}); err != nil {
		b.Fatal(err)
	}
	flush()
	types := map[string]bool{}
	for _, d := range synth.Generate(synth.Options{Seed: 81, Patients: 3, DocsPerPatient: 20}).Documents {
		types[d.Meta.Type.Token()] = true
	}
	var docTypes []string
	for t := range types {
		docTypes = append(docTypes, t)
	}
	op := carnet.Request{Actor: carnet.Actor{Kind: carnet.ActorSystem, Operator: true, ID: carnet.Identifier{Value: "operateur"}}}
	permit, err := env.Secondary.CreatePermit(ctx, op, carnet.Permit{Purpose: "mesure", Recipient: "banc", Client: "banc",
		DocumentTypes: docTypes, ItemTypes: carnet.ItemKinds, Expires: time.Now().Add(time.Hour), MinK: 2,
		Narrative: carnet.NarrativeDeidentify})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		runtime.GC()
		base := heapObjects()
		h := startSampler()
		var sink countingSink
		rep, err := env.Secondary.Export(ctx, secondary.ExportRequest{Permit: permit}, &sink, nil)
		peak := h.done()
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(peak-min(peak, base))/(1<<20), "peak-heap-MB")
		b.ReportMetric(float64(sink.bytes.Load())/(1<<20), "export-MB")
		b.ReportMetric(float64(stored)/(1<<20), "documents-MB")
		b.ReportMetric(float64(rep.RecordsReleased), "records-released")
		b.ReportMetric(float64(n), "records")
		b.Logf("k report %+v", rep)
	}
}
