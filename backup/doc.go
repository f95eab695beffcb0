// Package backup writes and checks Carnet's backup directories: the data
// files of a consistent copy of the store (ciphertext only) and the signed
// MANIFEST written last, which lists each file's SHA-256, the audit log's
// checkpoint at backup time and the schema version. docs/BACKUP.md has the
// format; docs/OPERATIONS.md the plan that uses it.
//
// A directory without its MANIFEST is an interrupted backup and is never
// restored. Verify names the first file that does not match.
package backup
