package main

import (
	"context"
	"log/slog"
	"net/url"
	"path/filepath"

	carnet "github.com/carnet-sante/carnet"
	"github.com/carnet-sante/carnet/auditlog"
)

// logOrigin names the audit log: the host of the public base URL.
func logOrigin(c serverConfig) string {
	host := "localhost"
	if u, err := url.Parse(publicBase(c)); err == nil && u.Hostname() != "" {
		host = u.Hostname()
	}
	return host + "/carnet-audit"
}

// keyDir is where the deployment's key files live: beside the key file.
func keyDir(c serverConfig) string {
	if c.KeyFile != "" {
		return filepath.Dir(c.KeyFile)
	}
	return c.Data
}

// openAuditLog assembles the tamper-evident log. Its signing key is created
// with a new database (or a log still empty); without it, the server still
// starts but refuses every data request (503): no access goes unrecorded.
func openAuditLog(ctx context.Context, c serverConfig, store carnet.Store, sealer carnet.Sealer, newDatabase bool, logger *slog.Logger) (*auditlog.Deployment, carnet.Auditor) {
	size, err := store.AuditSize(ctx)
	create := newDatabase || (err == nil && size == 0)
	d, err := auditlog.OpenDeployment(store, sealer, keyDir(c), logOrigin(c), create, carnet.SystemClock{})
	if err != nil {
		logger.Error("the audit log cannot be opened: every data request will be refused with 503 until its key is back", "err", err, "dir", keyDir(c))
		return nil, unavailableAuditor{err}
	}
	logger.Info("audit log ready", "origin", d.Log.Origin(), "verifier_key", d.VerifierKey())
	return d, d.Recorder
}

// unavailableAuditor refuses to record: the requests it would record fail.
type unavailableAuditor struct{ err error }

func (u unavailableAuditor) Record(context.Context, carnet.AuditEvent) error {
	return carnet.WrapError(carnet.KindUnavailable, "audit", u.err)
}
