package auditlog

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/carnet-sante/carnet"
	"golang.org/x/mod/sumdb/note"
)

const testOrigin = "carnet.test/audit"

var testTime = time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)

// newTestLog returns a log of n entries, its leaves, signer and verifier.
func newTestLog(t testing.TB, n int) (*Log, *MemStorage, [][]byte, note.Verifier) {
	t.Helper()
	skey, vkey, err := GenerateKey(testOrigin)
	if err != nil {
		t.Fatal(err)
	}
	s, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	v, err := NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	st := &MemStorage{}
	l, err := New(testOrigin, st, s)
	if err != nil {
		t.Fatal(err)
	}
	leaves := makeLeaves(t, 0, n)
	if n > 0 {
		if _, err := l.Append(context.Background(), leaves...); err != nil {
			t.Fatal(err)
		}
	}
	return l, st, leaves, v
}

func makeLeaves(t testing.TB, from, n int) [][]byte {
	t.Helper()
	base := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	out := make([][]byte, n)
	for i := range n {
		e := NewEntry(fmt.Sprintf("ev-%d", from+i), base.Add(time.Duration(from+i)*time.Second), fmt.Appendf(nil, "sealed row %d", from+i))
		b, err := e.MarshalLeaf()
		if err != nil {
			t.Fatal(err)
		}
		out[i] = b
	}
	return out
}

func TestProofsVerifyForManySizes(t *testing.T) {
	ctx := context.Background()
	const max = 300
	l, _, leaves, _ := newTestLog(t, 0)
	rng := rand.New(rand.NewPCG(1, 2))
	var cps []Checkpoint
	for size := 1; size <= max; size++ {
		if _, err := l.Append(ctx, leaves2(t, size-1)...); err != nil {
			t.Fatal(err)
		}
		leaves = append(leaves, leaves2(t, size-1)...)
		cp, _, err := l.Checkpoint(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if cp.Size != uint64(size) {
			t.Fatalf("checkpoint size = %d, want %d", cp.Size, size)
		}
		cps = append(cps, cp)
		for range 3 {
			i := rng.Uint64N(uint64(size))
			p, err := l.InclusionProof(ctx, i, cp.Size)
			if err != nil {
				t.Fatal(err)
			}
			if err := VerifyInclusion(leaves[i], i, p, cp); err != nil {
				t.Fatalf("size %d index %d: inclusion: %v", size, i, err)
			}
			if err := VerifyInclusion(leaves[(i+1)%uint64(size)], i, p, cp); size > 1 && err == nil {
				t.Fatalf("size %d index %d: wrong leaf accepted", size, i)
			}
			old := cps[rng.IntN(len(cps))]
			cp2, err := l.ConsistencyProof(ctx, old.Size, cp.Size)
			if err != nil {
				t.Fatal(err)
			}
			if err := VerifyConsistency(old, cp, cp2); err != nil {
				t.Fatalf("consistency %d -> %d: %v", old.Size, cp.Size, err)
			}
		}
	}
	// An inclusion proof against an older tree size verifies against that
	// older checkpoint.
	p, err := l.InclusionProof(ctx, 4, 10)
	if err != nil {
		t.Fatal(err)
	}
	if err := VerifyInclusion(leaves[4], 4, p, cps[9]); err != nil {
		t.Fatalf("inclusion in size 10: %v", err)
	}
}

func leaves2(t *testing.T, i int) [][]byte { t.Helper(); return makeLeaves(t, i, 1) }

func TestProofArgumentsOutOfRange(t *testing.T) {
	ctx := context.Background()
	l, _, _, _ := newTestLog(t, 5)
	if _, err := l.InclusionProof(ctx, 5, 5); err == nil {
		t.Error("inclusion proof for index 5 of size 5: got nil error")
	}
	// Beyond the log is the caller's mistake (400), not an outage (503)
	// that would page an operator (second hostile review, item 9).
	for name, err := range map[string]error{
		"inclusion in a tree larger than the log":   second(l.InclusionProof(ctx, 1, 6)),
		"inclusion far beyond the log":              second(l.InclusionProof(ctx, 99999999, 99999999999)),
		"consistency to a tree larger than the log": second(l.ConsistencyProof(ctx, 1, 99999999999)),
		"consistency 4 -> 3":                        second(l.ConsistencyProof(ctx, 4, 3)),
	} {
		if !carnet.IsKind(err, carnet.KindInvalid) {
			t.Errorf("%s: %v, want KindInvalid", name, err)
		}
	}
}

func TestLeafRoundTripAndCanonical(t *testing.T) {
	e := NewEntry("ev-1", time.Date(2026, 3, 1, 9, 30, 0, 5, time.FixedZone("CET", 3600)), []byte("row"))
	b, err := e.MarshalLeaf()
	if err != nil {
		t.Fatal(err)
	}
	want := "carnet-audit-v1\nev-1\n2026-03-01T08:30:00.000000005Z\n"
	if got := string(b[:len(want)]); got != want {
		t.Fatalf("leaf starts %q, want %q", got, want)
	}
	got, err := ParseLeaf(b)
	if err != nil {
		t.Fatal(err)
	}
	if got.EventID != e.EventID || !got.Time.Equal(e.Time) || got.RowDigest != e.RowDigest {
		t.Fatalf("ParseLeaf = %+v, want %+v", got, e)
	}
	for _, bad := range []string{
		"", "carnet-audit-v2\nev\n2026-03-01T08:30:00.000000005Z\n" + string(b[len(b)-65:]),
		string(b[:len(b)-1]), string(b) + "x",
		"carnet-audit-v1\nev 1\n2026-03-01T08:30:00.000000005Z\n" + string(b[len(b)-65:]),
		"carnet-audit-v1\nev\n2026-03-01T08:30:00Z\n" + string(b[len(b)-65:]),
	} {
		if _, err := ParseLeaf([]byte(bad)); err == nil {
			t.Errorf("ParseLeaf(%q): got nil error", bad)
		}
	}
	if _, err := (Entry{EventID: "bad\nid"}).MarshalLeaf(); err == nil {
		t.Error("MarshalLeaf with a newline in the id: got nil error")
	}
}

// TestConcurrentAppendersNeverShareAnIndex runs two Logs (two processes, say)
// over one Storage: each append lands at its own index or fails with
// KindConflict, so no event is silently lost or overwritten.
func TestConcurrentAppendersNeverShareAnIndex(t *testing.T) {
	ctx := context.Background()
	l1, st, _, _ := newTestLog(t, 0)
	l2, err := New(testOrigin, st, l1.signer)
	if err != nil {
		t.Fatal(err)
	}
	const per = 200
	var (
		mu       sync.Mutex
		accepted = map[uint64]bool{}
		wg       sync.WaitGroup
	)
	for w, l := range []*Log{l1, l2} {
		wg.Go(func() {
			for i := range per {
				idx, err := l.Append(ctx, makeLeaves(t, w*per+i, 1)...)
				if carnet.IsKind(err, carnet.KindConflict) {
					continue
				}
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				if accepted[idx] {
					t.Errorf("index %d given twice", idx)
				}
				accepted[idx] = true
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	size, _ := st.Size(ctx)
	if size != uint64(len(accepted)) {
		t.Fatalf("log size %d, accepted appends %d", size, len(accepted))
	}
}

func second[T any](_ T, err error) error { return err }
