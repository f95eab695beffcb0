package sqlite

import (
	"context"
	"database/sql"
	"strings"
	"sync"

	"github.com/carnet-sante/carnet"
)

// stmtCache keeps prepared statements by SQL text, up to a bound (dynamic
// searches have many shapes; the common ones get cached first).
type stmtCache struct {
	mu      sync.Mutex
	m       map[string]*sql.Stmt
	prepare func(ctx context.Context, q string) (*sql.Stmt, error)
}

const maxCachedStmts = 512

func newStmtCache(prepare func(ctx context.Context, q string) (*sql.Stmt, error)) *stmtCache {
	return &stmtCache{m: make(map[string]*sql.Stmt), prepare: prepare}
}

func (c *stmtCache) get(q string) (st *sql.Stmt, cached bool, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if st := c.m[q]; st != nil {
		return st, true, nil
	}
	st, err = c.prepare(context.Background(), q)
	if err != nil {
		return nil, false, err
	}
	if len(c.m) >= maxCachedStmts {
		return st, false, nil
	}
	c.m[q] = st
	return st, true, nil
}

func (c *stmtCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for q, st := range c.m {
		st.Close()
		delete(c.m, q)
	}
}

// conn runs statements either on the read pool or on the writer connection.
type conn struct {
	stmts *stmtCache
	// writer is set for the writer connection. Its statements run without
	// the caller's context: SQLite answers an interrupted write by rolling
	// back the whole transaction, which holds other callers' work. The
	// context is checked before each statement instead.
	writer bool
}

type rowsCloser struct {
	*sql.Rows
	st *sql.Stmt // closed with the rows when not cached
}

func (r rowsCloser) Close() error {
	err := r.Rows.Close()
	if r.st != nil {
		r.st.Close()
	}
	return err
}

func (c *conn) query(ctx context.Context, q string, args ...any) (rowsCloser, error) {
	if err := ctx.Err(); err != nil {
		return rowsCloser{}, err
	}
	st, cached, err := c.stmts.get(q)
	if err != nil {
		return rowsCloser{}, err
	}
	if c.writer {
		ctx = context.Background()
	}
	rows, err := st.QueryContext(ctx, args...)
	if err != nil {
		if !cached {
			st.Close()
		}
		return rowsCloser{}, err
	}
	rc := rowsCloser{Rows: rows}
	if !cached {
		rc.st = st
	}
	return rc, nil
}

func (c *conn) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	st, cached, err := c.stmts.get(q)
	if err != nil {
		return nil, err
	}
	if !cached {
		defer st.Close()
	}
	if c.writer {
		ctx = context.Background()
	}
	return st.ExecContext(ctx, args...)
}

// queryOne scans the single row of q into dest, or returns sql.ErrNoRows.
func (c *conn) queryOne(ctx context.Context, scan func(*sql.Rows) error, q string, args ...any) error {
	rows, err := c.query(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return err
		}
		return sql.ErrNoRows
	}
	if err := scan(rows.Rows); err != nil {
		return err
	}
	return rows.Close()
}

// reader implements carnet.Reader over a conn.
type reader struct{ c *conn }

const patientCols = "patient_key, state, version, identifier_tokens, sealed, created, updated"

func scanPatient(rows *sql.Rows, p *carnet.PatientRow) error {
	var (
		key, state       string
		tokens           []byte
		created, updated sql.NullInt64
	)
	if err := rows.Scan(&key, &state, &p.Version, &tokens, &p.Sealed, &created, &updated); err != nil {
		return err
	}
	p.Key, p.State = carnet.PatientKey(key), carnet.RecordState(state)
	p.Created, p.Updated = goTime(created), goTime(updated)
	var err error
	p.IdentifierTokens, err = decodeStrings(tokens)
	return err
}

func (r reader) Patient(ctx context.Context, p carnet.PatientKey) (carnet.PatientRow, error) {
	var row carnet.PatientRow
	err := r.c.queryOne(ctx, func(rows *sql.Rows) error { return scanPatient(rows, &row) },
		"SELECT "+patientCols+" FROM patients WHERE patient_key = ?", string(p))
	return row, wrap("sqlite.Patient", err)
}

func (r reader) PatientByToken(ctx context.Context, token string) (carnet.PatientRow, error) {
	var row carnet.PatientRow
	err := r.c.queryOne(ctx, func(rows *sql.Rows) error { return scanPatient(rows, &row) },
		"SELECT p."+strings.ReplaceAll(patientCols, ", ", ", p.")+
			" FROM patient_tokens t JOIN patients p ON p.patient_key = t.patient_key WHERE t.token = ?", token)
	return row, wrap("sqlite.PatientByToken", err)
}

func (r reader) DataKeys(ctx context.Context, p carnet.PatientKey) ([]carnet.WrappedKey, error) {
	const op = "sqlite.DataKeys"
	rows, err := r.c.query(ctx, "SELECT id, kek_id, wrapped, created FROM data_keys WHERE patient_key = ? ORDER BY created, id", string(p))
	if err != nil {
		return nil, wrap(op, err)
	}
	defer rows.Close()
	var keys []carnet.WrappedKey
	for rows.Next() {
		var (
			k       carnet.WrappedKey
			created sql.NullInt64
		)
		if err := rows.Scan(&k.ID, &k.KEKID, &k.Wrapped, &created); err != nil {
			return nil, wrap(op, err)
		}
		k.Created = goTime(created)
		keys = append(keys, k)
	}
	return keys, wrap(op, rows.Err())
}

func (r reader) UniqueIDRecords(ctx context.Context, uniqueID string, limit int) ([]carnet.PatientKey, error) {
	return r.keys(ctx, "sqlite.UniqueIDRecords", "SELECT DISTINCT patient_key FROM documents INDEXED BY documents_unique_id WHERE unique_id = ? AND latest = 1 ORDER BY patient_key LIMIT ?", uniqueID, limit)
}

func (r reader) SetUniqueIDRecords(ctx context.Context, uniqueID string, limit int) ([]carnet.PatientKey, error) {
	return r.keys(ctx, "sqlite.SetUniqueIDRecords", "SELECT DISTINCT patient_key FROM submission_sets INDEXED BY submission_sets_unique_id WHERE unique_id = ? ORDER BY patient_key LIMIT ?", uniqueID, limit)
}

// keys returns the patient keys a query selects.
func (r reader) keys(ctx context.Context, op, q string, args ...any) ([]carnet.PatientKey, error) {
	rows, err := r.c.query(ctx, q, args...)
	if err != nil {
		return nil, wrap(op, err)
	}
	defer rows.Close()
	var out []carnet.PatientKey
	for rows.Next() {
		var p string
		if err := rows.Scan(&p); err != nil {
			return nil, wrap(op, err)
		}
		out = append(out, carnet.PatientKey(p))
	}
	return out, wrap(op, rows.Err())
}

func (r reader) Route(ctx context.Context, id string) (carnet.PatientKey, error) {
	var p string
	err := r.c.queryOne(ctx, func(rows *sql.Rows) error { return rows.Scan(&p) },
		"SELECT patient_key FROM routes WHERE id = ?", id)
	return carnet.PatientKey(p), wrap("sqlite.Route", err)
}

const documentCols = "patient_key, id, logical_id, unique_id, version, latest, status, submission_set, content_id, date, created, period_start, period_end, tokens, sealed, filer"

// documentColsUnsealed reads the same columns but the sealed one (NULL, scanned as nil).
const documentColsUnsealed = "patient_key, id, logical_id, unique_id, version, latest, status, submission_set, content_id, date, created, period_start, period_end, tokens, NULL, filer"

func scanDocument(rows *sql.Rows, d *carnet.DocumentRow) error {
	var ds documentScan
	if err := rows.Scan(ds.dest(d)...); err != nil {
		return err
	}
	return ds.finish(d)
}

// documentScan holds what a document row's columns (documentCols) are
// scanned into before they become a DocumentRow.
type documentScan struct {
	patient, status             string
	date, created, pstart, pend sql.NullInt64
	// RawBytes: decodeTokens copies what it keeps, so the driver's
	// buffer needs no copy of its own (a search scans hundreds of rows).
	tokens sql.RawBytes
}

func (s *documentScan) dest(d *carnet.DocumentRow) []any {
	return []any{&s.patient, &d.ID, &d.LogicalID, &d.UniqueID, &d.Version, &d.Latest, &s.status,
		&d.SubmissionSet, &d.ContentID, &s.date, &s.created, &s.pstart, &s.pend, &s.tokens, &d.Sealed, &d.Filer}
}

func (s *documentScan) finish(d *carnet.DocumentRow) error {
	d.Patient, d.Status = carnet.PatientKey(s.patient), carnet.DocumentStatus(s.status)
	d.Date, d.Created, d.PeriodStart, d.PeriodEnd = goTime(s.date), goTime(s.created), goTime(s.pstart), goTime(s.pend)
	var err error
	d.Tokens, err = decodeTokens(s.tokens)
	return err
}

func (r reader) Document(ctx context.Context, p carnet.PatientKey, id string) (carnet.DocumentRow, error) {
	var d carnet.DocumentRow
	err := r.c.queryOne(ctx, func(rows *sql.Rows) error { return scanDocument(rows, &d) },
		"SELECT "+documentCols+" FROM documents WHERE patient_key = ? AND id = ?", string(p), id)
	return d, wrap("sqlite.Document", err)
}

// query builds a WHERE clause and its arguments.
type query struct {
	b    strings.Builder
	args []any
	// alias prefixes the documents columns a Cond names ("d." when the
	// documents table is joined under that name).
	alias string
}

func (q *query) add(cond string, args ...any) {
	q.b.WriteString(" AND ")
	q.b.WriteString(cond)
	q.args = append(q.args, args...)
}

// in returns "(?, ?, …)" for n values.
func in(n int) string {
	return "(" + strings.TrimSuffix(strings.Repeat("?, ", n), ", ") + ")"
}

func (q *query) timeRange(col string, r carnet.TimeRange) {
	if r.IsZero() {
		return
	}
	// A row without this time (NULL) is not within any range.
	q.add(col + " IS NOT NULL")
	if !r.From.IsZero() {
		q.add(col+" >= ?", r.From.UnixMicro())
	}
	if !r.To.IsZero() {
		q.add(col+" < ?", r.To.UnixMicro())
	}
}

// tokens adds one condition per filter: a row matches when it has a token
// of the filter's kind among its values, so filters AND and values OR.
func (q *query) tokens(p carnet.PatientKey, idCol, table, rowCol string, fs []carnet.TokenFilter) {
	for _, f := range fs {
		if len(f.Values) == 0 {
			q.add("0") // no value can match
			continue
		}
		args := []any{string(p), f.Kind}
		for _, v := range f.Values {
			args = append(args, v)
		}
		q.add(idCol+" IN (SELECT "+rowCol+" FROM "+table+" WHERE patient_key = ? AND kind = ? AND value IN "+in(len(f.Values))+")", args...)
	}
}

// selectiveTokens reports whether fs holds a filter on a kind that names
// few documents (ids, not codes).
func selectiveTokens(fs []carnet.TokenFilter) bool {
	for _, f := range fs {
		switch f.Kind {
		case carnet.TokContent, carnet.TokIdentifier, carnet.TokRelated:
			return true
		}
	}
	return false
}

// documentWhere writes the WHERE clause of f for p's documents.
// With probe, the search's own token conditions are answered from the
// row's token list (carnet_has) as the page is read in date order,
// instead of from document_tokens (FindDocuments asks for it when each is
// common in the record).
func documentWhere(q *query, p carnet.PatientKey, f carnet.DocumentFilter, probe bool) {
	q.b.WriteString(" WHERE patient_key = ?")
	q.args = append(q.args, string(p))
	if !f.AllVersions {
		q.add("latest = 1")
	}
	if len(f.Statuses) > 0 {
		args := make([]any, len(f.Statuses))
		for i, s := range f.Statuses {
			args[i] = string(s)
		}
		q.add("status IN "+in(len(args)), args...)
	}
	if f.LogicalID != "" {
		q.add("logical_id = ?", f.LogicalID)
	}
	if f.SubmissionSet != "" {
		q.add("submission_set = ?", f.SubmissionSet)
	}
	q.timeRange("date", f.Date)
	q.timeRange("created", f.Created)
	if !f.Period.IsZero() {
		// Overlap of the service period [start, end] with [From, To);
		// a NULL end is open, a document with no period at all never matches.
		q.add("(period_start IS NOT NULL OR period_end IS NOT NULL)")
		if !f.Period.From.IsZero() {
			q.add("(period_end IS NULL OR period_end >= ?)", f.Period.From.UnixMicro())
		}
		if !f.Period.To.IsZero() {
			q.add("(period_start IS NULL OR period_start < ?)", f.Period.To.UnixMicro())
		}
	}
	if probe {
		for _, tf := range f.Tokens {
			q.add(hasFunc+"(tokens, ?, ?, 0)", tf.Kind, encodeStrings(tf.Values))
		}
	} else {
		q.tokens(p, "id", "document_tokens", "doc_id", f.Tokens)
	}
	if f.Visible != nil {
		q.cond(*f.Visible)
	}
	if f.After != nil {
		// After the last row served, in the order date DESC, id.
		// The first term bounds the index range; the second cuts the tie.
		at := f.After.Date.UnixMicro()
		q.add("date <= ?", at)
		q.add("(date < ? OR id > ?)", at, f.After.ID)
	}
}

func (r reader) FindDocuments(ctx context.Context, p carnet.PatientKey, f carnet.DocumentFilter) ([]carnet.DocumentRow, error) {
	const op = "sqlite.FindDocuments"
	var q query
	cols := documentCols
	if f.WithoutSealed {
		cols = documentColsUnsealed
	}
	q.b.WriteString("SELECT " + cols + " FROM documents")
	probe := false
	if selectiveTokens(f.Tokens) {
		// A content id, an identifier or a relation names a document or
		// two: find them by key from their tokens. Without statistics the
		// planner would walk the record in date order (for ORDER BY) and
		// probe every row: a retrieve would cost what the record holds.
		q.b.WriteString(" INDEXED BY sqlite_autoindex_documents_1")
	} else if f.Limit > 0 && len(f.Tokens) > 0 {
		var err error
		if probe, err = r.commonTokens(ctx, p, "document_tokens", f.Tokens); err != nil {
			return nil, wrap(op, err)
		}
	}
	documentWhere(&q, p, f, probe)
	q.b.WriteString(" ORDER BY date DESC, id")
	if f.Limit > 0 {
		q.b.WriteString(" LIMIT ?")
		q.args = append(q.args, f.Limit)
	}

	rows, err := r.c.query(ctx, q.b.String(), q.args...)
	if err != nil {
		return nil, wrap(op, err)
	}
	defer rows.Close()
	var out []carnet.DocumentRow
	for rows.Next() {
		var d carnet.DocumentRow
		if err := scanDocument(rows.Rows, &d); err != nil {
			return nil, wrap(op, err)
		}
		out = append(out, d)
	}
	return out, wrap(op, rows.Err())
}

// commonTokenRows is how many of a record's rows a token condition must
// match for a page to test it on each row read in date order (carnet_has)
// rather than gather its matches first.
const commonTokenRows = 100

// commonTokens reports whether each token condition of a page's search
// matches at least commonTokenRows rows of p (counted on table's key,
// document_tokens or item_tokens, at most that many each). "id IN (SELECT doc_id …)" builds the set of
// every match before the page is read: 969 ids for a type of a
// 3,000-document record, for a page of 20. A common condition is tested on
// the rows the page reads instead (about 20 / selectivity of them); a rare
// one keeps the set, which is small.
func (r reader) commonTokens(ctx context.Context, p carnet.PatientKey, table string, fs []carnet.TokenFilter) (bool, error) {
	for _, f := range fs {
		if len(f.Values) == 0 {
			return false, nil
		}
		args := []any{string(p), f.Kind}
		for _, v := range f.Values {
			args = append(args, v)
		}
		args = append(args, commonTokenRows)
		var n int
		err := r.c.queryOne(ctx, func(rows *sql.Rows) error { return rows.Scan(&n) },
			"SELECT count(*) FROM (SELECT 1 FROM "+table+" WHERE patient_key = ? AND kind = ? AND value IN "+in(len(f.Values))+" LIMIT ?)", args...)
		if err != nil || n < commonTokenRows {
			return false, err
		}
	}
	return true, nil
}

func (r reader) Content(ctx context.Context, p carnet.PatientKey, contentID string) ([]byte, error) {
	var b []byte
	err := r.c.queryOne(ctx, func(rows *sql.Rows) error { return rows.Scan(&b) },
		"SELECT sealed FROM contents WHERE patient_key = ? AND id = ?", string(p), contentID)
	return b, wrap("sqlite.Content", err)
}

const setCols = "patient_key, id, unique_id, date, tokens, sealed, filer"

func scanSet(rows *sql.Rows, s *carnet.SubmissionSetRow) error {
	var (
		patient string
		date    sql.NullInt64
		tokens  []byte
	)
	if err := rows.Scan(&patient, &s.ID, &s.UniqueID, &date, &tokens, &s.Sealed, &s.Filer); err != nil {
		return err
	}
	s.Patient, s.Date = carnet.PatientKey(patient), goTime(date)
	var err error
	s.Tokens, err = decodeTokens(tokens)
	return err
}

func (r reader) SubmissionSet(ctx context.Context, p carnet.PatientKey, id string) (carnet.SubmissionSetRow, error) {
	var s carnet.SubmissionSetRow
	err := r.c.queryOne(ctx, func(rows *sql.Rows) error { return scanSet(rows, &s) },
		"SELECT "+setCols+" FROM submission_sets WHERE patient_key = ? AND id = ?", string(p), id)
	return s, wrap("sqlite.SubmissionSet", err)
}

func (r reader) SubmissionSetByUniqueID(ctx context.Context, p carnet.PatientKey, filer, uniqueID string) (carnet.SubmissionSetRow, error) {
	var s carnet.SubmissionSetRow
	err := r.c.queryOne(ctx, func(rows *sql.Rows) error { return scanSet(rows, &s) },
		"SELECT "+setCols+" FROM submission_sets WHERE patient_key = ? AND filer = ? AND unique_id = ?", string(p), filer, uniqueID)
	return s, wrap("sqlite.SubmissionSetByUniqueID", err)
}

func (r reader) FindSubmissionSets(ctx context.Context, p carnet.PatientKey, f carnet.SubmissionSetFilter) ([]carnet.SubmissionSetRow, error) {
	const op = "sqlite.FindSubmissionSets"
	var q query
	q.b.WriteString("SELECT " + setCols + " FROM submission_sets WHERE patient_key = ?")
	q.args = append(q.args, string(p))
	q.timeRange("date", f.Date)
	q.tokens(p, "id", "set_tokens", "set_id", f.Tokens)
	q.b.WriteString(" ORDER BY date DESC, id")

	rows, err := r.c.query(ctx, q.b.String(), q.args...)
	if err != nil {
		return nil, wrap(op, err)
	}
	defer rows.Close()
	var out []carnet.SubmissionSetRow
	for rows.Next() {
		var s carnet.SubmissionSetRow
		if err := scanSet(rows.Rows, &s); err != nil {
			return nil, wrap(op, err)
		}
		out = append(out, s)
	}
	return out, wrap(op, rows.Err())
}
