// Package pgtest gives tests a fresh PostgreSQL database: a uniquely named
// schema on the server named by CARNET_TEST_POSTGRES, dropped when the test
// ends. Without that variable tests skip, except in CI (CI=true), where the
// PostgreSQL tests must run and fail instead.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/carnet-sante/carnet/internal/ci"

	"github.com/carnet-sante/carnet/postgres"
	"github.com/jackc/pgx/v5"
)

// EnvDSN names the environment variable holding the test server's DSN, e.g.
// postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable
const EnvDSN = "CARNET_TEST_POSTGRES"

// ServerDSN returns the DSN of the test server, or skips the test (fails it
// in CI) when none is configured.
func ServerDSN(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv(EnvDSN)
	if dsn == "" {
		if ci.Enforced() {
			t.Fatalf("%s is not set: the PostgreSQL tests must run in CI", EnvDSN)
		}
		t.Skipf("PostgreSQL tests skipped: set %s to a server's DSN, e.g. postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable", EnvDSN)
	}
	return dsn
}

// DSN creates an empty schema on the test server, drops it (with everything
// in it) when the test ends, and returns a DSN whose search_path selects it.
func DSN(t testing.TB) string {
	t.Helper()
	server := ServerDSN(t)
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatalf("random schema name: %v", err)
	}
	schema := "carnet_test_" + hex.EncodeToString(b[:])

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, server)
	if err != nil {
		t.Fatalf("connect to %s: %v", EnvDSN, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, server)
		if err != nil {
			t.Errorf("drop test schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop test schema %s: %v", schema, err)
		}
	})
	return withSearchPath(server, schema)
}

// Open returns a Store on a fresh schema (see DSN), closed when the test ends.
func Open(t testing.TB, opts ...postgres.Option) *postgres.Store {
	t.Helper()
	dsn := DSN(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := postgres.Open(ctx, dsn, opts...)
	if err != nil {
		t.Fatalf("postgres.Open: %v", err)
	}
	t.Cleanup(func() { s.Close() }) // runs before the schema is dropped
	return s
}

// withSearchPath adds search_path to a URL or a key=value DSN; pgx sends
// parameters it does not know itself to the server as session settings.
func withSearchPath(dsn, schema string) string {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		if u, err := url.Parse(dsn); err == nil {
			q := u.Query()
			q.Set("search_path", schema)
			u.RawQuery = q.Encode()
			return u.String()
		}
	}
	return dsn + " search_path=" + schema
}

// Rebind turns the ? placeholders of a query written for SQLite into
// PostgreSQL's $1, $2, …: for tests that tamper with the same rows on both
// backends through database/sql.
func Rebind(query string) string {
	n := 0
	var b strings.Builder
	for _, r := range query {
		if r == '?' {
			n++
			fmt.Fprintf(&b, "$%d", n)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}
