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

-- Audit events waiting for their place in the log (docs/POSTGRES.md,
-- "Running several nodes"): an append inserts its events here without any
-- lock, then the sequencer (whichever appender holds the log's advisory
-- lock) moves every waiting batch into audit_events at the next indexes,
-- in one statement, batch after batch, each batch's events contiguous.
-- The lock is held only for that move, not for the appenders' inserts.

CREATE SEQUENCE audit_pending_batch;

CREATE TABLE audit_pending (
	batch       bigint NOT NULL,
	ord         int    NOT NULL,
	id          text COLLATE "C" NOT NULL PRIMARY KEY,
	patient_key text COLLATE "C" NOT NULL,
	time        timestamptz NOT NULL,
	actor       bytea NOT NULL,
	digest      bytea NOT NULL,
	sealed      bytea,
	leaf_hash   bytea NOT NULL
);

-- audit_sequence(ids) is the sequencer, in one round trip: it takes the
-- log's advisory lock (until the calling statement's transaction ends),
-- moves every waiting batch into audit_events after the last index, batch
-- by batch, each in its order (an event whose id is already logged is
-- dropped, so that indexes stay without gap), and returns where the events
-- ids landed. Each statement of the function sees what committed before
-- it began: the move sees every move committed before the lock was
-- granted. The few-row statements are planned as index lookups, without
-- JIT compilation.
CREATE FUNCTION audit_sequence(ids text[]) RETURNS TABLE (out_seq bigint, out_id text, out_leaf bytea)
LANGUAGE plpgsql
SET jit = off SET enable_seqscan = on SET enable_hashjoin = off SET enable_mergejoin = off
AS $$
BEGIN
	PERFORM pg_advisory_xact_lock(hashtextextended('carnet.audit.' || coalesce(current_schema(), ''), 0));
	WITH moved AS (DELETE FROM audit_pending RETURNING *),
	fresh AS (
		SELECT m.* FROM moved m
		WHERE NOT EXISTS (SELECT 1 FROM audit_events e WHERE e.id = m.id)
	),
	base AS (SELECT coalesce(max(a.seq) + 1, 0) AS b FROM audit_events a)
	INSERT INTO audit_events (seq, id, patient_key, time, actor, digest, sealed, leaf_hash)
	SELECT base.b + row_number() OVER (ORDER BY f.batch, f.ord) - 1,
		f.id, f.patient_key, f.time, f.actor, f.digest, f.sealed, f.leaf_hash
	FROM fresh f, base;
	RETURN QUERY SELECT e.seq, e.id::text, e.leaf_hash FROM audit_events e WHERE e.id = ANY(ids);
END
$$;
