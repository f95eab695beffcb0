package main

import (
	"context"
	"fmt"
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
//
// A node whose key is not the deployment's (another node's database, or
// nodes started with keys of their own) must not start: its checkpoints
// would split the log (error).
func openAuditLog(ctx context.Context, c serverConfig, store carnet.Store, sealer carnet.Sealer, newDatabase bool, logger *slog.Logger) (*auditlog.Deployment, carnet.Auditor, error) {
	size, err := store.AuditSize(ctx)
	create := newDatabase || (err == nil && size == 0)
	d, err := auditlog.OpenDeployment(ctx, store, sealer, keyDir(c), logOrigin(c), create, carnet.SystemClock{})
	if carnet.IsKind(err, carnet.KindConflict) {
		return nil, nil, fmt.Errorf("refusing to start: %w", err)
	}
	if err != nil {
		logger.Error("the audit log cannot be opened: every data request will be refused with 503 until its key is back", "err", err, "dir", keyDir(c))
		return nil, unavailableAuditor{err}, nil
	}
	logger.Info("audit log ready", "origin", d.Log.Origin(), "verifier_key", d.VerifierKey())
	return d, d.Recorder, nil
}

// unavailableAuditor refuses to record: the requests it would record fail.
type unavailableAuditor struct{ err error }

func (u unavailableAuditor) Record(context.Context, carnet.AuditEvent) error {
	return carnet.WrapError(carnet.KindUnavailable, "audit", u.err)
}
