-- Carnet SQLite schema, version 11: key changes, so that every process
-- sharing the database drops its cached data keys of a record whose keys
-- were rotated or shredded, and re-reads the stored keyring when it
-- changed (record 'carnet-keyring'), without restart.

CREATE TABLE key_changes (
    seq         INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    patient_key TEXT    NOT NULL
) STRICT;
