package postgres

import (
	"context"
	"slices"

	"github.com/carnet-sante/carnet"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Update's transactions are isolated by record, with locks rather than
// SERIALIZABLE's predicate locks: a transaction takes the lock of a record
// the first time it reads or writes any of that record's rows, and keeps it
// until it ends (two-phase locking, by record). It runs READ COMMITTED, so
// each statement after the lock sees every change committed before it: the
// transactions touching one record run one after the other, as if serial,
// and those touching different records neither wait for nor abort each
// other (with SERIALIZABLE, about one filing in two was rolled back and run
// again, its predicate locks on shared index pages making unrelated records
// look dependent: docs/POSTGRES.md). What spans records is kept by unique
// indexes (ids and their routes, identifier tokens, uniqueIds), written
// with ON CONFLICT so that a collision is seen without an error, and by the
// locks of the audit log and of key_changes.
//
// Two transactions taking two records' locks in opposite orders deadlock:
// PostgreSQL aborts one (40P01), which Update runs again. Each lock holds a
// slot of the server's lock table until the transaction ends: a transaction
// is meant to touch a few records, not thousands.

// recordLockSQL takes a record's lock until the transaction ends. It is
// keyed by the schema, as the audit log's lock is: two deployments in two
// schemas of one database do not wait for each other. Two keys sharing a
// 64-bit hash only wait for each other.
const recordLockSQL = `SELECT pg_advisory_xact_lock(hashtextextended('carnet.record.' || coalesce(current_schema(), '') || '/' || $1, 0))`

// lock takes p's lock, once per transaction: it is sent with the next
// statement, in the same round trip (txQuerier), and a statement after it
// sees what the record's previous holder committed (READ COMMITTED takes a
// snapshot per statement, and the statements of a pipeline run in order).
func (t *tx) lock(ctx context.Context, ps ...carnet.PatientKey) error {
	for _, p := range ps {
		if _, ok := t.locked[p]; ok {
			continue
		}
		if t.locked == nil {
			t.locked = map[carnet.PatientKey]struct{}{}
		}
		t.locked[p] = struct{}{}
		t.tq.pending = append(t.tq.pending, string(p))
	}
	return nil
}

// txQuerier is a transaction's querier: it sends the record locks taken
// and not yet sent before the next statement, in one pipeline with it.
type txQuerier struct {
	q       querier
	pending []string // record keys whose lock is still to be sent
}

// withLocks returns a batch of the pending locks, then b's statements,
// and forgets the locks (they are sent now).
func (tq *txQuerier) withLocks(b *pgx.Batch) *pgx.Batch {
	var nb pgx.Batch
	for _, p := range tq.pending {
		nb.Queue(recordLockSQL, p)
	}
	tq.pending = nil
	if b != nil {
		nb.QueuedQueries = append(nb.QueuedQueries, b.QueuedQueries...)
	}
	return &nb
}

func (tq *txQuerier) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	if len(tq.pending) == 0 {
		return tq.q.Exec(ctx, sql, args...)
	}
	var (
		b   pgx.Batch
		tag pgconn.CommandTag
	)
	b.Queue(sql, args...).Exec(func(t pgconn.CommandTag) error {
		tag = t
		return nil
	})
	err := tq.q.SendBatch(ctx, tq.withLocks(&b)).Close()
	return tag, err
}

// Query sends the pending locks first, in a round trip of their own: the
// rows of a query are read as they come, which a batch does not allow.
func (tq *txQuerier) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	if len(tq.pending) > 0 {
		if err := tq.q.SendBatch(ctx, tq.withLocks(nil)).Close(); err != nil {
			return nil, err
		}
	}
	return tq.q.Query(ctx, sql, args...)
}

func (tq *txQuerier) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	if len(tq.pending) == 0 {
		return tq.q.QueryRow(ctx, sql, args...)
	}
	return lockedRow{tq: tq, ctx: ctx, sql: sql, args: args}
}

func (tq *txQuerier) SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults {
	if len(tq.pending) == 0 {
		return tq.q.SendBatch(ctx, b)
	}
	return tq.q.SendBatch(ctx, tq.withLocks(b))
}

// lockedRow is a one-row query sent with the pending locks when scanned.
type lockedRow struct {
	tq   *txQuerier
	ctx  context.Context
	sql  string
	args []any
}

func (r lockedRow) Scan(dest ...any) error {
	if len(r.tq.pending) == 0 { // sent meanwhile by another statement
		return r.tq.q.QueryRow(r.ctx, r.sql, r.args...).Scan(dest...)
	}
	// The scan's error (pgx.ErrNoRows, the usual answer of some queries)
	// is kept out of the batch's: pgx forgets the batch's prepared
	// statements on any error the batch returns.
	var (
		b       pgx.Batch
		scanErr error
	)
	b.Queue(r.sql, r.args...).QueryRow(func(row pgx.Row) error {
		scanErr = row.Scan(dest...)
		return nil
	})
	if err := r.tq.q.SendBatch(r.ctx, r.tq.withLocks(&b)).Close(); err != nil {
		return err
	}
	return scanErr
}

// The reads of a transaction lock the record they read first.

func (t *tx) Patient(ctx context.Context, p carnet.PatientKey) (carnet.PatientRow, error) {
	if err := t.lock(ctx, p); err != nil {
		return carnet.PatientRow{}, err
	}
	return t.reader.Patient(ctx, p)
}

// PatientByToken locks the record the token names, then reads it again:
// the token may have moved before the lock was taken.
func (t *tx) PatientByToken(ctx context.Context, token string) (carnet.PatientRow, error) {
	for {
		row, err := t.reader.PatientByToken(ctx, token)
		if err != nil {
			return carnet.PatientRow{}, err
		}
		if _, ok := t.locked[row.Key]; ok {
			return row, nil
		}
		if err := t.lock(ctx, row.Key); err != nil {
			return carnet.PatientRow{}, err
		}
	}
}

func (t *tx) DataKeys(ctx context.Context, p carnet.PatientKey) ([]carnet.WrappedKey, error) {
	if err := t.lock(ctx, p); err != nil {
		return nil, err
	}
	return t.reader.DataKeys(ctx, p)
}

func (t *tx) Document(ctx context.Context, p carnet.PatientKey, id string) (carnet.DocumentRow, error) {
	if err := t.lock(ctx, p); err != nil {
		return carnet.DocumentRow{}, err
	}
	return t.reader.Document(ctx, p, id)
}

func (t *tx) FindDocuments(ctx context.Context, p carnet.PatientKey, f carnet.DocumentFilter) ([]carnet.DocumentRow, error) {
	if err := t.lock(ctx, p); err != nil {
		return nil, err
	}
	return t.reader.FindDocuments(ctx, p, f)
}

func (t *tx) Content(ctx context.Context, p carnet.PatientKey, contentID string) ([]byte, error) {
	if err := t.lock(ctx, p); err != nil {
		return nil, err
	}
	return t.reader.Content(ctx, p, contentID)
}

func (t *tx) SubmissionSet(ctx context.Context, p carnet.PatientKey, id string) (carnet.SubmissionSetRow, error) {
	if err := t.lock(ctx, p); err != nil {
		return carnet.SubmissionSetRow{}, err
	}
	return t.reader.SubmissionSet(ctx, p, id)
}

func (t *tx) SubmissionSetByUniqueID(ctx context.Context, p carnet.PatientKey, filer, uniqueID string) (carnet.SubmissionSetRow, error) {
	if err := t.lock(ctx, p); err != nil {
		return carnet.SubmissionSetRow{}, err
	}
	return t.reader.SubmissionSetByUniqueID(ctx, p, filer, uniqueID)
}

func (t *tx) FindSubmissionSets(ctx context.Context, p carnet.PatientKey, f carnet.SubmissionSetFilter) ([]carnet.SubmissionSetRow, error) {
	if err := t.lock(ctx, p); err != nil {
		return nil, err
	}
	return t.reader.FindSubmissionSets(ctx, p, f)
}

func (t *tx) FindItems(ctx context.Context, p carnet.PatientKey, f carnet.ItemFilter) ([]carnet.ItemRow, error) {
	if err := t.lock(ctx, p); err != nil {
		return nil, err
	}
	return t.reader.FindItems(ctx, p, f)
}

func (t *tx) Notifications(ctx context.Context, p carnet.PatientKey, f carnet.NotificationFilter) ([]carnet.NotificationRow, error) {
	if err := t.lock(ctx, p); err != nil {
		return nil, err
	}
	return t.reader.Notifications(ctx, p, f)
}

func (t *tx) TermPostings(ctx context.Context, p carnet.PatientKey, tokens []string) ([]carnet.Posting, error) {
	if err := t.lock(ctx, p); err != nil {
		return nil, err
	}
	return t.reader.TermPostings(ctx, p, tokens)
}

func (t *tx) TermStats(ctx context.Context, p carnet.PatientKey) (int, int64, error) {
	if err := t.lock(ctx, p); err != nil {
		return 0, 0, err
	}
	return t.reader.TermStats(ctx, p)
}

// patientsOf returns the distinct records of rows, sorted (one order for
// every transaction, against deadlocks between two such calls).
func patientsOf[R any](rows []R, key func(R) carnet.PatientKey) []carnet.PatientKey {
	var ps []carnet.PatientKey
	for _, r := range rows {
		if p := key(r); !slices.Contains(ps, p) {
			ps = append(ps, p)
		}
	}
	slices.Sort(ps)
	return ps
}
