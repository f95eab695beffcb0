package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	carnet "github.com/carnet-sante/carnet"
	"github.com/carnet-sante/carnet/auditlog"
	"github.com/carnet-sante/carnet/backup"
	"github.com/carnet-sante/carnet/postgres"
	"github.com/carnet-sante/carnet/sqlite"
	"golang.org/x/mod/sumdb/note"
)

// backupCmd takes an online, consistent backup of the deployment into a new
// directory under --out: the store's copy (ciphertext only), then the
// manifest signed with the audit log's key, written last (docs/BACKUP.md).
func backupCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("backup", stderr)
	data := fs.String("data", "./carnet-data", "data directory (the embedded database and the key files)")
	pg := fs.String("postgres", "", "PostgreSQL DSN, when the data lives there (pg_dump of the server's version must be on the PATH)")
	keyFile := fs.String("key-file", "", "key-encryption key file (default DATA/carnet.keys): the audit log's keys live beside it")
	out := fs.String("backups", "", "directory the backup is written under (a new carnet-<time>-<id> directory)")
	if err := fs.parse(args); err != nil {
		return err
	}
	if *out == "" {
		return errors.New("--backups is required: where backups are kept (another disk, copied off the host)")
	}
	c := serverConfig{Data: *data, Postgres: *pg, KeyFile: *keyFile}
	if err := fs.postgresKeys(c); err != nil {
		return err
	}
	signer, verifier, err := logKeys(c)
	if err != nil {
		return err
	}
	t0 := time.Now()
	d, err := backup.Create(*out, t0)
	if err != nil {
		return err
	}
	m := backup.Manifest{Origin: verifier.Name(), Created: t0.UTC().Truncate(time.Second)}
	var files []string
	if c.Postgres == "" {
		files, err = backupSQLite(ctx, c, d.Path, signer, &m)
	} else {
		files, err = backupPostgres(ctx, c, d.Path, signer, &m)
	}
	if err != nil {
		return fmt.Errorf("backup left incomplete in %s: %w", d.Path, err)
	}
	pub, err := os.ReadFile(filepath.Join(keyDir(c), auditlog.VerifierKeyFile))
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(d.Path, auditlog.VerifierKeyFile), pub, 0o600); err != nil {
		return err
	}
	files = append(files, auditlog.VerifierKeyFile)
	m, err = d.Finish(m, signer, files...)
	if err != nil {
		return fmt.Errorf("backup left incomplete in %s: %w", d.Path, err)
	}
	var size int64
	for _, f := range m.Files {
		size += f.Size
	}
	fmt.Fprintf(stdout, "backup complete: %s\n  %d bytes, schema %d, audit log of %d events, signed checkpoint in the manifest, %.2fs\n",
		d.Path, size, m.Schema, m.LogSize, time.Since(t0).Seconds())
	return nil
}

// logKeys loads the audit log's signing key and its verifier key from the
// deployment's key directory.
func logKeys(c serverConfig) (note.Signer, note.Verifier, error) {
	dir := keyDir(c)
	s, err := auditlog.LoadSigner(filepath.Join(dir, auditlog.SigningKeyFile))
	if err != nil {
		return nil, nil, fmt.Errorf("audit log signing key (%s): %w", filepath.Join(dir, auditlog.SigningKeyFile), err)
	}
	vb, err := os.ReadFile(filepath.Join(dir, auditlog.VerifierKeyFile))
	if err != nil {
		return nil, nil, err
	}
	v, err := auditlog.NewVerifier(string(vb))
	if err != nil {
		return nil, nil, err
	}
	if v.Name() != s.Name() || v.KeyHash() != s.KeyHash() {
		return nil, nil, errors.New("the audit log's verifier key does not match its signing key")
	}
	return s, v, nil
}

func backupSQLite(ctx context.Context, c serverConfig, dir string, signer note.Signer, m *backup.Manifest) ([]string, error) {
	src := filepath.Join(c.Data, "carnet.db")
	dst := filepath.Join(dir, "carnet.db")
	if err := sqlite.Backup(ctx, src, dst); err != nil {
		return nil, err
	}
	// The copy's own log is what the manifest's checkpoint signs.
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	cp, err := sqlite.Open(ctx, dst, sqlite.WithLogger(logger))
	if err != nil {
		return nil, err
	}
	defer cp.Close()
	m.Store = "sqlite"
	if m.Schema, err = cp.SchemaVersion(ctx); err != nil {
		return nil, err
	}
	if err := signBackupLog(ctx, auditlog.StoreStorage{Store: cp}, signer, m); err != nil {
		return nil, err
	}
	return []string{"carnet.db"}, cp.Close()
}

func signBackupLog(ctx context.Context, st auditlog.Storage, signer note.Signer, m *backup.Manifest) error {
	l, err := auditlog.New(signer.Name(), st, signer)
	if err != nil {
		return err
	}
	cp, signed, err := l.Checkpoint(ctx)
	if err != nil {
		return err
	}
	m.LogSize, m.Checkpoint = cp.Size, signed
	return nil
}

func backupPostgres(ctx context.Context, c serverConfig, dir string, signer note.Signer, m *backup.Manifest) ([]string, error) {
	store, err := postgres.Open(ctx, c.Postgres)
	if err != nil {
		return nil, err
	}
	defer store.Close()
	sn, err := store.ExportSnapshot(ctx)
	if err != nil {
		return nil, err
	}
	defer sn.Close()
	m.Store = "postgres"
	if m.Schema, err = sn.SchemaVersion(ctx); err != nil {
		return nil, err
	}
	if err := signBackupLog(ctx, sn, signer, m); err != nil {
		return nil, err
	}
	dsn, err := libpqDSN(c.Postgres)
	if err != nil {
		return nil, err
	}
	const name = "carnet.pgdump"
	if err := runTool(ctx, "pg_dump", "--format=custom", "--no-owner", "--no-privileges", "--snapshot="+sn.ID,
		"--schema="+sn.Schema, "--file="+filepath.Join(dir, name), "--dbname="+dsn); err != nil {
		return nil, err
	}
	return []string{name}, nil
}

// libpqDSN drops what only pgx understands (search_path, pool_*) from a
// postgres:// URL, for pg_dump and pg_restore.
func libpqDSN(dsn string) (string, error) {
	u, err := url.Parse(dsn)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return "", errors.New("--postgres must be a postgres:// URL for backups")
	}
	q := u.Query()
	for k := range q {
		if k == "search_path" || strings.HasPrefix(k, "pool_") {
			q.Del(k)
		}
	}
	u.RawQuery = q.Encode()
	return u.String(), nil
}

func runTool(ctx context.Context, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		// The tool's output names tables and the server, never rows.
		return fmt.Errorf("%s: %w: %s", name, err, strings.TrimSpace(out.String()))
	}
	return nil
}

// restoreCmd restores a verified backup (and, for SQLite, the replica's
// later transactions) into an empty instance, then checks that the
// restored audit log extends the manifest's checkpoint (docs/BACKUP.md).
func restoreCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("restore", stderr)
	from := fs.String("backup", "", "the backup directory to restore (carnet-<time>-<id>, with its MANIFEST)")
	replica := fs.String("replica", "", "SQLite: the replica directory; its latest generation is restored when it extends the backup")
	data := fs.String("data", "./carnet-data", "the new, empty data directory (its key files restored first with carnet keys import)")
	pg := fs.String("postgres", "", "PostgreSQL: DSN of the new, empty database")
	keyFile := fs.String("key-file", "", "key-encryption key file (default DATA/carnet.keys): the audit log's keys live beside it")
	logKey := fs.String("log-key", "", "the audit log's verifier key, or a file holding it (default: audit-log.pub beside the key file)")
	if err := fs.parse(args); err != nil {
		return err
	}
	if *from == "" {
		return errors.New("--backup is required")
	}
	c := serverConfig{Data: *data, Postgres: *pg, KeyFile: *keyFile}
	if err := fs.postgresKeys(c); err != nil {
		return err
	}
	v, err := restoreVerifier(c, *logKey)
	if err != nil {
		return err
	}
	t0 := time.Now()
	m, err := backup.Verify(*from, v)
	if err != nil {
		return fmt.Errorf("backup refused: %w", err)
	}
	fmt.Fprintf(stdout, "backup %s verified: signed manifest, %d files, audit log of %d events\n", *from, len(m.Files), m.LogSize)
	cp, err := auditlog.OpenCheckpoint(m.Checkpoint, m.Origin, v)
	if err != nil {
		return err
	}
	var store carnet.Store
	switch {
	case m.Store == "sqlite" && c.Postgres == "":
		store, err = restoreSQLite(ctx, c, *from, *replica, cp, stdout)
	case m.Store == "postgres" && c.Postgres != "":
		store, err = restorePostgres(ctx, c, *from)
	default:
		return fmt.Errorf("a %s backup restores into %s (give --data or --postgres accordingly)", m.Store, m.Store)
	}
	if err != nil {
		return err
	}
	defer store.Close()
	size, err := checkRestoredLog(ctx, store, v, cp, m.Checkpoint)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "restored in %.2fs: audit log of %d events, extending the manifest's checkpoint (%d events)\n", time.Since(t0).Seconds(), size, cp.Size)
	fmt.Fprintln(stdout, "now run carnet fsck on it; clients that saw a larger log than this will report a rollback")
	return nil
}

func restoreVerifier(c serverConfig, logKey string) (note.Verifier, error) {
	vkey := logKey
	if vkey == "" {
		vkey = filepath.Join(keyDir(c), auditlog.VerifierKeyFile)
	}
	if b, err := os.ReadFile(vkey); err == nil {
		vkey = string(b)
	} else if logKey == "" {
		return nil, fmt.Errorf("no audit log verifier key at %s: restore the key shares first (carnet keys import) or give --log-key", vkey)
	}
	return auditlog.NewVerifier(vkey)
}

func restoreSQLite(ctx context.Context, c serverConfig, from, replica string, cp auditlog.Checkpoint, stdout io.Writer) (carnet.Store, error) {
	dst := filepath.Join(c.Data, "carnet.db")
	if fileExists(dst) {
		return nil, fmt.Errorf("%s already holds a database: restore into an empty instance", c.Data)
	}
	if err := os.MkdirAll(c.Data, 0o700); err != nil {
		return nil, err
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if replica != "" {
		tmp := filepath.Join(c.Data, ".carnet.db.replica")
		os.Remove(tmp)
		pos, err := sqlite.RestoreReplica(ctx, replica, tmp)
		if err == nil {
			ok, why := replicaExtends(ctx, tmp, cp, logger)
			if ok {
				if pos.Stopped != "" {
					fmt.Fprintf(stdout, "replica: stopped early: %s\n", pos.Stopped)
				}
				fmt.Fprintf(stdout, "replica generation %s: %d transactions after its snapshot, last shipped %s\n",
					pos.Generation, pos.Transactions, pos.Last.UTC().Format(time.RFC3339))
				if err := os.Rename(tmp, dst); err != nil {
					return nil, err
				}
				return sqlite.Open(ctx, dst, sqlite.WithLogger(logger))
			}
			err = errors.New(why)
		}
		os.Remove(tmp)
		fmt.Fprintf(stdout, "replica NOT used (%v): restoring the backup alone\n", err)
	}
	if err := sqlite.CopyDatabase(filepath.Join(from, "carnet.db"), dst); err != nil {
		return nil, err
	}
	return sqlite.Open(ctx, dst, sqlite.WithLogger(logger))
}

// replicaExtends says whether the database at path holds the backup's
// log as a prefix: only then is it the same history, brought forward.
func replicaExtends(ctx context.Context, path string, cp auditlog.Checkpoint, logger *slog.Logger) (bool, string) {
	s, err := sqlite.Open(ctx, path, sqlite.WithLogger(logger))
	if err != nil {
		return false, err.Error()
	}
	defer s.Close()
	l, err := auditlog.New(cp.Origin, auditlog.StoreStorage{Store: s}, nil)
	if err != nil {
		return false, err.Error()
	}
	size, err := l.Size(ctx)
	if err != nil {
		return false, err.Error()
	}
	if size < cp.Size {
		return false, fmt.Sprintf("the replica's log (%d events) is older than the backup's (%d)", size, cp.Size)
	}
	root, err := l.RootAt(ctx, cp.Size)
	if err != nil {
		return false, err.Error()
	}
	if !bytes.Equal(root, cp.Root) {
		return false, "the replica's log does not extend the backup's checkpoint (another history)"
	}
	return true, ""
}

func restorePostgres(ctx context.Context, c serverConfig, from string) (carnet.Store, error) {
	dsn, err := libpqDSN(c.Postgres)
	if err != nil {
		return nil, err
	}
	if err := runTool(ctx, "pg_restore", "--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction",
		"--dbname="+dsn, filepath.Join(from, "carnet.pgdump")); err != nil {
		return nil, fmt.Errorf("restore into an empty database: %w", err)
	}
	return postgres.Open(ctx, c.Postgres)
}

// checkRestoredLog checks that the restored log extends the manifest's
// checkpoint and stores that checkpoint, so that the restored log's
// checkpoint at that size is the manifest's, byte for byte.
func checkRestoredLog(ctx context.Context, store carnet.Store, v note.Verifier, cp auditlog.Checkpoint, signed []byte) (uint64, error) {
	l, err := auditlog.New(cp.Origin, auditlog.StoreStorage{Store: store}, nil)
	if err != nil {
		return 0, err
	}
	size, err := l.Size(ctx)
	if err != nil {
		return 0, err
	}
	if size < cp.Size {
		return 0, fmt.Errorf("the restored audit log has %d events, fewer than the manifest's checkpoint (%d)", size, cp.Size)
	}
	root, err := l.RootAt(ctx, cp.Size)
	if err != nil {
		return 0, err
	}
	if !bytes.Equal(root, cp.Root) {
		return 0, errors.New("the restored audit log does not match the manifest's checkpoint")
	}
	if err := store.PutCheckpoint(ctx, carnet.StoredCheckpoint{Size: cp.Size, Note: signed, Time: time.Now()}); err != nil {
		return 0, err
	}
	return size, nil
}
