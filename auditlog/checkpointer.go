package auditlog

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/carnet-sante/carnet"
	"golang.org/x/mod/sumdb/note"
)

// CheckpointerOptions adjust a Checkpointer. The zero value is the default.
type CheckpointerOptions struct {
	// Clock dates stored checkpoints and spaces them (default: the system
	// clock).
	Clock carnet.Clock
	// MinInterval, when set, is the least time between two new checkpoints:
	// in between, Checkpoint returns the latest one even if the log grew.
	// Zero signs a new one at every growth.
	MinInterval time.Duration
	// Logger receives Run's failures (default slog.Default()).
	Logger *slog.Logger
}

// Checkpointer keeps the log's signed checkpoints: it signs the current
// tree when it grew since the last stored checkpoint, stores the note
// (PutCheckpoint) and hands out the latest. What it stores is what `carnet
// fsck` later holds the log to, and what clients' Witnesses are shown.
//
// Before signing it checks that the last stored checkpoint is still a
// prefix of the tree (from the same read of the leaf hashes): it never signs
// a history that rewrites one it signed before. Signing reads every leaf
// hash (see Log for the cost); MinInterval bounds how often.
type Checkpointer struct {
	log    *Log
	store  carnet.AuditStore
	v      note.Verifier
	clock  carnet.Clock
	every  time.Duration
	logger *slog.Logger

	mu     sync.Mutex
	last   *signedCheckpoint // latest stored, nil when none
	signed time.Time         // when last was signed (by any node)
}

type signedCheckpoint struct {
	cp   Checkpoint
	note []byte
}

// NewCheckpointer returns a Checkpointer for l, a Log over StoreStorage{store}
// (so that its roots are those of store's leaf hashes), storing its notes in
// store. v is the verifier of l's signing key: stored checkpoints are opened
// with it, and each new note is checked with it before it is stored, so
// that a key pair that does not match is refused at the first checkpoint
// rather than found by clients.
func NewCheckpointer(l *Log, store carnet.AuditStore, v note.Verifier, opts CheckpointerOptions) *Checkpointer {
	c := &Checkpointer{log: l, store: store, v: v, clock: opts.Clock, every: opts.MinInterval, logger: opts.Logger}
	if c.clock == nil {
		c.clock = carnet.SystemClock{}
	}
	if c.logger == nil {
		c.logger = slog.Default()
	}
	return c
}

// Checkpoint returns the latest signed checkpoint and its note. When the log
// grew since the last stored checkpoint (and MinInterval allows), it signs
// the current tree and stores it first. An empty log's checkpoint is signed
// but not stored. A log smaller than its last checkpoint, or no longer
// extending it, is KindInternal: nothing is signed, and fsck says more.
func (c *Checkpointer) Checkpoint(ctx context.Context) (Checkpoint, []byte, error) {
	const op = "auditlog.Checkpoint"
	c.mu.Lock()
	defer c.mu.Unlock()
	// Several nodes share the log: one of them may have signed a larger
	// checkpoint since. Never serve one older than the newest stored (a
	// monitor polling several nodes must never see the log shrink).
	if err := c.catchUp(ctx); err != nil {
		return Checkpoint{}, nil, err
	}
	size, err := c.log.Size(ctx)
	if err != nil {
		return Checkpoint{}, nil, err
	}
	var prev *Checkpoint
	if c.last != nil {
		prev = &c.last.cp
		switch {
		case size < prev.Size:
			return Checkpoint{}, nil, &carnet.Error{Kind: carnet.KindInternal, Op: op,
				Msg: "the audit log has fewer entries than its last checkpoint: run carnet fsck"}
		case size == prev.Size,
			c.every > 0 && !c.signed.IsZero() && c.clock.Now().Sub(c.signed) < c.every:
			return c.last.cp, c.last.note, nil
		}
	}
	cp, signed, err := c.log.checkpointExtending(ctx, prev)
	if err != nil {
		return Checkpoint{}, nil, err
	}
	if _, err := OpenCheckpoint(signed, c.log.Origin(), c.v); err != nil {
		return Checkpoint{}, nil, &carnet.Error{Kind: carnet.KindInternal, Op: op,
			Msg: "the audit log's signing key does not match its verifier key", Err: err}
	}
	if cp.Size == 0 {
		return cp, signed, nil
	}
	now := c.clock.Now()
	if err := c.store.PutCheckpoint(ctx, carnet.StoredCheckpoint{Size: cp.Size, Note: signed, Time: now}); err != nil {
		return Checkpoint{}, nil, err
	}
	c.last, c.signed = &signedCheckpoint{cp: cp, note: signed}, now
	return cp, signed, nil
}

// catchUp takes the newest stored checkpoint when it is larger than the
// one this process holds: a process starting over a log carries on from
// it, and a node behind a load balancer follows what the others signed.
func (c *Checkpointer) catchUp(ctx context.Context) error {
	const op = "auditlog.Checkpoint"
	s, err := c.store.LatestCheckpoint(ctx)
	if carnet.IsKind(err, carnet.KindNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if c.last != nil && s.Size <= c.last.cp.Size {
		return nil
	}
	cp, err := OpenCheckpoint(s.Note, c.log.Origin(), c.v)
	if err != nil || cp.Size != s.Size {
		return &carnet.Error{Kind: carnet.KindInternal, Op: op,
			Msg: "the last stored audit log checkpoint does not verify: run carnet fsck", Err: err}
	}
	c.last, c.signed = &signedCheckpoint{cp: cp, note: s.Note}, s.Time
	return nil
}

// Run calls Checkpoint now and then every interval (a minute if every is
// not positive) until ctx ends, logging failures; it returns ctx's error.
func (c *Checkpointer) Run(ctx context.Context, every time.Duration) error {
	if every <= 0 {
		every = time.Minute
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if _, _, err := c.Checkpoint(ctx); err != nil && ctx.Err() == nil {
			c.logger.Error("audit log checkpoint failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}
