package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"strings"

	"github.com/carnet-sante/carnet"
)

// tx is the carnet.Tx handed to an Update's fn. It runs on the writer
// connection, inside the group's transaction (and a savepoint of its own
// when an Update of the group failed and the others run again).
type tx struct {
	reader
	ctx  context.Context // the Update's context
	done bool            // fn has returned: the tx must not be used any more
	// broken is set when a statement left the SQLite transaction in an
	// unknown state (a statement failed midway): the whole batch
	// must then be abandoned.
	broken error
}

var _ carnet.Tx = (*tx)(nil)

var errTxDone = carnet.Errorf(carnet.KindInternal, "transaction used after its Update returned")

// check refuses work on a finished tx or with a canceled context.
func (t *tx) check(ctx context.Context) error {
	if t.done {
		return errTxDone
	}
	if err := t.ctx.Err(); err != nil {
		return err
	}
	return ctx.Err()
}

// errRefused marks the expected failures of a write method (a conflict, a
// missing row), which the method reports having changed nothing.
type errRefused struct{ err error }

func (e errRefused) Error() string { return e.err.Error() }

func refused(err error) error { return errRefused{err} }

// step runs one write method. A method leaves the transaction as it was
// when it is refused (conflict, not found): it checks or writes what can
// conflict first, and undoes its own earlier statements otherwise. Any other
// failure (I/O, a canceled context midway) may leave part of the method
// written, so it breaks the whole batch: nothing of it will commit.
//
// Methods do not use a savepoint each: releasing a nested savepoint costs
// time proportional to everything the Update wrote before it (SQLite walks
// its in-memory sub-journal), which makes large Updates quadratic.
//
// The context is checked once, before the method starts: a method then runs
// to its end, so that a caller going away never breaks the batch it shares
// with others.
func (t *tx) step(ctx context.Context, op string, fn func(ctx context.Context) error) error {
	if err := t.check(ctx); err != nil {
		return wrap(op, err)
	}
	err := fn(context.Background())
	var r errRefused
	switch {
	case err == nil:
		return nil
	case errors.As(err, &r):
		return wrap(op, r.err)
	}
	t.broken = err
	return wrap(op, err)
}

// The reads of a tx also refuse to run once it is finished.
func (t *tx) Patient(ctx context.Context, p carnet.PatientKey) (carnet.PatientRow, error) {
	if err := t.check(ctx); err != nil {
		return carnet.PatientRow{}, wrap("sqlite.Patient", err)
	}
	return t.reader.Patient(ctx, p)
}

func (t *tx) PatientByToken(ctx context.Context, token string) (carnet.PatientRow, error) {
	if err := t.check(ctx); err != nil {
		return carnet.PatientRow{}, wrap("sqlite.PatientByToken", err)
	}
	return t.reader.PatientByToken(ctx, token)
}

func (t *tx) DataKeys(ctx context.Context, p carnet.PatientKey) ([]carnet.WrappedKey, error) {
	if err := t.check(ctx); err != nil {
		return nil, wrap("sqlite.DataKeys", err)
	}
	return t.reader.DataKeys(ctx, p)
}

func (t *tx) Route(ctx context.Context, id string) (carnet.PatientKey, error) {
	if err := t.check(ctx); err != nil {
		return "", wrap("sqlite.Route", err)
	}
	return t.reader.Route(ctx, id)
}

func (t *tx) UniqueIDRecords(ctx context.Context, uniqueID string, limit int) ([]carnet.PatientKey, error) {
	if err := t.check(ctx); err != nil {
		return nil, wrap("sqlite.UniqueIDRecords", err)
	}
	return t.reader.UniqueIDRecords(ctx, uniqueID, limit)
}

func (t *tx) SetUniqueIDRecords(ctx context.Context, uniqueID string, limit int) ([]carnet.PatientKey, error) {
	if err := t.check(ctx); err != nil {
		return nil, wrap("sqlite.SetUniqueIDRecords", err)
	}
	return t.reader.SetUniqueIDRecords(ctx, uniqueID, limit)
}

func (t *tx) Document(ctx context.Context, p carnet.PatientKey, id string) (carnet.DocumentRow, error) {
	if err := t.check(ctx); err != nil {
		return carnet.DocumentRow{}, wrap("sqlite.Document", err)
	}
	return t.reader.Document(ctx, p, id)
}

func (t *tx) FindDocuments(ctx context.Context, p carnet.PatientKey, f carnet.DocumentFilter) ([]carnet.DocumentRow, error) {
	if err := t.check(ctx); err != nil {
		return nil, wrap("sqlite.FindDocuments", err)
	}
	return t.reader.FindDocuments(ctx, p, f)
}

func (t *tx) Content(ctx context.Context, p carnet.PatientKey, contentID string) ([]byte, error) {
	if err := t.check(ctx); err != nil {
		return nil, wrap("sqlite.Content", err)
	}
	return t.reader.Content(ctx, p, contentID)
}

func (t *tx) SubmissionSet(ctx context.Context, p carnet.PatientKey, id string) (carnet.SubmissionSetRow, error) {
	if err := t.check(ctx); err != nil {
		return carnet.SubmissionSetRow{}, wrap("sqlite.SubmissionSet", err)
	}
	return t.reader.SubmissionSet(ctx, p, id)
}

func (t *tx) SubmissionSetByUniqueID(ctx context.Context, p carnet.PatientKey, filer, uniqueID string) (carnet.SubmissionSetRow, error) {
	if err := t.check(ctx); err != nil {
		return carnet.SubmissionSetRow{}, wrap("sqlite.SubmissionSetByUniqueID", err)
	}
	return t.reader.SubmissionSetByUniqueID(ctx, p, filer, uniqueID)
}

func (t *tx) FindSubmissionSets(ctx context.Context, p carnet.PatientKey, f carnet.SubmissionSetFilter) ([]carnet.SubmissionSetRow, error) {
	if err := t.check(ctx); err != nil {
		return nil, wrap("sqlite.FindSubmissionSets", err)
	}
	return t.reader.FindSubmissionSets(ctx, p, f)
}

func (t *tx) PutPatient(ctx context.Context, row carnet.PatientRow) error {
	const op = "sqlite.PutPatient"
	return t.step(ctx, op, func(ctx context.Context) error {
		var (
			version   int
			oldTokens []byte
		)
		err := t.c.queryOne(ctx, func(rows *sql.Rows) error { return rows.Scan(&version, &oldTokens) },
			"SELECT version, identifier_tokens FROM patients WHERE patient_key = ?", string(row.Key))
		if err == nil && row.Version != version+1 {
			return refused(conflict(op, "the patient record was changed concurrently (version mismatch)", nil))
		}
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		// Refuse before writing anything: every token must be free or ours.
		for _, tok := range row.IdentifierTokens {
			var owner string
			err := t.c.queryOne(ctx, func(rows *sql.Rows) error { return rows.Scan(&owner) },
				"SELECT patient_key FROM patient_tokens WHERE token = ?", tok)
			if err == nil && owner != string(row.Key) {
				return refused(conflict(op, "an identifier of this record belongs to another record", nil))
			}
			if err != nil && !errors.Is(err, sql.ErrNoRows) {
				return err
			}
		}
		switch {
		case errors.Is(err, sql.ErrNoRows):
			_, err = t.c.exec(ctx, "INSERT INTO patients ("+patientCols+") VALUES (?, ?, ?, ?, ?, ?, ?)",
				string(row.Key), string(row.State), row.Version, encodeStrings(row.IdentifierTokens),
				nonNil(row.Sealed), dbTime(row.Created), dbTime(row.Updated))
			if err != nil {
				return err
			}
		case err != nil:
			return err
		default:
			_, err = t.c.exec(ctx, `UPDATE patients SET state = ?, version = ?, identifier_tokens = ?, sealed = ?, created = ?, updated = ?
				WHERE patient_key = ?`,
				string(row.State), row.Version, encodeStrings(row.IdentifierTokens), nonNil(row.Sealed),
				dbTime(row.Created), dbTime(row.Updated), string(row.Key))
			if err != nil {
				return err
			}
			old, err := decodeStrings(oldTokens)
			if err != nil {
				return err
			}
			for _, tok := range old {
				if _, err := t.c.exec(ctx, "DELETE FROM patient_tokens WHERE token = ? AND patient_key = ?", tok, string(row.Key)); err != nil {
					return err
				}
			}
		}
		for _, tok := range row.IdentifierTokens {
			if _, err := t.c.exec(ctx, "INSERT INTO patient_tokens (token, patient_key) VALUES (?, ?) ON CONFLICT (token) DO NOTHING",
				tok, string(row.Key)); err != nil {
				return err
			}
		}
		return nil
	})
}

func (t *tx) DropUnusedDataKeys(ctx context.Context, p carnet.PatientKey) (int, error) {
	const op = "sqlite.DropUnusedDataKeys"
	var n int64
	err := t.step(ctx, op, func(ctx context.Context) error {
		res, err := t.c.exec(ctx, "DELETE FROM data_keys WHERE patient_key = ? AND NOT EXISTS (SELECT 1 FROM patients WHERE patient_key = ?)", string(p), string(p))
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return int(n), err
}

func (t *tx) PutDataKey(ctx context.Context, p carnet.PatientKey, k carnet.WrappedKey) error {
	const op = "sqlite.PutDataKey"
	return t.step(ctx, op, func(ctx context.Context) error {
		_, err := t.c.exec(ctx, "INSERT INTO data_keys (patient_key, id, kek_id, wrapped, created) VALUES (?, ?, ?, ?, ?)",
			string(p), k.ID, k.KEKID, nonNil(k.Wrapped), dbTime(k.Created))
		if isDuplicate(err) {
			return refused(conflict(op, "a data key with this id exists", err))
		}
		return err
	})
}

// route claims id for patient p, once the row itself is written; undo
// deletes that row when the id belongs to another patient (ids are unique
// across patients).
func (t *tx) route(ctx context.Context, op string, p carnet.PatientKey, id, kind string, undo string) error {
	_, err := t.c.exec(ctx, "INSERT INTO routes (id, patient_key, kind) VALUES (?, ?, ?)", id, string(p), kind)
	if !isDuplicate(err) {
		return err
	}
	if _, uerr := t.c.exec(ctx, undo, string(p), id); uerr != nil {
		return uerr
	}
	return refused(conflict(op, "the id is already in use", err))
}

// noStatementJournal: why the multi-row INSERTs of a filing say OR FAIL.
// SQLite gives a statement that writes several rows and may abort midway a
// statement journal: every page the statement changes is first copied into
// an in-memory sub-journal (allocations and copies for every page), so that
// an abort undoes that statement alone. Carnet never needs it: a write
// method that fails other than refused breaks the whole batch (step), and a
// refusal is decided before anything is written or by a single-row
// statement, which SQLite never journals. With OR FAIL (and ON CONFLICT DO
// NOTHING where a row may already be there) no constraint can abort the
// statement, and SQLite opens no statement journal for it.

// tokenRowsPerInsert is how many token rows one INSERT writes. A document
// has a few dozen tokens, and one statement per row made their insertion
// the largest part of the writer's work per document (each statement costs
// far more than the row it writes). Chunks of a fixed size keep the number
// of distinct statements cached small (sizes 1 to tokenRowsPerInsert).
const tokenRowsPerInsert = 16

func (t *tx) insertTokens(ctx context.Context, table, idCol string, p carnet.PatientKey, id string, ts []carnet.Token) error {
	owned := make([]ownedToken, len(ts))
	for i, tok := range ts {
		owned[i] = ownedToken{p, id, tok}
	}
	return t.insertOwnedTokens(ctx, table, idCol, owned)
}

// ownedToken is a token row: the token of row id of patient p.
type ownedToken struct {
	p   carnet.PatientKey
	id  string
	tok carnet.Token
}

// insertOwnedTokens writes token rows of one or more rows, in chunks.
func (t *tx) insertOwnedTokens(ctx context.Context, table, idCol string, ts []ownedToken) error {
	args := make([]any, 0, 4*min(len(ts), tokenRowsPerInsert))
	for len(ts) > 0 {
		chunk := ts[:min(len(ts), tokenRowsPerInsert)]
		ts = ts[len(chunk):]
		var q strings.Builder
		q.WriteString("INSERT OR FAIL INTO " + table + " (patient_key, kind, value, " + idCol + ") VALUES ")
		args = args[:0]
		for i, o := range chunk {
			if i > 0 {
				q.WriteByte(',')
			}
			q.WriteString("(?, ?, ?, ?)")
			args = append(args, string(o.p), o.tok.Kind, o.tok.Value, o.id)
		}
		// As with one row at a time, a duplicate token (also within the
		// chunk) is written once. OR FAIL: see noStatementJournal.
		q.WriteString(" ON CONFLICT DO NOTHING")
		if _, err := t.c.exec(ctx, q.String(), args...); err != nil {
			return err
		}
	}
	return nil
}

// uniqueIDConflict names the constraint a document write broke.
func documentConflict(op string, err error) error {
	if strings.Contains(err.Error(), "unique_id") {
		return refused(conflict(op, "a latest document with this uniqueId and filer exists for the patient", err))
	}
	return refused(conflict(op, "the document id is already in use", err))
}

func documentArgs(row carnet.DocumentRow) []any {
	return []any{
		row.LogicalID, row.UniqueID, row.Version, row.Latest, string(row.Status), row.SubmissionSet, row.ContentID,
		dbTime(row.Date), dbTime(row.Created), dbTime(row.PeriodStart), dbTime(row.PeriodEnd),
		encodeTokens(row.Tokens), nonNil(row.Sealed), row.Filer,
	}
}

func (t *tx) InsertDocument(ctx context.Context, row carnet.DocumentRow) error {
	const op = "sqlite.InsertDocument"
	return t.step(ctx, op, func(ctx context.Context) error {
		args := append([]any{string(row.Patient), row.ID}, documentArgs(row)...)
		if _, err := t.c.exec(ctx, "INSERT INTO documents ("+documentCols+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", args...); err != nil {
			if isDuplicate(err) {
				return documentConflict(op, err)
			}
			return err
		}
		if err := t.route(ctx, op, row.Patient, row.ID, "document", "DELETE FROM documents WHERE patient_key = ? AND id = ?"); err != nil {
			return err
		}
		return t.insertTokens(ctx, "document_tokens", "doc_id", row.Patient, row.ID, row.Tokens)
	})
}

func (t *tx) UpdateDocument(ctx context.Context, row carnet.DocumentRow) error {
	const op = "sqlite.UpdateDocument"
	return t.step(ctx, op, func(ctx context.Context) error {
		var old []byte
		err := t.c.queryOne(ctx, func(rows *sql.Rows) error { return rows.Scan(&old) },
			"SELECT tokens FROM documents WHERE patient_key = ? AND id = ?", string(row.Patient), row.ID)
		if errors.Is(err, sql.ErrNoRows) {
			return refused(&carnet.Error{Kind: carnet.KindNotFound, Op: op, Msg: "not found"})
		}
		if err != nil {
			return err
		}
		oldTokens, err := decodeTokens(old)
		if err != nil {
			return err
		}
		args := append(documentArgs(row), string(row.Patient), row.ID)
		_, err = t.c.exec(ctx, `UPDATE documents SET logical_id = ?, unique_id = ?, version = ?, latest = ?, status = ?,
			submission_set = ?, content_id = ?, date = ?, created = ?, period_start = ?, period_end = ?, tokens = ?, sealed = ?,
			filer = ? WHERE patient_key = ? AND id = ?`, args...)
		if err != nil {
			if isDuplicate(err) {
				return documentConflict(op, err)
			}
			return err
		}
		for _, tok := range oldTokens {
			if _, err := t.c.exec(ctx, "DELETE FROM document_tokens WHERE patient_key = ? AND kind = ? AND value = ? AND doc_id = ?",
				string(row.Patient), tok.Kind, tok.Value, row.ID); err != nil {
				return err
			}
		}
		return t.insertTokens(ctx, "document_tokens", "doc_id", row.Patient, row.ID, row.Tokens)
	})
}

func (t *tx) PutContent(ctx context.Context, p carnet.PatientKey, contentID string, sealed []byte) error {
	const op = "sqlite.PutContent"
	return t.step(ctx, op, func(ctx context.Context) error {
		_, err := t.c.exec(ctx, "INSERT INTO contents (patient_key, id, sealed) VALUES (?, ?, ?)", string(p), contentID, nonNil(sealed))
		if isDuplicate(err) {
			return refused(conflict(op, "the content id is already in use", err))
		}
		if err != nil {
			return err
		}
		return t.route(ctx, op, p, contentID, "content", "DELETE FROM contents WHERE patient_key = ? AND id = ?")
	})
}

func (t *tx) InsertSubmissionSet(ctx context.Context, row carnet.SubmissionSetRow) error {
	const op = "sqlite.InsertSubmissionSet"
	return t.step(ctx, op, func(ctx context.Context) error {
		_, err := t.c.exec(ctx, "INSERT INTO submission_sets ("+setCols+") VALUES (?, ?, ?, ?, ?, ?, ?)",
			string(row.Patient), row.ID, row.UniqueID, dbTime(row.Date), encodeTokens(row.Tokens), nonNil(row.Sealed), row.Filer)
		if isDuplicate(err) {
			return refused(conflict(op, "a submission set with this id or uniqueId exists for the patient", err))
		}
		if err != nil {
			return err
		}
		if err := t.route(ctx, op, row.Patient, row.ID, "submissionset", "DELETE FROM submission_sets WHERE patient_key = ? AND id = ?"); err != nil {
			return err
		}
		return t.insertTokens(ctx, "set_tokens", "set_id", row.Patient, row.ID, row.Tokens)
	})
}

func (t *tx) ShredDataKeys(ctx context.Context, p carnet.PatientKey) (int, error) {
	const op = "sqlite.ShredDataKeys"
	var n int64
	err := t.step(ctx, op, func(ctx context.Context) error {
		res, err := t.c.exec(ctx, "DELETE FROM data_keys WHERE patient_key = ?", string(p))
		if err != nil {
			return err
		}
		if n, err = res.RowsAffected(); err != nil {
			return err
		}
		_, err = t.c.exec(ctx, "INSERT INTO key_changes (patient_key) VALUES (?)", string(p))
		return err
	})
	return int(n), err
}

func (t *tx) NoteKeyChange(ctx context.Context, p carnet.PatientKey) error {
	return t.step(ctx, "sqlite.NoteKeyChange", func(ctx context.Context) error {
		_, err := t.c.exec(ctx, "INSERT INTO key_changes (patient_key) VALUES (?)", string(p))
		return err
	})
}
