package postgres_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/carnet-sante/carnet"
	"github.com/carnet-sante/carnet/postgres"
	"github.com/carnet-sante/carnet/postgres/pgtest"
	"github.com/carnet-sante/carnet/storetest"
	"github.com/jackc/pgx/v5"
)

func TestStore(t *testing.T) {
	pgtest.ServerDSN(t) // skip (or fail in CI) once, not in every subtest
	storetest.Run(t, func(t *testing.T) carnet.Store { return pgtest.Open(t) })
}

func wantKind(t *testing.T, err error, k carnet.Kind, what string) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: got nil error, want kind %v", what, k)
	}
	if got := carnet.ErrorKind(err); got != k {
		t.Fatalf("%s: got kind %v (%v), want %v", what, got, err, k)
	}
}

// addParam adds a connection parameter to a URL or key=value DSN.
func addParam(dsn, key, value string) string {
	if strings.Contains(dsn, "://") {
		sep := "?"
		if strings.Contains(dsn, "?") {
			sep = "&"
		}
		return dsn + sep + key + "=" + value
	}
	return dsn + " " + key + "=" + value
}

func TestOpenErrors(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		dsn  string
		want carnet.Kind
	}{
		{"malformed dsn", "postgres://%zz", carnet.KindInvalid},
		// Port 1 on the loopback refuses at once: no server there.
		{"no server", "postgres://postgres@127.0.0.1:1/postgres?sslmode=disable&connect_timeout=5", carnet.KindUnavailable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := postgres.Open(ctx, tc.dsn)
			if err == nil {
				s.Close()
			}
			wantKind(t, err, tc.want, "Open")
		})
	}
}

// Servers starting together on an empty database all come up, and the
// schema is created once.
func TestOpenConcurrentMigrations(t *testing.T) {
	dsn := pgtest.DSN(t)
	ctx := context.Background()
	const servers = 6
	var wg sync.WaitGroup
	errs := make([]error, servers)
	for i := range servers {
		wg.Go(func() {
			s, err := postgres.Open(ctx, dsn)
			if err == nil {
				// Each one can use the schema at once.
				_, err = s.FindDocuments(ctx, "p1", carnet.DocumentFilter{})
				s.Close()
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("server %d: %v", i, err)
		}
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	// One row per migration file (numbers may leave gaps: internal/migration).
	files, err := filepath.Glob("migrations/*.sql")
	if err != nil {
		t.Fatal(err)
	}
	var rows, distinct int
	if err := conn.QueryRow(ctx, `SELECT count(*), count(DISTINCT version) FROM schema_version`).Scan(&rows, &distinct); err != nil {
		t.Fatal(err)
	}
	if rows != len(files) || distinct != len(files) {
		t.Fatalf("schema_version: got %d rows (%d versions), want one row per migration (%d)", rows, distinct, len(files))
	}
}

// A search_path naming no schema is refused at Open, not at the first write.
func TestOpenMissingSchema(t *testing.T) {
	dsn := addParam(pgtest.ServerDSN(t), "search_path", "carnet_no_such_schema")
	s, err := postgres.Open(context.Background(), dsn)
	if err == nil {
		s.Close()
	}
	wantKind(t, err, carnet.KindUnavailable, "Open with a missing schema")
}

// A program older than the database's schema refuses to run on it.
func TestOpenNewerSchema(t *testing.T) {
	dsn := pgtest.DSN(t)
	ctx := context.Background()
	s, err := postgres.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `INSERT INTO schema_version (version, name) VALUES (999, '0999_future.sql')`); err != nil {
		t.Fatal(err)
	}
	s, err = postgres.Open(ctx, dsn)
	if err == nil {
		s.Close()
	}
	wantKind(t, err, carnet.KindUnavailable, "Open on a newer schema")
	if !strings.Contains(carnet.ErrorMessage(err), "newer") {
		t.Fatalf("Open on a newer schema: got message %q, want it to say the schema is newer", carnet.ErrorMessage(err))
	}
}

// A server configured to acknowledge commits before their WAL is flushed
// does not weaken Update's promise: the store's sessions flush.
func TestSynchronousCommitForced(t *testing.T) {
	dsn := addParam(pgtest.DSN(t), "options", "-c%20synchronous_commit%3Doff")
	ctx := context.Background()
	s, err := postgres.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, err := postgres.Setting(ctx, s, "synchronous_commit")
	if err != nil {
		t.Fatal(err)
	}
	if got != "on" {
		t.Fatalf("synchronous_commit of the store's sessions: got %q, want on", got)
	}
}

// An audit append commits its batch without waiting for the disk, then
// flushes; the setting that lets it do so is the append's own: the pooled
// session it ran on still flushes every later commit, and still reads
// committed data statement by statement.
func TestAuditAppendLeavesTheSessionDurable(t *testing.T) {
	dsn := addParam(pgtest.DSN(t), "pool_max_conns", "1") // one session: the append's
	ctx := context.Background()
	s, err := postgres.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i := range 3 {
		first, err := s.AppendAudit(ctx, []carnet.AuditRow{{ID: fmt.Sprintf("ev-%d", i), Patient: "p1", Time: time.Now().UTC(),
			Actor: "a", Digest: []byte{1}, Sealed: []byte{2}, LeafHash: make([]byte, 32)}})
		if err != nil || first != uint64(i) {
			t.Fatalf("append %d: got first %d, %v", i, first, err)
		}
	}
	for name, want := range map[string]string{"synchronous_commit": "on", "transaction_isolation": "read committed"} {
		got, err := postgres.Setting(ctx, s, name)
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Fatalf("%s of the session after audit appends: got %q, want %q", name, got, want)
		}
	}
	if _, err := s.AppendAudit(ctx, []carnet.AuditRow{{ID: "ev-1", Patient: "p1", Time: time.Now().UTC(),
		Actor: "a", Digest: []byte{1}, Sealed: []byte{2}, LeafHash: make([]byte, 32)}}); !carnet.IsKind(err, carnet.KindConflict) {
		t.Fatalf("appending an id already logged: got %v, want a conflict", err)
	}
	if size, err := s.AuditSize(ctx); err != nil || size != 3 {
		t.Fatalf("after the refused append: size %d, %v; want 3", size, err)
	}
}

// Deadlocked transactions: PostgreSQL aborts one, Update runs its fn again,
// and both callers succeed.
func TestUpdateRetriesDeadlock(t *testing.T) {
	s := pgtest.Open(t)
	ctx := context.Background()
	storetest.MustUpdate(t, s, func(tx carnet.Tx) error {
		if err := tx.PutPatient(ctx, storetest.NewPatientRow("a")); err != nil {
			return err
		}
		return tx.PutPatient(ctx, storetest.NewPatientRow("b"))
	})
	bump := func(tx carnet.Tx, p carnet.PatientKey) error {
		row, err := tx.Patient(ctx, p)
		if err != nil {
			return err
		}
		row.Version++
		return tx.PutPatient(ctx, row)
	}
	var calls atomic.Int32
	readyA, readyB := make(chan struct{}), make(chan struct{})
	// lockInOrder bumps first then second; on its first run it waits, holding
	// first, until the other transaction holds the other record.
	lockInOrder := func(first, second carnet.PatientKey, mine, theirs chan struct{}) error {
		var once sync.Once
		return s.Update(ctx, func(tx carnet.Tx) error {
			calls.Add(1)
			if err := bump(tx, first); err != nil {
				return err
			}
			once.Do(func() { close(mine); <-theirs })
			return bump(tx, second)
		})
	}
	var wg sync.WaitGroup
	var errA, errB error
	wg.Go(func() { errA = lockInOrder("a", "b", readyA, readyB) })
	wg.Go(func() { errB = lockInOrder("b", "a", readyB, readyA) })
	wg.Wait()
	if errA != nil || errB != nil {
		t.Fatalf("deadlocked Updates: got %v and %v, want both to succeed", errA, errB)
	}
	if n := calls.Load(); n < 3 {
		t.Fatalf("fn calls: got %d, want at least 3 (one transaction retried)", n)
	}
	for _, p := range []carnet.PatientKey{"a", "b"} {
		row, err := s.Patient(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		if row.Version != 3 {
			t.Errorf("Patient(%s).Version: got %d, want 3 (two bumps, none lost)", p, row.Version)
		}
	}
}

// A restart of the server drops the pooled connections; the next requests
// do not fail for it.
func TestServerDropsConnections(t *testing.T) {
	s := pgtest.Open(t)
	ctx := context.Background()
	storetest.MustUpdate(t, s, func(tx carnet.Tx) error {
		return tx.PutPatient(ctx, storetest.NewPatientRow("p1"))
	})
	pids := postgres.Backends(s)
	if len(pids) == 0 {
		t.Fatal("no idle pooled connection after a request")
	}
	conn, err := pgx.Connect(ctx, pgtest.ServerDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, pid := range pids {
		if _, err := conn.Exec(ctx, `SELECT pg_terminate_backend($1)`, int64(pid)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Patient(ctx, "p1"); err != nil {
		t.Fatalf("read after the server dropped the connections: %v", err)
	}
	for _, pid := range postgres.Backends(s) {
		if _, err := conn.Exec(ctx, `SELECT pg_terminate_backend($1)`, int64(pid)); err != nil {
			t.Fatal(err)
		}
	}
	storetest.MustUpdate(t, s, func(tx carnet.Tx) error {
		return tx.PutDataKey(ctx, "p1", storetest.NewWrappedKey("k1", storetest.Epoch))
	})
}

func TestClosedStore(t *testing.T) {
	s := pgtest.Open(t)
	ctx := context.Background()
	s.Close()
	_, err := s.Patient(ctx, "p1")
	wantKind(t, err, carnet.KindUnavailable, "Patient after Close")
	err = s.Update(ctx, func(tx carnet.Tx) error { return nil })
	wantKind(t, err, carnet.KindUnavailable, "Update after Close")
}

// The pool never opens more connections than asked; requests beyond wait.
func TestMaxConns(t *testing.T) {
	s := pgtest.Open(t, postgres.WithMaxConns(2))
	ctx := context.Background()
	if got := postgres.PoolSize(s); got != 2 {
		t.Fatalf("pool size: got %d, want 2", got)
	}
	start := time.Now()
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			if err := postgres.Sleep(ctx, s, 0.2); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if d := time.Since(start); d < 400*time.Millisecond {
		t.Fatalf("4 requests of 200ms on 2 connections took %v, want at least 400ms", d)
	}
	if n := len(postgres.Backends(s)); n > 2 {
		t.Fatalf("idle connections: got %d, want at most 2", n)
	}

	// A request that cannot get a connection in time fails as unavailable.
	hold, release := make(chan struct{}), make(chan struct{})
	for range 2 {
		wg.Go(func() {
			hold <- struct{}{}
			_ = postgres.Sleep(ctx, s, 0.3)
			<-release
		})
	}
	<-hold
	<-hold
	time.Sleep(50 * time.Millisecond) // both sleeps are on the server
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	_, err := s.Patient(short, "p1")
	cancel()
	close(release)
	wg.Wait()
	wantKind(t, err, carnet.KindUnavailable, "Patient with the pool exhausted")
}

// Tokens are opaque bytes: a NUL or invalid UTF-8 in a blind index is kept
// and found again. Ids are text: a NUL in one is the caller's error.
func TestBytes(t *testing.T) {
	s := pgtest.Open(t)
	ctx := context.Background()
	odd := "tok\x00\xff\xfe"
	p := storetest.NewPatientRow("p1", odd, "plain")
	d := storetest.NewDocumentRow("p1", "doc-1")
	d.Tokens = append(d.Tokens, carnet.Token{Kind: "author.family", Value: odd})
	storetest.MustUpdate(t, s, func(tx carnet.Tx) error {
		if err := tx.PutPatient(ctx, p); err != nil {
			return err
		}
		return tx.InsertDocument(ctx, d)
	})
	got, err := s.PatientByToken(ctx, odd)
	if err != nil {
		t.Fatalf("PatientByToken: %v", err)
	}
	if diff := storetest.PatientRowDiff(got, p); diff != "" {
		t.Fatalf("PatientByToken: %s", diff)
	}
	docs, err := s.FindDocuments(ctx, "p1", carnet.DocumentFilter{
		Tokens: []carnet.TokenFilter{{Kind: "author.family", Values: []string{odd}}},
	})
	if err != nil || len(docs) != 1 {
		t.Fatalf("FindDocuments(token with odd bytes): got %d rows, %v; want 1", len(docs), err)
	}
	if diff := storetest.DocumentRowDiff(docs[0], d); diff != "" {
		t.Fatalf("FindDocuments: %s", diff)
	}

	bad := storetest.NewDocumentRow("p1", "doc\x00-2")
	err = s.Update(ctx, func(tx carnet.Tx) error { return tx.InsertDocument(ctx, bad) })
	wantKind(t, err, carnet.KindInvalid, "InsertDocument(id with a NUL byte)")
}

// A conflict reported inside an Update leaves the transaction usable: fn
// may read what it collided with and go on, and what it wrote commits.
func TestConflictKeepsTransaction(t *testing.T) {
	s := pgtest.Open(t)
	ctx := context.Background()
	first := storetest.NewDocumentRow("p1", "doc-1")
	storetest.MustUpdate(t, s, func(tx carnet.Tx) error {
		if err := tx.PutPatient(ctx, storetest.NewPatientRow("p1", "tok-1")); err != nil {
			return err
		}
		if err := tx.PutContent(ctx, "p1", "c-1", []byte("x")); err != nil {
			return err
		}
		return tx.InsertDocument(ctx, first)
	})
	storetest.MustUpdate(t, s, func(tx carnet.Tx) error {
		dup := storetest.NewDocumentRow("p1", "doc-2")
		dup.UniqueID = first.UniqueID
		for _, c := range []struct {
			what string
			err  error
		}{
			{"InsertDocument(same uniqueId)", tx.InsertDocument(ctx, dup)},
			{"InsertDocument(id of another patient)", tx.InsertDocument(ctx, storetest.NewDocumentRow("p2", "doc-1"))},
			{"PutContent(id in use)", tx.PutContent(ctx, "p1", "c-1", []byte("y"))},
			{"PutPatient(token of another record)", tx.PutPatient(ctx, storetest.NewPatientRow("p2", "tok-1"))},
		} {
			wantKind(t, c.err, carnet.KindConflict, c.what)
		}
		if _, err := tx.Document(ctx, "p1", "doc-1"); err != nil {
			return err
		}
		return tx.InsertDocument(ctx, storetest.NewDocumentRow("p1", "doc-3"))
	})
	if _, err := s.Document(ctx, "p1", "doc-3"); err != nil {
		t.Fatalf("document written after the conflicts: %v", err)
	}
	for _, id := range []string{"doc-2", "doc-1"} {
		if _, err := s.Document(ctx, "p2", id); !carnet.IsKind(err, carnet.KindNotFound) {
			t.Errorf("Document(p2, %s): got %v, want not found", id, err)
		}
	}
	if _, err := s.Patient(ctx, "p2"); !carnet.IsKind(err, carnet.KindNotFound) {
		t.Errorf("Patient(p2) after a refused PutPatient: got %v, want not found", err)
	}
	if p, err := s.Route(ctx, "doc-2"); !carnet.IsKind(err, carnet.KindNotFound) {
		t.Errorf("Route(doc-2) after a refused insert: got %q, %v; want not found", p, err)
	}
}
