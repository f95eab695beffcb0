package postgres

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/carnet-sante/carnet"
	"github.com/jackc/pgx/v5"
)

// reader implements carnet.Reader on a connection or inside a transaction.
//
// Statements are written so that Citus can route each one to a single
// shard: every one names one patient_key, or reads one lookup table by its
// key. Hence two statements, not a join, where a lookup table leads to a
// patient's rows.
type reader struct {
	q querier
}

func (r reader) Patient(ctx context.Context, p carnet.PatientKey) (carnet.PatientRow, error) {
	const op = "postgres.Patient"
	row, err := scanPatient(r.q.QueryRow(ctx, `
		SELECT patient_key, state, version, tokens, sealed, created, updated
		FROM patients WHERE patient_key = $1`, string(p)))
	if errors.Is(err, pgx.ErrNoRows) {
		return carnet.PatientRow{}, notFound(op, "patient")
	}
	return row, mapError(op, err)
}

func (r reader) PatientByToken(ctx context.Context, token string) (carnet.PatientRow, error) {
	const op = "postgres.PatientByToken"
	var p string
	err := r.q.QueryRow(ctx, `SELECT patient_key FROM patient_tokens WHERE token = $1`, []byte(token)).Scan(&p)
	if errors.Is(err, pgx.ErrNoRows) {
		return carnet.PatientRow{}, notFound(op, "patient")
	}
	if err != nil {
		return carnet.PatientRow{}, mapError(op, err)
	}
	row, err := r.Patient(ctx, carnet.PatientKey(p))
	if err != nil {
		return carnet.PatientRow{}, err
	}
	// Outside a transaction the two statements may straddle a commit that
	// moved the token: only answer with a record that holds it.
	if !slices.Contains(row.IdentifierTokens, token) {
		return carnet.PatientRow{}, notFound(op, "patient")
	}
	return row, nil
}

func scanPatient(row pgx.Row) (carnet.PatientRow, error) {
	var (
		p                carnet.PatientRow
		key, state       string
		tokens           [][]byte
		created, updated time.Time
	)
	if err := row.Scan(&key, &state, &p.Version, &tokens, &p.Sealed, &created, &updated); err != nil {
		return carnet.PatientRow{}, err
	}
	p.Key, p.State = carnet.PatientKey(key), carnet.RecordState(state)
	p.IdentifierTokens = stringsOf(tokens)
	p.Created, p.Updated = created.UTC(), updated.UTC()
	p.Sealed = nilIfEmpty(p.Sealed)
	return p, nil
}

func (r reader) DataKeys(ctx context.Context, p carnet.PatientKey) ([]carnet.WrappedKey, error) {
	const op = "postgres.DataKeys"
	rows, err := r.q.Query(ctx, `
		SELECT id, kek_id, wrapped, created FROM data_keys
		WHERE patient_key = $1 ORDER BY created, id`, string(p))
	if err != nil {
		return nil, mapError(op, err)
	}
	keys, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (carnet.WrappedKey, error) {
		var k carnet.WrappedKey
		err := row.Scan(&k.ID, &k.KEKID, &k.Wrapped, &k.Created)
		k.Created = k.Created.UTC()
		return k, err
	})
	return keys, mapError(op, err)
}

func (r reader) Route(ctx context.Context, id string) (carnet.PatientKey, error) {
	const op = "postgres.Route"
	var p string
	err := r.q.QueryRow(ctx, `SELECT patient_key FROM routes WHERE id = $1`, id).Scan(&p)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", notFound(op, "id")
	}
	return carnet.PatientKey(p), mapError(op, err)
}

func (r reader) UniqueIDRecords(ctx context.Context, uniqueID string, limit int) ([]carnet.PatientKey, error) {
	return r.keys(ctx, "postgres.UniqueIDRecords", `SELECT DISTINCT patient_key FROM documents WHERE unique_id = $1 AND latest ORDER BY patient_key LIMIT $2`, uniqueID, limit)
}

func (r reader) SetUniqueIDRecords(ctx context.Context, uniqueID string, limit int) ([]carnet.PatientKey, error) {
	return r.keys(ctx, "postgres.SetUniqueIDRecords", `SELECT DISTINCT patient_key FROM submission_sets WHERE unique_id = $1 ORDER BY patient_key LIMIT $2`, uniqueID, limit)
}

// keys returns the patient keys a query selects.
func (r reader) keys(ctx context.Context, op, q string, args ...any) ([]carnet.PatientKey, error) {
	rows, err := r.q.Query(ctx, q, args...)
	if err != nil {
		return nil, mapError(op, err)
	}
	ps, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (carnet.PatientKey, error) {
		var p string
		err := row.Scan(&p)
		return carnet.PatientKey(p), err
	})
	return ps, mapError(op, err)
}

const documentSelect = `
	SELECT d.patient_key, d.id, d.logical_id, d.unique_id, d.version, d.latest, d.status,
		d.submission_set, d.content_id, d.date, d.created, d.period_start, d.period_end,
		d.tokens, d.sealed, d.filer
	FROM documents d`

// documentSelectUnsealed reads the same columns but the sealed one (NULL).
const documentSelectUnsealed = `
	SELECT d.patient_key, d.id, d.logical_id, d.unique_id, d.version, d.latest, d.status,
		d.submission_set, d.content_id, d.date, d.created, d.period_start, d.period_end,
		d.tokens, NULL::bytea, d.filer
	FROM documents d`

func scanDocument(row pgx.Row) (carnet.DocumentRow, error) {
	var (
		d  carnet.DocumentRow
		ds documentScan
	)
	if err := row.Scan(ds.dest(&d)...); err != nil {
		return carnet.DocumentRow{}, err
	}
	if err := ds.finish(&d); err != nil {
		return carnet.DocumentRow{}, err
	}
	return d, nil
}

// documentScan holds what a document row's columns (documentSelect) are
// scanned into before they become a DocumentRow.
type documentScan struct {
	patient, status                 string
	date                            time.Time
	created, periodStart, periodEnd *time.Time
	tokens                          []byte
}

func (s *documentScan) dest(d *carnet.DocumentRow) []any {
	return []any{&s.patient, &d.ID, &d.LogicalID, &d.UniqueID, &d.Version, &d.Latest, &s.status,
		&d.SubmissionSet, &d.ContentID, &s.date, &s.created, &s.periodStart, &s.periodEnd,
		&s.tokens, &d.Sealed, &d.Filer}
}

func (s *documentScan) finish(d *carnet.DocumentRow) error {
	var err error
	if d.Tokens, err = decodeTokens(s.tokens); err != nil {
		return err
	}
	d.Patient, d.Status = carnet.PatientKey(s.patient), carnet.DocumentStatus(s.status)
	d.Date = s.date.UTC()
	d.Created, d.PeriodStart, d.PeriodEnd = fromNull(s.created), fromNull(s.periodStart), fromNull(s.periodEnd)
	d.Sealed = nilIfEmpty(d.Sealed)
	return nil
}

func (r reader) Document(ctx context.Context, p carnet.PatientKey, id string) (carnet.DocumentRow, error) {
	const op = "postgres.Document"
	d, err := scanDocument(r.q.QueryRow(ctx, documentSelect+`
		WHERE d.patient_key = $1 AND d.id = $2`, string(p), id))
	if errors.Is(err, pgx.ErrNoRows) {
		return carnet.DocumentRow{}, notFound(op, "document")
	}
	return d, mapError(op, err)
}

// documentWhere builds the conditions of f for p's documents. Its usual
// shape (patient, latest, status, newest first) is the prefix of the
// documents_find index; token conditions probe document_tokens.
//
// probe writes the search's own token conditions as per-row probes too
// (OFFSET 0, see cond): FindDocuments asks for it when every token
// condition is common in the record.
func documentWhere(p carnet.PatientKey, f carnet.DocumentFilter, probe bool) *where {
	w := &where{args: []any{string(p)}}
	w.add("d.patient_key = $1")
	if !f.AllVersions {
		w.add("d.latest")
	}
	switch len(f.Statuses) {
	case 0:
	case 1:
		// An equality, not = ANY: the planner then reads documents_find in
		// its order and stops at the page, instead of sorting every match.
		w.add("d.status = " + w.arg(string(f.Statuses[0])))
	default:
		statuses := make([]string, len(f.Statuses))
		for i, s := range f.Statuses {
			statuses[i] = string(s)
		}
		w.add("d.status = ANY(" + w.arg(statuses) + "::text[])")
	}
	if f.LogicalID != "" {
		w.add("d.logical_id = " + w.arg(f.LogicalID))
	}
	if f.SubmissionSet != "" {
		w.add("d.submission_set = " + w.arg(f.SubmissionSet))
	}
	w.within("d.created", f.Created)
	w.within("d.date", f.Date)
	if !f.Period.IsZero() {
		// Overlap of [start, end] with [From, To); an open end of the
		// service period extends it. A document without any service
		// period does not match a period search.
		w.add("(d.period_start IS NOT NULL OR d.period_end IS NOT NULL)")
		if !f.Period.From.IsZero() {
			w.add("(d.period_end IS NULL OR d.period_end >= " + w.arg(f.Period.From) + ")")
		}
		if !f.Period.To.IsZero() {
			w.add("(d.period_start IS NULL OR d.period_start < " + w.arg(f.Period.To) + ")")
		}
	}
	for _, tf := range f.Tokens {
		fence := ""
		if probe {
			fence = " OFFSET 0"
		}
		w.add(`EXISTS (SELECT 1 FROM document_tokens t
			WHERE t.patient_key = d.patient_key AND t.doc_id = d.id
			AND t.kind = ` + w.arg(tf.Kind) + ` AND t.value = ANY(` + w.arg(bytesOf(tf.Values)) + `::bytea[])` + fence + `)`)
	}
	if f.Visible != nil {
		var b strings.Builder
		w.cond(&b, *f.Visible)
		w.add(b.String())
	}
	if f.After != nil {
		// After the last row served, in the order date DESC, id.
		// The first term bounds the index range; the second cuts the tie.
		at := w.arg(f.After.Date)
		w.add("d.date <= " + at)
		w.add("(d.date < " + at + " OR d.id > " + w.arg(f.After.ID) + ")")
	}
	return w
}

// FindDocuments builds one statement from the filter (documentWhere).
func (r reader) FindDocuments(ctx context.Context, p carnet.PatientKey, f carnet.DocumentFilter) ([]carnet.DocumentRow, error) {
	const op = "postgres.FindDocuments"
	probe := false
	if f.Limit > 0 && len(f.Tokens) > 0 {
		var err error
		if probe, err = r.commonTokens(ctx, p, "document_tokens", f.Tokens); err != nil {
			return nil, mapError(op, err)
		}
	}
	w := documentWhere(p, f, probe)
	sel := documentSelect
	if f.WithoutSealed {
		sel = documentSelectUnsealed
	}
	q := sel + w.String() + " ORDER BY d.date DESC, d.id"
	if f.Limit > 0 {
		q += " LIMIT " + w.arg(f.Limit)
	}
	rows, err := r.q.Query(ctx, q, w.args...)
	if err != nil {
		return nil, mapError(op, err)
	}
	docs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (carnet.DocumentRow, error) {
		return scanDocument(row)
	})
	return docs, mapError(op, err)
}

// commonTokenRows is how many of a record's rows a token condition must
// match for a page to be read in date order with per-row probes rather
// than from the condition's matches.
const commonTokenRows = 100

// commonTokens reports whether each token condition of a page's search
// matches at least commonTokenRows rows of p (counted on table's index,
// document_tokens or item_tokens, at most that many each). Left to itself, the planner joins the
// matches of a token condition (a semi-join), reads every one of them with
// the visibility condition, sorts and keeps 20: a page of a type that has
// 969 documents in a 3,000-document record cost 140 ms (EXPLAIN ANALYZE,
// 15,091 buffers), because its estimate of the matches (76) does not know
// the record. A common condition is probed row by row in date order
// instead, which stops at the page (about 20 / selectivity rows); a rare
// one keeps the join, which reads fewer than commonTokenRows matches.
func (r reader) commonTokens(ctx context.Context, p carnet.PatientKey, table string, ts []carnet.TokenFilter) (bool, error) {
	for _, tf := range ts {
		var n int
		err := r.q.QueryRow(ctx, `SELECT count(*) FROM (SELECT 1 FROM `+table+`
			WHERE patient_key = $1 AND kind = $2 AND value = ANY($3::bytea[]) LIMIT $4) s`,
			string(p), tf.Kind, bytesOf(tf.Values), commonTokenRows).Scan(&n)
		if err != nil || n < commonTokenRows {
			return false, err
		}
	}
	return true, nil
}

// cond writes c as one condition on the documents row d.
func (w *where) cond(b *strings.Builder, c carnet.Cond) {
	join := func(op string) {
		b.WriteByte('(')
		for i, a := range c.Args {
			if i > 0 {
				b.WriteString(op)
			}
			w.cond(b, a)
		}
		b.WriteByte(')')
	}
	switch c.Op {
	case carnet.CondTrue:
		b.WriteString("true")
	case carnet.CondAnd:
		if len(c.Args) == 0 {
			b.WriteString("true")
			return
		}
		join(" AND ")
	case carnet.CondOr:
		if len(c.Args) == 0 {
			b.WriteString("false")
			return
		}
		join(" OR ")
	case carnet.CondNot:
		if len(c.Args) != 1 {
			b.WriteString("false")
			return
		}
		b.WriteString("NOT ")
		w.cond(b, c.Args[0])
	case carnet.CondHas:
		if len(c.Values) == 0 {
			b.WriteString("false")
			return
		}
		b.WriteString(`EXISTS (SELECT 1 FROM document_tokens t
			WHERE t.patient_key = d.patient_key AND t.doc_id = d.id
			AND t.kind = ` + w.arg(c.Kind) + ` AND (t.value = ANY(` + w.arg(bytesOf(c.Values)) + `::bytea[])`)
		if c.Suffix {
			// A code in "system|code" form, whatever the system.
			for _, v := range c.Values {
				sfx := []byte("|" + v)
				n := w.arg(len(sfx))
				b.WriteString(" OR (octet_length(t.value) >= " + n + "::int AND substring(t.value from octet_length(t.value) - " + n + "::int + 1) = " + w.arg(sfx) + "::bytea)")
			}
		}
		// OFFSET 0 keeps the probe per row, by document_tokens' primary
		// key. Without it, when the planner expects many rows (a large
		// record), it turns each EXISTS into a "hashed SubPlan": a hash of
		// every token of that kind in the whole store (the correlation on
		// patient_key is lost), built on every search — the cost of a page
		// then grew with the store, not even the record (EXPLAIN ANALYZE,
		// 3,000-document record: 82 ms, 7,190 buffers; after: see
		// docs/PERFORMANCE.md). The visibility condition is rarely
		// selective: the page is read in index order and probing the ~20
		// rows it needs is what costs least.
		b.WriteString(") OFFSET 0)")
	case carnet.CondStatus:
		b.WriteString("d.status = ANY(" + w.arg(c.Values) + "::text[])")
	case carnet.CondLogicalID:
		b.WriteString("d.logical_id = ANY(" + w.arg(c.Values) + "::text[])")
	default: // CondFalse, and what this store does not know: nothing
		b.WriteString("false")
	}
}

func (r reader) Content(ctx context.Context, p carnet.PatientKey, contentID string) ([]byte, error) {
	const op = "postgres.Content"
	var sealed []byte
	err := r.q.QueryRow(ctx, `SELECT sealed FROM contents WHERE patient_key = $1 AND id = $2`,
		string(p), contentID).Scan(&sealed)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notFound(op, "content")
	}
	return nilIfEmpty(sealed), mapError(op, err)
}

const setSelect = `
	SELECT s.patient_key, s.id, s.unique_id, s.date, s.tokens, s.sealed, s.filer
	FROM submission_sets s`

func scanSet(row pgx.Row) (carnet.SubmissionSetRow, error) {
	var (
		s       carnet.SubmissionSetRow
		patient string
		tokens  []byte
		err     error
	)
	if err := row.Scan(&patient, &s.ID, &s.UniqueID, &s.Date, &tokens, &s.Sealed, &s.Filer); err != nil {
		return carnet.SubmissionSetRow{}, err
	}
	if s.Tokens, err = decodeTokens(tokens); err != nil {
		return carnet.SubmissionSetRow{}, err
	}
	s.Patient = carnet.PatientKey(patient)
	s.Date = s.Date.UTC()
	s.Sealed = nilIfEmpty(s.Sealed)
	return s, nil
}

func (r reader) SubmissionSet(ctx context.Context, p carnet.PatientKey, id string) (carnet.SubmissionSetRow, error) {
	const op = "postgres.SubmissionSet"
	s, err := scanSet(r.q.QueryRow(ctx, setSelect+` WHERE s.patient_key = $1 AND s.id = $2`, string(p), id))
	if errors.Is(err, pgx.ErrNoRows) {
		return carnet.SubmissionSetRow{}, notFound(op, "submission set")
	}
	return s, mapError(op, err)
}

func (r reader) SubmissionSetByUniqueID(ctx context.Context, p carnet.PatientKey, filer, uniqueID string) (carnet.SubmissionSetRow, error) {
	const op = "postgres.SubmissionSetByUniqueID"
	s, err := scanSet(r.q.QueryRow(ctx, setSelect+` WHERE s.patient_key = $1 AND s.filer = $3 AND s.unique_id = $2`, string(p), uniqueID, filer))
	if errors.Is(err, pgx.ErrNoRows) {
		return carnet.SubmissionSetRow{}, notFound(op, "submission set")
	}
	return s, mapError(op, err)
}

func (r reader) FindSubmissionSets(ctx context.Context, p carnet.PatientKey, f carnet.SubmissionSetFilter) ([]carnet.SubmissionSetRow, error) {
	const op = "postgres.FindSubmissionSets"
	w := where{args: []any{string(p)}}
	w.add("s.patient_key = $1")
	w.within("s.date", f.Date)
	for _, tf := range f.Tokens {
		w.add(`EXISTS (SELECT 1 FROM set_tokens t
			WHERE t.patient_key = s.patient_key AND t.set_id = s.id
			AND t.kind = ` + w.arg(tf.Kind) + ` AND t.value = ANY(` + w.arg(bytesOf(tf.Values)) + `::bytea[]))`)
	}
	rows, err := r.q.Query(ctx, setSelect+w.String()+" ORDER BY s.date DESC, s.id", w.args...)
	if err != nil {
		return nil, mapError(op, err)
	}
	sets, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (carnet.SubmissionSetRow, error) {
		return scanSet(row)
	})
	return sets, mapError(op, err)
}

// where accumulates the conditions and arguments of a search.
type where struct {
	conds []string
	args  []any
}

func (w *where) add(cond string) { w.conds = append(w.conds, cond) }

// arg adds an argument and returns its placeholder.
func (w *where) arg(v any) string {
	w.args = append(w.args, v)
	return "$" + strconv.Itoa(len(w.args))
}

// within adds "col in [From, To)" for the range's closed ends. A NULL (an
// unknown time) is never within a range.
func (w *where) within(col string, r carnet.TimeRange) {
	if !r.From.IsZero() {
		w.add(col + " >= " + w.arg(r.From))
	}
	if !r.To.IsZero() {
		w.add(col + " < " + w.arg(r.To))
	}
}

func (w *where) String() string {
	return " WHERE " + strings.Join(w.conds, " AND ")
}

// splitTokens returns the kinds and values of ts as parallel arrays, the
// parameters from which a statement fills a *_tokens table.
func splitTokens(ts []carnet.Token) (kinds []string, values [][]byte) {
	kinds, values = make([]string, len(ts)), make([][]byte, len(ts))
	for i, t := range ts {
		kinds[i], values[i] = t.Kind, []byte(t.Value)
	}
	return kinds, values
}

func bytesOf(ss []string) [][]byte {
	bs := make([][]byte, len(ss))
	for i, s := range ss {
		bs[i] = []byte(s)
	}
	return bs
}

func stringsOf(bs [][]byte) []string {
	if len(bs) == 0 {
		return nil
	}
	ss := make([]string, len(bs))
	for i, b := range bs {
		ss[i] = string(b)
	}
	return ss
}

// Zero times are stored as NULL: an unknown creation time, an open end.
func toNull(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func fromNull(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}

// Sealed columns are NOT NULL: nil is stored as empty and read back as nil.
func nilIfEmpty(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

func emptyIfNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}
