package edge

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// Large bodies from many clients at once: past the node's budget the next
// one is refused at once with 503 and Retry-After, before its body is read;
// small requests and requests without a body still pass; a reservation is
// given back when its request ends.
func TestBodyBudget(t *testing.T) {
	hold := make(chan struct{})
	var read sync.WaitGroup
	b := &BodyBudget{Max: 10 << 20, PerRequest: 4 << 20}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		release, ok := b.Reserve(r)
		if !ok {
			Refuse(w)
			return
		}
		defer release()
		io.Copy(io.Discard, r.Body)
		if r.Header.Get("X-Hold") != "" {
			read.Done()
			<-hold
		}
		w.WriteHeader(http.StatusNoContent)
	})
	srv := httptest.NewServer(h)
	defer srv.Close()
	post := func(body io.Reader, length int64, hold bool) *http.Response {
		req, _ := http.NewRequest(http.MethodPost, srv.URL, body)
		req.ContentLength = length
		if hold {
			req.Header.Set("X-Hold", "1")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	big := strings.Repeat("x", 3<<20)
	// Two 3 MiB bodies held, then a chunked one (reserves 4 MiB): 10 MiB.
	read.Add(3)
	done := make(chan int, 3)
	for _, length := range []int64{3 << 20, 3 << 20, -1} {
		go func() { done <- post(strings.NewReader(big), length, true).StatusCode }()
	}
	read.Wait()
	if got := b.Held(); got != 10<<20 {
		t.Fatalf("held %d bytes, want %d", got, 10<<20)
	}
	resp := post(strings.NewReader("x"), 1, false)
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Errorf("a body past the budget: %d, Retry-After %q; want 503 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if resp := post(nil, 0, false); resp.StatusCode != http.StatusNoContent {
		t.Errorf("a request without a body: %d", resp.StatusCode)
	}
	close(hold)
	for range 3 {
		if c := <-done; c != http.StatusNoContent {
			t.Errorf("a held request: %d", c)
		}
	}
	if got := b.Held(); got != 0 {
		t.Errorf("held %d bytes after every request ended", got)
	}
	if resp := post(strings.NewReader(big), int64(len(big)), false); resp.StatusCode != http.StatusNoContent {
		t.Errorf("a body once the others ended: %d", resp.StatusCode)
	}
}
