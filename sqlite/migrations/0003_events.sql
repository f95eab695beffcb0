-- Carnet SQLite schema, version 3: what happens to a record rather than
-- what it holds. The patient's notifications, and the audit trail with the
-- signed checkpoints of its tamper-evident log.
--
-- Notifications belong to a patient: patient_key leads their key, like every
-- clinical table. The audit trail is one log across patients, ordered by
-- seq (the leaf index in the Merkle tree): its key is seq, and patient_key
-- ('' for events naming no record) leads the index a patient's history is
-- read through.

CREATE TABLE notifications (
    patient_key TEXT    NOT NULL,
    id          TEXT    NOT NULL,
    time        INTEGER NOT NULL,
    sealed      BLOB    NOT NULL,
    delivered   INTEGER, -- NULL until the webhook sender delivered it
    PRIMARY KEY (patient_key, id)
) STRICT;

-- A patient's notifications, newest first.
CREATE INDEX notifications_time ON notifications (patient_key, time DESC, id DESC);
-- The webhook sender's queue: only what is still to deliver, oldest first.
CREATE INDEX notifications_undelivered ON notifications (time, patient_key, id) WHERE delivered IS NULL;

CREATE TABLE audit_events (
    seq         INTEGER NOT NULL PRIMARY KEY, -- 0, 1, …: the leaf index
    id          TEXT    NOT NULL UNIQUE,
    patient_key TEXT    NOT NULL,
    time        INTEGER NOT NULL,
    actor       TEXT    NOT NULL,  -- blind-index token of who acted
    digest      BLOB    NOT NULL,  -- SHA-256 of the sealed event: stays after pruning
    sealed      BLOB,              -- NULL once pruned by retention
    leaf_hash   BLOB    NOT NULL
) STRICT;

-- A patient's access history, newest first.
CREATE INDEX audit_events_patient ON audit_events (patient_key, seq DESC);
-- Retention: the events still holding their sealed row, by time. Pruned rows
-- leave the index, so that it stays as small as what is left to prune.
CREATE INDEX audit_events_unpruned ON audit_events (time) WHERE sealed IS NOT NULL;

CREATE TABLE audit_checkpoints (
    size INTEGER NOT NULL PRIMARY KEY,
    note BLOB    NOT NULL, -- the signed note, as signed
    time INTEGER NOT NULL
) STRICT;
