package auditlog

import (
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/carnet-sante/carnet"
	"golang.org/x/mod/sumdb/note"
)

// leafFunc serves leaves from a slice, standing in for the Store's events.
func leafFunc(events [][]byte) (uint64, LeafFunc) {
	return uint64(len(events)), func(_ context.Context, i uint64) ([]byte, error) { return events[i], nil }
}

func TestVerifyCleanLog(t *testing.T) {
	ctx := context.Background()
	l, st, leaves, _ := newTestLog(t, 50)
	cp, _, err := l.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	n, f := leafFunc(leaves)
	if err := Verify(ctx, st, n, f, cp); err != nil {
		t.Fatalf("Verify on an untouched log: %v", err)
	}
}

// TestVerifyNamesFirstTamperedEvent tampers with the events as an attacker
// with SQL access would (edit, delete, reorder, insert a row) and checks
// that Verify names the first index that changed.
func TestVerifyNamesFirstTamperedEvent(t *testing.T) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(7, 11))
	kinds := []string{"edit", "delete", "reorder", "insert"}
	const trials = 400
	for trial := range trials {
		kind := kinds[trial%len(kinds)]
		size := 2 + rng.IntN(120)
		_, st, leaves, _ := newTestLog(t, size)
		events := append([][]byte(nil), leaves...)
		i := rng.IntN(size)
		want := uint64(i)
		switch kind {
		case "edit":
			e, err := ParseLeaf(events[i])
			if err != nil {
				t.Fatal(err)
			}
			e.RowDigest[rng.IntN(32)] ^= 1 << rng.IntN(8)
			events[i], _ = e.MarshalLeaf()
		case "delete":
			events = append(events[:i:i], events[i+1:]...)
		case "reorder":
			j := rng.IntN(size)
			for j == i {
				j = rng.IntN(size)
			}
			events[i], events[j] = events[j], events[i]
			want = uint64(min(i, j))
		case "insert":
			forged := makeLeaves(t, 10_000+trial, 1)[0]
			events = append(events[:i:i], append([][]byte{forged}, events[i:]...)...)
		}
		n, f := leafFunc(events)
		err := Verify(ctx, st, n, f)
		var te *TamperError
		if !errors.As(err, &te) {
			t.Fatalf("trial %d (%s at %d of %d): Verify = %v, want a TamperError", trial, kind, i, size, err)
		}
		if te.Index != want {
			t.Fatalf("trial %d (%s at %d of %d): Verify named entry %d, want %d (%v)", trial, kind, i, size, te.Index, want, err)
		}
	}
}

// TestVerifyCatchesRewrittenHashes rewrites an event and its stored leaf hash
// together: only the signed checkpoints kept from before can tell.
func TestVerifyCatchesRewrittenHashes(t *testing.T) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(3, 5))
	for trial := range 120 {
		l, st, leaves, _ := newTestLog(t, 0)
		var cps []Checkpoint
		for range 4 {
			more := makeLeaves(t, len(leaves), 1+rng.IntN(40))
			if _, err := l.Append(ctx, more...); err != nil {
				t.Fatal(err)
			}
			leaves = append(leaves, more...)
			cp, _, err := l.Checkpoint(ctx)
			if err != nil {
				t.Fatal(err)
			}
			cps = append(cps, cp)
		}
		i := rng.IntN(len(leaves))
		events := append([][]byte(nil), leaves...)
		events[i] = makeLeaves(t, 50_000+trial, 1)[0]
		hashes, _ := st.LeafHashes(ctx, 0, uint64(len(leaves)))
		hashes[i] = HashLeaf(events[i])
		st.Set(hashes)

		// The checkpoint that first covered i is the first to fail; the
		// error names the start of its new range.
		var want uint64
		for _, cp := range cps {
			if uint64(i) < cp.Size {
				break
			}
			want = cp.Size
		}
		n, f := leafFunc(events)
		err := Verify(ctx, st, n, f, cps...)
		var te *TamperError
		if !errors.As(err, &te) {
			t.Fatalf("trial %d: Verify = %v, want a TamperError", trial, err)
		}
		if te.Index != want || te.Index > uint64(i) {
			t.Fatalf("trial %d: rewrote %d, Verify named %d, want %d", trial, i, te.Index, want)
		}
	}
}

func TestVerifyCatchesTruncatedLog(t *testing.T) {
	ctx := context.Background()
	l, st, leaves, _ := newTestLog(t, 20)
	cp, _, err := l.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	hashes, _ := st.LeafHashes(ctx, 0, 20)
	st.Set(hashes[:15])
	n, f := leafFunc(leaves[:15])
	err = Verify(ctx, st, n, f, cp)
	var te *TamperError
	if !errors.As(err, &te) || te.Index != 15 {
		t.Fatalf("Verify after dropping the last 5 entries and events = %v, want entry 15 named", err)
	}
}

// TestWitnessDetectsFork shows two clients two different trees of the same
// size, each validly signed: a client that kept a checkpoint from before the
// fork refuses the branch it was not on.
func TestWitnessDetectsFork(t *testing.T) {
	ctx := context.Background()
	skey, vkey, err := GenerateKey(testOrigin)
	if err != nil {
		t.Fatal(err)
	}
	s, _ := note.NewSigner(skey)
	v, _ := NewVerifier(vkey)
	common := makeLeaves(t, 0, 37)
	build := func(tail [][]byte) *Log {
		l, err := New(testOrigin, &MemStorage{}, s)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := l.Append(ctx, append(append([][]byte(nil), common...), tail...)...); err != nil {
			t.Fatal(err)
		}
		return l
	}
	a := build(makeLeaves(t, 100, 20))
	b := build(makeLeaves(t, 200, 20))

	// Both trees share their first 37 leaves: the checkpoint from before
	// the fork.
	pre := build(nil)
	_, signedPre, err := pre.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}

	alice := NewWitness(testOrigin, v, nil)
	if _, err := alice.Update(signedPre, nil); err != nil {
		t.Fatalf("first checkpoint: %v", err)
	}
	cpA, signedA, _ := a.Checkpoint(ctx)
	pA, err := a.ConsistencyProof(ctx, 37, cpA.Size)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := alice.Update(signedA, pA); err != nil {
		t.Fatalf("honest extension refused: %v", err)
	}

	// Bob also saw the common prefix, then is shown branch b; Alice, who is
	// on branch a, is then shown branch b too.
	cpB, signedB, _ := b.Checkpoint(ctx)
	if cpB.Size != cpA.Size || string(cpB.Root) == string(cpA.Root) {
		t.Fatal("test setup: want two different trees of the same size")
	}
	bob := NewWitness(testOrigin, v, nil)
	if _, err := bob.Update(signedPre, nil); err != nil {
		t.Fatal(err)
	}
	pB, _ := b.ConsistencyProof(ctx, 37, cpB.Size)
	if _, err := bob.Update(signedB, pB); err != nil {
		t.Fatalf("bob's extension refused: %v", err)
	}
	for _, proof := range [][][]byte{nil, pA, pB} {
		_, err := alice.Update(signedB, proof)
		if !errors.Is(err, ErrInconsistent) {
			t.Fatalf("alice shown the other branch: Update = %v, want ErrInconsistent", err)
		}
	}
	if last, _ := alice.Last(); string(last.Root) != string(cpA.Root) {
		t.Fatal("a refused checkpoint replaced the last one")
	}
	// A client restored from a remembered pre-fork checkpoint cannot be
	// talked into branch a with branch b's proof.
	carol := NewWitness(testOrigin, v, &Checkpoint{Origin: testOrigin, Size: 37, Root: mustRoot(t, pre)})
	if _, err := carol.Update(signedA, pB); !errors.Is(err, ErrInconsistent) {
		t.Fatalf("carol shown branch a with branch b's proof: %v, want ErrInconsistent", err)
	}
	if _, err := carol.Update(signedA, pA); err != nil {
		t.Fatalf("carol shown branch a with its own proof: %v", err)
	}
	// A shrinking log is a fork too.
	if _, err := alice.Update(signedPre, nil); !errors.Is(err, ErrInconsistent) {
		t.Fatalf("alice shown an older, smaller tree: Update = %v, want ErrInconsistent", err)
	}
}

func mustRoot(t *testing.T, l *Log) []byte {
	t.Helper()
	cp, _, err := l.Checkpoint(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return cp.Root
}

func TestOpenCheckpointRefusals(t *testing.T) {
	ctx := context.Background()
	l, _, _, v := newTestLog(t, 3)
	cp, signed, err := l.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got, err := OpenCheckpoint(signed, testOrigin, v)
	if err != nil || got.Size != cp.Size || string(got.Root) != string(cp.Root) {
		t.Fatalf("OpenCheckpoint = %+v, %v; want %+v", got, err, cp)
	}

	otherSkey, otherVkey, _ := GenerateKey(testOrigin)
	otherS, _ := note.NewSigner(otherSkey)
	otherV, _ := NewVerifier(otherVkey)
	forged, _ := SignCheckpoint(cp, otherS)
	otherOrigin, _ := SignCheckpoint(Checkpoint{Origin: "elsewhere.test/audit", Size: cp.Size, Root: cp.Root}, mustSigner(t, l))
	flipped := []byte(strings.Replace(string(signed), "\n3\n", "\n4\n", 1))

	for name, tc := range map[string]struct {
		msg []byte
		v   note.Verifier
	}{
		"signed by another key":     {forged, v},
		"verified with another key": {signed, otherV},
		"another log's origin":      {otherOrigin, v},
		"size edited after signing": {flipped, v},
		"no signature":              {cp.Marshal(), v},
	} {
		_, err := OpenCheckpoint(tc.msg, testOrigin, tc.v)
		if err == nil {
			t.Errorf("%s: OpenCheckpoint accepted it", name)
			continue
		}
		if !errors.Is(err, ErrBadCheckpoint) || !carnet.IsKind(err, carnet.KindUnauthenticated) {
			t.Errorf("%s: err = %v, want KindUnauthenticated wrapping ErrBadCheckpoint", name, err)
		}
	}
}

func mustSigner(t *testing.T, l *Log) note.Signer { t.Helper(); return l.signer }

func TestCheckpointParse(t *testing.T) {
	root := "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
	for _, tc := range []struct {
		text string
		ok   bool
	}{
		{"carnet.test/audit\n0\n" + root + "\n", true},
		{"carnet.test/audit\n18446744073709551615\n" + root + "\n", true},
		{"carnet.test/audit\n18446744073709551616\n" + root + "\n", false},
		{"carnet.test/audit\n012\n" + root + "\n", false},
		{"carnet.test/audit\n+12\n" + root + "\n", false},
		{"carnet.test/audit\n12\n" + root, false},
		{"carnet.test/audit\n12\n" + root + "\nextension\n", false},
		{"carnet test\n12\n" + root + "\n", false},
		{"\n12\n" + root + "\n", false},
		{"carnet.test/audit\n12\n" + strings.TrimSuffix(root, "=") + "\n", false},
		{"carnet.test/audit\n12\nAAAA\n", false},
	} {
		c, err := ParseCheckpoint([]byte(tc.text))
		if (err == nil) != tc.ok {
			t.Errorf("ParseCheckpoint(%q) err = %v, want ok=%v", tc.text, err, tc.ok)
			continue
		}
		if tc.ok && string(c.Marshal()) != tc.text {
			t.Errorf("Marshal(ParseCheckpoint(%q)) = %q", tc.text, c.Marshal())
		}
	}
}

func FuzzParseCheckpoint(f *testing.F) {
	f.Add([]byte("carnet.test/audit\n12\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n"))
	f.Add([]byte("a\n0\n\n"))
	f.Add([]byte("carnet.test/audit\n12\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n\n— carnet.test/audit AAAA\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseCheckpoint(b)
		if err != nil {
			return
		}
		// Only canonical text parses: re-encoding gives the same bytes.
		if got := c.Marshal(); string(got) != string(b) {
			t.Fatalf("Marshal(ParseCheckpoint(%q)) = %q", b, got)
		}
	})
}

func FuzzParseLeaf(f *testing.F) {
	e := NewEntry("ev-1", testTime, []byte("row"))
	b, _ := e.MarshalLeaf()
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := ParseLeaf(b)
		if err != nil {
			return
		}
		if got, err := e.MarshalLeaf(); err != nil || string(got) != string(b) {
			t.Fatalf("MarshalLeaf(ParseLeaf(%q)) = %q, %v", b, got, err)
		}
	})
}

func TestKeyFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "audit.key")
	skey, vkey, err := GenerateKey(testOrigin)
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteKeyFile(path, skey); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o600 {
		t.Errorf("key file mode = %o, want 600", got)
	}
	if err := WriteKeyFile(path, skey); !carnet.IsKind(err, carnet.KindConflict) {
		t.Errorf("overwriting the key file: err = %v, want KindConflict", err)
	}
	s, err := LoadSigner(path)
	if err != nil {
		t.Fatal(err)
	}
	v, _ := NewVerifier(vkey)
	signed, err := SignCheckpoint(Checkpoint{Origin: testOrigin, Size: 1, Root: make([]byte, 32)}, s)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := OpenCheckpoint(signed, testOrigin, v); err != nil {
		t.Errorf("checkpoint signed with the loaded key: %v", err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadSigner(path); err == nil {
		t.Error("LoadSigner accepted a world-readable key file")
	}
}
