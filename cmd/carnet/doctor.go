package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/carnet-sante/carnet/auditlog"
	"github.com/carnet-sante/carnet/backup"
	"github.com/carnet-sante/carnet/postgres"
	"github.com/carnet-sante/carnet/seal"
	"github.com/carnet-sante/carnet/sqlite"
	"github.com/carnet-sante/carnet/terminology"
)

// Thresholds of `carnet doctor` (docs/OPERATIONS.md).
const (
	doctorBackupAge  = 26 * time.Hour
	doctorReplicaLag = time.Minute
	doctorCertMargin = 14 * 24 * time.Hour
	doctorClockSkew  = time.Minute
)

// doctorCmd checks a deployment as an operator or an auditor would: it
// reads the same configuration as `carnet serve` (flags and CARNET_*
// variables) and, with --url, asks the running server. Each line is green
// or red with what to do; any red line makes the exit status non-zero.
func doctorCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("doctor", stderr)
	data := fs.String("data", "./carnet-data", "data directory (the embedded database and the key files)")
	pg := fs.String("postgres", "", "PostgreSQL DSN, when the data lives there")
	keyFile := fs.String("key-file", "", "key-encryption key file (default DATA/carnet.keys)")
	vs := fs.String("valuesets", "", "directory of the ANS CI-SIS value sets the server loads")
	matrix := fs.String("access-matrix", "", "the access matrix CSV the server loads")
	demo := fs.Bool("demo", false, "whether the server runs in demo mode")
	testINS := fs.Bool("allow-test-ins", false, "whether the server accepts test INS")
	issuers := fs.String("oidc-issuer", "", "the OpenID Connect issuers the server trusts")
	cert := fs.String("tls-cert", "", "the server's TLS certificate")
	key := fs.String("tls-key", "", "the server's TLS key")
	backups := fs.String("backups", "", "where `carnet backup` writes")
	replica := fs.String("replica", "", "SQLite: the replica directory")
	base := fs.String("url", "", "the running server's base URL, to check it from outside (optional)")
	urlCA := fs.String("url-ca", "", "PEM CA to trust for --url (a private CA), in addition to the system's")
	if err := fs.parse(args); err != nil {
		return err
	}
	c := serverConfig{Data: *data, Postgres: *pg, KeyFile: *keyFile}
	if err := fs.postgresKeys(c); err != nil {
		return err
	}
	d := &doctor{out: stdout}

	d.check("demo mode", !*demo, "off", "demo mode is ON (synthetic data, built-in identity provider): never with real data; remove --demo / CARNET_DEMO")
	d.check("test INS", !*testINS && !*demo, "refused", "test INS are accepted: remove --allow-test-ins / CARNET_ALLOW_TEST_INS outside test platforms")
	d.check("identity provider", strings.TrimSpace(*issuers) != "", "OpenID Connect issuer configured", "no --oidc-issuer: every data request is refused (or only the demo issuer is trusted)")
	d.tls(*cert, *key)
	d.keyFiles(c, *key)
	d.matrix(*matrix)
	d.valueSets(*vs)
	d.store(ctx, c)
	d.backups(*backups)
	if c.Postgres == "" {
		d.replica(c, *replica)
	} else {
		d.archiving(ctx, c.Postgres)
	}
	if *base != "" {
		d.server(ctx, *base, *urlCA, c)
	}
	if d.red > 0 {
		fmt.Fprintf(stdout, "%d of %d checks red\n", d.red, d.n)
		return fmt.Errorf("doctor: %d checks red", d.red)
	}
	fmt.Fprintf(stdout, "all %d checks green\n", d.n)
	return nil
}

type doctor struct {
	out    io.Writer
	n, red int
}

func (d *doctor) ok(name, detail string) {
	d.n++
	fmt.Fprintf(d.out, "ok    %-18s %s\n", name, detail)
}

func (d *doctor) fail(name, what string) {
	d.n++
	d.red++
	fmt.Fprintf(d.out, "FAIL  %-18s %s\n", name, what)
}

func (d *doctor) check(name string, good bool, detail, what string) {
	if good {
		d.ok(name, detail)
	} else {
		d.fail(name, what)
	}
}

func (d *doctor) tls(certFile, keyFile string) {
	if certFile == "" {
		d.fail("TLS", "not served over TLS: give --tls-cert and --tls-key (or terminate TLS in front and say so in the plan)")
		return
	}
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		d.fail("TLS", fmt.Sprintf("certificate or key unusable (%v): check --tls-cert/--tls-key", err))
		return
	}
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		d.fail("TLS", "certificate unreadable")
		return
	}
	left := time.Until(leaf.NotAfter)
	d.check("TLS", left > doctorCertMargin, fmt.Sprintf("certificate valid until %s", leaf.NotAfter.UTC().Format("2006-01-02")),
		fmt.Sprintf("certificate expires %s: renew it", leaf.NotAfter.UTC().Format("2006-01-02")))
}

func (d *doctor) keyFiles(c serverConfig, tlsKey string) {
	keyFile, files := custodyFiles(c)
	var bad []string
	check := func(p string) {
		err := seal.CheckKeyFileMode(p)
		switch {
		case errors.Is(err, os.ErrNotExist):
			bad = append(bad, p+" missing")
		case err != nil:
			bad = append(bad, fmt.Sprintf("chmod 600 %s", p))
		}
	}
	if os.Getenv(seal.EnvKEK) == "" {
		check(keyFile)
	}
	check(files[auditlog.SigningKeyFile])
	if tlsKey != "" {
		check(tlsKey)
	}
	d.check("key files", len(bad) == 0, "private to their owner (0600)", strings.Join(bad, "; "))
}

func (d *doctor) matrix(path string) {
	if path == "" {
		d.fail("access matrix", "none loaded: give --access-matrix (the national annex as CSV)")
		return
	}
	if _, err := loadPolicy(serverConfig{AccessMatrix: path}, slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
		d.fail("access matrix", fmt.Sprintf("does not load (%v): fix the file", err))
		return
	}
	d.ok("access matrix", "loaded from "+path)
}

func (d *doctor) valueSets(dir string) {
	if dir == "" {
		d.fail("value sets", "none loaded: give --valuesets (the ANS CI-SIS value sets), or codes are not checked")
		return
	}
	set, err := terminology.LoadDir(dir)
	if err != nil || set.Len() == 0 {
		d.fail("value sets", fmt.Sprintf("do not load from %s: %v", dir, err))
		return
	}
	d.ok("value sets", fmt.Sprintf("%d loaded", set.Len()))
}

// store checks that the keys open the database and that the log's latest
// checkpoint is signed by the log key and is a prefix of the log; and that
// the clock is not behind the log.
func (d *doctor) store(ctx context.Context, c serverConfig) {
	if c.Postgres == "" && !fileExists(filepath.Join(c.Data, "carnet.db")) {
		d.fail("store", "no database at "+filepath.Join(c.Data, "carnet.db"))
		return
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	store, _, err := openStore(ctx, c, logger)
	if err != nil {
		d.fail("store", fmt.Sprintf("cannot open: %v", err))
		return
	}
	defer store.Close()
	sealer, err := openSealer(ctx, c, store, false, logger)
	_, open := sealer.(*seal.Sealer)
	d.check("keys", err == nil && open, "the key-encryption key opens this database", "the key-encryption key does not open this database: restore the right key file (carnet keys import)")
	_, v, err := logKeys(c)
	if err != nil {
		d.fail("audit log", fmt.Sprintf("log keys: %v", err))
		return
	}
	cps, err := store.Checkpoints(ctx)
	if err != nil || len(cps) == 0 {
		d.fail("audit log", "no signed checkpoint stored yet: start the server (it signs one every 10 s while the log grows)")
		return
	}
	last := cps[len(cps)-1]
	cp, err := auditlog.OpenCheckpoint(last.Note, v.Name(), v)
	if err != nil || cp.Size != last.Size {
		d.fail("audit log", "the latest checkpoint is not signed by the log key: run carnet fsck, treat as an incident")
		return
	}
	l, _ := auditlog.New(v.Name(), auditlog.StoreStorage{Store: store}, nil)
	root, err := l.RootAt(ctx, cp.Size)
	if err != nil || !bytes.Equal(root, cp.Root) {
		d.fail("audit log", fmt.Sprintf("the log does not extend its checkpoint of size %d: run carnet fsck, treat as an incident", cp.Size))
		return
	}
	d.ok("audit log", fmt.Sprintf("checkpoint of %d events signed and consistent with the log", cp.Size))
	size, _ := store.AuditSize(ctx)
	if size > 0 {
		if rows, err := store.AuditEvents(ctx, size-1, size); err == nil && len(rows) == 1 {
			ahead := rows[0].Time.Sub(time.Now())
			d.check("clock", ahead < 5*time.Second, "not behind the log's latest event",
				fmt.Sprintf("the clock is %s behind the log's latest event: fix time synchronisation (NTP)", ahead.Round(time.Second)))
		}
	}
}

func (d *doctor) backups(root string) {
	if root == "" {
		d.fail("backup", "no --backups directory: schedule carnet backup (docs/OPERATIONS.md)")
		return
	}
	dir, err := backup.Latest(root)
	if err != nil {
		d.fail("backup", "no complete backup in "+root+": run carnet backup and schedule it daily")
		return
	}
	vb, err := os.ReadFile(filepath.Join(dir, auditlog.VerifierKeyFile))
	if err != nil {
		d.fail("backup", "the latest backup has no verifier key copy")
		return
	}
	v, err := auditlog.NewVerifier(string(vb))
	if err == nil {
		_, err = backup.Verify(dir, v)
	}
	if err != nil {
		d.fail("backup", fmt.Sprintf("the latest backup %s does not verify (%v): take a new one, investigate", filepath.Base(dir), err))
		return
	}
	fi, _ := os.Stat(filepath.Join(dir, backup.ManifestName))
	age := time.Since(fi.ModTime())
	d.check("backup", age < doctorBackupAge, fmt.Sprintf("%s verified, %s old", filepath.Base(dir), age.Round(time.Second)),
		fmt.Sprintf("the latest backup is %s old: check the backup timer", age.Round(time.Minute)))
}

func (d *doctor) replica(c serverConfig, dir string) {
	if dir == "" {
		d.fail("replica", "no --replica: the WAL is not shipped anywhere; the recovery point is the last backup")
		return
	}
	gen, last, err := sqlite.LatestReplica(dir)
	if err != nil {
		d.fail("replica", "no complete generation in "+dir+": is the server running with --replica?")
		return
	}
	// A quiet database ships nothing: the replica is behind only by what
	// changed after its last segment.
	var changed time.Time
	for _, f := range []string{"carnet.db", "carnet.db-wal"} {
		if fi, err := os.Stat(filepath.Join(c.Data, f)); err == nil && fi.ModTime().After(changed) {
			changed = fi.ModTime()
		}
	}
	lag := max(changed.Sub(last), 0)
	d.check("replica", lag < doctorReplicaLag, fmt.Sprintf("generation %s, last shipped %s ago", gen, time.Since(last).Round(time.Second)),
		fmt.Sprintf("the database changed %s after the replica's last segment: check the replica's disk and the server's log", lag.Round(time.Second)))
}

func (d *doctor) archiving(ctx context.Context, dsn string) {
	s, err := postgres.Open(ctx, dsn)
	if err != nil {
		d.fail("WAL archiving", fmt.Sprintf("cannot ask the server: %v", err))
		return
	}
	defer s.Close()
	mode, err := s.Setting(ctx, "archive_mode")
	d.check("WAL archiving", err == nil && mode != "off", "archive_mode = "+mode,
		"archive_mode is off: configure WAL archiving (docs/OPERATIONS.md, PostgreSQL)")
}

// server checks the running server from outside.
func (d *doctor) server(ctx context.Context, base, caFile string, c serverConfig) {
	base = strings.TrimSuffix(base, "/")
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile != "" {
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		pem, err := os.ReadFile(caFile)
		if err == nil {
			pool.AppendCertsFromPEM(pem)
		}
		cfg.RootCAs = pool
	}
	cl := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg}}
	get := func(path string) (*http.Response, string, error) {
		req, _ := http.NewRequestWithContext(ctx, "GET", base+path, nil)
		res, err := cl.Do(req)
		if err != nil {
			return nil, "", err
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(res.Body, 1<<16))
		return res, string(b), nil
	}
	res, _, err := get("/healthz")
	if err != nil {
		d.fail("server", fmt.Sprintf("%s does not answer: %v", base, err))
		return
	}
	d.check("server TLS", res.TLS != nil && res.TLS.Version >= tls.VersionTLS12 && strings.HasPrefix(res.Header.Get("Strict-Transport-Security"), "max-age="),
		"HTTPS with HSTS", "the server is not reached over HTTPS with HSTS: serve TLS (--tls-cert)")
	if date, err := http.ParseTime(res.Header.Get("Date")); err == nil {
		skew := time.Since(date)
		d.check("server clock", skew < doctorClockSkew && skew > -doctorClockSkew, "within a minute of this machine's", fmt.Sprintf("the server's clock is %s off: fix time synchronisation", skew.Round(time.Second)))
	}
	res, body, err := get("/readyz")
	d.check("server ready", err == nil && res.StatusCode == http.StatusOK, "store, keys and audit log ready", fmt.Sprintf("not ready: %s", strings.TrimSpace(body)))
	res, body, err = get("/log/key")
	if vb, rerr := os.ReadFile(filepath.Join(keyDir(c), auditlog.VerifierKeyFile)); rerr == nil && err == nil {
		d.check("server log key", res.StatusCode == 200 && strings.TrimSpace(body) == strings.TrimSpace(string(vb)), "the server publishes this deployment's log key",
			"the server publishes another log key than this deployment's: is --url the right server?")
	}
}
