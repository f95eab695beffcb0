package web

import (
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/carnet-sante/carnet/internal/testenv"
)

// BenchmarkPages measures the server time of each main page for a patient
// with 2,000 documents (CARNET_BENCH_WEB_DOCS to change it), p50 and p99,
// on SQLite and PostgreSQL (with CARNET_TEST_POSTGRES): the handler is
// called directly, so the figure is the server's alone. Every page is a
// real, audited access through the Service. Not run in CI:
//
//	go test ./web -run '^$' -bench Pages -benchtime 200x
func BenchmarkPages(b *testing.B) {
	docs := 2000
	if n, err := strconv.Atoi(os.Getenv("CARNET_BENCH_WEB_DOCS")); err == nil && n > 0 {
		docs = n
	}
	for _, be := range testenv.Backends {
		b.Run(be.Name, func(b *testing.B) {
			if be.Name == "postgres" && os.Getenv("CARNET_TEST_POSTGRES") == "" {
				b.Skip("set CARNET_TEST_POSTGRES to benchmark PostgreSQL")
			}
			start := time.Now()
			f := newFixture(b, be, docs)
			if be.Name == "postgres" {
				if _, err := f.env.DB.Exec("ANALYZE"); err != nil {
					b.Fatal(err)
				}
			}
			b.Logf("%s: %d documents filed in %s", be.Name, len(f.docs), time.Since(start).Round(time.Second))
			patient := f.client(b)
			patient.login("patient0")
			gp := f.client(b)
			gp.login("gp")
			key := f.recordKey(b, gp)
			pages := []struct {
				name string
				c    *client
				path string
			}{
				{"patient-documents", patient, "/patient"},
				{"patient-document", patient, "/patient/documents/" + f.docs[len(f.docs)/2]},
				{"patient-choices", patient, "/patient/choix"},
				{"patient-history", patient, "/patient/historique"},
				{"patient-notifications", patient, "/patient/notifications"},
				{"pro-pastille", gp, "/pro/dossier/" + key},
				{"pro-document", gp, "/pro/dossier/" + key + "/documents/" + f.docs[len(f.docs)/3]},
				{"pro-trends", gp, "/pro/dossier/" + key + "/tendances"},
			}
			for _, pg := range pages {
				b.Run(pg.name, func(b *testing.B) {
					ck := pg.c.cookie()
					times := make([]time.Duration, 0, b.N)
					for i := 0; i < b.N; i++ {
						req := httptest.NewRequest("GET", f.srv.URL+pg.path, nil)
						req.AddCookie(ck)
						w := httptest.NewRecorder()
						t0 := time.Now()
						f.web.ServeHTTP(w, req)
						times = append(times, time.Since(t0))
						if w.Code != http.StatusOK {
							b.Fatalf("%s: %d %s", pg.path, w.Code, w.Body.String()[:min(500, w.Body.Len())])
						}
					}
					slices.Sort(times)
					q := func(p float64) float64 { return float64(times[int(p*float64(len(times)-1))].Microseconds()) / 1000 }
					b.ReportMetric(q(0.5), "p50-ms")
					b.ReportMetric(q(0.99), "p99-ms")
				})
			}
		})
	}
}

// recordKey opens patient0's record as a professional (INS posted) and
// returns its key.
func (f *fixture) recordKey(t testing.TB, c *client) string {
	t.Helper()
	p := c.get("/pro")
	form := map[string][]string{"csrf": {csrfOf(t, p)}, "systeme": {strings.TrimPrefix(f.ins.System, "urn:oid:")}, "ins": {f.ins.Value}, "action": {"ouvrir"}}
	r := c.post("/pro", form)
	if !strings.HasPrefix(r.url.Path, "/pro/dossier/") {
		t.Fatalf("opening the record: %d %s\n%s", r.status, r.url, r.body)
	}
	return strings.TrimPrefix(r.url.Path, "/pro/dossier/")
}
