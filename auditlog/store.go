package auditlog

import (
	"context"

	"github.com/carnet-sante/carnet"
)

// StoreStorage is the log's Storage over a carnet.AuditStore: the leaf
// hashes are a column of the event rows, so that an event and its leaf are
// written in one transaction. It is read-only here: the Store assigns
// indexes in AppendAudit, so events (and their leaves) are appended by a
// Recorder, never through Log.Append.
type StoreStorage struct {
	Store carnet.AuditStore
}

var _ Storage = StoreStorage{}

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
