package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/carnet-sante/carnet/auth"
	"github.com/carnet-sante/carnet/postgres/pgtest"
	"github.com/jackc/pgx/v5"
)

// The CLI as a newcomer meets it (issue 13, items 8, 9 and 11).

// Item 11: --help on every command and subcommand answers, exit 0; a
// command line with no command is a usage error.
func TestHelpExitsZero(t *testing.T) {
	for _, args := range [][]string{
		{"--help"}, {"help"}, {"serve", "--help"}, {"token", "-h"}, {"fsck", "--help"}, {"backup", "--help"},
		{"restore", "--help"}, {"doctor", "--help"}, {"audit", "--help"}, {"audit", "verify", "--help"},
		{"bench", "--help"}, {"bench", "pastille", "--help"}, {"keys", "--help"}, {"keys", "export", "--help"},
		{"keys", "import", "--help"}, {"keys", "rotate", "--help"},
	} {
		var out, errOut bytes.Buffer
		err := run(context.Background(), args, &out, &errOut)
		if code := exitCode(err); code != 0 {
			t.Errorf("carnet %s: exit %d (%v)", strings.Join(args, " "), code, err)
		}
		if out.Len()+errOut.Len() == 0 {
			t.Errorf("carnet %s: printed nothing", strings.Join(args, " "))
		}
	}
	if code := exitCode(run(context.Background(), nil, io.Discard, io.Discard)); code != 2 {
		t.Errorf("carnet with no command: exit %d, want 2", code)
	}
}

// Item 8: carnet token asks the running demo server; it never creates a
// key, and says which address it tried when nothing (or no demo) answers.
func TestTokenAsksTheServer(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	var out bytes.Buffer
	err := run(context.Background(), []string{"token", "--user", "gp", "--url", "http://127.0.0.1:1"}, &out, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "http://127.0.0.1:1") || !strings.Contains(err.Error(), "carnet serve --demo") {
		t.Errorf("no server: %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("carnet token wrote %v in the working directory", entries)
	}
	err = run(context.Background(), []string{"token", "--user", "gp", "--ttl", "48h"}, &out, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "24h") {
		t.Errorf("--ttl 48h: %v, want the 24 h limit named", err)
	}

	// A production server (an outside issuer) has no demo issuer.
	idp := newIdP(t)
	prod := startServe(t, append([]string{"--data", t.TempDir(), "--allow-test-ins"}, idp.args(t)...)...)
	err = run(context.Background(), []string{"token", "--user", "gp", "--url", prod.URL}, &out, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "no demo identity provider") {
		t.Errorf("against a server without --demo: %v", err)
	}

	// The demo server signs for its own audience, whatever directory the
	// command runs in: the token works.
	data := t.TempDir()
	s := startServe(t, "--demo", "--data", data)
	if code, b := get(t, demoSearch(s.URL), demoToken(t, s, "gp")); code != 200 || b["total"].(float64) < 1 {
		t.Errorf("a token from the server: %d %v", code, b["total"])
	}
	err = run(context.Background(), []string{"token", "--user", "nobody", "--url", s.URL}, &out, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "patient3") {
		t.Errorf("an unknown user: %v, want the demo users listed", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("carnet token wrote %v in the working directory", entries)
	}
}

// Item 11: the demo banner names every demo user, patient3 included.
func TestDemoBannerListsEveryUser(t *testing.T) {
	var b bytes.Buffer
	printDemoHelp(&b, "http://127.0.0.1:9999")
	for _, u := range auth.DemoUserNames() {
		if !strings.Contains(b.String(), " "+u+" ") {
			t.Errorf("the banner does not name %s:\n%s", u, b.String())
		}
	}
	if !strings.Contains(b.String(), "token --user gp --url http://127.0.0.1:9999") {
		t.Errorf("the banner's token line does not name the server's URL:\n%s", b.String())
	}
}

// Item 11: the audit check's state goes to the user's configuration
// directory, one file per server, not to the working directory.
func TestAuditStateInConfigDir(t *testing.T) {
	cfg := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", cfg)
	t.Setenv("HOME", cfg)
	a, err := defaultStatePath("http://127.0.0.1:8080")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := defaultStatePath("https://dmp.example.fr")
	if !strings.HasPrefix(a, filepath.Join(cfg, "carnet")+string(filepath.Separator)) || a == b {
		t.Errorf("state files %s and %s", a, b)
	}
}

// Item 9: outside the repository, the relevance bench says where its
// scenarios are and fails, rather than printing a mean of nothing.
func TestBenchWithoutScenariosFails(t *testing.T) {
	t.Chdir(t.TempDir())
	var out bytes.Buffer
	err := run(context.Background(), []string{"bench", "pastille", "--docs", "0"}, &out, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "--scenarios") || strings.Contains(out.String(), "NaN") {
		t.Errorf("bench outside the repository: %v\n%s", err, out.String())
	}
}

// Item 13: PostgreSQL's first start without --init-key says to add it and
// creates nothing; --postgres never borrows the embedded database's keys.
func TestPostgresFirstStart(t *testing.T) {
	dsn := pgtest.DSN(t)
	keys := t.TempDir()
	var out bytes.Buffer
	err := run(context.Background(), []string{"serve", "--addr", "127.0.0.1:0", "--postgres", dsn, "--data", keys, "--demo"}, &out, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "--init-key") {
		t.Fatalf("first start without --init-key: %v", err)
	}
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var tables int
	if err := conn.QueryRow(context.Background(), `SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema()`).Scan(&tables); err != nil || tables != 0 {
		t.Errorf("a refused first start left %d tables (%v)", tables, err)
	}
	if entries, _ := os.ReadDir(keys); len(entries) != 0 {
		t.Errorf("a refused first start left %v in the key directory", entries)
	}

	// Without --data, the default directory is the embedded database's.
	err = run(context.Background(), []string{"serve", "--addr", "127.0.0.1:0", "--postgres", dsn, "--init-key", "--demo"}, &out, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "--data") {
		t.Errorf("--postgres without --data: %v", err)
	}
	// A directory holding an embedded database is not PostgreSQL's.
	sqliteDir := t.TempDir()
	startServe(t, "--demo", "--data", sqliteDir).stop()
	err = run(context.Background(), []string{"serve", "--addr", "127.0.0.1:0", "--postgres", dsn, "--init-key", "--data", sqliteDir, "--demo"}, &out, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "carnet.db") {
		t.Errorf("--postgres with the embedded database's directory: %v", err)
	}

	// As the README says: the first start with --init-key, then without.
	s := startServe(t, "--postgres", dsn, "--init-key", "--data", keys, "--demo", "--demo-patients", "4")
	tok := demoToken(t, s, "patient0")
	if code, _ := get(t, demoSearch(s.URL), tok); code != 200 {
		t.Errorf("first start with --init-key: %d", code)
	}
	s.stop()
	s = startServe(t, "--postgres", dsn, "--data", keys, "--demo", "--demo-patients", "4")
	if code, _ := get(t, demoSearch(s.URL), demoToken(t, s, "patient0")); code != 200 {
		t.Errorf("next start: %d", code)
	}
}
