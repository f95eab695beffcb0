package auditlog

import (
	"context"
	"sync"

	"github.com/carnet-sante/carnet"
	"github.com/transparency-dev/merkle/compact"
)

// Storage keeps the log's leaf hashes, in order. It is all the log needs:
// roots and proofs are recomputed from them (see Log for the cost).
//
// Implementations must make Append atomic and conditional on the size, so
// that two writers cannot both append at the same index.
type Storage interface {
	// Size returns the number of leaf hashes stored.
	Size(ctx context.Context) (uint64, error)
	// Append stores hashes at indexes from, from+1, … It fails with a
	// KindConflict error, storing nothing, when Size is not from.
	Append(ctx context.Context, from uint64, hashes [][]byte) error
	// LeafHashes returns the hashes at indexes [from, to). It fails with a
	// KindInvalid error when to > Size or from > to.
	LeafHashes(ctx context.Context, from, to uint64) ([][]byte, error)
}

// NodeStorage is a Storage that also keeps the hashes of the tree's
// perfect subtrees (levels 1 and up), so that roots and proofs read
// O(log n) nodes instead of every leaf hash. The nodes are derived from the
// leaves: Log writes them once, as the log grows.
type NodeStorage interface {
	Storage
	// NodesCover returns how many leaves the stored nodes cover: every
	// perfect subtree of the leaves [0, cover) is stored.
	NodesCover(ctx context.Context) (uint64, error)
	// Nodes returns the hashes of the perfect subtrees ids (level >= 1), nil
	// for any not stored.
	Nodes(ctx context.Context, ids []compact.NodeID) ([][]byte, error)
	// PutNodes stores nodes (a node already stored keeps its hash) and
	// raises the cover to cover.
	PutNodes(ctx context.Context, nodes []Node, cover uint64) error
}

// Node is the hash of a perfect subtree.
type Node struct {
	ID   compact.NodeID
	Hash []byte
}

// MemStorage is an in-memory Storage, for tests and for tools that rebuild a
// tree from events.
type MemStorage struct {
	mu     sync.Mutex
	hashes [][]byte
}

var _ Storage = (*MemStorage)(nil)

// Size implements Storage.
func (m *MemStorage) Size(context.Context) (uint64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return uint64(len(m.hashes)), nil
}

// Append implements Storage.
func (m *MemStorage) Append(_ context.Context, from uint64, hashes [][]byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if from != uint64(len(m.hashes)) {
		return carnet.Errorf(carnet.KindConflict, "audit log size is %d, not %d", len(m.hashes), from)
	}
	for _, h := range hashes {
		m.hashes = append(m.hashes, append([]byte(nil), h...))
	}
	return nil
}

// LeafHashes implements Storage.
func (m *MemStorage) LeafHashes(_ context.Context, from, to uint64) ([][]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if from > to || to > uint64(len(m.hashes)) {
		return nil, carnet.Errorf(carnet.KindInvalid, "leaf range [%d, %d) outside a log of size %d", from, to, len(m.hashes))
	}
	out := make([][]byte, 0, to-from)
	for _, h := range m.hashes[from:to] {
		out = append(out, append([]byte(nil), h...))
	}
	return out, nil
}

// Set overwrites the stored hashes. It exists so that tests can tamper with
// the storage the way an attacker with SQL access would.
func (m *MemStorage) Set(hashes [][]byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.hashes = make([][]byte, len(hashes))
	for i, h := range hashes {
		m.hashes[i] = append([]byte(nil), h...)
	}
}
