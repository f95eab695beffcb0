package sqlite

import (
	"context"
	"database/sql"
	"slices"
	"strconv"
	"strings"

	"github.com/carnet-sante/carnet"
)

// The full-text index: doc_terms (a document's term frequencies, read by
// patient and token) and doc_lengths (one row per indexed document).

// checkTerms refuses what the index cannot hold, before anything is written.
func checkTerms(op, logicalID string, length int, tf map[string]int) error {
	switch {
	case logicalID == "":
		return &carnet.Error{Kind: carnet.KindInvalid, Op: op, Msg: "empty logical id"}
	case length < 0:
		return &carnet.Error{Kind: carnet.KindInvalid, Op: op, Msg: "negative document length"}
	}
	for tok, n := range tf {
		if tok == "" {
			return &carnet.Error{Kind: carnet.KindInvalid, Op: op, Msg: "empty term token"}
		}
		if n < 1 {
			return &carnet.Error{Kind: carnet.KindInvalid, Op: op, Msg: "term frequency below 1"}
		}
	}
	return nil
}

// deleteTermsSQL removes a document's postings. Without statistics (no
// ANALYZE is run) SQLite prefers the primary key's patient prefix, a scan of
// every posting of the patient, to doc_terms_doc: the index is named.
const deleteTermsSQL = "DELETE FROM doc_terms INDEXED BY doc_terms_doc WHERE patient_key = ? AND logical_id = ?"

// termRowsPerStmt is the most postings one statement writes or deletes. A
// document holds up to a few thousand distinct terms, and a statement costs
// far more than the row it writes. Each statement takes the largest power
// of two that fits, so that few distinct statements are ever prepared.
const termRowsPerStmt = 256

// upsertTermsSQL writes n postings, new or not, with the same parameters
// as insertTermsSQL.
func upsertTermsSQL(n int) string {
	return strings.Replace(insertTermsSQL(n), "ON CONFLICT DO NOTHING",
		"ON CONFLICT (patient_key, token, logical_id) DO UPDATE SET tf = excluded.tf", 1)
}

// insertTermsSQL writes n new postings. The patient (?1) and the document
// (?2) are bound once; posting i takes its token and tf from ?(2i+3),
// ?(2i+4). The postings are new (PutTerms read what the document had), so
// a conflict can only be a posting repeated by inChunks' padding, which
// DO NOTHING writes once. OR FAIL: see noStatementJournal.
func insertTermsSQL(n int) string {
	var b strings.Builder
	b.WriteString("INSERT OR FAIL INTO doc_terms (patient_key, token, logical_id, tf) VALUES ")
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString("(?1, ?")
		b.WriteString(strconv.Itoa(2*i + 3))
		b.WriteString(", ?2, ?")
		b.WriteString(strconv.Itoa(2*i + 4))
		b.WriteByte(')')
	}
	b.WriteString(" ON CONFLICT DO NOTHING")
	return b.String()
}

// deleteTokensSQL deletes n postings of document ?2 by their full key.
func deleteTokensSQL(n int) string {
	return "DELETE FROM doc_terms WHERE patient_key = ? AND logical_id = ? AND token IN " + in(n)
}

// inChunks calls fn on consecutive chunks of items of at most
// termRowsPerStmt, each padded to a power of two by repeating its last item
// (a statement per distinct size is prepared; writing or deleting a posting
// twice in one statement does what doing it once does), so that a document
// of 57 terms is one statement of 64 rows, not four of 32, 16, 8 and 1.
func inChunks(items []string, fn func(chunk []string) error) error {
	var padded []string
	for len(items) > 0 {
		chunk := items[:min(len(items), termRowsPerStmt)]
		items = items[len(chunk):]
		n := 1
		for n < len(chunk) {
			n *= 2
		}
		padded = append(padded[:0], chunk...)
		for len(padded) < n {
			padded = append(padded, chunk[len(chunk)-1])
		}
		if err := fn(padded); err != nil {
			return err
		}
	}
	return nil
}

// PutTerms writes only the difference with what is indexed: each posting
// written dirties a page of its own (postings are ordered by token), so a
// document indexed again unchanged, the usual case for a new version of
// its metadata, costs reads only.
func (t *tx) PutTerms(ctx context.Context, p carnet.PatientKey, logicalID string, length int, tf map[string]int) error {
	const op = "sqlite.PutTerms"
	if err := checkTerms(op, logicalID, length, tf); err != nil {
		return err
	}
	return t.step(ctx, op, func(ctx context.Context) error {
		old, err := t.indexedTerms(ctx, p, logicalID)
		if err != nil {
			return err
		}
		var gone, added, changed []string
		for tok := range old {
			if _, ok := tf[tok]; !ok {
				gone = append(gone, tok)
			}
		}
		for tok, n := range tf {
			switch was, ok := old[tok]; {
			case !ok:
				added = append(added, tok)
			case was != n:
				changed = append(changed, tok)
			}
		}
		// In key order: each statement's rows are neighbours.
		slices.Sort(gone)
		slices.Sort(added)
		slices.Sort(changed)
		args := make([]any, 0, 2+2*termRowsPerStmt)
		err = inChunks(gone, func(chunk []string) error {
			args = append(args[:0], string(p), logicalID)
			for _, tok := range chunk {
				args = append(args, tok)
			}
			_, err := t.c.exec(ctx, deleteTokensSQL(len(chunk)), args...)
			return err
		})
		if err != nil {
			return err
		}
		err = inChunks(added, func(chunk []string) error {
			args = append(args[:0], string(p), logicalID)
			for _, tok := range chunk {
				args = append(args, tok, tf[tok])
			}
			_, err := t.c.exec(ctx, insertTermsSQL(len(chunk)), args...)
			return err
		})
		if err != nil {
			return err
		}
		// Frequencies that changed (a document indexed again with another
		// text): an upsert, which SQLite journals, only on this rarer path.
		err = inChunks(changed, func(chunk []string) error {
			args = append(args[:0], string(p), logicalID)
			for _, tok := range chunk {
				args = append(args, tok, tf[tok])
			}
			_, err := t.c.exec(ctx, upsertTermsSQL(len(chunk)), args...)
			return err
		})
		if err != nil {
			return err
		}
		_, err = t.c.exec(ctx, `INSERT INTO doc_lengths (patient_key, logical_id, len) VALUES (?, ?, ?)
			ON CONFLICT (patient_key, logical_id) DO UPDATE SET len = excluded.len WHERE len <> excluded.len`,
			string(p), logicalID, length)
		return err
	})
}

// indexedTerms reads what is indexed for a document, from doc_terms_doc
// alone (it holds the tf).
func (t *tx) indexedTerms(ctx context.Context, p carnet.PatientKey, logicalID string) (map[string]int, error) {
	rows, err := t.c.query(ctx, "SELECT token, tf FROM doc_terms INDEXED BY doc_terms_doc WHERE patient_key = ? AND logical_id = ?",
		string(p), logicalID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	old := make(map[string]int)
	for rows.Next() {
		var (
			tok string
			n   int
		)
		if err := rows.Scan(&tok, &n); err != nil {
			return nil, err
		}
		old[tok] = n
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return old, rows.Close()
}

func (t *tx) DeleteTerms(ctx context.Context, p carnet.PatientKey, logicalID string) error {
	const op = "sqlite.DeleteTerms"
	if logicalID == "" {
		return &carnet.Error{Kind: carnet.KindInvalid, Op: op, Msg: "empty logical id"}
	}
	return t.step(ctx, op, func(ctx context.Context) error {
		if _, err := t.c.exec(ctx, deleteTermsSQL, string(p), logicalID); err != nil {
			return err
		}
		_, err := t.c.exec(ctx, "DELETE FROM doc_lengths WHERE patient_key = ? AND logical_id = ?",
			string(p), logicalID)
		return err
	})
}

// termTokensPerQuery bounds the tokens one query names (SQLite takes at
// most 32,766 parameters); a search names a handful.
const termTokensPerQuery = 4096

func (r reader) TermPostings(ctx context.Context, p carnet.PatientKey, tokens []string) ([]carnet.Posting, error) {
	const op = "sqlite.TermPostings"
	// Distinct tokens, so that chunks never return a posting twice.
	tokens = slices.Compact(slices.Sorted(slices.Values(tokens)))
	var out []carnet.Posting
	for len(tokens) > 0 {
		chunk := tokens[:min(len(tokens), termTokensPerQuery)]
		tokens = tokens[len(chunk):]
		// The IN list is padded to a power of two with the last token, so
		// that few distinct statements get prepared.
		n := 1
		for n < len(chunk) {
			n *= 2
		}
		args := make([]any, 0, 1+n)
		args = append(args, string(p))
		for i := range n {
			args = append(args, chunk[min(i, len(chunk)-1)])
		}
		rows, err := r.c.query(ctx, `SELECT t.token, t.logical_id, t.tf, l.len
			FROM doc_terms t JOIN doc_lengths l ON l.patient_key = t.patient_key AND l.logical_id = t.logical_id
			WHERE t.patient_key = ? AND t.token IN `+in(n), args...)
		if err != nil {
			return nil, wrap(op, err)
		}
		for rows.Next() {
			var ps carnet.Posting
			if err := rows.Scan(&ps.Token, &ps.LogicalID, &ps.TF, &ps.Len); err != nil {
				rows.Close()
				return nil, wrap(op, err)
			}
			out = append(out, ps)
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, wrap(op, err)
		}
	}
	return out, nil
}

func (r reader) TermStats(ctx context.Context, p carnet.PatientKey) (docs int, totalLen int64, err error) {
	err = r.c.queryOne(ctx, func(rows *sql.Rows) error { return rows.Scan(&docs, &totalLen) },
		"SELECT count(*), coalesce(sum(len), 0) FROM doc_lengths WHERE patient_key = ?", string(p))
	if err != nil {
		return 0, 0, wrap("sqlite.TermStats", err)
	}
	return docs, totalLen, nil
}

func (t *tx) TermPostings(ctx context.Context, p carnet.PatientKey, tokens []string) ([]carnet.Posting, error) {
	if err := t.check(ctx); err != nil {
		return nil, wrap("sqlite.TermPostings", err)
	}
	return t.reader.TermPostings(ctx, p, tokens)
}

func (t *tx) TermStats(ctx context.Context, p carnet.PatientKey) (int, int64, error) {
	if err := t.check(ctx); err != nil {
		return 0, 0, wrap("sqlite.TermStats", err)
	}
	return t.reader.TermStats(ctx, p)
}
