package carnet

import (
	"context"
	"time"
)

// This file holds the Store's contract for what happens to a record rather
// than what it holds: the patient's notifications and the audit trail.

// NotificationRow is one notification to a patient as stored. The
// notification itself (what happened, who, which documents) is sealed.
type NotificationRow struct {
	Patient PatientKey
	ID      string
	Time    time.Time
	Sealed  []byte
	// Delivered is when the webhook sender delivered it; zero until then.
	Delivered time.Time
}

// NotificationFilter selects a patient's notifications.
type NotificationFilter struct {
	// Before, when not zero, keeps notifications strictly older (paging).
	Before time.Time
	// Limit bounds the result; 0 means no bound.
	Limit int
}

// NotificationReader is the read side of notifications.
type NotificationReader interface {
	// Notifications returns p's notifications matching f, newest first
	// (then by id, descending).
	Notifications(ctx context.Context, p PatientKey, f NotificationFilter) ([]NotificationRow, error)
	// Undelivered returns up to limit notifications of any patient not yet
	// delivered, oldest first (then by patient and id): the webhook
	// sender's queue.
	Undelivered(ctx context.Context, limit int) ([]NotificationRow, error)
}

// NotificationTx is the write side of notifications.
type NotificationTx interface {
	// InsertNotification stores a notification; an id in use for the
	// patient is KindConflict.
	InsertNotification(ctx context.Context, row NotificationRow) error
	// MarkDelivered records the delivery of p's notification id at at.
	// Unknown id: KindNotFound.
	MarkDelivered(ctx context.Context, p PatientKey, id string, at time.Time) error
}

// AuditRow is one audit event as stored: the sealed event (sealed with the
// patient's key, or the deployment's for events naming no record) and its
// place in the tamper-evident log.
type AuditRow struct {
	// Seq is the event's index in the log, assigned by AppendAudit.
	Seq uint64
	// ID is the event id, random, unique.
	ID      string
	Patient PatientKey // "" when the event names no record
	Time    time.Time
	// Actor is a blind-index token of who acted, for the history's actor
	// filter.
	Actor string
	// Digest is the SHA-256 of the sealed event as written; it stays when
	// retention prunes Sealed, so that the log can still be verified.
	Digest []byte
	// Sealed is the AuditEvent, sealed; nil once pruned by retention.
	Sealed []byte
	// LeafHash is the RFC 6962 hash of the event's log leaf.
	LeafHash []byte
}

// AuditFilter selects a patient's audit events.
type AuditFilter struct {
	Time   TimeRange // event time within
	Actors []string  // any of these actor tokens; empty: any actor
	// Before, when not zero, keeps events with Seq < Before (paging).
	Before uint64
	// Limit bounds the result; 0 means no bound.
	Limit int
}

// StoredCheckpoint is a signed statement of the log's size and root, as
// stored: the signed note's bytes.
type StoredCheckpoint struct {
	Size uint64
	Note []byte
	Time time.Time
}

// AuditStore keeps the audit trail. Events are append-only; the log's
// order is the order of Seq. Its writes run in transactions of their own:
// never call them inside an Update's fn. Times are kept to the
// microsecond: callers truncate an event's Time before computing its leaf.
type AuditStore interface {
	// AppendAudit stores rows as the next events of the log, in order,
	// assigning consecutive Seq values from the current size (which it
	// returns), in one transaction of its own, durable on return. It is
	// safe for concurrent use: appends are serialised, never interleaved.
	// The rows' Seq fields are ignored. An id in use is KindConflict and
	// stores nothing.
	AppendAudit(ctx context.Context, rows []AuditRow) (first uint64, err error)
	// AuditSize returns the number of events in the log.
	AuditSize(ctx context.Context) (uint64, error)
	// AuditLeafHashes returns the leaf hashes of events [from, to), in
	// order. to > AuditSize or from > to is KindInvalid.
	AuditLeafHashes(ctx context.Context, from, to uint64) ([][]byte, error)
	// AuditEvents returns the stored event rows with from <= Seq < to, in
	// Seq order; rows are returned as stored, including any gap.
	AuditEvents(ctx context.Context, from, to uint64) ([]AuditRow, error)
	// AuditEvent returns one event by id.
	AuditEvent(ctx context.Context, id string) (AuditRow, error)
	// FindAudit returns p's events matching f, newest first (Seq descending).
	FindAudit(ctx context.Context, p PatientKey, f AuditFilter) ([]AuditRow, error)
	// PruneAudit drops the sealed events (keeping Digest and the leaf) of
	// events older than before; it returns how many it pruned.
	PruneAudit(ctx context.Context, before time.Time) (int, error)
	// PutCheckpoint stores a signed checkpoint; a second one of the same
	// size is ignored.
	PutCheckpoint(ctx context.Context, cp StoredCheckpoint) error
	// Checkpoints returns the stored checkpoints, smallest size first.
	Checkpoints(ctx context.Context) ([]StoredCheckpoint, error)
	// LatestCheckpoint returns the stored checkpoint of the largest size
	// (KindNotFound when none): what every node of a deployment serves
	// at least.
	LatestCheckpoint(ctx context.Context) (StoredCheckpoint, error)
	// AuditLogKey returns the log's key as the deployment recorded it
	// (KindNotFound before it is).
	AuditLogKey(ctx context.Context) (AuditLogKey, error)
	// InitAuditLogKey records k unless a key is recorded already, in a
	// transaction of its own, and returns the recorded key: the first of
	// several nodes starting together wins, the others learn its key.
	InitAuditLogKey(ctx context.Context, k AuditLogKey) (AuditLogKey, error)
	// AuditNodes returns the stored hashes of the perfect subtrees named
	// by ids (Level >= 1; Hash ignored), in order, nil for each one not
	// stored.
	AuditNodes(ctx context.Context, ids []AuditNode) ([][]byte, error)
	// PutAuditNodes stores hashes of perfect subtrees and records that the
	// nodes now cover the first cover leaves (it never lowers the cover), in
	// one transaction of its own, durable on return. A node already stored
	// keeps its hash.
	PutAuditNodes(ctx context.Context, nodes []AuditNode, cover uint64) error
	// AuditNodesCover returns how many leaves the stored nodes cover: every
	// perfect subtree of the leaves [0, cover) is stored.
	AuditNodesCover(ctx context.Context) (uint64, error)
}

// AuditLogKey is the audit log's key as a deployment records it once: every
// node signs checkpoints with it. Verifier is the public note verifier key;
// Signer, when set, the signing key sealed under the deployment's keys, so
// that a node with the deployment's key-encryption key needs no other file.
type AuditLogKey struct {
	Verifier string
	Signer   []byte
}

// AuditNode is the hash of a perfect subtree of the audit log's Merkle
// tree, covering the leaves [Index<<Level, (Index+1)<<Level). Level 0 is a
// leaf, kept with its event (AuditRow.LeafHash); the Store keeps levels 1
// and up, so that roots and proofs read O(log n) nodes.
type AuditNode struct {
	Level uint8
	Index uint64
	Hash  []byte
}

// Posting says that a document holds a term: the full-text index of a
// record, for BM25. Terms are blind-indexed per patient (Sealer.Token):
// the Store never sees a word of a document.
type Posting struct {
	Token     string // the term's blind token
	LogicalID string // the document (all its metadata versions)
	TF        int    // occurrences of the term in the document
	Len       int    // the document's length in terms
}

// TermReader is the read side of the full-text index.
type TermReader interface {
	// TermPostings returns p's postings for any of tokens, in no set order.
	TermPostings(ctx context.Context, p PatientKey, tokens []string) ([]Posting, error)
	// TermStats returns how many documents of p are indexed and their total
	// length in terms.
	TermStats(ctx context.Context, p PatientKey) (docs int, totalLen int64, err error)
}

// TermTx is the write side of the full-text index.
type TermTx interface {
	// PutTerms indexes document logicalID of p: length terms in all, tf per
	// term token. It replaces what was indexed for logicalID before.
	PutTerms(ctx context.Context, p PatientKey, logicalID string, length int, tf map[string]int) error
	// DeleteTerms removes logicalID from p's index (nothing to remove is
	// not an error).
	DeleteTerms(ctx context.Context, p PatientKey, logicalID string) error
}
