package auditlog

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/carnet-sante/carnet"
)

// countingStore counts AppendAudit calls: how many transactions the
// Recorder needed.
type countingStore struct {
	carnet.AuditStore
	calls atomic.Int64
}

func (c *countingStore) AppendAudit(ctx context.Context, rows []carnet.AuditRow) (uint64, error) {
	c.calls.Add(1)
	return c.AuditStore.AppendAudit(ctx, rows)
}

// failingStore fails every n-th AppendAudit before it reaches the store,
// the way a full disk or a lost connection would.
type failingStore struct {
	carnet.AuditStore
	n     int64
	calls atomic.Int64
}

func (f *failingStore) AppendAudit(ctx context.Context, rows []carnet.AuditRow) (uint64, error) {
	if f.calls.Add(1)%f.n == 0 {
		return 0, &carnet.Error{Kind: carnet.KindUnavailable, Op: "test", Msg: "disk full"}
	}
	return f.AuditStore.AppendAudit(ctx, rows)
}

// gatedStore holds its first AppendAudit until the gate opens, so that a
// test can line requests up behind a write in progress.
type gatedStore struct {
	carnet.AuditStore
	entered chan struct{} // closed when the first AppendAudit is waiting
	gate    chan struct{}
	first   atomic.Bool
	calls   atomic.Int64
}

func newGatedStore(s carnet.AuditStore) *gatedStore {
	return &gatedStore{AuditStore: s, entered: make(chan struct{}), gate: make(chan struct{})}
}

func (g *gatedStore) AppendAudit(ctx context.Context, rows []carnet.AuditRow) (uint64, error) {
	g.calls.Add(1)
	if g.first.CompareAndSwap(false, true) {
		close(g.entered)
		<-g.gate
	}
	return g.AuditStore.AppendAudit(ctx, rows)
}

// waitQueued waits until n requests wait in the Recorder's queue.
func waitQueued(t *testing.T, r *Recorder, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for len(r.reqs) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d requests queued, want %d", len(r.reqs), n)
		}
		time.Sleep(time.Millisecond)
	}
}

func newEvent(i int) carnet.AuditEvent {
	ev := testEvent(i, testTime.Add(time.Duration(i)*time.Second))
	ev.ID = carnet.NewID()
	return ev
}

// TestRecorderConcurrent records from many goroutines at once: every event
// is in the log once, in each goroutine's order, findable in its patient's
// history, its leaf in the signed tree; and the writes were grouped.
func TestRecorderConcurrent(t *testing.T) {
	eachBackend(t, func(t *testing.T, d *testDB) {
		ctx := context.Background()
		counting := &countingStore{AuditStore: d.store}
		r := NewRecorder(counting, d.sealer, RecorderOptions{})
		defer r.Close()

		const workers, each = 32, 20
		recorded := make([][]carnet.AuditEvent, workers)
		var wg sync.WaitGroup
		errs := make(chan error, workers*each)
		for w := range workers {
			wg.Go(func() {
				for i := range each {
					ev := newEvent(w*each + i)
					if err := r.Record(ctx, ev); err != nil {
						errs <- err
						return
					}
					recorded[w] = append(recorded[w], ev)
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatalf("Record: %v", err)
		}
		size, err := d.store.AuditSize(ctx)
		if err != nil || size != workers*each {
			t.Fatalf("log size = %d, %v; want %d", size, err, workers*each)
		}
		calls := counting.calls.Load()
		t.Logf("%d events recorded by %d goroutines in %d AppendAudit transactions", size, workers, calls)
		if calls >= workers*each {
			t.Errorf("%d transactions for %d events: concurrent events were not grouped", calls, size)
		}

		cp, _, err := d.checkpointer(CheckpointerOptions{}).Checkpoint(ctx)
		if err != nil || cp.Size != size {
			t.Fatalf("Checkpoint = %d, %v; want size %d", cp.Size, err, size)
		}
		byPatient := map[carnet.PatientKey][]string{}
		for w, evs := range recorded {
			var last uint64
			for i, ev := range evs {
				row, err := d.store.AuditEvent(ctx, ev.ID)
				if err != nil {
					t.Fatalf("AuditEvent(%s): %v", ev.ID, err)
				}
				if i > 0 && row.Seq <= last {
					t.Errorf("goroutine %d: event %d at index %d, not after its previous one at %d", w, i, row.Seq, last)
				}
				last = row.Seq
				got, err := carnet.OpenAuditEvent(ctx, d.sealer, row)
				if err != nil || got.Actor.ID != ev.Actor.ID || !slices.Equal(got.Documents, ev.Documents) || !got.Time.Equal(ev.Time) {
					t.Fatalf("event %s reads back as %+v, %v; want %+v", ev.ID, got, err, ev)
				}
				byPatient[ev.Patient] = append(byPatient[ev.Patient], ev.ID)
				leaf, err := Entry{EventID: row.ID, Time: row.Time, RowDigest: [HashSize]byte(row.Digest)}.MarshalLeaf()
				if err != nil {
					t.Fatal(err)
				}
				proof, err := d.log.InclusionProof(ctx, row.Seq, cp.Size)
				if err != nil {
					t.Fatal(err)
				}
				if err := VerifyInclusion(leaf, row.Seq, proof, cp); err != nil {
					t.Fatalf("event %s at %d not proven in the checkpoint: %v", ev.ID, row.Seq, err)
				}
			}
		}
		for p, want := range byPatient {
			rows, err := d.store.FindAudit(ctx, p, carnet.AuditFilter{})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, row := range rows {
				got = append(got, row.ID)
			}
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("FindAudit(%q): %d events, want %d", p, len(got), len(want))
			}
		}
		rep, err := d.fsck(t, true)
		if err != nil || rep.Events != size || rep.Opened != size || rep.Unsigned != 0 {
			t.Fatalf("Fsck = %+v, %v", rep, err)
		}
	})
}

// TestRecorderStoreClosed: with the store gone, Record fails, and what it
// failed to record is nowhere; what it recorded before is all there after a
// reopen.
func TestRecorderStoreClosed(t *testing.T) {
	eachBackend(t, func(t *testing.T, d *testDB) {
		ctx := context.Background()
		r := d.recorder(t, RecorderOptions{})
		var (
			mu                 sync.Mutex
			succeeded, refused []string
			wg                 sync.WaitGroup
			closed             = make(chan struct{})
			closeOnce          sync.Once
		)
		for w := range 8 {
			wg.Go(func() {
				for i := range 1000 { // bounded: a Recorder that never fails must not hang the test
					ev := newEvent(w*1000 + i)
					err := r.Record(ctx, ev)
					mu.Lock()
					if err == nil {
						succeeded = append(succeeded, ev.ID)
					} else {
						if !carnet.IsKind(err, carnet.KindUnavailable) {
							t.Errorf("Record on a closed store: %v, want KindUnavailable", err)
						}
						refused = append(refused, ev.ID)
					}
					n := len(succeeded)
					mu.Unlock()
					if n == 40 {
						closeOnce.Do(func() { go func() { d.store.Close(); close(closed) }() })
					}
					select {
					case <-closed:
						if err != nil {
							return
						}
					default:
					}
				}
			})
		}
		wg.Wait()
		t.Logf("%d events recorded, %d refused once the store closed", len(succeeded), len(refused))
		if len(refused) == 0 {
			t.Fatal("no Record failed after the store closed")
		}

		s := d.reopen(t)
		defer s.Close()
		size, err := s.AuditSize(ctx)
		if err != nil || size != uint64(len(succeeded)) {
			t.Fatalf("after reopen: log size %d, %v; want the %d recorded events", size, err, len(succeeded))
		}
		for _, id := range succeeded {
			if _, err := s.AuditEvent(ctx, id); err != nil {
				t.Errorf("recorded event %s: %v", id, err)
			}
		}
		for _, id := range refused {
			if _, err := s.AuditEvent(ctx, id); !carnet.IsKind(err, carnet.KindNotFound) {
				t.Errorf("refused event %s: %v, want not found", id, err)
			}
		}
		if rep, err := Fsck(ctx, s, d.verifier, testOrigin); err != nil || rep.Events != size {
			t.Fatalf("Fsck after reopen = %+v, %v", rep, err)
		}
	})
}

// TestRecorderWriteFailures: a failed transaction fails every caller of its
// batch, and none of its events is in the log; the others are, and the log
// verifies.
func TestRecorderWriteFailures(t *testing.T) {
	eachBackend(t, func(t *testing.T, d *testDB) {
		ctx := context.Background()
		failing := &failingStore{AuditStore: d.store, n: 3}
		r := NewRecorder(failing, d.sealer, RecorderOptions{})
		defer r.Close()
		var (
			mu       sync.Mutex
			ok, lost []string
			wg       sync.WaitGroup
		)
		for w := range 16 {
			wg.Go(func() {
				for i := range 10 {
					ev := newEvent(w*10 + i)
					err := r.Record(ctx, ev)
					mu.Lock()
					if err == nil {
						ok = append(ok, ev.ID)
					} else {
						if !carnet.IsKind(err, carnet.KindUnavailable) {
							t.Errorf("Record with the write failing: %v, want KindUnavailable", err)
						}
						lost = append(lost, ev.ID)
					}
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		t.Logf("%d events recorded, %d refused, in %d transactions (every third failing)", len(ok), len(lost), failing.calls.Load())
		if len(lost) == 0 || len(ok) == 0 {
			t.Fatalf("want both outcomes: %d recorded, %d refused", len(ok), len(lost))
		}
		size, _ := d.store.AuditSize(ctx)
		if size != uint64(len(ok)) {
			t.Fatalf("log size %d, want the %d events whose Record succeeded", size, len(ok))
		}
		for _, id := range lost {
			if _, err := d.store.AuditEvent(ctx, id); !carnet.IsKind(err, carnet.KindNotFound) {
				t.Errorf("refused event %s: %v, want not found", id, err)
			}
		}
		if _, err := d.fsck(t, true); err != nil {
			t.Fatalf("Fsck: %v", err)
		}
	})
}

// TestRecorderConflict: an event id already in the log fails its caller
// only, though the store refused the whole batch it was in.
func TestRecorderConflict(t *testing.T) {
	b := backends[0]
	d := newTestDB(t, b)
	ctx := context.Background()
	gated := newGatedStore(d.store)
	r := NewRecorder(gated, d.sealer, RecorderOptions{})
	defer r.Close()

	first := newEvent(0)
	firstDone := make(chan error, 1)
	go func() { firstDone <- r.Record(ctx, first) }()
	<-gated.entered

	var wg sync.WaitGroup
	results := make([]error, 11)
	for i := range 11 {
		ev := newEvent(i + 1)
		if i == 5 {
			ev.ID = first.ID
		}
		wg.Go(func() { results[i] = r.Record(ctx, ev) })
	}
	waitQueued(t, r, 11)
	close(gated.gate)
	wg.Wait()
	if err := <-firstDone; err != nil {
		t.Fatalf("first Record: %v", err)
	}
	for i, err := range results {
		if i == 5 {
			if !carnet.IsKind(err, carnet.KindConflict) {
				t.Errorf("Record of a used id: %v, want KindConflict", err)
			}
		} else if err != nil {
			t.Errorf("Record %d in the same batch as a used id: %v", i, err)
		}
	}
	// One write for the first event, one refused for the batch of 11,
	// then each of the 11 alone.
	if got := gated.calls.Load(); got != 13 {
		t.Errorf("%d AppendAudit calls, want 13", got)
	}
	if size, _ := d.store.AuditSize(ctx); size != 11 {
		t.Errorf("log size %d, want 11", size)
	}
}

// TestRecorderCallerLeaves: a caller whose context ends gets an error at
// once, even with the store stuck; an event whose caller left before its
// batch started is not written.
func TestRecorderCallerLeaves(t *testing.T) {
	d := newTestDB(t, backends[0])
	ctx := context.Background()
	gated := newGatedStore(d.store)
	r := NewRecorder(gated, d.sealer, RecorderOptions{})
	defer r.Close()

	// Whatever fails below, the gate opens before Close waits for the
	// batcher (deferred calls run last first).
	opened := false
	open := func() {
		if !opened {
			opened = true
			close(gated.gate)
		}
	}
	defer open()

	// a's batch is being written (held by the gate) when a gives up. a
	// leaves only once its batch is in the store: on a loaded machine a
	// deadline could pass before a is even handed over.
	a := newEvent(1)
	actx, cancel := context.WithCancel(ctx)
	defer cancel()
	adone := make(chan error, 1)
	go func() { adone <- r.Record(actx, a) }()
	select {
	case <-gated.entered:
	case <-time.After(30 * time.Second):
		t.Fatal("a's batch never reached the store")
	}
	start := time.Now()
	cancel()
	select {
	case err := <-adone:
		if !carnet.IsKind(err, carnet.KindUnavailable) || !errors.Is(err, context.Canceled) {
			t.Fatalf("Record given up while the store is stuck: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Record did not give up while the store was stuck")
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("Record took %v to give up", took)
	}

	// b waits in the queue, then gives up.
	b := newEvent(2)
	bctx, bcancel := context.WithCancel(ctx)
	bdone := make(chan error, 1)
	go func() { bdone <- r.Record(bctx, b) }()
	waitQueued(t, r, 1)
	bcancel()
	if err := <-bdone; !errors.Is(err, context.Canceled) {
		t.Fatalf("Record canceled while queued: %v", err)
	}

	open()
	c := newEvent(3)
	if err := r.Record(ctx, c); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		ev   carnet.AuditEvent
		want bool
	}{{a, true}, {b, false}, {c, true}} {
		_, err := d.store.AuditEvent(ctx, tc.ev.ID)
		if got := err == nil; got != tc.want {
			t.Errorf("event %s in the log: %v (%v), want %v", tc.ev.Documents, got, err, tc.want)
		}
	}
	if err := r.Record(canceledContext(), newEvent(4)); !errors.Is(err, context.Canceled) {
		t.Errorf("Record with a canceled context: %v", err)
	}
}

func canceledContext() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}

// TestRecorderCloseFlushes: Close writes what was handed over before it,
// refuses what comes after, and returns once it is all written.
func TestRecorderCloseFlushes(t *testing.T) {
	d := newTestDB(t, backends[0])
	ctx := context.Background()
	gated := newGatedStore(d.store)
	r := NewRecorder(gated, d.sealer, RecorderOptions{})

	var wg sync.WaitGroup
	errs := make([]error, 3)
	wg.Go(func() { errs[0] = r.Record(ctx, newEvent(0)) })
	<-gated.entered
	for i := 1; i < 3; i++ {
		wg.Go(func() { errs[i] = r.Record(ctx, newEvent(i)) })
	}
	waitQueued(t, r, 2)
	closed := make(chan struct{})
	go func() { r.Close(); close(closed) }()
	for {
		r.mu.RLock()
		c := r.closed
		r.mu.RUnlock()
		if c {
			break
		}
		time.Sleep(time.Millisecond)
	}
	if err := r.Record(ctx, newEvent(9)); !carnet.IsKind(err, carnet.KindUnavailable) {
		t.Errorf("Record after Close: %v, want KindUnavailable", err)
	}
	select {
	case <-closed:
		t.Fatal("Close returned with a write in progress")
	case <-time.After(20 * time.Millisecond):
	}
	close(gated.gate)
	<-closed
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Record %d handed over before Close: %v", i, err)
		}
	}
	if size, _ := d.store.AuditSize(ctx); size != 3 {
		t.Errorf("log size %d, want 3", size)
	}
	if err := r.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}
