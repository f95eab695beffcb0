package auditlog

import (
	"context"
	"sync"

	"github.com/carnet-sante/carnet"
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
