package auditlog

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/carnet-sante/carnet"
	"github.com/carnet-sante/carnet/postgres"
	"github.com/carnet-sante/carnet/postgres/pgtest"
	"github.com/carnet-sante/carnet/seal"
	"github.com/carnet-sante/carnet/sqlite"
	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx", to tamper with rows
	"golang.org/x/mod/sumdb/note"
	_ "modernc.org/sqlite" // database/sql driver "sqlite", to tamper with rows
)

// These tests run on the real Stores: a SQLite file, and a fresh
// PostgreSQL schema when CARNET_TEST_POSTGRES names a server. They do not
// use internal/testenv, which wires the HTTP API (itself a user of this
// package).

// testDB is one fresh Store with what the audit log needs around it, and a
// direct SQL connection to tamper with its rows.
type testDB struct {
	backend  string
	store    carnet.Store
	db       *sql.DB
	sealer   *seal.Sealer
	signer   note.Signer
	verifier note.Verifier
	log      *Log
	// reopen opens the same database again (the caller closes it).
	reopen func(t testing.TB) carnet.Store
}

type backend struct {
	name string
	open func(t testing.TB) (store carnet.Store, db *sql.DB, reopen func(testing.TB) carnet.Store)
}

var backends = []backend{
	{"sqlite", func(t testing.TB) (carnet.Store, *sql.DB, func(testing.TB) carnet.Store) {
		path := filepath.Join(t.TempDir(), "carnet.db")
		open := func(t testing.TB) carnet.Store {
			t.Helper()
			s, err := sqlite.Open(context.Background(), path)
			if err != nil {
				t.Fatalf("sqlite.Open: %v", err)
			}
			return s
		}
		s := open(t)
		t.Cleanup(func() { s.Close() })
		db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return s, db, open
	}},
	{"postgres", func(t testing.TB) (carnet.Store, *sql.DB, func(testing.TB) carnet.Store) {
		dsn := pgtest.DSN(t)
		open := func(t testing.TB) carnet.Store {
			t.Helper()
			s, err := postgres.Open(context.Background(), dsn)
			if err != nil {
				t.Fatalf("postgres.Open: %v", err)
			}
			return s
		}
		s := open(t)
		t.Cleanup(func() { s.Close() })
		db, err := sql.Open("pgx", dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return s, db, open
	}},
}

// eachBackend runs f as a subtest on a fresh database of each backend.
func eachBackend(t *testing.T, f func(t *testing.T, d *testDB)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			f(t, newTestDB(t, b))
		})
	}
}

func newTestDB(t testing.TB, b backend) *testDB {
	t.Helper()
	store, db, reopen := b.open(t)
	kek, err := seal.GenerateKEK()
	if err != nil {
		t.Fatal(err)
	}
	kr, err := seal.NewKeyring(kek)
	if err != nil {
		t.Fatal(err)
	}
	skey, vkey, err := GenerateKey(testOrigin)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	verifier, err := NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	l, err := New(testOrigin, StoreStorage{store}, signer)
	if err != nil {
		t.Fatal(err)
	}
	return &testDB{backend: b.name, store: store, db: db, sealer: seal.New(kr, seal.StoreKeys(store)),
		signer: signer, verifier: verifier, log: l, reopen: reopen}
}

// q adapts a query written with ? placeholders to the backend.
func (d *testDB) q(query string) string {
	if d.backend != "postgres" {
		return query
	}
	return pgtest.Rebind(query)
}

func (d *testDB) exec(t testing.TB, query string, args ...any) {
	t.Helper()
	if _, err := d.db.Exec(d.q(query), args...); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}

func (d *testDB) recorder(t testing.TB, opts RecorderOptions) *Recorder {
	t.Helper()
	r := NewRecorder(d.store, d.sealer, opts)
	t.Cleanup(func() { r.Close() })
	return r
}

func (d *testDB) checkpointer(opts CheckpointerOptions) *Checkpointer {
	return NewCheckpointer(d.log, d.store, d.verifier, opts)
}

func (d *testDB) fsck(t testing.TB, withKeys bool) (FsckReport, error) {
	t.Helper()
	var opts []FsckOption
	if withKeys {
		opts = append(opts, WithSealer(d.sealer))
	}
	return Fsck(context.Background(), d.store, d.verifier, testOrigin, opts...)
}

var testPatients = []carnet.PatientKey{"pk-alice", "pk-bruno", "pk-chloe", ""}

// testEvent is the i-th access event of a test: a professional reading a
// patient's documents (or a search naming no record).
func testEvent(i int, at time.Time) carnet.AuditEvent {
	p := testPatients[i%len(testPatients)]
	ev := carnet.AuditEvent{
		Time: at,
		Actor: carnet.Actor{Kind: carnet.ActorProfessional, Name: "Dr Test",
			ID: carnet.Identifier{System: "urn:oid:1.2.250.1.71.4.2.1", Value: fmt.Sprintf("81000%06d", i%5)}},
		Action:    carnet.ActionRead,
		Patient:   p,
		Documents: []string{fmt.Sprintf("doc-%d", i)},
		Outcome:   carnet.OutcomeSuccess,
	}
	if p == "" {
		ev.Action, ev.Documents, ev.Outcome = carnet.ActionSearch, nil, carnet.OutcomeDenied
	}
	return ev
}
