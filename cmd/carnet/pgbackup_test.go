package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/carnet-sante/carnet/postgres/pgtest"
	"github.com/jackc/pgx/v5"
)

// `carnet backup --postgres` dumps in the snapshot its checkpoint was
// signed from; `carnet restore --postgres` puts it into an empty database,
// and the restored deployment passes fsck with every filing back and the
// manifest's checkpoint as its log's.
func TestBackupRestorePostgres(t *testing.T) {
	dsn := pgtest.DSN(t)
	if _, err := exec.LookPath("pg_dump"); err != nil {
		t.Fatalf("pg_dump is needed for PostgreSQL backups: %v", err)
	}
	keys := t.TempDir()
	idp := newIdP(t)
	s := startServe(t, append([]string{"--postgres", dsn, "--init-key", "--data", keys, "--allow-test-ins"}, idp.args(t)...)...)
	fs := filings(21, 6)
	acked := fileAll(s.URL, idp.filer(t), fs)
	if len(acked) != len(fs) {
		t.Fatalf("%d of %d filings acknowledged", len(acked), len(fs))
	}
	backups := t.TempDir()
	out := mustCarnet(t, "backup", "--postgres", dsn, "--data", keys, "--backups", backups)
	if !strings.Contains(out, "backup complete") {
		t.Fatalf("backup: %s", out)
	}
	s.stop()
	dirs, _ := filepath.Glob(filepath.Join(backups, "carnet-*"))

	// A new, empty database on the same server, with the same schema name.
	server := pgtest.ServerDSN(t)
	var b [6]byte
	rand.Read(b[:])
	dbname := "carnet_restore_" + hex.EncodeToString(b[:])
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, server)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+dbname); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)
	t.Cleanup(func() {
		conn, err := pgx.Connect(context.Background(), server)
		if err == nil {
			conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+dbname+" WITH (FORCE)")
			conn.Close(context.Background())
		}
	})
	u, _ := url.Parse(dsn)
	u.Path = "/" + dbname
	target := u.String()

	out = mustCarnet(t, "restore", "--backup", dirs[0], "--postgres", target, "--data", keys)
	if !strings.Contains(out, "extending the manifest's checkpoint") {
		t.Fatalf("restore: %s", out)
	}
	if out := mustCarnet(t, "fsck", "--postgres", target, "--data", keys); !strings.Contains(out, "\nok") {
		t.Fatalf("fsck after restore:\n%s", out)
	}
	r := startServe(t, append([]string{"--postgres", target, "--data", keys, "--allow-test-ins"}, idp.args(t)...)...)
	for i, f := range fs {
		if !idp.found(t, r.URL, f) {
			t.Errorf("filing %d missing after the PostgreSQL restore", i)
		}
	}
	// A second restore into the now non-empty database is refused.
	if _, err := carnetCmd(t, "restore", "--backup", dirs[0], "--postgres", target, "--data", keys); err == nil {
		t.Error("a restore over an existing database succeeded")
	}
}
