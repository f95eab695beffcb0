// Package sqlite is Carnet's embedded Store: one SQLite database file (plus
// its -wal and -shm companions), pure Go (modernc.org/sqlite), no server.
//
// Durability: WAL journal with synchronous=FULL, so that Update returns only
// once the transaction's WAL frames are fsynced. Writes go through a single
// writer goroutine that owns the one write connection and commits queued
// Updates in groups (one BEGIN IMMEDIATE, the Updates one after the other,
// one COMMIT and so one fsync for the group; when an Update fails, the group
// is rolled back and the others run again, each in a SAVEPOINT). If a commit fails the store stops
// acknowledging writes for good (KindUnavailable): after a failed fsync the
// state of the file is unknown, and retrying could claim durability that
// does not exist. Reads run on a pool of read-only connections, concurrently
// with the writer; reads inside an Update run on the writer connection and
// see its writes.
//
// The schema is in migrations/, applied in order on Open and recorded in the
// schema_version table. docs/STORAGE.md explains it.
package sqlite
