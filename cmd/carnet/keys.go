package main

import (
	"context"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	carnet "github.com/carnet-sante/carnet"
	"github.com/carnet-sante/carnet/auditlog"
	"github.com/carnet-sante/carnet/seal"
)

const keysUsage = `usage:
  carnet keys export --threshold K --shares N --out DIR [--data DIR | --key-file F]   split the keys in N shares, K of which restore them
  carnet keys import --out DIR SHARE-FILE…                                           re-assemble the keys from K shares into an empty directory
  carnet keys rotate [--data DIR | --postgres DSN] [--data-keys]                      new key-encryption key; every server sees it without restart`

func keysCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if isHelp(args) {
		fmt.Fprintln(stdout, keysUsage)
		return nil
	}
	if len(args) == 0 {
		return errors.New(keysUsage)
	}
	switch args[0] {
	case "export":
		return keysExport(args[1:], stdout, stderr)
	case "import":
		return keysImport(args[1:], stdout, stderr)
	case "rotate":
		return keysRotate(ctx, args[1:], stdout, stderr)
	}
	return errors.New(keysUsage)
}

// The key files a deployment's custody holds: the root key-encryption keys
// and the audit log's key pair.
func custodyFiles(c serverConfig) (keyFile string, files map[string]string) {
	keyFile = c.KeyFile
	if keyFile == "" {
		keyFile = filepath.Join(c.Data, seal.KeyFileName)
	}
	dir := keyDir(c)
	return keyFile, map[string]string{
		seal.KeyFileName:         keyFile,
		auditlog.SigningKeyFile:  filepath.Join(dir, auditlog.SigningKeyFile),
		auditlog.VerifierKeyFile: filepath.Join(dir, auditlog.VerifierKeyFile),
	}
}

// checkKeyFiles refuses to start on a key file that group or others may
// read or write (the key-encryption key and the audit log's key alike).
func checkKeyFiles(c serverConfig) error {
	_, files := custodyFiles(c)
	for _, name := range []string{seal.KeyFileName, auditlog.SigningKeyFile} {
		err := seal.CheckKeyFileMode(files[name])
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("refusing to start: %w", err)
		}
	}
	return nil
}

func keysExport(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("keys export", stderr)
	data := fs.String("data", "./carnet-data", "data directory holding the key files")
	keyFile := fs.String("key-file", "", "key-encryption key file (default DATA/carnet.keys); the audit log's keys live beside it")
	k := fs.Int("threshold", 3, "how many shares restore the keys (k)")
	n := fs.Int("shares", 5, "how many shares to write (n)")
	out := fs.String("out", "", "directory to write the share files to (then hand them out and erase it)")
	if err := fs.parse(args); err != nil {
		return err
	}
	if *out == "" {
		return errors.New("--out is required")
	}
	c := serverConfig{Data: *data, KeyFile: *keyFile}
	_, files := custodyFiles(c)
	var bundle strings.Builder
	for _, name := range []string{seal.KeyFileName, auditlog.SigningKeyFile, auditlog.VerifierKeyFile} {
		b, err := os.ReadFile(files[name])
		if err != nil {
			return err
		}
		fmt.Fprintf(&bundle, "file %s %s\n", name, base64.StdEncoding.EncodeToString(b))
	}
	v, err := os.ReadFile(files[auditlog.VerifierKeyFile])
	if err != nil {
		return err
	}
	verifier, err := auditlog.NewVerifier(string(v))
	if err != nil {
		return err
	}
	shares, err := seal.SplitKeys([]byte(bundle.String()), verifier.Name(), *k, *n)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(*out, 0o700); err != nil {
		return err
	}
	for _, s := range shares {
		text, _ := s.MarshalText()
		name := filepath.Join(*out, fmt.Sprintf("carnet-share-%d-of-%d.txt", s.Index, s.Total))
		f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return err
		}
		_, err = f.Write(append([]byte("# Carnet key share: keep it offline, apart from the other shares and from the backups.\n"), text...))
		if err == nil {
			err = f.Sync()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "%d shares of the keys of %s written to %s (export %s): any %d restore them\n",
		*n, verifier.Name(), *out, shares[0].Fingerprint(), *k)
	return nil
}

func keysImport(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("keys import", stderr)
	out := fs.String("out", "", "empty directory to write carnet.keys, audit-log.key and audit-log.pub to")
	if err := fs.parse(args); err != nil {
		return err
	}
	if *out == "" || fs.NArg() == 0 {
		return errors.New("usage: carnet keys import --out DIR SHARE-FILE…")
	}
	var shares []seal.Share
	for _, p := range fs.Args() {
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		s, err := seal.ParseShare(b)
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		shares = append(shares, s)
	}
	bundle, err := seal.CombineKeys(shares)
	if err != nil {
		return fmt.Errorf("keys not restored: %w", err)
	}
	if err := os.MkdirAll(*out, 0o700); err != nil {
		return err
	}
	written := 0
	for _, line := range strings.Split(strings.TrimSpace(string(bundle)), "\n") {
		f := strings.Fields(line)
		if len(f) != 3 || f[0] != "file" || strings.ContainsAny(f[1], "/\\") || f[1] == ".." {
			return errors.New("the key bundle is malformed")
		}
		b, err := base64.StdEncoding.DecodeString(f[2])
		if err != nil {
			return errors.New("the key bundle is malformed")
		}
		path := filepath.Join(*out, f[1])
		w, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return fmt.Errorf("%w (import into an empty directory)", err)
		}
		_, err = w.Write(b)
		if err == nil {
			err = w.Sync()
		}
		if cerr := w.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
		written++
	}
	fmt.Fprintf(stdout, "%d key files of %s restored into %s from %d shares\n", written, shares[0].Deployment, *out, len(shares))
	return nil
}

// keysRotate adds a key-encryption key to the keyring stored in the
// database; running servers see it without restart. With --data-keys every
// record also gets a new data key under it.
func keysRotate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("keys rotate", stderr)
	data := fs.String("data", "./carnet-data", "data directory (the embedded database and the key file)")
	pg := fs.String("postgres", "", "PostgreSQL DSN, when the data lives there")
	keyFile := fs.String("key-file", "", "key-encryption key file (default DATA/carnet.keys); CARNET_KEK wins")
	dataKeys := fs.Bool("data-keys", false, "also give every record a new data key (new data sealed with it; older data keeps opening)")
	if err := fs.parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return err
	}
	c := serverConfig{Data: *data, Postgres: *pg, KeyFile: *keyFile}
	if err := fs.postgresKeys(c); err != nil {
		return err
	}
	if c.Postgres == "" && !fileExists(filepath.Join(c.Data, "carnet.db")) {
		return fmt.Errorf("no database at %s", filepath.Join(c.Data, "carnet.db"))
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	store, _, err := openStore(ctx, c, logger)
	if err != nil {
		return err
	}
	defer store.Close()
	sealer, err := openSealer(ctx, c, store, false, logger)
	if err != nil {
		return err
	}
	s, ok := sealer.(*seal.Sealer)
	if !ok {
		return errors.New("the keys do not open this database: nothing rotated")
	}
	id, err := s.RotateKEK(ctx)
	if err != nil {
		return err
	}
	terms, _ := s.KeyringTerms(ctx)
	fmt.Fprintf(stdout, "key-encryption key %s is now the one wrapping new data keys (%d in the stored keyring); running servers use it within %s (--key-changes-poll)\n",
		id, len(terms), seal.DefaultKeyChangesPoll)
	if !*dataKeys {
		return nil
	}
	n := 0
	after := carnet.PatientKey("")
	for {
		ps, err := store.PatientKeys(ctx, after, 256)
		if err != nil {
			return err
		}
		if len(ps) == 0 {
			break
		}
		for _, p := range ps {
			if _, err := s.RotateDataKey(ctx, p); err != nil {
				return fmt.Errorf("data key of record %s: %w", p, err)
			}
			n++
		}
		after = ps[len(ps)-1]
	}
	fmt.Fprintf(stdout, "%d records got a new data key\n", n)
	return nil
}
