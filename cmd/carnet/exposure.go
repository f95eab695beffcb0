package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/carnet-sante/carnet/backup"
	"github.com/carnet-sante/carnet/edge"
	"github.com/carnet-sante/carnet/seal"
	"github.com/carnet-sante/carnet/sqlite"
)

// exposure is how `carnet serve` faces the network and keeps its copies
// (docs/OPERATIONS.md, "Exposure"): TLS, client certificates, budgets,
// health, metrics, logs, shutdown, and the replica.
type exposure struct {
	TLSCert, TLSKey, ClientCA, Clients, ClientAuth  string
	MetricsAddr, LogFormat, Backups                 string
	Rate                                            float64
	Burst, MaxInFlight                              int
	ShutdownTimeout                                 time.Duration
	Replica                                         string
	ReplicaInterval, KeyringRefresh, KeyChangesPoll time.Duration
}

// exposureFlags registers the flags; the returned function reads them.
func exposureFlags(fs *flagSet) func() (exposure, error) {
	cert := fs.String("tls-cert", "", "PEM certificate chain: serve HTTPS (TLS 1.2+ AEAD suites, 1.3)")
	key := fs.String("tls-key", "", "PEM private key of --tls-cert (mode 0600)")
	ca := fs.String("tls-client-ca", "", "PEM of the CAs issuing software certificates: enables mutual TLS")
	clients := fs.String("tls-clients", "", "map of software certificates to actors (CSV: SPKI SHA-256, client id, FINESS, scopes)")
	clientAuth := fs.String("tls-client-auth", "optional", "with --tls-client-ca: optional (tokens too) or require (every connection presents a certificate)")
	// A guard against one client starving the others, not a quota: a
	// hospital's software behind one address sends many requests at once.
	rate := fs.String("rate-limit", "500", "requests per second per client (0: no limit)")
	burst := fs.String("rate-burst", "1000", "requests a client may send at once above the rate")
	inflight := fs.String("max-inflight", "64", "requests of one client served at once (0: no limit)")
	metrics := fs.String("metrics-addr", "", "HOST:PORT of a separate listener serving /metrics (Prometheus); off by default")
	logFormat := fs.String("log-format", "text", "technical log format: text or json")
	shutdown := fs.String("shutdown-timeout", "30s", "on SIGTERM/SIGINT, how long in-flight requests may take to finish")
	replica := fs.String("replica", "", "SQLite: directory (another disk or host) the write-ahead log is shipped to continuously")
	replicaEvery := fs.String("replica-interval", "1s", "SQLite: how often committed WAL frames are shipped to --replica")
	keyringRefresh := fs.String("keyring-refresh", "30s", "how often the stored keyring is re-read, to wrap new data keys under a rotated key-encryption key")
	keyChanges := fs.String("key-changes-poll", "1s", "how often the database is asked which records' keys were rotated or shredded (by any node), to drop them from this node's cache")
	backups := fs.String("backups", "", "where `carnet backup` writes (read by carnet doctor; /metrics shows the last backup's age)")
	return func() (exposure, error) {
		x := exposure{TLSCert: *cert, TLSKey: *key, ClientCA: *ca, Clients: *clients, ClientAuth: *clientAuth,
			MetricsAddr: *metrics, LogFormat: *logFormat, Replica: *replica, Backups: *backups}
		var err error
		if x.Rate, err = strconv.ParseFloat(*rate, 64); err != nil || x.Rate < 0 {
			return x, errors.New("--rate-limit: a number of requests per second")
		}
		if x.Burst, err = strconv.Atoi(*burst); err != nil || x.Burst < 1 {
			return x, errors.New("--rate-burst: a positive number")
		}
		if x.MaxInFlight, err = strconv.Atoi(*inflight); err != nil || x.MaxInFlight < 0 {
			return x, errors.New("--max-inflight: a number")
		}
		if x.ShutdownTimeout, err = time.ParseDuration(*shutdown); err != nil {
			return x, fmt.Errorf("--shutdown-timeout: %w", err)
		}
		if x.ReplicaInterval, err = time.ParseDuration(*replicaEvery); err != nil || x.ReplicaInterval <= 0 {
			return x, errors.New("--replica-interval: a positive duration")
		}
		if x.KeyringRefresh, err = time.ParseDuration(*keyringRefresh); err != nil || x.KeyringRefresh <= 0 {
			return x, errors.New("--keyring-refresh: a positive duration")
		}
		if x.KeyChangesPoll, err = time.ParseDuration(*keyChanges); err != nil || x.KeyChangesPoll <= 0 {
			return x, errors.New("--key-changes-poll: a positive duration")
		}
		if (x.TLSCert == "") != (x.TLSKey == "") {
			return x, errors.New("--tls-cert and --tls-key go together")
		}
		if x.ClientCA != "" && x.TLSCert == "" {
			return x, errors.New("--tls-client-ca needs --tls-cert and --tls-key")
		}
		if x.ClientAuth != "optional" && x.ClientAuth != "require" {
			return x, errors.New("--tls-client-auth: optional or require")
		}
		if x.LogFormat != "text" && x.LogFormat != "json" {
			return x, errors.New("--log-format: text or json")
		}
		return x, nil
	}
}

// newLogger is the technical log in the chosen format.
func (x exposure) newLogger(w io.Writer) *slog.Logger {
	o := &slog.HandlerOptions{Level: slog.LevelInfo}
	if x.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, o))
	}
	return slog.New(slog.NewTextHandler(w, o))
}

// tlsConfig is nil without --tls-cert.
func (x exposure) tlsConfig() (*tls.Config, error) {
	if x.TLSCert == "" {
		return nil, nil
	}
	if err := seal.CheckKeyFileMode(x.TLSKey); err != nil {
		return nil, fmt.Errorf("refusing to start: TLS key: %w", err)
	}
	return edge.ServerTLS(x.TLSCert, x.TLSKey, x.ClientCA, x.ClientAuth == "require")
}

// clientMap reads --tls-clients (nil without mutual TLS).
func (x exposure) clientMap() (edge.ClientMap, error) {
	if x.ClientCA == "" {
		return nil, nil
	}
	if x.Clients == "" {
		return edge.ClientMap{}, nil // certificates verified, none mapped: tokens only
	}
	f, err := os.Open(x.Clients)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return edge.LoadClientMap(f)
}

// front wraps the API: health first, then metrics and the access log,
// budgets, secure headers. It also starts the metrics listener and the
// keyring watcher.
func (x exposure) front(ctx context.Context, a *app, logger *slog.Logger, health *edge.Health) (http.Handler, error) {
	if s, ok := a.sealer.(*seal.Sealer); ok {
		go s.WatchKeyring(ctx, x.KeyringRefresh)
		go s.WatchKeyChanges(ctx, x.KeyChangesPoll)
	}
	health.Checks = []edge.Check{
		{Name: "store", Fn: func(ctx context.Context) error { _, err := a.store.AuditSize(ctx); return err }},
		{Name: "keys", Fn: func(context.Context) error {
			if _, ok := a.sealer.(*seal.Sealer); !ok {
				return errors.New("locked")
			}
			return nil
		}},
		{Name: "audit_log", Fn: func(ctx context.Context) error {
			if a.audit == nil {
				return errors.New("no audit log")
			}
			if w, ok := a.store.(interface{ Writable(context.Context) error }); ok {
				return w.Writable(ctx)
			}
			return nil
		}},
	}
	m := edge.NewMetrics()
	x.gauges(m, a)
	lim := edge.NewLimiter(edge.Limits{Rate: x.Rate, Burst: x.Burst, MaxInFlight: x.MaxInFlight, Cost: edge.ProofCost})
	var h http.Handler = a.handler
	h = lim.Wrap(h)
	h = m.Observe(h, logger)
	h = health.Mount(h)
	h = edge.SecureHeaders(h, x.TLSCert != "")
	if x.MetricsAddr != "" {
		ln, err := net.Listen("tcp", x.MetricsAddr)
		if err != nil {
			return nil, fmt.Errorf("--metrics-addr: %w", err)
		}
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", m)
		ms := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
		go ms.Serve(ln)
		go func() { <-ctx.Done(); ms.Close() }()
		logger.Info("metrics served on a separate listener", "addr", ln.Addr().String())
	}
	return h, nil
}

func (x exposure) gauges(m *edge.Metrics, a *app) {
	nan := math.NaN()
	m.Gauge("carnet_audit_append_lag_seconds", "How long the oldest event of the last audit batch waited until durable.", func() float64 {
		if a.audit == nil {
			return nan
		}
		return a.audit.Recorder.AppendLag().Seconds()
	})
	m.Gauge("carnet_audit_append_failures_total", "Audit batches the store refused since start.", func() float64 {
		if a.audit == nil {
			return nan
		}
		return float64(a.audit.Recorder.FailedAppends())
	})
	s, _ := a.store.(*sqlite.Store)
	m.Gauge("carnet_replication_lag_seconds", "Time since the last ship that left nothing committed behind (SQLite --replica).", func() float64 {
		if s == nil || s.ReplicaStatus().Dir == "" {
			return nan
		}
		return s.ReplicaStatus().Lag(time.Now()).Seconds()
	})
	m.Gauge("carnet_sqlite_wal_bytes", "Size of the SQLite write-ahead log.", func() float64 {
		if s == nil {
			return nan
		}
		fi, err := os.Stat(s.Files()[1])
		if err != nil {
			return 0
		}
		return float64(fi.Size())
	})
	m.Gauge("carnet_last_backup_age_seconds", "Age of the newest complete backup under --backups.", func() float64 {
		if x.Backups == "" {
			return nan
		}
		d, err := backup.Latest(x.Backups)
		if err != nil {
			return nan
		}
		fi, err := os.Stat(filepath.Join(d, backup.ManifestName))
		if err != nil {
			return nan
		}
		return time.Since(fi.ModTime()).Seconds()
	})
}

// writableStore is implemented by stores that can tell whether they accept
// writes (readiness: the audit log must be writable).
var _ interface{ Writable(context.Context) error } = (*sqlite.Store)(nil)
