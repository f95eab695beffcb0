package auditlog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/carnet-sante/carnet"
	"github.com/transparency-dev/merkle/proof"
	"golang.org/x/mod/sumdb/note"
)

// ErrInconsistent is wrapped by every failed proof check: the log shown is
// not the log the checkpoint commits to, or not an extension of it.
var ErrInconsistent = errors.New("audit log proof does not match the checkpoint")

func inconsistent(op string, cause error) error {
	return &carnet.Error{Kind: carnet.KindConflict, Op: op, Msg: "audit log proof does not verify", Err: errors.Join(ErrInconsistent, cause)}
}

// VerifyInclusion checks that leaf (the leaf bytes) is at index in the tree
// committed to by cp.
func VerifyInclusion(leaf []byte, index uint64, proofHashes [][]byte, cp Checkpoint) error {
	if err := proof.VerifyInclusion(hasher, index, cp.Size, HashLeaf(leaf), proofHashes, cp.Root); err != nil {
		return inconsistent("auditlog.VerifyInclusion", err)
	}
	return nil
}

// VerifyConsistency checks that the tree committed to by old is a prefix of
// the tree committed to by new. Both must be for the same origin.
func VerifyConsistency(old, new Checkpoint, proofHashes [][]byte) error {
	const op = "auditlog.VerifyConsistency"
	if old.Origin != new.Origin {
		return inconsistent(op, fmt.Errorf("origins differ"))
	}
	if new.Size < old.Size {
		return inconsistent(op, fmt.Errorf("log shrank from %d to %d", old.Size, new.Size))
	}
	if err := proof.VerifyConsistency(hasher, old.Size, new.Size, proofHashes, old.Root, new.Root); err != nil {
		return inconsistent(op, err)
	}
	return nil
}

// Witness is a client's memory of a log: the last checkpoint it accepted.
// It accepts a new checkpoint only when it is signed by the log's key, for
// the log's origin, and a consistent extension of the last one; so a client
// that was shown one history cannot later be shown a forked one.
// Callers persist Last after each Update.
type Witness struct {
	origin string
	v      note.Verifier

	mu   sync.Mutex
	last *Checkpoint
}

// NewWitness returns a Witness for the log named origin, verified with v,
// remembering last (nil for a client that has seen nothing yet: its first
// checkpoint is trusted on first use).
func NewWitness(origin string, v note.Verifier, last *Checkpoint) *Witness {
	w := &Witness{origin: origin, v: v}
	if last != nil {
		c := *last
		w.last = &c
	}
	return w
}

// Last returns the last accepted checkpoint, and false when there is none.
func (w *Witness) Last() (Checkpoint, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.last == nil {
		return Checkpoint{}, false
	}
	return *w.last, true
}

// Update opens a signed checkpoint and checks with proofHashes (a
// consistency proof from the last checkpoint's size to the new one's) that
// it extends the last one. On success it becomes the last checkpoint and is
// returned; on failure the Witness is unchanged. A fork (same size,
// different root; or a new tree that does not contain the old one) fails
// with an error wrapping ErrInconsistent.
func (w *Witness) Update(signed []byte, proofHashes [][]byte) (Checkpoint, error) {
	c, err := OpenCheckpoint(signed, w.origin, w.v)
	if err != nil {
		return Checkpoint{}, err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.last != nil {
		if err := VerifyConsistency(*w.last, c, proofHashes); err != nil {
			return Checkpoint{}, err
		}
	}
	w.last = &c
	return c, nil
}

// TamperError names the first audit log entry that does not match: the
// answer of `carnet fsck`.
type TamperError struct {
	Index  uint64 // first bad leaf index
	Reason string // what differs, without any event content
	// Err, when set, is what the check failed with (ErrBadCheckpoint for a
	// stored checkpoint that does not verify).
	Err error
}

func (e *TamperError) Error() string {
	return fmt.Sprintf("audit log entry %d: %s", e.Index, e.Reason)
}

func (e *TamperError) Unwrap() error { return e.Err }

// LeafFunc returns the leaf bytes of the event at index, recomputed from the
// Store's events (Entry.MarshalLeaf over the sealed row).
type LeafFunc func(ctx context.Context, index uint64) ([]byte, error)

// Verify re-verifies the whole log: it recomputes the leaf of each of the n
// events with leaf, compares its hash with the stored one, then checks the
// stored hashes against each trusted checkpoint (signed checkpoints kept
// from before, oldest first). It returns a *TamperError naming the first bad
// entry:
//
//   - an event edited, deleted, reordered or inserted after the fact: the
//     first index where the recomputed and stored hashes differ, or where
//     one list ends before the other;
//   - an event and its stored hash both rewritten: the leaf check passes,
//     but the first checkpoint whose root no longer matches fails, and the
//     error names the first index that checkpoint covers beyond the
//     previous good one (the hashes alone cannot say which leaf changed).
//
// Other failures (storage down, leaf unreadable) are returned as is.
func Verify(ctx context.Context, st Storage, n uint64, leaf LeafFunc, trusted ...Checkpoint) error {
	size, err := st.Size(ctx)
	if err != nil {
		return carnet.WrapError(carnet.KindUnavailable, "auditlog.Verify", err)
	}
	stored, err := st.LeafHashes(ctx, 0, size)
	if err != nil {
		return carnet.WrapError(carnet.KindUnavailable, "auditlog.Verify", err)
	}
	common := min(n, size)
	for i := uint64(0); i < common; i++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		lf, err := leaf(ctx, i)
		if err != nil {
			return err
		}
		if !bytes.Equal(HashLeaf(lf), stored[i]) {
			return &TamperError{Index: i, Reason: "event does not match its log entry"}
		}
	}
	if n < size {
		return &TamperError{Index: n, Reason: fmt.Sprintf("log has %d entries but only %d events remain", size, n)}
	}
	if n > size {
		return &TamperError{Index: size, Reason: fmt.Sprintf("%d events but the log has only %d entries", n, size)}
	}
	var good uint64
	r := factory.NewEmptyRange(0)
	for _, cp := range trusted {
		if cp.Size < good {
			return carnet.Errorf(carnet.KindInvalid, "trusted checkpoints must be oldest first")
		}
		if cp.Size > size {
			return &TamperError{Index: size, Reason: fmt.Sprintf("log has %d entries, fewer than the %d of a signed checkpoint", size, cp.Size)}
		}
		for ; r.End() < cp.Size; r.Append(stored[r.End()], nil) {
		}
		if !bytes.Equal(rangeRoot(r), cp.Root) {
			return &TamperError{Index: good, Reason: fmt.Sprintf("entries from %d no longer match the signed checkpoint of size %d", good, cp.Size)}
		}
		good = cp.Size
	}
	return nil
}
