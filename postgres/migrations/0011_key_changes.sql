-- Carnet schema, version 11: key changes, so that every node drops its
-- cached data keys of a record whose keys were rotated or shredded, and
-- re-reads the stored keyring when it changed (record 'carnet-keyring'),
-- without restart. Writers lock the table (EXCLUSIVE) until they commit,
-- so that seq follows commit order and a node reading past its last seq
-- misses nothing.

CREATE TABLE key_changes (
	seq         bigserial PRIMARY KEY,
	patient_key text      NOT NULL
);

