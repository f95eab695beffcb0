-- Carnet SQLite schema, version 23: the signed assertions (XUA) already
-- used, until they expire (carnet.AssertionStore), so that a restart does
-- not forget them. key is the SHA-256 of the assertion's issuer and id.

CREATE TABLE used_assertions (
    key     TEXT    NOT NULL PRIMARY KEY,
    expires INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE INDEX used_assertions_expires ON used_assertions (expires);
