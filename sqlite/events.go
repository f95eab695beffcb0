package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"math"
	"strconv"
	"time"

	"github.com/carnet-sante/carnet"
)

// What happens to a record: the patient's notifications (table
// notifications, read and written in Updates like any patient row) and the
// audit trail (audit_events, audit_checkpoints), which is one log across
// patients. The audit writes go through the writer like any Update, each in
// its own request: concurrent appends are serialised by the single writer
// and share its group commits.

// Times that are never unknown (a notification's, an event's) are stored as
// they are, zero included, so that a NOT NULL column keeps its meaning.
func requiredTime(t time.Time) int64 { return t.UnixMicro() }

// nullBlob stores nil as NULL (an event whose sealed row was pruned).
func nullBlob(b []byte) any {
	if b == nil {
		return nil
	}
	return b
}

// sqlLimit is LIMIT's argument for a Limit where 0 means no bound.
func sqlLimit(op string, n int) (int, error) {
	switch {
	case n < 0:
		return 0, carnet.Errorf(carnet.KindInvalid, "%s: negative limit", op)
	case n == 0:
		return -1, nil // SQLite: no limit
	}
	return n, nil
}

// seqArg bounds a log index to what an INTEGER column holds: no stored seq
// reaches math.MaxInt64, so the bound changes no answer.
func seqArg(v uint64) int64 { return int64(min(v, math.MaxInt64)) }

const notificationCols = "patient_key, id, time, sealed, delivered"

func scanNotification(rows *sql.Rows, n *carnet.NotificationRow) error {
	var (
		patient       string
		at, delivered sql.NullInt64
	)
	if err := rows.Scan(&patient, &n.ID, &at, &n.Sealed, &delivered); err != nil {
		return err
	}
	n.Patient, n.Time, n.Delivered = carnet.PatientKey(patient), goTime(at), goTime(delivered)
	return nil
}

func (r reader) notifications(ctx context.Context, op, q string, args ...any) ([]carnet.NotificationRow, error) {
	rows, err := r.c.query(ctx, q, args...)
	if err != nil {
		return nil, wrap(op, err)
	}
	defer rows.Close()
	var out []carnet.NotificationRow
	for rows.Next() {
		var n carnet.NotificationRow
		if err := scanNotification(rows.Rows, &n); err != nil {
			return nil, wrap(op, err)
		}
		out = append(out, n)
	}
	return out, wrap(op, rows.Err())
}

func (r reader) Notifications(ctx context.Context, p carnet.PatientKey, f carnet.NotificationFilter) ([]carnet.NotificationRow, error) {
	const op = "sqlite.Notifications"
	limit, err := sqlLimit(op, f.Limit)
	if err != nil {
		return nil, err
	}
	var q query
	q.b.WriteString("SELECT " + notificationCols + " FROM notifications WHERE patient_key = ?")
	q.args = append(q.args, string(p))
	if !f.Before.IsZero() {
		q.add("time < ?", requiredTime(f.Before))
	}
	q.b.WriteString(" ORDER BY time DESC, id DESC LIMIT ?")
	q.args = append(q.args, limit)
	return r.notifications(ctx, op, q.b.String(), q.args...)
}

func (r reader) Undelivered(ctx context.Context, limit int) ([]carnet.NotificationRow, error) {
	const op = "sqlite.Undelivered"
	n, err := sqlLimit(op, limit)
	if err != nil {
		return nil, err
	}
	return r.notifications(ctx, op, "SELECT "+notificationCols+
		" FROM notifications WHERE delivered IS NULL ORDER BY time, patient_key, id LIMIT ?", n)
}

func (t *tx) Notifications(ctx context.Context, p carnet.PatientKey, f carnet.NotificationFilter) ([]carnet.NotificationRow, error) {
	if err := t.check(ctx); err != nil {
		return nil, wrap("sqlite.Notifications", err)
	}
	return t.reader.Notifications(ctx, p, f)
}

func (t *tx) Undelivered(ctx context.Context, limit int) ([]carnet.NotificationRow, error) {
	if err := t.check(ctx); err != nil {
		return nil, wrap("sqlite.Undelivered", err)
	}
	return t.reader.Undelivered(ctx, limit)
}

func (t *tx) InsertNotification(ctx context.Context, row carnet.NotificationRow) error {
	const op = "sqlite.InsertNotification"
	return t.step(ctx, op, func(ctx context.Context) error {
		_, err := t.c.exec(ctx, "INSERT INTO notifications ("+notificationCols+") VALUES (?, ?, ?, ?, ?)",
			string(row.Patient), row.ID, requiredTime(row.Time), nonNil(row.Sealed), dbTime(row.Delivered))
		if isDuplicate(err) {
			return refused(conflict(op, "a notification with this id exists for the patient", err))
		}
		return err
	})
}

func (t *tx) MarkDelivered(ctx context.Context, p carnet.PatientKey, id string, at time.Time) error {
	const op = "sqlite.MarkDelivered"
	return t.step(ctx, op, func(ctx context.Context) error {
		res, err := t.c.exec(ctx, "UPDATE notifications SET delivered = ? WHERE patient_key = ? AND id = ?",
			dbTime(at), string(p), id)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if n == 0 {
			return refused(&carnet.Error{Kind: carnet.KindNotFound, Op: op, Msg: "not found"})
		}
		return nil
	})
}

// The audit trail.

const auditCols = "seq, id, patient_key, time, actor, digest, sealed, leaf_hash"

func scanAudit(rows *sql.Rows, a *carnet.AuditRow) error {
	var (
		seq     int64
		patient string
		at      sql.NullInt64
	)
	if err := rows.Scan(&seq, &a.ID, &patient, &at, &a.Actor, &a.Digest, &a.Sealed, &a.LeafHash); err != nil {
		return err
	}
	a.Seq, a.Patient, a.Time = uint64(seq), carnet.PatientKey(patient), goTime(at)
	return nil
}

func (s *Store) auditRows(ctx context.Context, op, q string, args ...any) ([]carnet.AuditRow, error) {
	rows, err := s.rc.query(ctx, q, args...)
	if err != nil {
		return nil, wrap(op, err)
	}
	defer rows.Close()
	var out []carnet.AuditRow
	for rows.Next() {
		var a carnet.AuditRow
		if err := scanAudit(rows.Rows, &a); err != nil {
			return nil, wrap(op, err)
		}
		out = append(out, a)
	}
	return out, wrap(op, rows.Err())
}

// AppendAudit runs as one request of the writer: appends queue with the
// Updates, one after the other, so that each reads the size the previous
// one left, and several share one commit.
func (s *Store) AppendAudit(ctx context.Context, rows []carnet.AuditRow) (uint64, error) {
	const op = "sqlite.AppendAudit"
	if len(rows) == 0 {
		return s.AuditSize(ctx)
	}
	var first uint64
	err := s.Update(ctx, func(ct carnet.Tx) error {
		var err error
		first, err = ct.(*tx).appendAudit(ctx, rows)
		return err
	})
	if err != nil {
		return 0, wrap(op, err)
	}
	return first, nil
}

var _ carnet.AuditTx = (*tx)(nil)

// AppendAudit implements carnet.AuditTx: the events take the next indexes
// of the log in the writer's transaction (one writer: nothing else appends
// meanwhile) and are durable with its group commit.
func (t *tx) AppendAudit(ctx context.Context, rows []carnet.AuditRow) (uint64, error) {
	return t.appendAudit(ctx, rows)
}

func (t *tx) appendAudit(ctx context.Context, rows []carnet.AuditRow) (uint64, error) {
	const op = "sqlite.AppendAudit"
	var first uint64
	err := t.step(ctx, op, func(ctx context.Context) error {
		// Refuse before writing anything: a conflict stores nothing.
		seen := make(map[string]bool, len(rows))
		for _, row := range rows {
			if seen[row.ID] {
				return refused(conflict(op, "an audit event id appears twice", nil))
			}
			seen[row.ID] = true
			var one int
			err := t.c.queryOne(ctx, func(rows *sql.Rows) error { return rows.Scan(&one) },
				"SELECT 1 FROM audit_events WHERE id = ?", row.ID)
			if err == nil {
				return refused(conflict(op, "the audit event id is already in use", nil))
			}
			if !errors.Is(err, sql.ErrNoRows) {
				return err
			}
		}
		var size int64
		if err := t.c.queryOne(ctx, func(rows *sql.Rows) error { return rows.Scan(&size) },
			"SELECT coalesce(max(seq) + 1, 0) FROM audit_events"); err != nil {
			return err
		}
		for i, row := range rows {
			if _, err := t.c.exec(ctx, "INSERT INTO audit_events ("+auditCols+") VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
				size+int64(i), row.ID, string(row.Patient), requiredTime(row.Time), row.Actor,
				nonNil(row.Digest), nullBlob(row.Sealed), nonNil(row.LeafHash)); err != nil {
				return err // the checks above rule a conflict out
			}
		}
		first = uint64(size)
		return nil
	})
	return first, err
}

func (s *Store) AuditSize(ctx context.Context) (uint64, error) {
	var size int64
	err := s.rc.queryOne(ctx, func(rows *sql.Rows) error { return rows.Scan(&size) },
		"SELECT coalesce(max(seq) + 1, 0) FROM audit_events")
	return uint64(size), wrap("sqlite.AuditSize", err)
}

func (s *Store) AuditLeafHashes(ctx context.Context, from, to uint64) ([][]byte, error) {
	const op = "sqlite.AuditLeafHashes"
	size, err := s.AuditSize(ctx)
	if err != nil {
		return nil, err
	}
	if from > to || to > size {
		return nil, &carnet.Error{Kind: carnet.KindInvalid, Op: op, Msg: "leaf range outside the log"}
	}
	rows, err := s.rc.query(ctx, "SELECT seq, leaf_hash FROM audit_events WHERE seq >= ? AND seq < ? ORDER BY seq",
		int64(from), int64(to))
	if err != nil {
		return nil, wrap(op, err)
	}
	defer rows.Close()
	out := make([][]byte, 0, to-from)
	for rows.Next() {
		var (
			seq  int64
			hash []byte
		)
		if err := rows.Scan(&seq, &hash); err != nil {
			return nil, wrap(op, err)
		}
		if uint64(seq) != from+uint64(len(out)) {
			break
		}
		out = append(out, hash)
	}
	if err := rows.Err(); err != nil {
		return nil, wrap(op, err)
	}
	if uint64(len(out)) != to-from {
		// The log lost an event: only fsck (AuditEvents) can say more.
		return nil, &carnet.Error{Kind: carnet.KindInternal, Op: op,
			Msg: "the audit log has a gap at index " + strconv.FormatUint(from+uint64(len(out)), 10)}
	}
	return out, nil
}

func (s *Store) AuditEvents(ctx context.Context, from, to uint64) ([]carnet.AuditRow, error) {
	const op = "sqlite.AuditEvents"
	if from >= to || from >= math.MaxInt64 {
		return nil, nil
	}
	return s.auditRows(ctx, op, "SELECT "+auditCols+" FROM audit_events WHERE seq >= ? AND seq < ? ORDER BY seq",
		int64(from), seqArg(to))
}

func (s *Store) AuditEvent(ctx context.Context, id string) (carnet.AuditRow, error) {
	const op = "sqlite.AuditEvent"
	var a carnet.AuditRow
	err := s.rc.queryOne(ctx, func(rows *sql.Rows) error { return scanAudit(rows, &a) },
		"SELECT "+auditCols+" FROM audit_events WHERE id = ?", id)
	return a, wrap(op, err)
}

func (s *Store) FindAudit(ctx context.Context, p carnet.PatientKey, f carnet.AuditFilter) ([]carnet.AuditRow, error) {
	const op = "sqlite.FindAudit"
	limit, err := sqlLimit(op, f.Limit)
	if err != nil {
		return nil, err
	}
	var q query
	q.b.WriteString("SELECT " + auditCols + " FROM audit_events WHERE patient_key = ?")
	q.args = append(q.args, string(p))
	if f.Before != 0 {
		q.add("seq < ?", seqArg(f.Before))
	}
	if !f.Time.From.IsZero() {
		q.add("time >= ?", requiredTime(f.Time.From))
	}
	if !f.Time.To.IsZero() {
		q.add("time < ?", requiredTime(f.Time.To))
	}
	if len(f.Actors) > 0 {
		args := make([]any, len(f.Actors))
		for i, a := range f.Actors {
			args[i] = a
		}
		q.add("actor IN "+in(len(args)), args...)
	}
	q.b.WriteString(" ORDER BY seq DESC LIMIT ?")
	q.args = append(q.args, limit)
	return s.auditRows(ctx, op, q.b.String(), q.args...)
}

func (s *Store) PruneAudit(ctx context.Context, before time.Time) (int, error) {
	const op = "sqlite.PruneAudit"
	var n int64
	err := s.Update(ctx, func(ct carnet.Tx) error {
		t := ct.(*tx)
		return t.step(ctx, op, func(ctx context.Context) error {
			res, err := t.c.exec(ctx, "UPDATE audit_events SET sealed = NULL WHERE sealed IS NOT NULL AND time < ?",
				requiredTime(before))
			if err != nil {
				return err
			}
			n, err = res.RowsAffected()
			return err
		})
	})
	if err != nil {
		return 0, wrap(op, err)
	}
	return int(n), nil
}

func (s *Store) PutCheckpoint(ctx context.Context, cp carnet.StoredCheckpoint) error {
	const op = "sqlite.PutCheckpoint"
	if cp.Size > math.MaxInt64 {
		return &carnet.Error{Kind: carnet.KindInvalid, Op: op, Msg: "checkpoint size out of range"}
	}
	err := s.Update(ctx, func(ct carnet.Tx) error {
		t := ct.(*tx)
		return t.step(ctx, op, func(ctx context.Context) error {
			_, err := t.c.exec(ctx, "INSERT INTO audit_checkpoints (size, note, time) VALUES (?, ?, ?) ON CONFLICT (size) DO NOTHING",
				int64(cp.Size), nonNil(cp.Note), requiredTime(cp.Time))
			return err
		})
	})
	return wrap(op, err)
}

func (s *Store) Checkpoints(ctx context.Context) ([]carnet.StoredCheckpoint, error) {
	const op = "sqlite.Checkpoints"
	rows, err := s.rc.query(ctx, "SELECT size, note, time FROM audit_checkpoints ORDER BY size")
	if err != nil {
		return nil, wrap(op, err)
	}
	defer rows.Close()
	var out []carnet.StoredCheckpoint
	for rows.Next() {
		var (
			cp   carnet.StoredCheckpoint
			size int64
			at   sql.NullInt64
		)
		if err := rows.Scan(&size, &cp.Note, &at); err != nil {
			return nil, wrap(op, err)
		}
		cp.Size, cp.Time = uint64(size), goTime(at)
		out = append(out, cp)
	}
	return out, wrap(op, rows.Err())
}

// PatientKeys implements carnet.Store.
func (s *Store) PatientKeys(ctx context.Context, after carnet.PatientKey, limit int) ([]carnet.PatientKey, error) {
	const op = "sqlite.PatientKeys"
	if limit <= 0 {
		return nil, &carnet.Error{Kind: carnet.KindInvalid, Op: op, Msg: "limit must be positive"}
	}
	rows, err := s.rc.query(ctx, "SELECT patient_key FROM patients WHERE patient_key > ? ORDER BY patient_key LIMIT ?", string(after), limit)
	if err != nil {
		return nil, wrap(op, err)
	}
	defer rows.Close()
	var out []carnet.PatientKey
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			return nil, wrap(op, err)
		}
		out = append(out, carnet.PatientKey(k))
	}
	return out, wrap(op, rows.Err())
}

// RecordStamp implements carnet.Store: document rows are never deleted and
// every change of a record's documents or items inserts one, so their
// count (with the latest date) changes with every change.
func (s *Store) RecordStamp(ctx context.Context, p carnet.PatientKey) (string, error) {
	// record_stamps (migration 0022): one counter per record, moved by
	// triggers on every document row written or removed.
	var n int64
	err := s.rc.queryOne(ctx, func(rows *sql.Rows) error { return rows.Scan(&n) },
		"SELECT n FROM record_stamps WHERE patient_key = ?", string(p))
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return "", wrap("sqlite.RecordStamp", err)
	}
	return strconv.FormatInt(n, 10), nil
}

func (s *Store) AuditNodes(ctx context.Context, ids []carnet.AuditNode) ([][]byte, error) {
	const op = "sqlite.AuditNodes"
	out := make([][]byte, len(ids))
	for i, id := range ids {
		if id.Level < 1 || id.Index > math.MaxInt64 {
			return nil, &carnet.Error{Kind: carnet.KindInvalid, Op: op, Msg: "not an interior node of the log"}
		}
		var hash []byte
		err := s.rc.queryOne(ctx, func(rows *sql.Rows) error { return rows.Scan(&hash) },
			"SELECT hash FROM audit_nodes WHERE level = ? AND idx = ?", int(id.Level), int64(id.Index))
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		if err != nil {
			return nil, wrap(op, err)
		}
		out[i] = hash
	}
	return out, nil
}

func (s *Store) PutAuditNodes(ctx context.Context, nodes []carnet.AuditNode, cover uint64) error {
	const op = "sqlite.PutAuditNodes"
	if cover > math.MaxInt64 {
		return &carnet.Error{Kind: carnet.KindInvalid, Op: op, Msg: "cover out of range"}
	}
	for _, n := range nodes {
		if n.Level < 1 || n.Index > math.MaxInt64 || len(n.Hash) == 0 {
			return &carnet.Error{Kind: carnet.KindInvalid, Op: op, Msg: "not an interior node of the log"}
		}
	}
	err := s.Update(ctx, func(ct carnet.Tx) error {
		t := ct.(*tx)
		return t.step(ctx, op, func(ctx context.Context) error {
			for _, n := range nodes {
				if _, err := t.c.exec(ctx, "INSERT INTO audit_nodes (level, idx, hash) VALUES (?, ?, ?) ON CONFLICT (level, idx) DO NOTHING",
					int(n.Level), int64(n.Index), n.Hash); err != nil {
					return err
				}
			}
			_, err := t.c.exec(ctx, "UPDATE audit_tree SET cover = max(cover, ?) WHERE one = 1", int64(cover))
			return err
		})
	})
	return wrap(op, err)
}

func (s *Store) AuditNodesCover(ctx context.Context) (uint64, error) {
	var cover int64
	err := s.rc.queryOne(ctx, func(rows *sql.Rows) error { return rows.Scan(&cover) },
		"SELECT cover FROM audit_tree WHERE one = 1")
	return uint64(cover), wrap("sqlite.AuditNodesCover", err)
}

// LatestCheckpoint implements carnet.AuditStore.
func (s *Store) LatestCheckpoint(ctx context.Context) (carnet.StoredCheckpoint, error) {
	const op = "sqlite.LatestCheckpoint"
	var (
		cp   carnet.StoredCheckpoint
		size int64
		at   sql.NullInt64
	)
	err := s.rc.queryOne(ctx, func(r *sql.Rows) error { return r.Scan(&size, &cp.Note, &at) },
		"SELECT size, note, time FROM audit_checkpoints ORDER BY size DESC LIMIT 1")
	if errors.Is(err, sql.ErrNoRows) {
		return cp, &carnet.Error{Kind: carnet.KindNotFound, Op: op, Msg: "no checkpoint stored"}
	}
	if err != nil {
		return cp, wrap(op, err)
	}
	cp.Size, cp.Time = uint64(size), goTime(at)
	return cp, nil
}

// AuditLogKey implements carnet.AuditStore.
func (s *Store) AuditLogKey(ctx context.Context) (carnet.AuditLogKey, error) {
	const op = "sqlite.AuditLogKey"
	var k carnet.AuditLogKey
	err := s.rc.queryOne(ctx, func(r *sql.Rows) error { return r.Scan(&k.Verifier, &k.Signer) },
		"SELECT verifier, signer FROM audit_log_key WHERE one = 1")
	if errors.Is(err, sql.ErrNoRows) {
		return k, &carnet.Error{Kind: carnet.KindNotFound, Op: op, Msg: "no audit log key recorded"}
	}
	return k, wrap(op, err)
}

// InitAuditLogKey implements carnet.AuditStore.
func (s *Store) InitAuditLogKey(ctx context.Context, k carnet.AuditLogKey) (carnet.AuditLogKey, error) {
	const op = "sqlite.InitAuditLogKey"
	if k.Verifier == "" {
		return k, &carnet.Error{Kind: carnet.KindInvalid, Op: op, Msg: "no verifier key"}
	}
	err := s.Update(ctx, func(ct carnet.Tx) error {
		t := ct.(*tx)
		return t.step(ctx, op, func(ctx context.Context) error {
			_, err := t.c.exec(ctx, "INSERT INTO audit_log_key (one, verifier, signer) VALUES (1, ?, ?) ON CONFLICT (one) DO NOTHING", k.Verifier, k.Signer)
			return err
		})
	})
	if err != nil {
		return k, wrap(op, err)
	}
	return s.AuditLogKey(ctx)
}

// KeyChanges implements carnet.Store.
func (s *Store) KeyChanges(ctx context.Context, after uint64, limit int) ([]carnet.KeyChange, error) {
	const op = "sqlite.KeyChanges"
	if limit <= 0 {
		return nil, carnet.Errorf(carnet.KindInvalid, "%s: limit must be positive", op)
	}
	rows, err := s.rc.query(ctx, "SELECT seq, patient_key FROM key_changes WHERE seq > ? ORDER BY seq LIMIT ?", int64(min(after, math.MaxInt64)), limit)
	if err != nil {
		return nil, wrap(op, err)
	}
	defer rows.Close()
	var out []carnet.KeyChange
	for rows.Next() {
		var (
			seq int64
			p   string
		)
		if err := rows.Scan(&seq, &p); err != nil {
			return nil, wrap(op, err)
		}
		out = append(out, carnet.KeyChange{Seq: uint64(seq), Patient: carnet.PatientKey(p)})
	}
	return out, wrap(op, rows.Err())
}
