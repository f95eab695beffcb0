-- Carnet SQLite schema, version 12: data permits for secondary use
-- (docs/SECONDARY.md). The permit (purpose, recipient, categories, its
-- pseudonymisation secret, the privacy budget spent) is sealed; version is
-- the compare-and-set of every change. Not keyed by patient: a permit is
-- about many records and names none.

CREATE TABLE permits (
    id      TEXT    NOT NULL PRIMARY KEY,
    version INTEGER NOT NULL,
    sealed  BLOB    NOT NULL,
    created INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
