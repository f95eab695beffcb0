package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/carnet-sante/carnet"
	"github.com/carnet-sante/carnet/storetest"
)

// waitShipped waits until everything committed before t is in the replica.
func waitShipped(tb testing.TB, s *Store, t time.Time) {
	tb.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for s.ReplicaStatus().Shipped.Before(t) {
		if time.Now().After(deadline) {
			tb.Fatalf("replica not caught up after 20s: %+v", s.ReplicaStatus())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// keepReading runs queries until stop is closed, as a busy server's readers
// do: the WAL is never free of readers for long.
func keepReading(s *Store, stop chan struct{}) *sync.WaitGroup {
	var wg sync.WaitGroup
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				s.Content(context.Background(), "p1", "c0")
				s.PatientKeys(context.Background(), "", 10)
			}
		}()
	}
	return &wg
}

// Every transaction acknowledged before the replica's position comes back
// from the replica alone, while readers and the writer keep going, across
// several WAL cycles (each TRUNCATE starts one) and a restart (a new
// generation).
func TestReplicaRestoresEveryAcknowledgedTransaction(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "carnet.db")
	replica := filepath.Join(t.TempDir(), "replica")
	ctx := context.Background()
	open := func() *Store {
		s, err := Open(ctx, path, WithReplica(replica, 20*time.Millisecond), WithWALTruncation(100*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	content := func(i int) []byte { return bytes.Repeat([]byte{byte(i)}, 3000+i) }
	write := func(s *Store, from, to int) {
		for i := from; i < to; i += 40 {
			var wg sync.WaitGroup
			for j := i; j < i+40 && j < to; j++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					storetest.MustUpdate(t, s, func(tx carnet.Tx) error {
						return tx.PutContent(ctx, "p1", fmt.Sprintf("c%d", j), content(j))
					})
				}()
			}
			wg.Wait()
			time.Sleep(120 * time.Millisecond) // let a truncation start a new cycle
		}
	}
	s := open()
	stop := make(chan struct{})
	readers := keepReading(s, stop)
	write(s, 0, 200)
	close(stop)
	readers.Wait()
	s.Close() // ships the last frames; the next start is a new generation

	s = open()
	defer s.Close()
	write(s, 200, 400)
	acked := time.Now()
	waitShipped(t, s, acked)
	if st := s.ReplicaStatus(); st.Cycle < 2 || st.Err != "" {
		t.Errorf("replica status %+v: want several WAL cycles and no error", st)
	}
	// The primary is still running (as if its disk died now): restore
	// from the replica alone.
	dst := filepath.Join(t.TempDir(), "restored.db")
	pos, err := RestoreReplica(ctx, replica, dst)
	if err != nil {
		t.Fatalf("RestoreReplica: %v", err)
	}
	if pos.Stopped != "" || pos.Transactions == 0 {
		t.Fatalf("restore position %+v", pos)
	}
	r, err := Open(ctx, dst)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	missing := 0
	for i := range 400 {
		got, err := r.Content(ctx, "p1", fmt.Sprintf("c%d", i))
		if err != nil || !bytes.Equal(got, content(i)) {
			missing++
		}
	}
	if missing > 0 {
		t.Errorf("%d of 400 acknowledged transactions missing from the restored replica (%+v)", missing, pos)
	}
}

// A damaged segment stops the restore at the last transaction before it,
// and says so: a replica never restores garbage.
func TestReplicaRestoreStopsAtDamage(t *testing.T) {
	dir := t.TempDir()
	replica := filepath.Join(dir, "replica")
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(dir, "carnet.db"), WithReplica(replica, 10*time.Millisecond), WithWALTruncation(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		storetest.MustUpdate(t, s, func(tx carnet.Tx) error {
			return tx.PutContent(ctx, "p1", fmt.Sprintf("c%d", i), []byte("x"))
		})
		waitShipped(t, s, time.Now())
	}
	s.Close()
	gen, _, err := LatestReplica(replica)
	if err != nil {
		t.Fatal(err)
	}
	segs, _ := filepath.Glob(filepath.Join(replica, "generations", gen, "wal", "*.seg"))
	if len(segs) < 10 {
		t.Fatalf("want a segment per transaction, got %d", len(segs))
	}
	victim := segs[len(segs)/2]
	b, _ := os.ReadFile(victim)
	b[len(b)-100] ^= 1
	os.WriteFile(victim, b, 0o600)
	pos, err := RestoreReplica(ctx, replica, filepath.Join(dir, "restored.db"))
	if err != nil {
		t.Fatal(err)
	}
	if pos.Stopped == "" {
		t.Fatalf("a damaged frame was applied: %+v", pos)
	}
	r, err := Open(ctx, filepath.Join(dir, "restored.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := r.Content(ctx, "p1", "c0"); err != nil {
		t.Errorf("transactions before the damage are lost: %v", err)
	}
	if _, err := r.Content(ctx, "p1", "c19"); err == nil {
		t.Errorf("a transaction after the damage was restored")
	}
}

// Trust item 12: the WAL grew to 205–364 MB under 600 small filings and
// never shrank while the server ran, because readers were always in it and
// PASSIVE checkpoints never restart it. The writer now empties it with
// TRUNCATE on a schedule (and journal_size_limit cuts a restarted one).
func TestTrust12WALStaysBounded(t *testing.T) {
	path := filepath.Join(t.TempDir(), "carnet.db")
	ctx := context.Background()
	every := 200 * time.Millisecond
	if os.Getenv("CARNET_TEST_NO_TRUNCATE") != "" { // to see the test fail without the fix
		every = time.Hour
	}
	s, err := Open(ctx, path, WithWALTruncation(every))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	stop := make(chan struct{})
	readers := keepReading(s, stop)
	var peak atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
				if n := walSize(path); n > peak.Load() {
					peak.Store(n)
				}
			}
		}
	}()
	// 600 filings' worth, from 8 clients at once: each a few pages of rows
	// and 16 KB of content.
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < 600; i += 8 {
				storetest.MustUpdate(t, s, func(tx carnet.Tx) error {
					return tx.PutContent(ctx, "p1", fmt.Sprintf("c%d", i), storetest.NewContent(16<<10))
				})
			}
		}()
	}
	wg.Wait()
	time.Sleep(500 * time.Millisecond) // two truncation turns while readers go on
	close(stop)
	readers.Wait()
	<-done
	const bound = 32 << 20
	if p := peak.Load(); p > bound {
		t.Errorf("WAL peaked at %d bytes during 600 filings (bound %d)", p, bound)
	}
	if n := walSize(path); n > 1<<20 {
		t.Errorf("WAL still %d bytes once idle: it never shrinks", n)
	}
	if s.truncations.Load() == 0 {
		t.Errorf("no checkpoint ever emptied the WAL")
	}
}

// Another process checkpointing the database (a sqlite3 shell, a tool) must
// not take frames away from the shipper: the pin keeps it from
// checkpointing past what was shipped.
func TestReplicaSurvivesAForeignCheckpointer(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "carnet.db")
	replica := filepath.Join(dir, "replica")
	ctx := context.Background()
	s, err := Open(ctx, path, WithReplica(replica, 50*time.Millisecond), WithWALTruncation(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	foreign, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(1)")
	if err != nil {
		t.Fatal(err)
	}
	defer foreign.Close()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			foreign.Exec("PRAGMA wal_checkpoint(TRUNCATE)")
			time.Sleep(time.Millisecond)
		}
	}()
	content := func(i int) []byte { return bytes.Repeat([]byte{byte(i)}, 3000) }
	for i := range 150 {
		storetest.MustUpdate(t, s, func(tx carnet.Tx) error {
			return tx.PutContent(ctx, carnet.PatientKey(fmt.Sprintf("p%d", i)), fmt.Sprintf("c%d", i), content(i))
		})
	}
	close(stop)
	wg.Wait()
	waitShipped(t, s, time.Now())
	dst := filepath.Join(dir, "restored.db")
	pos, err := RestoreReplica(ctx, replica, dst)
	if err != nil {
		t.Fatalf("RestoreReplica: %v (%+v)", err, pos)
	}
	r, err := Open(ctx, dst)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	missing := 0
	for i := range 150 {
		got, err := r.Content(ctx, carnet.PatientKey(fmt.Sprintf("p%d", i)), fmt.Sprintf("c%d", i))
		if err != nil || !bytes.Equal(got, content(i)) {
			missing++
		}
	}
	if missing > 0 {
		t.Errorf("%d of 150 acknowledged transactions missing from the replica", missing)
	}
}

// The WAL header and frame checks are what decide which shipped bytes a
// restore applies: bounded, and never accepting what does not verify.
func FuzzWALFrames(f *testing.F) {
	f.Add([]byte{})
	// A real WAL as seed: one committed transaction.
	path := filepath.Join(f.TempDir(), "carnet.db")
	s, err := Open(context.Background(), path, WithWALTruncation(time.Hour), WithReplica(filepath.Join(f.TempDir(), "r"), time.Hour))
	if err != nil {
		f.Fatal(err)
	}
	storetest.MustUpdate(f, s, func(tx carnet.Tx) error { return tx.PutContent(context.Background(), "p", "c", []byte("x")) })
	if wal, err := os.ReadFile(path + "-wal"); err == nil && len(wal) > walHeaderSize {
		f.Add(wal)
	}
	s.Close()
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := parseWALHeader(b)
		if err != nil {
			return
		}
		fsz := h.frameSize()
		sum := h.sum
		for rest := b[walHeaderSize:]; len(rest) >= fsz; rest = rest[fsz:] {
			fr, next, ok := h.checkFrame(sum, rest[:fsz])
			if !ok {
				return
			}
			if fr.pgno == 0 || len(fr.data) != fsz {
				t.Fatalf("accepted a bad frame")
			}
			sum = next
		}
	})
}
