package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/carnet-sante/carnet/auditlog"
	"github.com/carnet-sante/carnet/record"
)

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// fsck re-verifies a deployment at rest: every record, metadata version and
// content (ciphertext in its place, hash and size as filed) and the whole
// audit log (events, leaves, signed checkpoints). It names the first bad
// entry and exits non-zero when anything is wrong. Run it against a stopped
// server or a live one (events appended meanwhile are left for next time).
func fsck(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("fsck", stderr)
	data := fs.String("data", "./carnet-data", "data directory (the embedded database, the key files)")
	pg := fs.String("postgres", "", "PostgreSQL DSN, when the data lives there")
	keyFile := fs.String("key-file", "", "key-encryption key file (default DATA/carnet.keys); CARNET_KEK wins")
	if err := fs.parse(args); err != nil {
		return err
	}
	c := serverConfig{Data: *data, Postgres: *pg, KeyFile: *keyFile}
	if err := fs.postgresKeys(c); err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if c.Postgres == "" {
		// fsck checks a database; it never creates one.
		if path := filepath.Join(c.Data, "carnet.db"); !fileExists(path) {
			return fmt.Errorf("no database at %s", path)
		}
	}
	store, _, err := openStore(ctx, c, logger)
	if err != nil {
		return err
	}
	defer store.Close()
	sealer, err := openSealer(ctx, c, store, false, logger)
	if err != nil {
		return err
	}
	svc := &record.Service{Store: store, Sealer: sealer, Logger: logger}
	bad := false

	rep, err := svc.CheckRecords(ctx)
	if err != nil {
		return fmt.Errorf("records: %w", err)
	}
	fmt.Fprintf(stdout, "records: %d records, %d metadata versions, %d contents checked\n", rep.Records, rep.Documents, rep.Contents)
	for i, p := range rep.Problems {
		if i == 0 {
			fmt.Fprintf(stdout, "FIRST BAD ENTRY: %s\n", p)
		} else {
			fmt.Fprintf(stdout, "bad entry: %s\n", p)
		}
		bad = true
	}

	// The verifier key file is the anchor kept apart from the database; the
	// key the database records must be the same.
	recorded, recErr := store.AuditLogKey(ctx)
	vkey := ""
	if vb, err := os.ReadFile(filepath.Join(keyDir(c), auditlog.VerifierKeyFile)); err == nil {
		vkey = strings.TrimSpace(string(vb))
		if recErr == nil && recorded.Verifier != vkey {
			fmt.Fprintf(stdout, "audit log: FIRST BAD ENTRY: the database records the log key %s, not %s (%s)\n", recorded.Verifier, vkey, auditlog.VerifierKeyFile)
			bad = true
		}
	} else if recErr == nil {
		vkey = recorded.Verifier
		fmt.Fprintf(stdout, "audit log: no %s in %s; checking against the key the database records (keep a copy of the verifier key apart to check the database itself)\n", auditlog.VerifierKeyFile, keyDir(c))
	} else {
		return fmt.Errorf("audit log verifier key: %w", err)
	}
	v, err := auditlog.NewVerifier(vkey)
	if err != nil {
		return err
	}
	arep, err := auditlog.Fsck(ctx, store, v, v.Name(), auditlog.WithSealer(sealer))
	var te *auditlog.TamperError
	switch {
	case errors.As(err, &te):
		fmt.Fprintf(stdout, "audit log: FIRST BAD ENTRY: index %d: %s\n", te.Index, te.Reason)
		bad = true
	case err != nil:
		return fmt.Errorf("audit log: %w", err)
	default:
		fmt.Fprintf(stdout, "audit log %s: %d events (%d past retention), %d opened, %d signed checkpoints verified, %d events not yet under a checkpoint\n",
			v.Name(), arep.Events, arep.Pruned, arep.Opened, arep.Checkpoints, arep.Unsigned)
	}
	if bad {
		return errors.New("fsck found damage: see above")
	}
	fmt.Fprintln(stdout, strings.TrimSpace("ok"))
	return nil
}
