-- Carnet schema, version 23: the signed assertions (XUA) already used,
-- until they expire (carnet.AssertionStore): shared by every node over
-- this database, so that an assertion accepted by one is refused by the
-- others, and kept across restarts. key is the SHA-256 of the assertion's
-- issuer and id. Not a record's: with Citus, keep it a local table.

CREATE TABLE used_assertions (
	key     text COLLATE "C" PRIMARY KEY,
	expires timestamptz NOT NULL
);

CREATE INDEX used_assertions_expires ON used_assertions (expires);
