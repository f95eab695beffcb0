-- Carnet SQLite schema, version 5: the web spaces' sessions. id is the
-- SHA-256 of the session id the browser holds (never the id itself); the
-- session's content is sealed. Not keyed by patient: a session is a
-- person's, not a record's.

CREATE TABLE web_sessions (
    id      TEXT    NOT NULL PRIMARY KEY,
    sealed  BLOB    NOT NULL,
    created INTEGER NOT NULL,
    seen    INTEGER NOT NULL,
    expires INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE INDEX web_sessions_expires ON web_sessions (expires);
