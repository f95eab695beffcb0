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
// a chunked upload reserves as it is read, and one that outgrows what is
// left fails with 503 too; requests without a body still pass; every
// reservation is given back when its request ends.
func TestBodyBudget(t *testing.T) {
	b := &BodyBudget{Max: 10 << 20, PerRequest: 4 << 20}
	hold := make(chan struct{})
	var read sync.WaitGroup
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		release, ok := b.Reserve(r)
		if !ok {
			Refuse(w)
			return
		}
		defer release()
		if _, err := io.Copy(io.Discard, r.Body); err != nil {
			if Exceeded(err) {
				Refuse(w)
			} else {
				w.WriteHeader(http.StatusBadRequest)
			}
			return
		}
		if r.Header.Get("X-Hold") != "" {
			read.Done()
			<-hold
		}
		w.WriteHeader(http.StatusNoContent)
	})
	srv := httptest.NewServer(h)
	defer srv.Close()
	post := func(size int, length int64, hold bool) *http.Response {
		req, _ := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader(strings.Repeat("x", size)))
		if size == 0 {
			req.Body = nil
		}
		req.ContentLength = length
		if hold {
			req.Header.Set("X-Hold", "1")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Error(err)
			return &http.Response{}
		}
		resp.Body.Close()
		return resp
	}
	holdAll := func(sizes []int, lengths []int64) chan int {
		done := make(chan int, len(sizes))
		read.Add(len(sizes))
		for i := range sizes {
			go func() { done <- post(sizes[i], lengths[i], true).StatusCode }()
		}
		read.Wait()
		return done
	}
	// Two 3 MiB bodies and a chunked 4 MiB one held: the whole budget.
	done := holdAll([]int{3 << 20, 3 << 20, 4 << 20}, []int64{3 << 20, 3 << 20, -1})
	if got := b.Held(); got != 10<<20 {
		t.Errorf("held %d bytes, want %d", got, 10<<20)
	}
	if resp := post(1, 1, false); resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Errorf("a body past the budget: %d, Retry-After %q; want 503 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if resp := post(10, -1, false); resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("a chunked body past the budget: %d, want 503", resp.StatusCode)
	}
	if resp := post(0, 0, false); resp.StatusCode != http.StatusNoContent {
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
	// A small chunked body costs what it is; one that outgrows what is
	// left fails as it is read.
	hold = make(chan struct{})
	done = holdAll([]int{3 << 20, 3 << 20, 3 << 20, 10}, []int64{3 << 20, 3 << 20, 3 << 20, -1})
	if got := b.Held(); got != 9<<20+bodyChunk {
		t.Errorf("held %d bytes, want %d (a small chunked body reserves one chunk)", got, 9<<20+bodyChunk)
	}
	if resp := post(2<<20, -1, false); resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("a chunked body outgrowing the budget: %d, want 503", resp.StatusCode)
	}
	close(hold)
	for range 4 {
		<-done
	}
	if got := b.Held(); got != 0 {
		t.Errorf("held %d bytes after every request ended", got)
	}
}
