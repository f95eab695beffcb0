-- Carnet schema, version 5: the web spaces' sessions, shared by every server
-- over this database. id is the SHA-256 of the session id the browser holds
-- (never the id itself); the session's content is sealed. A session is a
-- person's, not a record's: with Citus, keep it a local (coordinator) table.

CREATE TABLE web_sessions (
	id      text COLLATE "C" PRIMARY KEY,
	sealed  bytea NOT NULL,
	created timestamptz NOT NULL,
	seen    timestamptz NOT NULL,
	expires timestamptz NOT NULL
);

CREATE INDEX web_sessions_expires ON web_sessions (expires);
