package httpapi_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/carnet-sante/carnet/edge"
	"github.com/carnet-sante/carnet/internal/testenv"
)

// The node's budget of request bodies is taken once the caller is
// authenticated: unauthenticated callers declaring large bodies hold none
// of it, while an authenticated upload holds its share until it ends, and
// the next one past the budget gets 503 with Retry-After, on the FHIR API
// and XDS.b.
func TestBodyBudgetAfterAuthentication(t *testing.T) {
	env := testenv.New(t, testenv.Backends[0], testenv.Options{Bodies: &edge.BodyBudget{Max: 1 << 20, PerRequest: 1 << 20}})
	gp := env.Token(t, "gp")
	// start sends a POST declaring size bytes and writes only the first
	// few: the server holds the request until finish is called.
	start := func(path, token string, size int64) (finish func() *http.Response) {
		pr, pw := io.Pipe()
		req, _ := http.NewRequest(http.MethodPost, env.URL+path, pr)
		req.ContentLength = size
		req.Header.Set("Content-Type", "application/fhir+json")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		got := make(chan *http.Response, 1)
		go func() {
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				got <- nil
				return
			}
			resp.Body.Close()
			got <- resp
		}()
		pw.Write([]byte(`{"resourceType":"Bundle",`))
		return func() *http.Response {
			go func() {
				pw.Write([]byte(strings.Repeat(" ", int(size)-25)))
				pw.Close()
			}()
			select {
			case r := <-got:
				return r
			case <-time.After(10 * time.Second):
				t.Fatal("no answer")
				return nil
			}
		}
	}
	small := func(path string) int {
		req, _ := http.NewRequest(http.MethodPost, env.URL+path, strings.NewReader(`{"resourceType":"Bundle"}`))
		req.Header.Set("Content-Type", "application/fhir+json")
		req.Header.Set("Authorization", "Bearer "+gp)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusServiceUnavailable && resp.Header.Get("Retry-After") == "" {
			t.Errorf("503 without Retry-After")
		}
		return resp.StatusCode
	}
	// Unauthenticated callers declaring the whole budget: refused without
	// holding any of it.
	for range 3 {
		start("/", "", 1<<20)
	}
	time.Sleep(100 * time.Millisecond)
	if c := small("/"); c == http.StatusServiceUnavailable {
		t.Fatal("unauthenticated uploads held the budget")
	}
	// An authenticated upload of the whole budget: the next is refused,
	// on both APIs, until it ends.
	finish := start("/", gp, 1<<20)
	time.Sleep(100 * time.Millisecond)
	if c := small("/"); c != http.StatusServiceUnavailable {
		t.Errorf("FHIR API past the budget: %d, want 503", c)
	}
	if c := small("/xds/repository"); c != http.StatusServiceUnavailable {
		t.Errorf("XDS.b past the budget: %d, want 503", c)
	}
	// A chunked body (no declared length) reserves as it is read.
	chunked, _ := http.NewRequest(http.MethodPost, env.URL+"/", io.NopCloser(strings.NewReader(`{"resourceType":"Bundle"}`)))
	chunked.Header.Set("Content-Type", "application/fhir+json")
	chunked.Header.Set("Authorization", "Bearer "+gp)
	if resp, err := http.DefaultClient.Do(chunked); err != nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("a chunked body past the budget: %v %v, want 503", resp, err)
	} else {
		resp.Body.Close()
	}
	if r := finish(); r == nil || r.StatusCode == http.StatusServiceUnavailable {
		t.Fatalf("the held upload: %v", r)
	}
	if c := small("/"); c == http.StatusServiceUnavailable {
		t.Error("the budget was not given back")
	}
}
