package auditlog

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"time"

	"github.com/carnet-sante/carnet"
	"github.com/transparency-dev/merkle/compact"
	"golang.org/x/mod/sumdb/note"
)

// fsckChunk is how many event rows Fsck reads at a time.
const fsckChunk = 1024

// FsckReport counts what Fsck checked.
type FsckReport struct {
	// Events is the log's size: every event row from 0 to Events-1 was
	// checked.
	Events uint64
	// Pruned counts the events past retention: their sealed row is gone,
	// their digest and leaf remain and were checked.
	Pruned uint64
	// Opened counts the events opened with the keys and found to match
	// their row (with WithSealer; 0 otherwise).
	Opened uint64
	// Checkpoints counts the stored signed checkpoints verified.
	Checkpoints int
	// Unsigned counts the events after the last stored checkpoint: no
	// signature covers them yet, so an event forged there is caught only by
	// opening it (WithSealer).
	Unsigned uint64
	// Nodes counts the stored tree nodes (the interior nodes roots and
	// proofs are read from) found equal to their recomputation.
	Nodes uint64
}

// FsckOption adjusts Fsck.
type FsckOption func(*fsckConfig)

type fsckConfig struct {
	sealer carnet.Sealer
}

// WithSealer makes Fsck open every event still holding its sealed row with
// the record's keys, and check that the event is the row's (id, patient,
// time, actor token). Without the keys, a well-formed event forged after
// the last checkpoint cannot be told from a real one; with them it can.
func WithSealer(s carnet.Sealer) FsckOption {
	return func(c *fsckConfig) { c.sealer = s }
}

// Fsck re-verifies the whole audit log held by store: the heart of `carnet
// fsck`. It reads the stored checkpoints, then the log's size, then every
// event row in index order, and checks:
//
//   - each stored checkpoint: signed by verifier, for origin, its size as
//     stored;
//   - each row: present (no gap), its digest the SHA-256 of its sealed event
//     (when not pruned), its leaf hash that of the leaf recomputed from its
//     id, time and digest; a pruned row is not newer than an earlier row
//     that is not (retention prunes by age: an event emptied out of turn was
//     emptied by hand); with WithSealer, the sealed event opens and matches;
//   - each checkpoint's root against the stored leaf hashes, and so that
//     successive checkpoints are consistent: each is a prefix of the next;
//   - each stored tree node (what roots and proofs are served from)
//     against its recomputation from the leaves it covers;
//   - that the log is not smaller than its last checkpoint.
//
// The first problem, in index order, is returned as a *TamperError naming
// the first bad index: the row itself for a row-level problem; the first
// index after the last checkpoint that still matches when only a root
// differs (two rows swapped, or a row and its leaf rewritten together); the
// checkpoint's size for a stored checkpoint that does not verify (wrapping
// ErrBadCheckpoint). Storage failures are returned as they are. Fsck may
// run while the server appends: events added after it read the size are
// not checked.
func Fsck(ctx context.Context, store carnet.AuditStore, verifier note.Verifier, origin string, opts ...FsckOption) (FsckReport, error) {
	const op = "auditlog.Fsck"
	var cfg fsckConfig
	for _, o := range opts {
		o(&cfg)
	}
	var rep FsckReport

	stored, err := store.Checkpoints(ctx)
	if err != nil {
		return rep, err
	}
	cps := make([]Checkpoint, len(stored))
	for i, s := range stored {
		cp, err := OpenCheckpoint(s.Note, origin, verifier)
		if err != nil {
			return rep, &TamperError{Index: s.Size, Reason: fmt.Sprintf("stored checkpoint of size %d does not verify", s.Size), Err: err}
		}
		if cp.Size != s.Size {
			return rep, &TamperError{Index: min(cp.Size, s.Size), Reason: fmt.Sprintf("stored checkpoint of size %d signs size %d", s.Size, cp.Size), Err: ErrBadCheckpoint}
		}
		if i > 0 && cp.Size <= cps[i-1].Size {
			return rep, &TamperError{Index: cp.Size, Reason: "stored checkpoints out of order", Err: ErrBadCheckpoint}
		}
		cps[i] = cp
	}
	rep.Checkpoints = len(cps)

	size, err := store.AuditSize(ctx)
	if err != nil {
		return rep, err
	}
	rep.Events = size
	cover, err := store.AuditNodesCover(ctx)
	if err != nil {
		return rep, err
	}
	if cover > size {
		return rep, &TamperError{Index: size, Reason: fmt.Sprintf("log has %d entries, fewer than the %d its tree nodes were computed from", size, cover)}
	}
	// The tree nodes the leaves give, to compare with the stored ones.
	var computed []carnet.AuditNode
	visit := func(id compact.NodeID, hash []byte) {
		if _, end := id.Coverage(); id.Level > 0 && end <= cover {
			computed = append(computed, carnet.AuditNode{Level: uint8(id.Level), Index: id.Index, Hash: append([]byte(nil), hash...)})
		}
	}
	checkNodes := func() error {
		if len(computed) == 0 {
			return nil
		}
		stored, err := store.AuditNodes(ctx, computed)
		if err != nil {
			return err
		}
		for i, n := range computed {
			if !bytes.Equal(stored[i], n.Hash) {
				begin, _ := compact.NewNodeID(uint(n.Level), n.Index).Coverage()
				return &TamperError{Index: begin, Reason: fmt.Sprintf("stored tree node (%d, %d), from which roots and proofs are served, does not match the entries it covers", n.Level, n.Index)}
			}
		}
		rep.Nodes += uint64(len(computed))
		computed = computed[:0]
		return nil
	}

	var (
		r    = factory.NewEmptyRange(0)
		next int    // the next checkpoint to check
		good uint64 // the size of the last checkpoint that matched
		// The earliest time among the rows still holding their sealed
		// event so far, and that row's index.
		oldestKept    time.Time
		oldestKeptIdx uint64
		haveKept      bool
	)
	checkRoots := func() error {
		for ; next < len(cps) && cps[next].Size == r.End(); next++ {
			if !bytes.Equal(rangeRoot(r), cps[next].Root) {
				return &TamperError{Index: good, Reason: fmt.Sprintf("entries from %d no longer match the signed checkpoint of size %d", good, cps[next].Size)}
			}
			good = cps[next].Size
		}
		return nil
	}
	if err := checkRoots(); err != nil { // a checkpoint of the empty log
		return rep, err
	}
	for from := uint64(0); from < size; from += fsckChunk {
		if err := ctx.Err(); err != nil {
			return rep, carnet.WrapError(carnet.KindUnavailable, op, err)
		}
		to := min(from+fsckChunk, size)
		rows, err := store.AuditEvents(ctx, from, to)
		if err != nil {
			return rep, err
		}
		i := from
		for _, row := range rows {
			if row.Seq != i {
				return rep, &TamperError{Index: i, Reason: "event missing from the log"}
			}
			if err := checkRow(row); err != nil {
				return rep, err
			}
			if row.Sealed == nil {
				rep.Pruned++
				if haveKept && !oldestKept.After(row.Time) {
					// Re-read the older row: a prune running since may have
					// emptied it too, legitimately.
					again, err := store.AuditEvents(ctx, oldestKeptIdx, oldestKeptIdx+1)
					if err != nil {
						return rep, err
					}
					if len(again) == 1 && again[0].Sealed != nil {
						return rep, &TamperError{Index: i, Reason: fmt.Sprintf("event emptied although the older event %d is not: not by retention", oldestKeptIdx)}
					}
					haveKept = false
				}
			} else {
				if !haveKept || row.Time.Before(oldestKept) {
					oldestKept, oldestKeptIdx, haveKept = row.Time, i, true
				}
				if cfg.sealer != nil {
					if err := openRow(ctx, cfg.sealer, row); err != nil {
						return rep, err
					}
					rep.Opened++
				}
			}
			_ = r.Append(row.LeafHash, visit) // checkRow made it a leaf hash
			if err := checkRoots(); err != nil {
				return rep, err
			}
			i++
		}
		if i != to {
			return rep, &TamperError{Index: i, Reason: "event missing from the log"}
		}
		if err := checkNodes(); err != nil {
			return rep, err
		}
	}
	if next < len(cps) {
		return rep, &TamperError{Index: size, Reason: fmt.Sprintf("log has %d entries, fewer than the %d of a signed checkpoint", size, cps[next].Size)}
	}
	if len(cps) > 0 {
		rep.Unsigned = size - cps[len(cps)-1].Size
	} else {
		rep.Unsigned = size
	}
	return rep, nil
}

// checkRow checks one row on its own: digest, leaf.
func checkRow(row carnet.AuditRow) error {
	i := row.Seq
	if len(row.Digest) != sha256.Size {
		return &TamperError{Index: i, Reason: "event digest malformed"}
	}
	if row.Sealed != nil {
		if sum := sha256.Sum256(row.Sealed); !bytes.Equal(sum[:], row.Digest) {
			return &TamperError{Index: i, Reason: "sealed event does not match its digest"}
		}
	}
	leaf, err := Entry{EventID: row.ID, Time: row.Time, RowDigest: [sha256.Size]byte(row.Digest)}.MarshalLeaf()
	if err != nil {
		return &TamperError{Index: i, Reason: "event id or time malformed"}
	}
	if !bytes.Equal(HashLeaf(leaf), row.LeafHash) {
		return &TamperError{Index: i, Reason: "event does not match its log entry"}
	}
	return nil
}

// openRow opens a row's sealed event and checks it is the row's. Keys that
// cannot be had (KindUnavailable) fail the check as they are: Fsck cannot
// tell; anything else that does not open was not sealed by Carnet for this
// row.
func openRow(ctx context.Context, s carnet.Sealer, row carnet.AuditRow) error {
	ev, err := carnet.OpenAuditEvent(ctx, s, row)
	if err != nil {
		if carnet.IsKind(err, carnet.KindUnavailable) {
			return err
		}
		return &TamperError{Index: row.Seq, Reason: "sealed event does not open with its record's key"}
	}
	if !ev.Time.Equal(row.Time) {
		return &TamperError{Index: row.Seq, Reason: "event time differs from its row's"}
	}
	actor, err := carnet.AuditActorToken(ctx, s, ev.Patient, ev.Actor.ID)
	if err != nil {
		return err
	}
	if actor != row.Actor {
		return &TamperError{Index: row.Seq, Reason: "event actor differs from its row's"}
	}
	return nil
}
