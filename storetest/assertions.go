package storetest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/carnet-sante/carnet"
)

// A signed assertion is used once until it expires, whoever asks, even
// two at once; then it is forgotten.
func testUsedAssertions(t *testing.T, st carnet.Store) {
	s, ok := st.(carnet.AssertionStore)
	if !ok {
		t.Fatalf("%T does not remember used assertions (carnet.AssertionStore)", st)
	}
	ctx := context.Background()
	now := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	use := func(key string, at, until time.Time) bool {
		t.Helper()
		fresh, err := s.UseAssertion(ctx, key, at, until)
		if err != nil {
			t.Fatal(err)
		}
		return fresh
	}
	a, b := NewID("assertion"), NewID("assertion")
	if !use(a, now, now.Add(time.Hour)) {
		t.Fatal("a first use was refused")
	}
	if use(a, now.Add(time.Minute), now.Add(time.Hour)) {
		t.Error("a second use within the assertion's lifetime was accepted")
	}
	if !use(b, now.Add(time.Minute), now.Add(time.Hour)) {
		t.Error("another assertion was refused")
	}
	if !use(a, now.Add(2*time.Hour), now.Add(3*time.Hour)) {
		t.Error("an expired record still refuses its key")
	}
	// Two at once: one of them only.
	c := NewID("assertion")
	var wg sync.WaitGroup
	fresh := make([]bool, 8)
	for i := range fresh {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok, err := s.UseAssertion(ctx, c, now, now.Add(time.Hour))
			if err != nil {
				t.Error(err)
			}
			fresh[i] = ok
		}()
	}
	wg.Wait()
	n := 0
	for _, f := range fresh {
		if f {
			n++
		}
	}
	if n != 1 {
		t.Errorf("one assertion given at once to 8 callers was accepted %d times, want 1", n)
	}
}
