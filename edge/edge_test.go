package edge

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestLoadClientMap(t *testing.T) {
	id := strings.Repeat("ab", 32)
	m, err := LoadClientMap(strings.NewReader("# comment\n" + id + ",lgc-1,750000001,system/DocumentReference.c system/Binary.c\n"))
	if err != nil {
		t.Fatal(err)
	}
	a := m[id]
	if a.ID.Value != "lgc-1" || a.ID.System != MTLSSystem || a.Org.Value != "750000001" || len(a.Scopes) != 2 {
		t.Fatalf("mapped to %+v", a)
	}
	for _, bad := range []string{
		"abc,lgc,,system/x",                         // not a SHA-256
		id + ",lgc,,user/*.rs",                      // software gets system scopes only
		id + ",,,system/x",                          // no client id
		id + ",lgc,12,system/x",                     // bad FINESS
		id + ",a,,system/x\n" + id + ",b,,system/x", // twice
	} {
		if _, err := LoadClientMap(strings.NewReader(bad)); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}

func FuzzLoadClientMap(f *testing.F) {
	f.Add(strings.Repeat("0f", 32) + ",lgc,750000001,system/Binary.r\n")
	f.Fuzz(func(t *testing.T, s string) {
		m, err := LoadClientMap(strings.NewReader(s))
		if err != nil {
			return
		}
		for id, a := range m {
			if len(id) != 64 || a.Kind != "system" {
				t.Fatalf("bad entry %q %+v", id, a)
			}
		}
	})
}

// The budget refills at its rate and a client's concurrency is bounded;
// one client's spending does not touch another's.
func TestLimiterBudgets(t *testing.T) {
	now := time.Unix(1000, 0)
	lm := NewLimiter(Limits{Rate: 2, Burst: 3, MaxInFlight: 1, Now: func() time.Time { return now }})
	for i := range 3 {
		if ok, _ := lm.admit("a", 1); !ok {
			t.Fatalf("request %d within the burst refused", i)
		}
		lm.done("a")
	}
	ok, retry := lm.admit("a", 1)
	if ok || retry <= 0 || retry > time.Second {
		t.Fatalf("over the burst: ok=%v retry=%v", ok, retry)
	}
	if ok, _ := lm.admit("b", 1); !ok {
		t.Fatal("another client is limited by the first one's spending")
	}
	now = now.Add(time.Second) // two tokens back
	if ok, _ := lm.admit("a", 1); !ok {
		t.Fatal("the budget did not refill")
	}
	if ok, _ := lm.admit("a", 1); ok {
		t.Fatal("a second concurrent request passed MaxInFlight 1")
	}
}

func TestMetricsUseRoutePatternsOnly(t *testing.T) {
	m := NewMetrics()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /DocumentReference/{id}", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(404) })
	h := m.Observe(mux, nil)
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/DocumentReference/secret-id-123?patient.identifier=1800175123456", nil))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/nowhere/else-id", nil))
	var b strings.Builder
	m.WriteTo(&b)
	out := b.String()
	if !strings.Contains(out, `carnet_http_requests_total{route="/DocumentReference/{id}",method="GET",code="404"} 1`) {
		t.Errorf("no count by route pattern:\n%s", out)
	}
	for _, leak := range []string{"secret-id-123", "1800175123456", "else-id"} {
		if strings.Contains(out, leak) {
			t.Errorf("metrics carry %q", leak)
		}
	}
}
