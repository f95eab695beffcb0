package auditlog

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/carnet-sante/carnet"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *fakeClock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func recordN(t testing.TB, r *Recorder, from, n int) {
	t.Helper()
	for i := from; i < from+n; i++ {
		if err := r.Record(context.Background(), newEvent(i)); err != nil {
			t.Fatalf("Record: %v", err)
		}
	}
}

func storedCheckpoints(t testing.TB, d *testDB) []carnet.StoredCheckpoint {
	t.Helper()
	cps, err := d.store.Checkpoints(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return cps
}

// walkCheckpoints opens the stored checkpoints and checks each successive
// pair with a consistency proof from the log, as a client's Witness would.
func walkCheckpoints(t testing.TB, d *testDB) []Checkpoint {
	t.Helper()
	ctx := context.Background()
	w := NewWitness(testOrigin, d.verifier, nil)
	var out []Checkpoint
	for _, s := range storedCheckpoints(t, d) {
		var proof [][]byte
		if last, ok := w.Last(); ok {
			if s.Size <= last.Size {
				t.Fatalf("stored checkpoints of sizes %d then %d", last.Size, s.Size)
			}
			var err error
			if proof, err = d.log.ConsistencyProof(ctx, last.Size, s.Size); err != nil {
				t.Fatal(err)
			}
		}
		cp, err := w.Update(s.Note, proof)
		if err != nil {
			t.Fatalf("checkpoint of size %d: %v", s.Size, err)
		}
		out = append(out, cp)
	}
	return out
}

// TestCheckpointerStoresOnGrowth: a checkpoint is stored when the log grew,
// not otherwise; successive ones are consistent; a restarted process
// carries on from the last one.
func TestCheckpointerStoresOnGrowth(t *testing.T) {
	eachBackend(t, func(t *testing.T, d *testDB) {
		ctx := context.Background()
		r := d.recorder(t, RecorderOptions{})
		clock := &fakeClock{t: testTime}
		c := d.checkpointer(CheckpointerOptions{Clock: clock})

		cp, signed, err := c.Checkpoint(ctx)
		if err != nil || cp.Size != 0 {
			t.Fatalf("empty log: Checkpoint = %+v, %v", cp, err)
		}
		if _, err := OpenCheckpoint(signed, testOrigin, d.verifier); err != nil {
			t.Fatalf("empty log's checkpoint: %v", err)
		}
		if n := len(storedCheckpoints(t, d)); n != 0 {
			t.Fatalf("%d checkpoints stored for the empty log, want 0", n)
		}

		recordN(t, r, 0, 5)
		cp5, signed5, err := c.Checkpoint(ctx)
		if err != nil || cp5.Size != 5 {
			t.Fatalf("Checkpoint = %+v, %v; want size 5", cp5, err)
		}
		clock.Advance(time.Minute)
		again, signedAgain, err := c.Checkpoint(ctx)
		if err != nil || again.Size != 5 || !bytes.Equal(signedAgain, signed5) {
			t.Fatalf("Checkpoint without growth = %+v, %v; want the same note", again, err)
		}
		stored := storedCheckpoints(t, d)
		if len(stored) != 1 || stored[0].Size != 5 || !bytes.Equal(stored[0].Note, signed5) || !stored[0].Time.Equal(testTime) {
			t.Fatalf("stored %+v, want one of size 5 signed at %v", stored, testTime)
		}

		recordN(t, r, 5, 3)
		cp8, signed8, err := c.Checkpoint(ctx)
		if err != nil || cp8.Size != 8 {
			t.Fatalf("Checkpoint = %+v, %v; want size 8", cp8, err)
		}
		proof, err := d.log.ConsistencyProof(ctx, 5, 8)
		if err != nil {
			t.Fatal(err)
		}
		if err := VerifyConsistency(cp5, cp8, proof); err != nil {
			t.Fatalf("checkpoints 5 and 8 inconsistent: %v", err)
		}
		if got := walkCheckpoints(t, d); len(got) != 2 {
			t.Fatalf("%d checkpoints stored, want 2", len(got))
		}

		// The root is the tree of the leaves recomputed from the events.
		rows, err := d.store.AuditEvents(ctx, 0, 8)
		if err != nil {
			t.Fatal(err)
		}
		mem, _ := New(testOrigin, &MemStorage{}, d.signer)
		for _, row := range rows {
			leaf, _ := NewEntry(row.ID, row.Time, row.Sealed).MarshalLeaf()
			mem.Append(ctx, leaf)
		}
		if want, _, _ := mem.Checkpoint(ctx); !bytes.Equal(want.Root, cp8.Root) {
			t.Fatal("checkpoint root is not the root of the events' leaves")
		}

		// A restarted process returns the stored note and stores nothing.
		c2 := d.checkpointer(CheckpointerOptions{})
		if _, got, err := c2.Checkpoint(ctx); err != nil || !bytes.Equal(got, signed8) {
			t.Fatalf("after restart: %v, want the stored note of size 8", err)
		}
		if n := len(storedCheckpoints(t, d)); n != 2 {
			t.Fatalf("%d checkpoints stored after restart, want 2", n)
		}
		rep, err := d.fsck(t, true)
		if err != nil || rep.Checkpoints != 2 || rep.Unsigned != 0 {
			t.Fatalf("Fsck = %+v, %v", rep, err)
		}
	})
}

// TestCheckpointerRun signs while events arrive: every stored checkpoint
// extends the previous one.
func TestCheckpointerRun(t *testing.T) {
	eachBackend(t, func(t *testing.T, d *testDB) {
		r := d.recorder(t, RecorderOptions{})
		c := d.checkpointer(CheckpointerOptions{})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- c.Run(ctx, 2*time.Millisecond) }()
		for i := range 8 {
			recordN(t, r, i*5, 5)
			time.Sleep(10 * time.Millisecond)
		}
		// Under load a signature may take longer than the last sleep: give
		// Run the time to sign the final size before stopping it.
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
			if cps := storedCheckpoints(t, d); len(cps) > 0 && cps[len(cps)-1].Size == 40 {
				break
			}
		}
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Fatalf("Run returned %v, want context.Canceled", err)
		}
		cps := walkCheckpoints(t, d)
		t.Logf("Run stored %d checkpoints over 40 events", len(cps))
		if len(cps) < 2 {
			t.Fatalf("Run stored %d checkpoints, want several", len(cps))
		}
		if last := cps[len(cps)-1]; last.Size != 40 {
			t.Errorf("last checkpoint of size %d, want 40", last.Size)
		}
	})
}

// TestCheckpointerMinInterval: between two signatures at least MinInterval
// passes; in between the latest is returned.
func TestCheckpointerMinInterval(t *testing.T) {
	d := newTestDB(t, backends[0])
	ctx := context.Background()
	r := d.recorder(t, RecorderOptions{})
	clock := &fakeClock{t: testTime}
	c := d.checkpointer(CheckpointerOptions{Clock: clock, MinInterval: time.Minute})
	recordN(t, r, 0, 3)
	if cp, _, err := c.Checkpoint(ctx); err != nil || cp.Size != 3 {
		t.Fatalf("Checkpoint = %+v, %v", cp, err)
	}
	recordN(t, r, 3, 2)
	clock.Advance(30 * time.Second)
	if cp, _, err := c.Checkpoint(ctx); err != nil || cp.Size != 3 {
		t.Fatalf("Checkpoint within MinInterval = %+v, %v; want the size-3 one", cp, err)
	}
	clock.Advance(31 * time.Second)
	if cp, _, err := c.Checkpoint(ctx); err != nil || cp.Size != 5 {
		t.Fatalf("Checkpoint after MinInterval = %+v, %v; want size 5", cp, err)
	}
}

// TestCheckpointerRefusesRewrittenHistory: once a history is signed, the
// Checkpointer does not sign another one rewriting it; nor a shrunk one.
func TestCheckpointerRefusesRewrittenHistory(t *testing.T) {
	eachBackend(t, func(t *testing.T, d *testDB) {
		ctx := context.Background()
		r := d.recorder(t, RecorderOptions{})
		c := d.checkpointer(CheckpointerOptions{})
		recordN(t, r, 0, 6)
		if _, _, err := c.Checkpoint(ctx); err != nil {
			t.Fatal(err)
		}
		// Event 2 rewritten with its digest and leaf, a self-consistent row.
		rows, _ := d.store.AuditEvents(ctx, 2, 3)
		sealed := append([]byte(nil), rows[0].Sealed...)
		sealed[len(sealed)-1] ^= 1
		sum := sha256.Sum256(sealed)
		leaf, _ := Entry{EventID: rows[0].ID, Time: rows[0].Time, RowDigest: sum}.MarshalLeaf()
		d.exec(t, "UPDATE audit_events SET sealed = ?, digest = ?, leaf_hash = ? WHERE seq = 2", sealed, sum[:], HashLeaf(leaf))
		recordN(t, r, 6, 2)
		for _, c := range []*Checkpointer{c, d.checkpointer(CheckpointerOptions{})} {
			if _, _, err := c.Checkpoint(ctx); !carnet.IsKind(err, carnet.KindInternal) {
				t.Fatalf("Checkpoint over a rewritten history: %v, want KindInternal", err)
			}
		}
		if n := len(storedCheckpoints(t, d)); n != 1 {
			t.Fatalf("%d checkpoints stored, want 1", n)
		}
		var te *TamperError
		if _, err := d.fsck(t, false); !errors.As(err, &te) || te.Index != 0 {
			t.Fatalf("Fsck = %v, want entry 0 named (the checkpoint of size 6 covers entries 0 to 5)", err)
		}
		if _, err := d.fsck(t, true); !errors.As(err, &te) || te.Index != 2 {
			t.Fatalf("Fsck with the keys = %v, want entry 2 named", err)
		}

		d.exec(t, "DELETE FROM audit_events WHERE seq >= 3")
		if _, _, err := d.checkpointer(CheckpointerOptions{}).Checkpoint(ctx); !carnet.IsKind(err, carnet.KindInternal) {
			t.Fatalf("Checkpoint over a shrunk log: %v, want KindInternal", err)
		}
	})
}

// TestCheckpointerKeyMismatch: a signing key that does not match the
// published verifier key is refused before anything is stored.
func TestCheckpointerKeyMismatch(t *testing.T) {
	d := newTestDB(t, backends[0])
	ctx := context.Background()
	recordN(t, d.recorder(t, RecorderOptions{}), 0, 2)
	_, vkey, _ := GenerateKey(testOrigin)
	other, _ := NewVerifier(vkey)
	c := NewCheckpointer(d.log, d.store, other, CheckpointerOptions{})
	if _, _, err := c.Checkpoint(ctx); !carnet.IsKind(err, carnet.KindInternal) {
		t.Fatalf("Checkpoint with a foreign verifier: %v, want KindInternal", err)
	}
	if n := len(storedCheckpoints(t, d)); n != 0 {
		t.Fatalf("%d checkpoints stored, want 0", n)
	}
}

// TestForkOnStores: two stores with the same history up to 37 events, then
// 20 different events each: two validly signed logs of the same size. Each
// passes fsck on its own; a client that kept a checkpoint refuses the
// branch it is not on.
func TestForkOnStores(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			a := newTestDB(t, b)
			fork := newTestDB(t, b)
			// Same log key for both: the operator runs both branches.
			fork.signer, fork.verifier = a.signer, a.verifier
			fork.log, _ = New(testOrigin, StoreStorage{fork.store}, a.signer)

			recordN(t, a.recorder(t, RecorderOptions{}), 0, 37)
			common, err := a.store.AuditEvents(ctx, 0, 37)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := fork.store.AppendAudit(ctx, common); err != nil {
				t.Fatal(err)
			}
			ca, cf := a.checkpointer(CheckpointerOptions{}), fork.checkpointer(CheckpointerOptions{})
			_, preA, err := ca.Checkpoint(ctx)
			if err != nil {
				t.Fatal(err)
			}
			_, preF, err := cf.Checkpoint(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(preA, preF) {
				t.Fatal("the same history signed with the same key gave two notes")
			}

			recordN(t, a.recorder(t, RecorderOptions{}), 100, 20)
			recordN(t, fork.recorder(t, RecorderOptions{}), 200, 20)
			cpA, signedA, err := ca.Checkpoint(ctx)
			if err != nil {
				t.Fatal(err)
			}
			cpF, signedF, err := cf.Checkpoint(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if cpA.Size != 57 || cpF.Size != 57 || bytes.Equal(cpA.Root, cpF.Root) {
				t.Fatalf("want two different trees of size 57: %+v, %+v", cpA, cpF)
			}
			for _, d := range []*testDB{a, fork} {
				if _, err := Fsck(ctx, d.store, a.verifier, testOrigin); err != nil {
					t.Fatalf("each branch alone passes fsck: %v", err)
				}
			}
			proofA, _ := a.log.ConsistencyProof(ctx, 37, 57)
			proofF, _ := fork.log.ConsistencyProof(ctx, 37, 57)

			alice := NewWitness(testOrigin, a.verifier, nil)
			bob := NewWitness(testOrigin, a.verifier, nil)
			for _, w := range []*Witness{alice, bob} {
				if _, err := w.Update(preA, nil); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := alice.Update(signedA, proofA); err != nil {
				t.Fatalf("alice follows branch a: %v", err)
			}
			if _, err := bob.Update(signedF, proofF); err != nil {
				t.Fatalf("bob follows the fork: %v", err)
			}
			for name, tc := range map[string]struct {
				w      *Witness
				signed []byte
				proofs [][][]byte
			}{
				"alice shown the fork": {alice, signedF, [][][]byte{nil, proofA, proofF}},
				"bob shown branch a":   {bob, signedA, [][][]byte{nil, proofA, proofF}},
			} {
				for _, p := range tc.proofs {
					if _, err := tc.w.Update(tc.signed, p); !errors.Is(err, ErrInconsistent) {
						t.Errorf("%s: Update = %v, want ErrInconsistent", name, err)
					}
				}
			}
			if last, _ := alice.Last(); !bytes.Equal(last.Root, cpA.Root) {
				t.Error("alice's remembered checkpoint changed")
			}
			// A client that remembered only the pre-fork checkpoint cannot
			// be moved onto the fork with branch a's proof.
			carol := NewWitness(testOrigin, a.verifier, nil)
			carol.Update(preA, nil)
			if _, err := carol.Update(signedF, proofA); !errors.Is(err, ErrInconsistent) {
				t.Errorf("carol shown the fork with branch a's proof: %v", err)
			}
		})
	}
}
