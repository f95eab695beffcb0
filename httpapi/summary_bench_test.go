package httpapi_test

import (
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	carnet "github.com/carnet-sante/carnet"
	"github.com/carnet-sante/carnet/internal/testenv"
	"github.com/carnet-sante/carnet/synth"
)

// BenchmarkSummary: GET /Patient/$summary and the first page of
// GET /Patient/$everything (_count=50) by the patient, on a record of 200
// realistic documents (20–50 KB each, their items extracted), over
// loopback. Run: go test ./httpapi -run '^$' -bench Summary -benchtime 50x
func BenchmarkSummary(b *testing.B) {
	benchBackends(b, func(b *testing.B, be testenv.Backend) {
		env := testenv.New(b, be, testenv.Options{})
		ctx := testenv.Context(b, 10*time.Minute)
		o := synth.Options{Seed: 81, Patients: 1, DocsPerPatient: 200, LargeDocs: true}
		pats, _ := o.People()
		ins := pats[0].INS
		err := o.EachDocument(func(d synth.Document) error {
			sub := carnet.Submission{Patient: ins, Set: carnet.SubmissionSet{UniqueID: d.UniqueID + ".set", SourceID: "1.2.250.1.999.2", ContentType: d.Meta.Type},
				Documents: []carnet.SubmittedDocument{{UniqueID: d.UniqueID, Meta: d.Meta, Content: d.Content}}}
			_, err := env.Service.Provide(ctx, testenv.SoftwareFiling("bench", sub), sub)
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
		tok := env.PatientToken(b, ins, false)
		for _, path := range []string{"/Patient/$summary", "/Patient/$everything?_count=50"} {
			b.Run(fmt.Sprintf("path=%s", path), func(b *testing.B) {
				var lat []time.Duration
				size := 0
				for b.Loop() {
					req, _ := http.NewRequest("GET", env.URL+path, nil)
					req.Header.Set("Authorization", "Bearer "+tok)
					start := time.Now()
					res, err := http.DefaultClient.Do(req)
					if err != nil {
						b.Fatal(err)
					}
					body, _ := io.ReadAll(res.Body)
					res.Body.Close()
					lat = append(lat, time.Since(start))
					if res.StatusCode != 200 {
						b.Fatalf("%s: %d %s", path, res.StatusCode, body)
					}
					size = len(body)
				}
				reportLatency(b, lat)
				b.ReportMetric(float64(size)/1024, "KiB/answer")
			})
		}
	})
}
