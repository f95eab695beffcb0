package sqlite

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/carnet-sante/carnet"
	"github.com/carnet-sante/carnet/internal/migration"
	"github.com/carnet-sante/carnet/storetest"
)

func openTest(t testing.TB, path string, opts ...Option) *Store {
	t.Helper()
	s, err := Open(context.Background(), path, opts...)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) carnet.Store {
		return openTest(t, filepath.Join(t.TempDir(), "carnet.db"))
	})
}

func TestDurabilitySettings(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "carnet.db"))
	ctx := context.Background()
	for _, tc := range []struct {
		pragma string
		want   string
	}{
		{"journal_mode", "wal"},
		{"synchronous", "2"}, // FULL
		{"foreign_keys", "1"},
		{"temp_store", "2"}, // MEMORY
	} {
		var got string
		if err := s.wconn.QueryRowContext(ctx, "PRAGMA "+tc.pragma).Scan(&got); err != nil {
			t.Fatalf("PRAGMA %s: %v", tc.pragma, err)
		}
		if got != tc.want {
			t.Errorf("writer PRAGMA %s: got %s, want %s", tc.pragma, got, tc.want)
		}
	}
	var busy int
	if err := s.wconn.QueryRowContext(ctx, "PRAGMA busy_timeout").Scan(&busy); err != nil || busy < 1000 {
		t.Errorf("writer busy_timeout: got %d ms, %v; want at least 1000", busy, err)
	}
	// Readers cannot write, even by mistake.
	_, err := s.rdb.ExecContext(ctx, "INSERT INTO routes (id, patient_key, kind) VALUES ('x', 'p', 'document')")
	if err == nil {
		t.Errorf("a write on the read pool succeeded, want it refused")
	}
}

func TestReopenKeepsData(t *testing.T) {
	path := filepath.Join(t.TempDir(), "carnet.db")
	ctx := context.Background()
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	d := storetest.NewDocumentRow("p1", "doc-1")
	content := storetest.NewContent(100 << 10)
	storetest.MustUpdate(t, s, func(tx carnet.Tx) error {
		if err := tx.InsertDocument(ctx, d); err != nil {
			return err
		}
		return tx.PutContent(ctx, "p1", d.ContentID, content)
	})
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Update(ctx, func(carnet.Tx) error { return nil }); !carnet.IsKind(err, carnet.KindUnavailable) {
		t.Errorf("Update after Close: got %v, want KindUnavailable", err)
	}

	s2 := openTest(t, path)
	got, err := s2.Document(ctx, "p1", "doc-1")
	if err != nil {
		t.Fatalf("Document after reopen: %v", err)
	}
	if diff := storetest.DocumentRowDiff(got, d); diff != "" {
		t.Fatalf("Document after reopen: %s", diff)
	}
	b, err := s2.Content(ctx, "p1", d.ContentID)
	if err != nil || len(b) != len(content) {
		t.Fatalf("Content after reopen: got %d bytes, %v; want %d", len(b), err, len(content))
	}
}

func TestMigrationsIdempotent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "carnet.db")
	ctx := context.Background()
	ms, err := migrations()
	if err != nil {
		t.Fatalf("migrations: %v", err)
	}
	s := openTest(t, path)
	v, err := s.SchemaVersion(ctx)
	if err != nil || v != migration.Newest(ms) {
		t.Fatalf("SchemaVersion: got %d, %v; want %d", v, err, migration.Newest(ms))
	}
	// Applying again, on the open store and through a second Open, changes nothing.
	if err := migrate(ctx, s.wconn, carnet.SystemClock{}.Now()); err != nil {
		t.Fatalf("migrate again: %v", err)
	}
	s2 := openTest(t, path)
	var n int
	if err := s2.wconn.QueryRowContext(ctx, "SELECT count(*) FROM schema_version").Scan(&n); err != nil || n != len(ms) {
		t.Fatalf("schema_version rows: got %d, %v; want %d", n, err, len(ms))
	}
}

func TestOpenRefusesNewerSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "carnet.db")
	s, err := Open(context.Background(), path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if _, err := s.wconn.ExecContext(context.Background(),
		"INSERT INTO schema_version (version, name, applied) VALUES (999, '0999_future.sql', 0)"); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = Open(context.Background(), path)
	if err == nil {
		s.Close()
		t.Fatalf("Open of a database from a newer program: got nil error")
	}
	if !carnet.IsKind(err, carnet.KindUnavailable) {
		t.Fatalf("Open of a database from a newer program: got %v, want KindUnavailable", err)
	}
}

func TestOpenRefusesNonFilePaths(t *testing.T) {
	for _, p := range []string{"", ":memory:", "file:x.db", "x.db?mode=memory"} {
		if s, err := Open(context.Background(), p); err == nil {
			s.Close()
			t.Errorf("Open(%q): got nil error, want a refusal", p)
		}
	}
}

func TestFiles(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, filepath.Join(dir, "carnet.db"))
	storetest.MustUpdate(t, s, func(tx carnet.Tx) error {
		return tx.InsertDocument(context.Background(), storetest.NewDocumentRow("p1", "doc-1"))
	})
	listed := map[string]bool{}
	for _, f := range s.Files() {
		listed[f] = true
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if p := filepath.Join(dir, e.Name()); !listed[p] {
			t.Errorf("file %s in the data dir is not listed by Files", e.Name())
		}
	}
}

// A failed commit fails every caller of the batch, and the store then
// refuses every write: a failed fsync is never retried into a false success.
func TestCommitFailureStopsWrites(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "carnet.db"))
	ctx := context.Background()
	storetest.MustUpdate(t, s, func(tx carnet.Tx) error {
		return tx.InsertDocument(ctx, storetest.NewDocumentRow("p1", "doc-before"))
	})
	injected := errors.New("injected fsync failure")
	s.commitHook = func() error { return injected }

	err := s.Update(ctx, func(tx carnet.Tx) error {
		return tx.InsertDocument(ctx, storetest.NewDocumentRow("p1", "doc-lost"))
	})
	if !carnet.IsKind(err, carnet.KindUnavailable) || !errors.Is(err, injected) {
		t.Fatalf("Update whose commit fails: got %v, want KindUnavailable", err)
	}
	if _, err := s.Document(ctx, "p1", "doc-lost"); !carnet.IsKind(err, carnet.KindNotFound) {
		t.Fatalf("document of the failed commit: got %v, want not found", err)
	}

	s.commitHook = nil // the disk "recovers": the store still refuses
	err = s.Update(ctx, func(tx carnet.Tx) error {
		return tx.InsertDocument(ctx, storetest.NewDocumentRow("p1", "doc-after"))
	})
	if !carnet.IsKind(err, carnet.KindUnavailable) {
		t.Fatalf("Update after a failed commit: got %v, want KindUnavailable", err)
	}
	if _, err := s.Document(ctx, "p1", "doc-before"); err != nil {
		t.Fatalf("reads after a failed commit: %v", err)
	}
}

// One caller's failure inside a group does not fail the others.
func TestGroupCommitIsolatesFailures(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "carnet.db"), WithMaxBatch(64))
	ctx := context.Background()
	const n = 64
	var wg sync.WaitGroup
	errs := make([]error, n)
	boom := errors.New("boom")
	for i := range n {
		wg.Go(func() {
			errs[i] = s.Update(ctx, func(tx carnet.Tx) error {
				d := storetest.NewDocumentRow("p1", storetest.NewID("doc-"))
				if err := tx.InsertDocument(ctx, d); err != nil {
					return err
				}
				if i%2 == 1 {
					return boom
				}
				return nil
			})
		})
	}
	wg.Wait()
	for i, err := range errs {
		if i%2 == 1 && !errors.Is(err, boom) {
			t.Errorf("caller %d: got %v, want its own error", i, err)
		}
		if i%2 == 0 && err != nil {
			t.Errorf("caller %d: got %v, want success", i, err)
		}
	}
	docs, err := s.FindDocuments(ctx, "p1", carnet.DocumentFilter{})
	if err != nil || len(docs) != n/2 {
		t.Fatalf("FindDocuments: got %d, %v; want %d", len(docs), err, n/2)
	}
}

// In one group commit, the Updates that fail leave nothing and the others
// commit, whatever their order: a batch runs without savepoints first, and
// after a failure it is rolled back and the others run again, each in a
// savepoint but the first of the transaction (whose failure rolls back and
// begins again). An Update run twice would conflict with its own document
// if the first run were not undone.
func TestGroupCommitFailureOrders(t *testing.T) {
	// No maintenance between batches: the test runs batches itself, beside
	// an idle writer.
	s := openTest(t, filepath.Join(t.TempDir(), "carnet.db"), WithWALTruncation(time.Hour))
	ctx := context.Background()
	boom := errors.New("boom")
	for n, fails := range [][]bool{
		{true},
		{true, false},
		{true, true, false, true, false},
		{false, true, false},
		{false, false, true},
		{true, true},
	} {
		batch := make([]*request, len(fails))
		ids := make([]string, len(fails))
		for i, fail := range fails {
			ids[i] = fmt.Sprintf("doc-%d-%d", n, i)
			batch[i] = &request{ctx: ctx, done: make(chan result, 1), fn: func(tx carnet.Tx) error {
				if err := tx.InsertDocument(ctx, storetest.NewDocumentRow("p1", ids[i])); err != nil {
					return err
				}
				if err := tx.PutTerms(ctx, "p1", ids[i], 3, map[string]int{"a": 1, "b": 2}); err != nil {
					return err
				}
				if fail {
					return boom
				}
				return nil
			}}
		}
		s.commitBatch(batch)
		for i, fail := range fails {
			res := <-batch[i].done
			_, err := s.Document(ctx, "p1", ids[i])
			switch {
			case fail && !errors.Is(res.err, boom):
				t.Errorf("batch %v, Update %d: got %v, want its own error", fails, i, res.err)
			case fail && !carnet.IsKind(err, carnet.KindNotFound):
				t.Errorf("batch %v, failed Update %d: its document reads %v, want not found", fails, i, err)
			case !fail && res.err != nil:
				t.Errorf("batch %v, Update %d: got %v, want success", fails, i, res.err)
			case !fail && err != nil:
				t.Errorf("batch %v, committed Update %d: its document reads %v", fails, i, err)
			}
			ps, err := s.TermPostings(ctx, "p1", []string{"a"})
			if err != nil {
				t.Fatal(err)
			}
			found := slices.ContainsFunc(ps, func(p carnet.Posting) bool { return p.LogicalID == ids[i] })
			if found == fail {
				t.Errorf("batch %v, Update %d (fails: %v): its postings found: %v", fails, i, fail, found)
			}
		}
	}
}

// A panic in fn reaches its caller; the writer and the other callers go on.
func TestPanicInUpdate(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "carnet.db"))
	ctx := context.Background()
	func() {
		defer func() {
			if v := recover(); v != "fn panicked" {
				t.Errorf("recovered %v, want fn's panic value", v)
			}
		}()
		s.Update(ctx, func(tx carnet.Tx) error {
			tx.InsertDocument(ctx, storetest.NewDocumentRow("p1", "doc-panic"))
			panic("fn panicked")
		})
	}()
	if _, err := s.Document(ctx, "p1", "doc-panic"); !carnet.IsKind(err, carnet.KindNotFound) {
		t.Fatalf("document of a panicking fn: got %v, want not found", err)
	}
	storetest.MustUpdate(t, s, func(tx carnet.Tx) error {
		return tx.InsertDocument(ctx, storetest.NewDocumentRow("p1", "doc-after"))
	})
}

// A tx kept past its Update is refused.
func TestTxUseAfterUpdate(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "carnet.db"))
	ctx := context.Background()
	var kept carnet.Tx
	storetest.MustUpdate(t, s, func(tx carnet.Tx) error { kept = tx; return nil })
	if err := kept.InsertDocument(ctx, storetest.NewDocumentRow("p1", "doc-late")); err == nil {
		t.Fatalf("InsertDocument on a finished tx: got nil error")
	}
	if _, err := s.Document(ctx, "p1", "doc-late"); !carnet.IsKind(err, carnet.KindNotFound) {
		t.Fatalf("Document: got %v, want not found", err)
	}
}

// An fn that ends its goroutine (t.FailNow inside fn does) fails its batch
// but not the writer.
func TestGoexitInUpdate(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "carnet.db"))
	ctx := context.Background()
	err := s.Update(ctx, func(tx carnet.Tx) error {
		tx.InsertDocument(ctx, storetest.NewDocumentRow("p1", "doc-goexit"))
		runtime.Goexit()
		return nil
	})
	if err == nil {
		t.Fatalf("Update whose fn called Goexit: got nil error")
	}
	if _, err := s.Document(ctx, "p1", "doc-goexit"); !carnet.IsKind(err, carnet.KindNotFound) {
		t.Fatalf("document of the abandoned batch: got %v, want not found", err)
	}
	storetest.MustUpdate(t, s, func(tx carnet.Tx) error {
		return tx.InsertDocument(ctx, storetest.NewDocumentRow("p1", "doc-after"))
	})
}
