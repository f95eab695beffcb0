-- Carnet schema, version 3: what happens to a record rather than what it
-- holds. The patient's notifications, and the audit trail with the signed
-- checkpoints of its tamper-evident log.
--
-- Notifications belong to a patient: patient_key leads their key. With
-- Citus, distribute them with the rest:
--
--   SELECT create_distributed_table('notifications', 'patient_key', colocate_with => 'patients');
--
-- The audit trail is one log across patients, ordered by seq (the leaf
-- index in the Merkle tree), and appends serialise on an advisory lock:
-- audit_events and audit_checkpoints stay local tables on the coordinator.
-- patient_key ('' for events naming no record) leads the index a patient's
-- history is read through.

CREATE TABLE notifications (
	patient_key text COLLATE "C" NOT NULL,
	id          text COLLATE "C" NOT NULL,
	time        timestamptz NOT NULL,
	sealed      bytea NOT NULL,
	delivered   timestamptz, -- NULL until the webhook sender delivered it
	PRIMARY KEY (patient_key, id)
);
-- A patient's notifications, newest first.
CREATE INDEX notifications_time ON notifications (patient_key, time DESC, id DESC);
-- The webhook sender's queue: only what is still to deliver, oldest first.
CREATE INDEX notifications_undelivered ON notifications (time, patient_key, id) WHERE delivered IS NULL;

CREATE TABLE audit_events (
	seq         bigint NOT NULL,               -- 0, 1, …: the leaf index
	id          text COLLATE "C" NOT NULL,
	patient_key text COLLATE "C" NOT NULL,
	time        timestamptz NOT NULL,
	actor       bytea NOT NULL,                -- blind-index token of who acted
	digest      bytea NOT NULL,                -- SHA-256 of the sealed event: stays after pruning
	sealed      bytea,                         -- NULL once pruned by retention
	leaf_hash   bytea NOT NULL,
	PRIMARY KEY (seq),
	UNIQUE (id)
);
-- A patient's access history, newest first.
CREATE INDEX audit_events_patient ON audit_events (patient_key, seq DESC);
-- Retention: the events still holding their sealed row, by time. Pruned rows
-- leave the index, so that it stays as small as what is left to prune.
CREATE INDEX audit_events_unpruned ON audit_events (time) WHERE sealed IS NOT NULL;

CREATE TABLE audit_checkpoints (
	size bigint NOT NULL,
	note bytea NOT NULL, -- the signed note, as signed
	time timestamptz NOT NULL,
	PRIMARY KEY (size)
);
