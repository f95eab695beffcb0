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
// The log stores leaf hashes only, through the Storage interface; the events
// themselves stay in the Store. Verify (the heart of `carnet fsck`) recomputes
// every leaf from the events and names the first entry that does not match.
// The formats are described byte by byte in docs/AUDIT.md.
package auditlog
