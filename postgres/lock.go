package postgres

import (
	"context"
	"slices"

	"github.com/carnet-sante/carnet"
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
// PostgreSQL aborts one (40P01), which Update runs again.

// recordLockSQL takes a record's lock until the transaction ends. It is
// keyed by the schema, as the audit log's lock is: two deployments in two
// schemas of one database do not wait for each other. Two keys sharing a
// 64-bit hash only wait for each other.
const recordLockSQL = `SELECT pg_advisory_xact_lock(hashtextextended('carnet.record.' || coalesce(current_schema(), '') || '/' || $1, 0))`

// lock takes p's lock, once per transaction. A statement after it sees
// what the record's previous holder committed (READ COMMITTED takes a
// snapshot per statement).
func (t *tx) lock(ctx context.Context, ps ...carnet.PatientKey) error {
	for _, p := range ps {
		if _, ok := t.locked[p]; ok {
			continue
		}
		if _, err := t.q.Exec(ctx, recordLockSQL, string(p)); err != nil {
			return mapError("postgres.lock", err)
		}
		if t.locked == nil {
			t.locked = map[carnet.PatientKey]struct{}{}
		}
		t.locked[p] = struct{}{}
	}
	return nil
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
