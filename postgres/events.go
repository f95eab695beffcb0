package postgres

import (
	"context"
	"errors"
	"math"
	"strconv"
	"time"

	"github.com/carnet-sante/carnet"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// What happens to a record: the patient's notifications (read and written
// in Updates like any patient row) and the audit trail (audit_events,
// audit_checkpoints), one log across patients, appended to in transactions
// of its own.

// seqArg bounds a log index to what a bigint holds: no stored seq reaches
// math.MaxInt64, so the bound changes no answer.
func seqArg(v uint64) int64 { return int64(min(v, math.MaxInt64)) }

// limit returns " LIMIT $n" for a positive limit, "" for 0 (no
// bound); a negative limit is KindInvalid.
func (w *where) limit(op string, n int) (string, error) {
	switch {
	case n < 0:
		return "", carnet.Errorf(carnet.KindInvalid, "%s: negative limit", op)
	case n == 0:
		return "", nil
	}
	return " LIMIT " + w.arg(n), nil
}

const notificationSelect = `
	SELECT n.patient_key, n.id, n.time, n.sealed, n.delivered
	FROM notifications n`

func scanNotification(row pgx.Row) (carnet.NotificationRow, error) {
	var (
		n         carnet.NotificationRow
		patient   string
		delivered *time.Time
	)
	if err := row.Scan(&patient, &n.ID, &n.Time, &n.Sealed, &delivered); err != nil {
		return carnet.NotificationRow{}, err
	}
	n.Patient = carnet.PatientKey(patient)
	n.Time, n.Delivered = n.Time.UTC(), fromNull(delivered)
	n.Sealed = nilIfEmpty(n.Sealed)
	return n, nil
}

func (r reader) notifications(ctx context.Context, op, q string, args []any) ([]carnet.NotificationRow, error) {
	rows, err := r.q.Query(ctx, q, args...)
	if err != nil {
		return nil, mapError(op, err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (carnet.NotificationRow, error) {
		return scanNotification(row)
	})
	return out, mapError(op, err)
}

func (r reader) Notifications(ctx context.Context, p carnet.PatientKey, f carnet.NotificationFilter) ([]carnet.NotificationRow, error) {
	const op = "postgres.Notifications"
	w := where{args: []any{string(p)}}
	w.add("n.patient_key = $1")
	if !f.Before.IsZero() {
		w.add("n.time < " + w.arg(f.Before))
	}
	limit, err := w.limit(op, f.Limit)
	if err != nil {
		return nil, err
	}
	return r.notifications(ctx, op, notificationSelect+w.String()+" ORDER BY n.time DESC, n.id DESC"+limit, w.args)
}

// Undelivered reads every patient's notifications: with Citus, a query
// across shards, which the webhook sender runs in the background.
func (r reader) Undelivered(ctx context.Context, limit int) ([]carnet.NotificationRow, error) {
	const op = "postgres.Undelivered"
	w := where{}
	w.add("n.delivered IS NULL")
	lim, err := w.limit(op, limit)
	if err != nil {
		return nil, err
	}
	return r.notifications(ctx, op, notificationSelect+w.String()+" ORDER BY n.time, n.patient_key, n.id"+lim, w.args)
}

func (s *Store) Notifications(ctx context.Context, p carnet.PatientKey, f carnet.NotificationFilter) (rows []carnet.NotificationRow, err error) {
	err = s.withReader(ctx, "postgres.Notifications", func(r reader) (err error) {
		rows, err = r.Notifications(ctx, p, f)
		return err
	})
	return rows, err
}

func (s *Store) Undelivered(ctx context.Context, limit int) (rows []carnet.NotificationRow, err error) {
	err = s.withReader(ctx, "postgres.Undelivered", func(r reader) (err error) {
		rows, err = r.Undelivered(ctx, limit)
		return err
	})
	return rows, err
}

func (t *tx) InsertNotification(ctx context.Context, row carnet.NotificationRow) error {
	const op = "postgres.InsertNotification"
	if err := t.lock(ctx, row.Patient); err != nil {
		return err
	}
	tag, err := t.q.Exec(ctx, `
		INSERT INTO notifications (patient_key, id, time, sealed, delivered) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT DO NOTHING`,
		string(row.Patient), row.ID, row.Time, emptyIfNil(row.Sealed), toNull(row.Delivered))
	if err != nil {
		return mapError(op, err)
	}
	if tag.RowsAffected() == 0 {
		return conflict(op, "a notification with this id exists for the patient")
	}
	return nil
}

func (t *tx) MarkDelivered(ctx context.Context, p carnet.PatientKey, id string, at time.Time) error {
	const op = "postgres.MarkDelivered"
	if err := t.lock(ctx, p); err != nil {
		return err
	}
	tag, err := t.q.Exec(ctx, `UPDATE notifications SET delivered = $3 WHERE patient_key = $1 AND id = $2`,
		string(p), id, toNull(at))
	if err != nil {
		return mapError(op, err)
	}
	if tag.RowsAffected() == 0 {
		return notFound(op, "notification")
	}
	return nil
}

// The audit trail.

const auditSelect = `
	SELECT a.seq, a.id, a.patient_key, a.time, a.actor, a.digest, a.sealed, a.leaf_hash
	FROM audit_events a`

func scanAudit(row pgx.Row) (carnet.AuditRow, error) {
	var (
		a       carnet.AuditRow
		seq     int64
		patient string
		actor   []byte
	)
	if err := row.Scan(&seq, &a.ID, &patient, &a.Time, &actor, &a.Digest, &a.Sealed, &a.LeafHash); err != nil {
		return carnet.AuditRow{}, err
	}
	a.Seq, a.Patient, a.Actor = uint64(seq), carnet.PatientKey(patient), string(actor)
	a.Time = a.Time.UTC()
	return a, nil
}

func (r reader) auditRows(ctx context.Context, op, q string, args []any) ([]carnet.AuditRow, error) {
	rows, err := r.q.Query(ctx, q, args...)
	if err != nil {
		return nil, mapError(op, err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (carnet.AuditRow, error) {
		return scanAudit(row)
	})
	return out, mapError(op, err)
}

// auditLockSQL takes the lock appends serialise on, until the transaction
// ends. It is keyed by the schema, as migrations are: two deployments in
// two schemas of one database keep two logs and do not wait for each other.
const auditLockSQL = `SELECT pg_advisory_xact_lock(hashtextextended('carnet.audit.' || coalesce(current_schema(), ''), 0))`

// auditAppendSQL numbers and inserts a batch of events after the last one
// (its $1…$7 the events' columns, in order) and returns the first index.
// It runs after auditLockSQL in the same transaction: a statement of a
// READ COMMITTED transaction sees what committed before it began, and the
// lock is released only once the previous appender's rows are visible.
// An id already in the log is a unique violation: the whole append fails
// and nothing stays (so every row is inserted when it succeeds; a
// data-modifying WITH runs to completion whether or not it is read).
const auditAppendSQL = `
	WITH f AS (SELECT coalesce(max(seq) + 1, 0) AS first FROM audit_events),
	ins AS (
		INSERT INTO audit_events (seq, id, patient_key, time, actor, digest, sealed, leaf_hash)
		SELECT f.first + x.ord - 1, x.id, x.patient_key, x.time, x.actor, x.digest, x.sealed, x.leaf_hash
		FROM f, unnest($1::text[], $2::text[], $3::timestamptz[], $4::bytea[], $5::bytea[], $6::bytea[], $7::bytea[])
			WITH ORDINALITY AS x(id, patient_key, time, actor, digest, sealed, leaf_hash, ord))
	SELECT first FROM f`

// auditFlushSQL makes everything committed before it durable: it takes a
// transaction id, so its implicit transaction writes a commit record, and
// a commit under the session's synchronous_commit (on, or stronger: Open
// sees to it) returns once the WAL is flushed up to that record, which
// covers every commit before it.
const auditFlushSQL = `SELECT pg_current_xact_id()::text`

// AppendAudit appends a batch to the log shared by every node, in two
// steps, so that the log's lock is never held across a WAL flush:
//
//  1. one round trip, an implicit transaction of two statements (a
//     pipeline with one Sync): take the log's advisory lock (appenders
//     from every process wait in line for it), then number and insert the
//     batch after what the previous appender committed. That transaction
//     commits without waiting for its WAL to reach the disk
//     (synchronous_commit off for it alone), and its commit releases the
//     lock: the next appender, of any node, goes on at once;
//  2. auditFlushSQL: returns once the WAL is flushed past the batch's
//     commit. Only then does AppendAudit return, so that no access is
//     served before its event is durable, as before. Appenders of several
//     nodes flushing at once share one flush.
//
// What other sessions may see in between: the batch, not yet durable. A
// crash then loses it together with every later append (the WAL is
// replayed in order, so no later event survives an earlier one), and
// nothing of it was acknowledged. A checkpoint over it is stored by a
// synchronous commit that comes after it in the WAL, and a synchronous
// commit becomes visible only once flushed: no checkpoint that a node
// serves, nor a proof against one, ever covers an event a crash could
// lose. A patient reading their history at that instant may see an event
// of a request still waiting for this flush (docs/POSTGRES.md).
//
// A SERIALIZABLE transaction instead of the lock would let every appender
// read the same size and all but one fail and retry.
func (s *Store) AppendAudit(ctx context.Context, rows []carnet.AuditRow) (uint64, error) {
	const op = "postgres.AppendAudit"
	if len(rows) == 0 {
		return s.AuditSize(ctx)
	}
	n := len(rows)
	var (
		ids, patients                   = make([]string, n), make([]string, n)
		times                           = make([]time.Time, n)
		actors, digests, sealed, leaves = make([][]byte, n), make([][]byte, n), make([][]byte, n), make([][]byte, n)
	)
	seen := make(map[string]bool, n)
	for i, row := range rows {
		if seen[row.ID] {
			return 0, conflict(op, "an audit event id appears twice")
		}
		seen[row.ID] = true
		ids[i], patients[i], times[i] = row.ID, string(row.Patient), row.Time
		actors[i], digests[i], leaves[i] = []byte(row.Actor), emptyIfNil(row.Digest), emptyIfNil(row.LeafHash)
		sealed[i] = row.Sealed // nil is NULL: an event stored already pruned
	}

	conn, err := s.acquire(ctx)
	if err != nil {
		return 0, mapError(op, err)
	}
	defer conn.Release()
	var first int64
	b := &pgx.Batch{}
	b.Queue(`SELECT set_config('synchronous_commit', 'off', true)`)
	b.Queue(auditLockSQL)
	b.Queue(auditAppendSQL, ids, patients, times, actors, digests, sealed, leaves).QueryRow(func(row pgx.Row) error {
		return row.Scan(&first)
	})
	if err := conn.SendBatch(ctx, b).Close(); err != nil {
		if errorKind(err) == carnet.KindConflict {
			return 0, conflict(op, "an audit event id is already in use") // rolled back: nothing stays
		}
		return 0, mapError(op, err)
	}
	var xid string
	if err := conn.QueryRow(ctx, auditFlushSQL).Scan(&xid); err != nil {
		return 0, mapError(op, err)
	}
	return uint64(first), nil
}

func (r reader) auditSize(ctx context.Context) (uint64, error) {
	var size int64
	err := r.q.QueryRow(ctx, `SELECT coalesce(max(seq) + 1, 0) FROM audit_events`).Scan(&size)
	return uint64(size), err
}

func (s *Store) AuditSize(ctx context.Context) (size uint64, err error) {
	const op = "postgres.AuditSize"
	err = s.withReader(ctx, op, func(r reader) (err error) {
		size, err = r.auditSize(ctx)
		return mapError(op, err)
	})
	return size, err
}

func (s *Store) AuditLeafHashes(ctx context.Context, from, to uint64) (hashes [][]byte, err error) {
	const op = "postgres.AuditLeafHashes"
	err = s.withReader(ctx, op, func(r reader) error {
		// The log only grows: rows below a size once read stay there.
		size, err := r.auditSize(ctx)
		if err != nil {
			return mapError(op, err)
		}
		if from > to || to > size {
			return &carnet.Error{Kind: carnet.KindInvalid, Op: op, Msg: "leaf range outside the log"}
		}
		rows, err := r.q.Query(ctx, `SELECT seq, leaf_hash FROM audit_events WHERE seq >= $1 AND seq < $2 ORDER BY seq`,
			int64(from), int64(to))
		if err != nil {
			return mapError(op, err)
		}
		hashes = make([][]byte, 0, to-from)
		var (
			seq  int64
			hash []byte
		)
		_, err = pgx.ForEachRow(rows, []any{&seq, &hash}, func() error {
			if uint64(seq) != from+uint64(len(hashes)) {
				return errGap
			}
			hashes = append(hashes, hash)
			return nil
		})
		if err == nil && uint64(len(hashes)) != to-from {
			err = errGap
		}
		if errors.Is(err, errGap) {
			// The log lost an event: only fsck (AuditEvents) can say more.
			return &carnet.Error{Kind: carnet.KindInternal, Op: op,
				Msg: "the audit log has a gap at index " + strconv.FormatUint(from+uint64(len(hashes)), 10)}
		}
		return mapError(op, err)
	})
	if err != nil {
		return nil, err
	}
	return hashes, nil
}

var errGap = errors.New("postgres: gap in the audit log")

func (s *Store) AuditEvents(ctx context.Context, from, to uint64) (rows []carnet.AuditRow, err error) {
	const op = "postgres.AuditEvents"
	if from >= to || from >= math.MaxInt64 {
		return nil, nil
	}
	err = s.withReader(ctx, op, func(r reader) (err error) {
		rows, err = r.auditRows(ctx, op, auditSelect+` WHERE a.seq >= $1 AND a.seq < $2 ORDER BY a.seq`,
			[]any{int64(from), seqArg(to)})
		return err
	})
	return rows, err
}

func (s *Store) AuditEvent(ctx context.Context, id string) (row carnet.AuditRow, err error) {
	const op = "postgres.AuditEvent"
	err = s.withReader(ctx, op, func(r reader) error {
		row, err = scanAudit(r.q.QueryRow(ctx, auditSelect+` WHERE a.id = $1`, id))
		if errors.Is(err, pgx.ErrNoRows) {
			return notFound(op, "audit event")
		}
		return mapError(op, err)
	})
	return row, err
}

func (s *Store) FindAudit(ctx context.Context, p carnet.PatientKey, f carnet.AuditFilter) (rows []carnet.AuditRow, err error) {
	const op = "postgres.FindAudit"
	w := where{args: []any{string(p)}}
	w.add("a.patient_key = $1")
	if f.Before != 0 {
		w.add("a.seq < " + w.arg(seqArg(f.Before)))
	}
	w.within("a.time", f.Time)
	if len(f.Actors) > 0 {
		w.add("a.actor = ANY(" + w.arg(bytesOf(f.Actors)) + "::bytea[])")
	}
	limit, err := w.limit(op, f.Limit)
	if err != nil {
		return nil, err
	}
	err = s.withReader(ctx, op, func(r reader) (err error) {
		rows, err = r.auditRows(ctx, op, auditSelect+w.String()+" ORDER BY a.seq DESC"+limit, w.args)
		return err
	})
	return rows, err
}

// exec runs one statement on a pooled connection, outside any explicit
// transaction.
func (s *Store) exec(ctx context.Context, op, q string, args ...any) (pgconn.CommandTag, error) {
	conn, err := s.acquire(ctx)
	if err != nil {
		return pgconn.CommandTag{}, mapError(op, err)
	}
	defer conn.Release()
	tag, err := conn.Exec(ctx, q, args...)
	return tag, mapError(op, err)
}

func (s *Store) PruneAudit(ctx context.Context, before time.Time) (int, error) {
	tag, err := s.exec(ctx, "postgres.PruneAudit",
		`UPDATE audit_events SET sealed = NULL WHERE sealed IS NOT NULL AND time < $1`, before)
	if err != nil {
		return 0, err
	}
	return int(tag.RowsAffected()), nil
}

func (s *Store) PutCheckpoint(ctx context.Context, cp carnet.StoredCheckpoint) error {
	const op = "postgres.PutCheckpoint"
	if cp.Size > math.MaxInt64 {
		return &carnet.Error{Kind: carnet.KindInvalid, Op: op, Msg: "checkpoint size out of range"}
	}
	_, err := s.exec(ctx, op, `INSERT INTO audit_checkpoints (size, note, time) VALUES ($1, $2, $3) ON CONFLICT (size) DO NOTHING`,
		int64(cp.Size), emptyIfNil(cp.Note), cp.Time)
	return err
}

func (s *Store) Checkpoints(ctx context.Context) (cps []carnet.StoredCheckpoint, err error) {
	const op = "postgres.Checkpoints"
	err = s.withReader(ctx, op, func(r reader) error {
		rows, err := r.q.Query(ctx, `SELECT size, note, time FROM audit_checkpoints ORDER BY size`)
		if err != nil {
			return mapError(op, err)
		}
		cps, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (carnet.StoredCheckpoint, error) {
			var (
				cp   carnet.StoredCheckpoint
				size int64
			)
			err := row.Scan(&size, &cp.Note, &cp.Time)
			cp.Size, cp.Time = uint64(size), cp.Time.UTC()
			return cp, err
		})
		return mapError(op, err)
	})
	return cps, err
}

// PatientKeys implements carnet.Store.
func (s *Store) PatientKeys(ctx context.Context, after carnet.PatientKey, limit int) (out []carnet.PatientKey, err error) {
	const op = "postgres.PatientKeys"
	if limit <= 0 {
		return nil, &carnet.Error{Kind: carnet.KindInvalid, Op: op, Msg: "limit must be positive"}
	}
	err = s.withReader(ctx, op, func(r reader) error {
		rows, err := r.q.Query(ctx, `SELECT patient_key FROM patients WHERE patient_key > $1 ORDER BY patient_key LIMIT $2`, string(after), limit)
		if err != nil {
			return mapError(op, err)
		}
		defer rows.Close()
		out = out[:0]
		for rows.Next() {
			var k string
			if err := rows.Scan(&k); err != nil {
				return mapError(op, err)
			}
			out = append(out, carnet.PatientKey(k))
		}
		return mapError(op, rows.Err())
	})
	return out, err
}

// RecordStamp implements carnet.Store: document rows are never deleted and
// every change of a record's documents or items inserts one, so their
// count (with the latest date) changes with every change.
func (s *Store) RecordStamp(ctx context.Context, p carnet.PatientKey) (stamp string, err error) {
	const op = "postgres.RecordStamp"
	// record_stamps (migration 0022): one counter per record, moved by
	// triggers on every statement writing or removing document rows.
	err = s.withReader(ctx, op, func(r reader) error {
		var n int64
		if err := r.q.QueryRow(ctx, `SELECT n FROM record_stamps WHERE patient_key = $1`, string(p)).Scan(&n); err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return mapError(op, err)
		}
		stamp = strconv.FormatInt(n, 10)
		return nil
	})
	return stamp, err
}

func (s *Store) AuditNodes(ctx context.Context, ids []carnet.AuditNode) (out [][]byte, err error) {
	const op = "postgres.AuditNodes"
	if len(ids) == 0 {
		return nil, nil
	}
	levels, idxs := make([]int16, len(ids)), make([]int64, len(ids))
	for i, id := range ids {
		if id.Level < 1 || id.Index > math.MaxInt64 {
			return nil, &carnet.Error{Kind: carnet.KindInvalid, Op: op, Msg: "not an interior node of the log"}
		}
		levels[i], idxs[i] = int16(id.Level), int64(id.Index)
	}
	out = make([][]byte, len(ids))
	err = s.withReader(ctx, op, func(r reader) error {
		rows, err := r.q.Query(ctx, `
			SELECT x.ord, n.hash
			FROM unnest($1::smallint[], $2::bigint[]) WITH ORDINALITY AS x(level, idx, ord)
			JOIN audit_nodes n ON n.level = x.level AND n.idx = x.idx`, levels, idxs)
		if err != nil {
			return mapError(op, err)
		}
		defer rows.Close()
		for rows.Next() {
			var (
				ord  int64
				hash []byte
			)
			if err := rows.Scan(&ord, &hash); err != nil {
				return mapError(op, err)
			}
			out[ord-1] = hash
		}
		return mapError(op, rows.Err())
	})
	return out, err
}

func (s *Store) PutAuditNodes(ctx context.Context, nodes []carnet.AuditNode, cover uint64) error {
	const op = "postgres.PutAuditNodes"
	if cover > math.MaxInt64 {
		return &carnet.Error{Kind: carnet.KindInvalid, Op: op, Msg: "cover out of range"}
	}
	levels, idxs, hashes := make([]int16, len(nodes)), make([]int64, len(nodes)), make([][]byte, len(nodes))
	for i, n := range nodes {
		if n.Level < 1 || n.Index > math.MaxInt64 || len(n.Hash) == 0 {
			return &carnet.Error{Kind: carnet.KindInvalid, Op: op, Msg: "not an interior node of the log"}
		}
		levels[i], idxs[i], hashes[i] = int16(n.Level), int64(n.Index), n.Hash
	}
	_, err := s.exec(ctx, op, `
		WITH n AS (
			INSERT INTO audit_nodes (level, idx, hash)
			SELECT * FROM unnest($1::smallint[], $2::bigint[], $3::bytea[])
			ON CONFLICT (level, idx) DO NOTHING
		)
		UPDATE audit_tree SET cover = greatest(cover, $4) WHERE one = 1`,
		levels, idxs, hashes, int64(cover))
	return err
}

func (s *Store) AuditNodesCover(ctx context.Context) (cover uint64, err error) {
	const op = "postgres.AuditNodesCover"
	err = s.withReader(ctx, op, func(r reader) error {
		var c int64
		err := r.q.QueryRow(ctx, `SELECT cover FROM audit_tree WHERE one = 1`).Scan(&c)
		cover = uint64(c)
		return mapError(op, err)
	})
	return cover, err
}

// LatestCheckpoint implements carnet.AuditStore.
func (s *Store) LatestCheckpoint(ctx context.Context) (cp carnet.StoredCheckpoint, err error) {
	const op = "postgres.LatestCheckpoint"
	err = s.withReader(ctx, op, func(r reader) error {
		var size int64
		err := r.q.QueryRow(ctx, `SELECT size, note, time FROM audit_checkpoints ORDER BY size DESC LIMIT 1`).Scan(&size, &cp.Note, &cp.Time)
		if errors.Is(err, pgx.ErrNoRows) {
			return &carnet.Error{Kind: carnet.KindNotFound, Op: op, Msg: "no checkpoint stored"}
		}
		cp.Size, cp.Time = uint64(size), cp.Time.UTC()
		return mapError(op, err)
	})
	return cp, err
}

// AuditLogKey implements carnet.AuditStore.
func (s *Store) AuditLogKey(ctx context.Context) (k carnet.AuditLogKey, err error) {
	const op = "postgres.AuditLogKey"
	err = s.withReader(ctx, op, func(r reader) error {
		err := r.q.QueryRow(ctx, `SELECT verifier, signer FROM audit_log_key WHERE one = 1`).Scan(&k.Verifier, &k.Signer)
		if errors.Is(err, pgx.ErrNoRows) {
			return &carnet.Error{Kind: carnet.KindNotFound, Op: op, Msg: "no audit log key recorded"}
		}
		return mapError(op, err)
	})
	return k, err
}

// InitAuditLogKey implements carnet.AuditStore.
func (s *Store) InitAuditLogKey(ctx context.Context, k carnet.AuditLogKey) (carnet.AuditLogKey, error) {
	const op = "postgres.InitAuditLogKey"
	if k.Verifier == "" {
		return k, &carnet.Error{Kind: carnet.KindInvalid, Op: op, Msg: "no verifier key"}
	}
	if _, err := s.exec(ctx, op, `INSERT INTO audit_log_key (one, verifier, signer) VALUES (1, $1, $2) ON CONFLICT (one) DO NOTHING`, k.Verifier, k.Signer); err != nil {
		return k, err
	}
	return s.AuditLogKey(ctx)
}
