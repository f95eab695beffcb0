package postgres

import (
	"context"
	"errors"
	"slices"

	"github.com/carnet-sante/carnet"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// tx is a carnet.Tx: the reader on the transaction, plus the writes.
//
// A PostgreSQL error aborts the whole transaction, whereas a caller may well
// expect to go on after a KindConflict (read the row it collided with, say).
// So expected conflicts never raise an error in the database: inserts use
// ON CONFLICT DO NOTHING and count what they wrote, and when one insert of a
// pair went in and the other did not, the first is deleted again. The
// transaction stays usable, without savepoints (which cost a
// subtransaction each, a known scaling hazard).
type tx struct {
	reader
	// fresh are the documents this transaction created (first version,
	// logical id = id, inserted here): nothing of theirs can be indexed
	// yet, so PutTerms writes their postings without reading any first
	// (one statement less per document, and no predicate lock on
	// doc_terms' index pages for that read).
	fresh map[string]bool
	// locked are the records whose lock the transaction holds or is to
	// send with its next statement (tq.pending; lock.go).
	locked map[carnet.PatientKey]struct{}
	tq     *txQuerier
}

// freshKey names a document in tx.fresh.
func freshKey(p carnet.PatientKey, logicalID string) string { return string(p) + "\x00" + logicalID }

func (t *tx) PutPatient(ctx context.Context, row carnet.PatientRow) error {
	const op = "postgres.PutPatient"
	key := string(row.Key)
	if err := t.lock(ctx, row.Key); err != nil {
		return err
	}

	// The record's lock (t.lock) keeps out every other Update; the row
	// lock also covers a writer outside Update, and the version read here
	// is the last committed one.
	var (
		exists   = true
		version  int
		oldBytes [][]byte
	)
	err := t.q.QueryRow(ctx, `SELECT version, tokens FROM patients WHERE patient_key = $1 FOR UPDATE`,
		key).Scan(&version, &oldBytes)
	old := stringsOf(oldBytes)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		exists = false
	case err != nil:
		return mapError(op, err)
	case row.Version != version+1:
		return conflict(op, "the record changed since it was read")
	}

	// Bind the new identifier tokens first: an insert that skips a token
	// already bound (waiting for its binder to commit) tells us the token is
	// taken, without aborting the transaction.
	var added, removed []string
	for _, tok := range row.IdentifierTokens {
		if !slices.Contains(old, tok) && !slices.Contains(added, tok) {
			added = append(added, tok)
		}
	}
	for _, tok := range old {
		if !slices.Contains(row.IdentifierTokens, tok) {
			removed = append(removed, tok)
		}
	}
	var bound [][]byte
	unbind := func() error {
		if len(bound) == 0 {
			return nil
		}
		_, err := t.q.Exec(ctx, `DELETE FROM patient_tokens WHERE token = ANY($1::bytea[]) AND patient_key = $2`, bound, key)
		return err
	}
	if len(added) > 0 {
		rows, err := t.q.Query(ctx, `
			INSERT INTO patient_tokens (token, patient_key) SELECT unnest($1::bytea[]), $2
			ON CONFLICT DO NOTHING RETURNING token`, bytesOf(added), key)
		if err != nil {
			return mapError(op, err)
		}
		if bound, err = pgx.CollectRows(rows, pgx.RowTo[[]byte]); err != nil {
			return mapError(op, err)
		}
		if len(bound) < len(added) {
			var taken bool
			err := t.q.QueryRow(ctx, `
				SELECT EXISTS (SELECT 1 FROM patient_tokens WHERE token = ANY($1::bytea[]) AND patient_key <> $2)`,
				bytesOf(added), key).Scan(&taken)
			if err != nil {
				return mapError(op, err)
			}
			if taken {
				if err := unbind(); err != nil {
					return mapError(op, err)
				}
				return conflict(op, "an identifier is already bound to another record")
			}
		}
	}

	tokens := bytesOf(row.IdentifierTokens)
	if exists {
		_, err = t.q.Exec(ctx, `
			UPDATE patients SET state = $2, version = $3, tokens = $4, sealed = $5, created = $6, updated = $7
			WHERE patient_key = $1`,
			key, string(row.State), row.Version, tokens, emptyIfNil(row.Sealed), row.Created, row.Updated)
		if err != nil {
			return mapError(op, err)
		}
	} else {
		tag, err := t.q.Exec(ctx, `
			INSERT INTO patients (patient_key, state, version, tokens, sealed, created, updated)
			VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING`,
			key, string(row.State), row.Version, tokens, emptyIfNil(row.Sealed), row.Created, row.Updated)
		if err != nil {
			return mapError(op, err)
		}
		if tag.RowsAffected() == 0 {
			// Created by another transaction since our read.
			if err := unbind(); err != nil {
				return mapError(op, err)
			}
			return conflict(op, "the record changed since it was read")
		}
	}
	if len(removed) > 0 {
		_, err := t.q.Exec(ctx, `DELETE FROM patient_tokens WHERE token = ANY($1::bytea[]) AND patient_key = $2`, bytesOf(removed), key)
		if err != nil {
			return mapError(op, err)
		}
	}
	return nil
}

func (t *tx) DropUnusedDataKeys(ctx context.Context, p carnet.PatientKey) (int, error) {
	const op = "postgres.DropUnusedDataKeys"
	if err := t.lock(ctx, p); err != nil {
		return 0, err
	}
	tag, err := t.q.Exec(ctx, `DELETE FROM data_keys WHERE patient_key = $1 AND NOT EXISTS (SELECT 1 FROM patients WHERE patient_key = $1)`, string(p))
	if err != nil {
		return 0, mapError(op, err)
	}
	return int(tag.RowsAffected()), nil
}

func (t *tx) PutDataKey(ctx context.Context, p carnet.PatientKey, k carnet.WrappedKey) error {
	const op = "postgres.PutDataKey"
	if err := t.lock(ctx, p); err != nil {
		return err
	}
	tag, err := t.q.Exec(ctx, `
		INSERT INTO data_keys (patient_key, id, kek_id, wrapped, created) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT DO NOTHING`,
		string(p), k.ID, k.KEKID, emptyIfNil(k.Wrapped), k.Created)
	if err != nil {
		return mapError(op, err)
	}
	if tag.RowsAffected() == 0 {
		return conflict(op, "a data key with this id exists")
	}
	return nil
}

// insertRouted inserts a row (and its tokens, in the same statement) and the
// route of its id, in one round trip. The insert statement returns how
// many rows it wrote. If either insert was skipped, the other is undone.
func (t *tx) insertRouted(ctx context.Context, op string, p carnet.PatientKey, id, kind string,
	insert string, args []any, undo string, msg string) error {
	if err := t.lock(ctx, p); err != nil {
		return err
	}
	var b pgx.Batch
	var wrote, routed int64
	b.Queue(insert, args...).QueryRow(func(row pgx.Row) error { return row.Scan(&wrote) })
	b.Queue(`INSERT INTO routes (id, patient_key, kind) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`,
		id, string(p), kind).Exec(func(tag pgconn.CommandTag) error {
		routed = tag.RowsAffected()
		return nil
	})
	if err := t.q.SendBatch(ctx, &b).Close(); err != nil {
		return mapError(op, err)
	}
	switch {
	case wrote == 1 && routed == 1:
		return nil
	case wrote == 1:
		// The id belongs to another patient, or to another kind of object.
		if _, err := t.q.Exec(ctx, undo, string(p), id); err != nil {
			return mapError(op, err)
		}
	case routed == 1:
		if _, err := t.q.Exec(ctx, `DELETE FROM routes WHERE id = $1 AND patient_key = $2`, id, string(p)); err != nil {
			return mapError(op, err)
		}
	}
	return conflict(op, msg)
}

func (t *tx) InsertDocument(ctx context.Context, row carnet.DocumentRow) error {
	if err := t.insertDocument(ctx, row); err != nil {
		return err
	}
	if row.Version == 1 && row.LogicalID == row.ID {
		if t.fresh == nil {
			t.fresh = map[string]bool{}
		}
		t.fresh[freshKey(row.Patient, row.LogicalID)] = true
	}
	return nil
}

func (t *tx) insertDocument(ctx context.Context, row carnet.DocumentRow) error {
	kinds, values := splitTokens(row.Tokens)
	return t.insertRouted(ctx, "postgres.InsertDocument", row.Patient, row.ID, "document", `
		WITH d AS (
			INSERT INTO documents (patient_key, id, logical_id, unique_id, version, latest, status,
				submission_set, content_id, date, created, period_start, period_end, tokens, sealed, filer)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $18)
			ON CONFLICT DO NOTHING
			RETURNING patient_key, id
		), tk AS (
			INSERT INTO document_tokens (patient_key, doc_id, kind, value)
			SELECT DISTINCT d.patient_key, d.id, x.kind, x.value
			FROM d, unnest($16::text[], $17::bytea[]) AS x(kind, value)
		)
		SELECT count(*) FROM d`,
		[]any{string(row.Patient), row.ID, row.LogicalID, row.UniqueID, row.Version, row.Latest,
			string(row.Status), row.SubmissionSet, row.ContentID, row.Date, toNull(row.Created),
			toNull(row.PeriodStart), toNull(row.PeriodEnd), encodeTokens(row.Tokens), emptyIfNil(row.Sealed),
			kinds, values, row.Filer},
		`WITH d AS (DELETE FROM documents WHERE patient_key = $1 AND id = $2)
		DELETE FROM document_tokens WHERE patient_key = $1 AND doc_id = $2`,
		"a document with this id, or a latest document with this uniqueId, exists")
}

func (t *tx) UpdateDocument(ctx context.Context, row carnet.DocumentRow) error {
	const op = "postgres.UpdateDocument"
	p := string(row.Patient)
	if err := t.lock(ctx, row.Patient); err != nil {
		return err
	}
	if row.Latest {
		// Checked first, so that the usual conflict leaves the transaction
		// usable; a concurrent writer can still make the UPDATE fail on the
		// unique index, which is a conflict too.
		var taken bool
		err := t.q.QueryRow(ctx, `
			SELECT EXISTS (SELECT 1 FROM documents WHERE patient_key = $1 AND filer = $4 AND unique_id = $2 AND latest AND id <> $3)`,
			p, row.UniqueID, row.ID, row.Filer).Scan(&taken)
		if err != nil {
			return mapError(op, err)
		}
		if taken {
			return conflict(op, "another latest document has this uniqueId")
		}
	}
	kinds, values := splitTokens(row.Tokens)
	var b pgx.Batch
	var n int64
	// Unknown id: the DELETE finds nothing, and the INSERT only follows an
	// UPDATE that found the row.
	b.Queue(`DELETE FROM document_tokens WHERE patient_key = $1 AND doc_id = $2`, p, row.ID)
	b.Queue(`
		WITH d AS (
			UPDATE documents SET logical_id = $3, unique_id = $4, version = $5, latest = $6, status = $7,
				submission_set = $8, content_id = $9, date = $10, created = $11, period_start = $12,
				period_end = $13, tokens = $14, sealed = $15, filer = $18
			WHERE patient_key = $1 AND id = $2
			RETURNING patient_key, id
		), tk AS (
			INSERT INTO document_tokens (patient_key, doc_id, kind, value)
			SELECT DISTINCT d.patient_key, d.id, x.kind, x.value
			FROM d, unnest($16::text[], $17::bytea[]) AS x(kind, value)
		)
		SELECT count(*) FROM d`,
		p, row.ID, row.LogicalID, row.UniqueID, row.Version, row.Latest, string(row.Status),
		row.SubmissionSet, row.ContentID, row.Date, toNull(row.Created), toNull(row.PeriodStart),
		toNull(row.PeriodEnd), encodeTokens(row.Tokens), emptyIfNil(row.Sealed), kinds, values, row.Filer,
	).QueryRow(func(r pgx.Row) error { return r.Scan(&n) })
	if err := t.q.SendBatch(ctx, &b).Close(); err != nil {
		return mapError(op, err)
	}
	if n == 0 {
		return notFound(op, "document")
	}
	return nil
}

func (t *tx) PutContent(ctx context.Context, p carnet.PatientKey, contentID string, sealed []byte) error {
	return t.insertRouted(ctx, "postgres.PutContent", p, contentID, "content", `
		WITH c AS (
			INSERT INTO contents (patient_key, id, sealed) VALUES ($1, $2, $3)
			ON CONFLICT DO NOTHING RETURNING 1
		)
		SELECT count(*) FROM c`,
		[]any{string(p), contentID, emptyIfNil(sealed)},
		`DELETE FROM contents WHERE patient_key = $1 AND id = $2`,
		"a content with this id exists")
}

func (t *tx) InsertSubmissionSet(ctx context.Context, row carnet.SubmissionSetRow) error {
	kinds, values := splitTokens(row.Tokens)
	return t.insertRouted(ctx, "postgres.InsertSubmissionSet", row.Patient, row.ID, "submissionset", `
		WITH s AS (
			INSERT INTO submission_sets (patient_key, id, unique_id, date, tokens, sealed, filer)
			VALUES ($1, $2, $3, $4, $5, $6, $9)
			ON CONFLICT DO NOTHING
			RETURNING patient_key, id
		), tk AS (
			INSERT INTO set_tokens (patient_key, set_id, kind, value)
			SELECT DISTINCT s.patient_key, s.id, x.kind, x.value
			FROM s, unnest($7::text[], $8::bytea[]) AS x(kind, value)
		)
		SELECT count(*) FROM s`,
		[]any{string(row.Patient), row.ID, row.UniqueID, row.Date, encodeTokens(row.Tokens),
			emptyIfNil(row.Sealed), kinds, values, row.Filer},
		`WITH s AS (DELETE FROM submission_sets WHERE patient_key = $1 AND id = $2)
		DELETE FROM set_tokens WHERE patient_key = $1 AND set_id = $2`,
		"a submission set with this id or uniqueId exists")
}

func (t *tx) ShredDataKeys(ctx context.Context, p carnet.PatientKey) (int, error) {
	const op = "postgres.ShredDataKeys"
	if err := t.lock(ctx, p); err != nil {
		return 0, err
	}
	tag, err := t.q.Exec(ctx, `DELETE FROM data_keys WHERE patient_key = $1`, string(p))
	if err != nil {
		return 0, mapError(op, err)
	}
	if err := t.NoteKeyChange(ctx, p); err != nil {
		return 0, err
	}
	return int(tag.RowsAffected()), nil
}

// NoteKeyChange locks key_changes until the transaction ends, so that
// sequence numbers are committed in order (KeyChanges readers go on from
// the last one they saw); plain reads of the table do not wait.
func (t *tx) NoteKeyChange(ctx context.Context, p carnet.PatientKey) error {
	const op = "postgres.NoteKeyChange"
	if err := t.lock(ctx, p); err != nil {
		return err
	}
	if _, err := t.q.Exec(ctx, `LOCK TABLE key_changes IN EXCLUSIVE MODE`); err != nil {
		return mapError(op, err)
	}
	_, err := t.q.Exec(ctx, `INSERT INTO key_changes (patient_key) VALUES ($1)`, string(p))
	return mapError(op, err)
}
