package auditlog

import (
	"context"

	"github.com/carnet-sante/carnet"
	"github.com/transparency-dev/merkle/compact"
)

// StoreStorage is the log's Storage over a carnet.AuditStore: the leaf
// hashes are a column of the event rows, so that an event and its leaf are
// written in one transaction. It is read-only here: the Store assigns
// indexes in AppendAudit, so events (and their leaves) are appended by a
// Recorder, never through Log.Append.
type StoreStorage struct {
	Store carnet.AuditStore
}

var _ NodeStorage = StoreStorage{}

// Size implements Storage: the Store's AuditSize.
func (s StoreStorage) Size(ctx context.Context) (uint64, error) {
	return s.Store.AuditSize(ctx)
}

// Append implements Storage by refusing: see StoreStorage.
func (s StoreStorage) Append(context.Context, uint64, [][]byte) error {
	return &carnet.Error{Kind: carnet.KindInternal, Op: "auditlog.StoreStorage.Append",
		Msg: "audit log entries are appended with their events, through a Recorder"}
}

// LeafHashes implements Storage: the Store's AuditLeafHashes. A range
// across a missing event fails (KindInternal) rather than shifting: Fsck
// names the gap.
func (s StoreStorage) LeafHashes(ctx context.Context, from, to uint64) ([][]byte, error) {
	return s.Store.AuditLeafHashes(ctx, from, to)
}

// NodesCover implements NodeStorage: the Store's AuditNodesCover.
func (s StoreStorage) NodesCover(ctx context.Context) (uint64, error) {
	return s.Store.AuditNodesCover(ctx)
}

// Nodes implements NodeStorage: the Store's AuditNodes.
func (s StoreStorage) Nodes(ctx context.Context, ids []compact.NodeID) ([][]byte, error) {
	q := make([]carnet.AuditNode, len(ids))
	for i, id := range ids {
		if id.Level < 1 || id.Level > 63 {
			return nil, carnet.Errorf(carnet.KindInternal, "auditlog: node level %d is not stored", id.Level)
		}
		q[i] = carnet.AuditNode{Level: uint8(id.Level), Index: id.Index}
	}
	return s.Store.AuditNodes(ctx, q)
}

// PutNodes implements NodeStorage: the Store's PutAuditNodes.
func (s StoreStorage) PutNodes(ctx context.Context, nodes []Node, cover uint64) error {
	q := make([]carnet.AuditNode, len(nodes))
	for i, n := range nodes {
		q[i] = carnet.AuditNode{Level: uint8(n.ID.Level), Index: n.ID.Index, Hash: n.Hash}
	}
	return s.Store.PutAuditNodes(ctx, q, cover)
}
