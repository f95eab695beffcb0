// Package postgres is Carnet's Store on PostgreSQL, for deployments beyond
// one machine's SQLite file.
//
// The schema (migrations/, applied by Open under an advisory lock) keys every
// clinical table by patient first and has no foreign key across patients, so
// that it can be distributed by patient with Citus; docs/POSTGRES.md says how.
// A commit is durable when Update returns: PostgreSQL flushes its WAL before
// acknowledging COMMIT (synchronous_commit on).
//
// Tests run against a real server when CARNET_TEST_POSTGRES names one; see
// package pgtest for a fresh schema per test.
package postgres
