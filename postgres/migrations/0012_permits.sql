-- Carnet schema, version 12: data permits for secondary use
-- (docs/SECONDARY.md). The permit (purpose, recipient, categories, its
-- pseudonymisation secret, the privacy budget spent) is sealed; version is
-- the compare-and-set of every change. A permit names no record: with
-- Citus, keep it a local (coordinator) table.

CREATE TABLE permits (
	id      text COLLATE "C" PRIMARY KEY,
	version integer NOT NULL,
	sealed  bytea NOT NULL,
	created timestamptz NOT NULL
);
