package postgres

import (
	"context"
	"math"
	"slices"

	"github.com/carnet-sante/carnet"
	"github.com/jackc/pgx/v5"
)

// The full-text index: doc_terms (a document's term frequencies, read by
// patient and token) and doc_lengths (one row per indexed document).

func invalid(op, msg string) error {
	return &carnet.Error{Kind: carnet.KindInvalid, Op: op, Msg: msg}
}

// checkTerms refuses what the index cannot hold (tf and len are integer
// columns), before anything is sent.
func checkTerms(op, logicalID string, length int, tf map[string]int) error {
	switch {
	case logicalID == "":
		return invalid(op, "empty logical id")
	case length < 0:
		return invalid(op, "negative document length")
	case length > math.MaxInt32:
		return invalid(op, "document length out of range")
	}
	for tok, n := range tf {
		switch {
		case tok == "":
			return invalid(op, "empty term token")
		case n < 1:
			return invalid(op, "term frequency below 1")
		case n > math.MaxInt32:
			return invalid(op, "term frequency out of range")
		}
	}
	return nil
}

// PutTerms writes only the difference with what is indexed: each posting
// written dirties an index page of its own (postings are ordered by
// token), so a document indexed again unchanged, the usual case for a new
// version of its metadata, costs reads only. The difference is computed
// here rather than in SQL, where the plan of an anti-join against a
// parameter array depends on statistics a fresh table lacks.
func (t *tx) PutTerms(ctx context.Context, p carnet.PatientKey, logicalID string, length int, tf map[string]int) error {
	const op = "postgres.PutTerms"
	if err := checkTerms(op, logicalID, length, tf); err != nil {
		return err
	}
	if err := t.lock(ctx, p); err != nil {
		return err
	}
	// Only the first indexing of a fresh document skips the read: a second
	// one in the same transaction replaces what the first wrote.
	fresh := t.fresh[freshKey(p, logicalID)]
	delete(t.fresh, freshKey(p, logicalID))
	old := make(map[string]int)
	if !fresh {
		rows, err := t.q.Query(ctx, `SELECT token, tf FROM doc_terms WHERE patient_key = $1 AND logical_id = $2`,
			string(p), logicalID)
		if err != nil {
			return mapError(op, err)
		}
		var (
			token []byte
			n     int
		)
		_, err = pgx.ForEachRow(rows, []any{&token, &n}, func() error {
			old[string(token)] = n
			return nil
		})
		if err != nil {
			return mapError(op, err)
		}
	}
	var gone, added, retold []string // retold: indexed with another tf
	for tok := range old {
		if _, ok := tf[tok]; !ok {
			gone = append(gone, tok)
		}
	}
	for tok, n := range tf {
		switch m, ok := old[tok]; {
		case !ok:
			added = append(added, tok)
		case m != n:
			retold = append(retold, tok)
		}
	}

	// One round trip for the writes. Each joins its array with the table,
	// so that no plan compares every row with every element. Plain INSERT
	// and UPDATE rather than an upsert, whose speculative insertion costs
	// more per row.
	var b pgx.Batch
	if len(gone) > 0 {
		b.Queue(`DELETE FROM doc_terms d USING unnest($3::bytea[]) AS x(token)
			WHERE d.patient_key = $1 AND d.logical_id = $2 AND d.token = x.token`,
			string(p), logicalID, bytesOf(gone))
	}
	if len(added) > 0 {
		// In key order: each row lands next to the previous one's page.
		slices.Sort(added)
		values, counts := termArrays(added, tf)
		b.Queue(`INSERT INTO doc_terms (patient_key, token, logical_id, tf)
			SELECT $1, x.token, $2, x.tf FROM unnest($3::bytea[], $4::integer[]) AS x(token, tf)`,
			string(p), logicalID, values, counts)
	}
	if len(retold) > 0 {
		values, counts := termArrays(retold, tf)
		b.Queue(`UPDATE doc_terms d SET tf = x.tf FROM unnest($3::bytea[], $4::integer[]) AS x(token, tf)
			WHERE d.patient_key = $1 AND d.logical_id = $2 AND d.token = x.token`,
			string(p), logicalID, values, counts)
	}
	if fresh {
		// A new document: a plain insert (an upsert's probe would read).
		b.Queue(`INSERT INTO doc_lengths (patient_key, logical_id, len) VALUES ($1, $2, $3)`,
			string(p), logicalID, length)
	} else {
		b.Queue(`INSERT INTO doc_lengths (patient_key, logical_id, len) VALUES ($1, $2, $3)
			ON CONFLICT (patient_key, logical_id) DO UPDATE SET len = excluded.len WHERE doc_lengths.len <> excluded.len`,
			string(p), logicalID, length)
	}
	return mapError(op, t.q.SendBatch(ctx, &b).Close())
}

// termArrays returns tokens and their tf as the parallel arrays a
// statement takes.
func termArrays(tokens []string, tf map[string]int) (values [][]byte, counts []int32) {
	values, counts = make([][]byte, len(tokens)), make([]int32, len(tokens))
	for i, tok := range tokens {
		values[i], counts[i] = []byte(tok), int32(tf[tok])
	}
	return values, counts
}

func (t *tx) DeleteTerms(ctx context.Context, p carnet.PatientKey, logicalID string) error {
	const op = "postgres.DeleteTerms"
	if logicalID == "" {
		return invalid(op, "empty logical id")
	}
	if err := t.lock(ctx, p); err != nil {
		return err
	}
	_, err := t.q.Exec(ctx, `
		WITH t AS (DELETE FROM doc_terms WHERE patient_key = $1 AND logical_id = $2)
		DELETE FROM doc_lengths WHERE patient_key = $1 AND logical_id = $2`, string(p), logicalID)
	return mapError(op, err)
}

func (r reader) TermPostings(ctx context.Context, p carnet.PatientKey, tokens []string) ([]carnet.Posting, error) {
	const op = "postgres.TermPostings"
	if len(tokens) == 0 {
		return nil, nil
	}
	rows, err := r.q.Query(ctx, `
		SELECT t.token, t.logical_id, t.tf, l.len
		FROM doc_terms t JOIN doc_lengths l ON l.patient_key = t.patient_key AND l.logical_id = t.logical_id
		WHERE t.patient_key = $1 AND l.patient_key = $1 AND t.token = ANY($2::bytea[])`,
		string(p), bytesOf(tokens))
	if err != nil {
		return nil, mapError(op, err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (carnet.Posting, error) {
		var (
			ps    carnet.Posting
			token []byte
		)
		err := row.Scan(&token, &ps.LogicalID, &ps.TF, &ps.Len)
		ps.Token = string(token)
		return ps, err
	})
	return out, mapError(op, err)
}

func (r reader) TermStats(ctx context.Context, p carnet.PatientKey) (docs int, totalLen int64, err error) {
	err = r.q.QueryRow(ctx, `SELECT count(*), coalesce(sum(len), 0) FROM doc_lengths WHERE patient_key = $1`,
		string(p)).Scan(&docs, &totalLen)
	if err != nil {
		return 0, 0, mapError("postgres.TermStats", err)
	}
	return docs, totalLen, nil
}

func (s *Store) TermPostings(ctx context.Context, p carnet.PatientKey, tokens []string) (out []carnet.Posting, err error) {
	err = s.withReader(ctx, "postgres.TermPostings", func(r reader) (err error) {
		out, err = r.TermPostings(ctx, p, tokens)
		return err
	})
	return out, err
}

func (s *Store) TermStats(ctx context.Context, p carnet.PatientKey) (docs int, totalLen int64, err error) {
	err = s.withReader(ctx, "postgres.TermStats", func(r reader) (err error) {
		docs, totalLen, err = r.TermStats(ctx, p)
		return err
	})
	return docs, totalLen, err
}
