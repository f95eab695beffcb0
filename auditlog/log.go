package auditlog

import (
	"bytes"
	"context"
	"fmt"
	"sync"

	"github.com/carnet-sante/carnet"
	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"
)

var (
	hasher  = rfc6962.DefaultHasher
	factory = &compact.RangeFactory{Hash: hasher.HashChildren}
)

// HashLeaf returns the RFC 6962 hash of leaf bytes: SHA-256(0x00 || leaf).
func HashLeaf(leaf []byte) []byte { return hasher.HashLeaf(leaf) }

// Log is the append-only Merkle tree over a Storage.
//
// Cost: over a NodeStorage (the Store's, StoreStorage) a root or a proof
// reads O(log size) stored nodes: the perfect subtrees of the leaves
// appended since the last request are hashed and stored once first
// (extend), so the work is amortised over appends. Over a plain Storage
// (MemStorage) every root and proof rehashes the leaves [0, size).
type Log struct {
	origin string
	st     Storage
	signer note.Signer
	mu     sync.Mutex // serialises appends from this process; Storage.Append guards across processes
}

// New returns a Log named origin (the first line of its checkpoints) over
// st, signing checkpoints with signer.
func New(origin string, st Storage, signer note.Signer) (*Log, error) {
	if !validOrigin(origin) {
		return nil, carnet.Errorf(carnet.KindInvalid, "invalid audit log origin")
	}
	return &Log{origin: origin, st: st, signer: signer}, nil
}

// Origin returns the log's name.
func (l *Log) Origin() string { return l.origin }

// Append adds leaves (already-encoded leaf bytes, see Entry.MarshalLeaf) and
// returns the index of the first one.
func (l *Log) Append(ctx context.Context, leaves ...[]byte) (uint64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	size, err := l.st.Size(ctx)
	if err != nil {
		return 0, carnet.WrapError(carnet.KindUnavailable, "auditlog.Append", err)
	}
	hashes := make([][]byte, len(leaves))
	for i, lf := range leaves {
		hashes[i] = HashLeaf(lf)
	}
	if err := l.st.Append(ctx, size, hashes); err != nil {
		if carnet.IsKind(err, carnet.KindConflict) {
			return 0, err
		}
		return 0, carnet.WrapError(carnet.KindUnavailable, "auditlog.Append", err)
	}
	return size, nil
}

// Size returns the number of leaves in the log.
func (l *Log) Size(ctx context.Context) (uint64, error) {
	n, err := l.st.Size(ctx)
	if err != nil {
		return 0, carnet.WrapError(carnet.KindUnavailable, "auditlog.Size", err)
	}
	return n, nil
}

// Checkpoint returns the current checkpoint, and its signed note. Its size
// and root come from one consistent read: the size first, then the leaf
// hashes below it (the log only grows, so appends racing with the read
// change neither).
func (l *Log) Checkpoint(ctx context.Context) (Checkpoint, []byte, error) {
	return l.checkpointExtending(ctx, nil)
}

// checkpointExtending is Checkpoint, refusing to sign when prev (a
// checkpoint signed before, or nil) is not a prefix of the current tree:
// the server never signs a history that rewrites one it signed. The check
// costs no extra read: prev's root is taken on the way to the new one.
func (l *Log) checkpointExtending(ctx context.Context, prev *Checkpoint) (Checkpoint, []byte, error) {
	size, err := l.Size(ctx)
	if err != nil {
		return Checkpoint{}, nil, err
	}
	if prev != nil && prev.Size > size {
		return Checkpoint{}, nil, &carnet.Error{Kind: carnet.KindInternal, Op: "auditlog.Checkpoint",
			Msg: fmt.Sprintf("the audit log has %d entries, fewer than its checkpoint of size %d: run carnet fsck", size, prev.Size)}
	}
	root, err := l.root(ctx, size)
	if err != nil {
		return Checkpoint{}, nil, err
	}
	if prev != nil {
		// The new root must extend the signed one, by a consistency proof
		// read from other nodes than the root's border: a stored node
		// rewritten under the signed prefix breaks one or the other.
		diverged := &carnet.Error{Kind: carnet.KindInternal, Op: "auditlog.Checkpoint",
			Msg: fmt.Sprintf("the audit log no longer matches its checkpoint of size %d: run carnet fsck", prev.Size)}
		prevRoot, err := l.root(ctx, prev.Size)
		if err != nil {
			return Checkpoint{}, nil, err
		}
		if !bytes.Equal(prevRoot, prev.Root) {
			return Checkpoint{}, nil, diverged
		}
		if prev.Size > 0 && prev.Size < size {
			p, err := l.ConsistencyProof(ctx, prev.Size, size)
			if err != nil {
				return Checkpoint{}, nil, err
			}
			if proof.VerifyConsistency(hasher, prev.Size, size, p, prev.Root, root) != nil {
				return Checkpoint{}, nil, diverged
			}
		}
	}
	c := Checkpoint{Origin: l.origin, Size: size, Root: root}
	signed, err := SignCheckpoint(c, l.signer)
	if err != nil {
		return Checkpoint{}, nil, err
	}
	return c, signed, nil
}

// InclusionProof returns the proof that leaf index is in the tree of the
// given size (index < size <= Size).
func (l *Log) InclusionProof(ctx context.Context, index, size uint64) ([][]byte, error) {
	if index >= size {
		return nil, carnet.Errorf(carnet.KindInvalid, "leaf index %d not below tree size %d", index, size)
	}
	if err := l.within(ctx, size); err != nil {
		return nil, err
	}
	nodes, err := proof.Inclusion(index, size)
	if err != nil {
		return nil, carnet.WrapError(carnet.KindInvalid, "auditlog.InclusionProof", err)
	}
	return l.rehash(ctx, nodes, size)
}

// ConsistencyProof returns the proof that the tree of size from is a prefix
// of the tree of size to (from <= to <= Size).
func (l *Log) ConsistencyProof(ctx context.Context, from, to uint64) ([][]byte, error) {
	if from > to {
		return nil, carnet.Errorf(carnet.KindInvalid, "tree size %d above %d", from, to)
	}
	if err := l.within(ctx, to); err != nil {
		return nil, err
	}
	nodes, err := proof.Consistency(from, to)
	if err != nil {
		return nil, carnet.WrapError(carnet.KindInvalid, "auditlog.ConsistencyProof", err)
	}
	return l.rehash(ctx, nodes, to)
}

// within refuses a tree size beyond the log's: a caller's mistake (400),
// not the server's.
func (l *Log) within(ctx context.Context, size uint64) error {
	n, err := l.Size(ctx)
	if err != nil {
		return err
	}
	if size > n {
		return carnet.Errorf(carnet.KindInvalid, "tree size %d above the log's size %d", size, n)
	}
	return nil
}

// hashes reads the leaf hashes of the tree of the given size.
func (l *Log) hashes(ctx context.Context, size uint64) ([][]byte, error) {
	n, err := l.Size(ctx)
	if err != nil {
		return nil, err
	}
	if size > n {
		return nil, carnet.Errorf(carnet.KindInvalid, "tree size %d above the log's size %d", size, n)
	}
	h, err := l.st.LeafHashes(ctx, 0, size)
	if err != nil {
		return nil, carnet.WrapError(carnet.KindUnavailable, "auditlog.LeafHashes", err)
	}
	if uint64(len(h)) != size {
		return nil, carnet.Errorf(carnet.KindInternal, "audit storage returned %d leaf hashes, want %d", len(h), size)
	}
	return h, nil
}

// rehash computes the hashes of the proof's nodes in the tree of the
// given size.
func (l *Log) rehash(ctx context.Context, nodes proof.Nodes, size uint64) ([][]byte, error) {
	for _, id := range nodes.IDs {
		if _, end := id.Coverage(); end > size {
			return nil, carnet.Errorf(carnet.KindInternal, "proof node beyond the tree")
		}
	}
	h, err := l.nodeHashes(ctx, nodes.IDs, size)
	if err != nil {
		return nil, err
	}
	p, err := nodes.Rehash(h, hasher.HashChildren)
	if err != nil {
		return nil, carnet.WrapError(carnet.KindInternal, "auditlog.rehash", err)
	}
	return p, nil
}

// root returns the root of the tree of the given size (<= Size).
func (l *Log) root(ctx context.Context, size uint64) ([]byte, error) {
	if size == 0 {
		return hasher.EmptyRoot(), nil
	}
	ids := compact.RangeNodes(0, size, nil)
	h, err := l.nodeHashes(ctx, ids, size)
	if err != nil {
		return nil, err
	}
	r, err := factory.NewRange(0, size, h)
	if err != nil {
		return nil, carnet.WrapError(carnet.KindInternal, "auditlog.root", err)
	}
	return rangeRoot(r), nil
}

// nodeHashes returns the hashes of perfect subtrees ids of the tree of the
// given size: from the stored nodes over a NodeStorage (extending them to
// size first), else from the leaves.
func (l *Log) nodeHashes(ctx context.Context, ids []compact.NodeID, size uint64) ([][]byte, error) {
	ns, ok := l.st.(NodeStorage)
	if !ok {
		leaves, err := l.hashes(ctx, size)
		if err != nil {
			return nil, err
		}
		h := make([][]byte, len(ids))
		for i, id := range ids {
			begin, end := id.Coverage()
			h[i] = rootOf(leaves[begin:end])
		}
		return h, nil
	}
	if err := l.extend(ctx, ns, size); err != nil {
		return nil, err
	}
	return l.storedNodes(ctx, ns, ids)
}

// extendChunk bounds the leaf hashes read at once when nodes are extended.
const extendChunk = 1 << 14

// extend stores the perfect subtrees of the leaves [cover, size), so that
// every perfect subtree of the tree of the given size is stored. It starts
// from the compact range of the covered leaves (stored nodes) and reads the
// new leaves in chunks. Several processes may extend at once: they store
// the same nodes.
func (l *Log) extend(ctx context.Context, ns NodeStorage, size uint64) error {
	cover, err := ns.NodesCover(ctx)
	if err != nil {
		return carnet.WrapError(carnet.KindUnavailable, "auditlog.NodesCover", err)
	}
	n, err := ns.Size(ctx)
	if err != nil {
		return carnet.WrapError(carnet.KindUnavailable, "auditlog.Size", err)
	}
	if cover > n {
		// The log once held more entries than it does: entries were
		// deleted under the nodes hashed from them.
		return &carnet.Error{Kind: carnet.KindInternal, Op: "auditlog.extend",
			Msg: fmt.Sprintf("the audit log has %d entries, fewer than the %d its tree nodes cover: run carnet fsck", n, cover)}
	}
	if cover >= size {
		return nil
	}
	border := compact.RangeNodes(0, cover, nil)
	var bh [][]byte
	if len(border) > 0 {
		// The border of a covered prefix: perfect subtrees, stored (or leaves).
		if bh, err = l.storedNodes(ctx, ns, border); err != nil {
			return err
		}
	}
	r, err := factory.NewRange(0, cover, bh)
	if err != nil {
		return carnet.WrapError(carnet.KindInternal, "auditlog.extend", err)
	}
	for from := cover; from < size; {
		to := min(size, from+extendChunk)
		leaves, err := ns.LeafHashes(ctx, from, to)
		if err != nil {
			return carnet.WrapError(carnet.KindUnavailable, "auditlog.LeafHashes", err)
		}
		if uint64(len(leaves)) != to-from {
			return carnet.Errorf(carnet.KindInternal, "audit storage returned %d leaf hashes, want %d", len(leaves), to-from)
		}
		var nodes []Node
		visit := func(id compact.NodeID, hash []byte) {
			if id.Level > 0 {
				nodes = append(nodes, Node{ID: id, Hash: append([]byte(nil), hash...)})
			}
		}
		for _, h := range leaves {
			if err := r.Append(h, visit); err != nil {
				return carnet.WrapError(carnet.KindInternal, "auditlog.extend", err)
			}
		}
		if err := ns.PutNodes(ctx, nodes, to); err != nil {
			return carnet.WrapError(carnet.KindUnavailable, "auditlog.PutNodes", err)
		}
		from = to
	}
	return nil
}

// storedNodes reads perfect subtrees that must be stored: leaves from the
// leaf hashes, the others from the nodes, in one read.
func (l *Log) storedNodes(ctx context.Context, ns NodeStorage, ids []compact.NodeID) ([][]byte, error) {
	h := make([][]byte, len(ids))
	var interior []compact.NodeID
	var at []int
	for i, id := range ids {
		if id.Level == 0 {
			leaf, err := ns.LeafHashes(ctx, id.Index, id.Index+1)
			if err != nil {
				return nil, carnet.WrapError(carnet.KindUnavailable, "auditlog.LeafHashes", err)
			}
			h[i] = leaf[0]
			continue
		}
		interior, at = append(interior, id), append(at, i)
	}
	if len(interior) == 0 {
		return h, nil
	}
	got, err := ns.Nodes(ctx, interior)
	if err != nil {
		return nil, carnet.WrapError(carnet.KindUnavailable, "auditlog.Nodes", err)
	}
	for j, g := range got {
		if g == nil {
			return nil, &carnet.Error{Kind: carnet.KindInternal, Op: "auditlog.Nodes",
				Msg: fmt.Sprintf("the audit log's node (%d, %d) is missing: run carnet fsck", interior[j].Level, interior[j].Index)}
		}
		h[at[j]] = g
	}
	return h, nil
}

// rootOf returns the RFC 6962 root of the given leaf hashes.
func rootOf(hashes [][]byte) []byte {
	r := factory.NewEmptyRange(0)
	for _, h := range hashes {
		// Append fails only on a wrong-size hash from a bad Storage; the root
		// then simply won't match anything, which Verify reports.
		_ = r.Append(h, nil)
	}
	return rangeRoot(r)
}

// rangeRoot returns the root of the tree of the leaves [0, r.End()).
func rangeRoot(r *compact.Range) []byte {
	if r.End() == 0 {
		return hasher.EmptyRoot()
	}
	root, _ := r.GetRootHash(nil)
	return root
}

// RootAt returns the root of the tree of the log's first size leaves: what
// a restore compares with a checkpoint it was given, to know that the
// restored log extends it (or is it).
func (l *Log) RootAt(ctx context.Context, size uint64) ([]byte, error) {
	h, err := l.hashes(ctx, size)
	if err != nil {
		return nil, err
	}
	return rootOf(h), nil
}
