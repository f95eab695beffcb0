// Package auditlog is Carnet's tamper-evident audit log: an append-only
// Merkle tree (RFC 6962) over non-clinical digests of audit events, with
// Ed25519-signed checkpoints in the signed-note format of
// golang.org/x/mod/sumdb/note.
//
// A patient's client keeps the last checkpoint it saw (a Witness). With an
// inclusion proof it checks that the access events it is shown are in the
// log; with a consistency proof it checks that the log it sees now extends
// the one it saw before, so that the operator cannot rewrite history, or
// show two clients two different histories, without being caught.
//
// The log reads leaf hashes only, through the Storage interface; over a
// carnet.AuditStore (StoreStorage) they are a column of the event rows, so
// that an event and its leaf are one row written in one transaction. A
// Recorder (the carnet.Auditor) seals events, computes their leaves and
// appends them in batches, returning once they are durable; a Checkpointer
// signs and stores the checkpoints as the log grows; Fsck (the heart of
// `carnet fsck`) re-verifies every row and checkpoint and names the first
// entry that does not match. The formats are described byte by byte in
// docs/AUDIT.md.
package auditlog
