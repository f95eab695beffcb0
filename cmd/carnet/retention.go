package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	carnet "github.com/carnet-sante/carnet"
)

// Two retentions, set apart (docs/AUDIT.md):
//   - the patient-facing access history (--audit-retention): audit events
//     older than it are pruned to their log entry, which stays so that the
//     log still verifies;
//   - the technical log (--log-file, --log-retention): the server's own
//     log lines, rotated daily, deleted after their retention.

// pruneLoop prunes the access history once a day.
func pruneLoop(ctx context.Context, store carnet.Store, retention time.Duration, logger *slog.Logger) {
	if retention <= 0 {
		return
	}
	prune := func() {
		n, err := store.PruneAudit(ctx, time.Now().Add(-retention))
		if err != nil {
			logger.Error("pruning the access history failed", "err", err)
			return
		}
		if n > 0 {
			logger.Info("access history pruned past its retention", "events", n, "retention", retention)
		}
	}
	go func() {
		prune()
		t := time.NewTicker(24 * time.Hour)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				prune()
			}
		}
	}()
}

// rotatingFile is the technical log: PATH for today, PATH.YYYY-MM-DD for
// earlier days, those past the retention removed at each rotation.
type rotatingFile struct {
	path      string
	retention time.Duration
	now       func() time.Time

	mu  sync.Mutex
	f   *os.File
	day string
}

func openRotatingFile(path string, retention time.Duration) (*rotatingFile, error) {
	r := &rotatingFile{path: path, retention: retention, now: time.Now}
	if err := r.rotate(); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *rotatingFile) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.now().UTC().Format("2006-01-02") != r.day {
		if err := r.rotateLocked(); err != nil {
			return 0, err
		}
	}
	return r.f.Write(p)
}

func (r *rotatingFile) rotate() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.rotateLocked()
}

func (r *rotatingFile) rotateLocked() error {
	today := r.now().UTC().Format("2006-01-02")
	if r.f != nil {
		r.f.Close()
		if err := os.Rename(r.path, r.path+"."+r.day); err != nil {
			return err
		}
	} else if info, err := os.Stat(r.path); err == nil {
		// A log left by an earlier run keeps the day it was written.
		if d := info.ModTime().UTC().Format("2006-01-02"); d != today {
			if err := os.Rename(r.path, r.path+"."+d); err != nil {
				return err
			}
		}
	}
	f, err := os.OpenFile(r.path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	r.f, r.day = f, today
	r.removeOld()
	return nil
}

// removeOld deletes rotated files older than the retention.
func (r *rotatingFile) removeOld() {
	if r.retention <= 0 {
		return
	}
	old, _ := filepath.Glob(r.path + ".*")
	sort.Strings(old)
	limit := r.now().UTC().Add(-r.retention).Format("2006-01-02")
	for _, p := range old {
		day := strings.TrimPrefix(p, r.path+".")
		if _, err := time.Parse("2006-01-02", day); err == nil && day < limit {
			os.Remove(p)
		}
	}
}

func (r *rotatingFile) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.f == nil {
		return nil
	}
	return r.f.Close()
}

// parseRetention reads durations like 30d, 10y, 720h.
func parseRetention(s string) (time.Duration, error) {
	if s == "" || s == "0" {
		return 0, nil
	}
	var n int
	var unit string
	if _, err := fmt.Sscanf(s, "%d%s", &n, &unit); err == nil && n > 0 {
		switch unit {
		case "d":
			return time.Duration(n) * 24 * time.Hour, nil
		case "y":
			return time.Duration(n) * 365 * 24 * time.Hour, nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("retention %q: give e.g. 30d, 10y or 720h", s)
	}
	return d, nil
}
