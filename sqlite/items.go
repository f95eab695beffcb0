package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"github.com/carnet-sante/carnet/internal/itemparts"
	"slices"
	"strings"

	"github.com/carnet-sante/carnet"
)

// Extracted items (IHE QEDm): table items, searched through item_tokens,
// their ids in routes with kind "item".

const itemCols = "patient_key, id, kind, source_logical_id, effective, tokens, sealed"

func scanItem(rows *sql.Rows, it *carnet.ItemRow) error {
	var (
		patient, kind string
		effective     sql.NullInt64
		tokens        []byte
	)
	if err := rows.Scan(&patient, &it.ID, &kind, &it.SourceLogicalID, &effective, &tokens, &it.Sealed); err != nil {
		return err
	}
	it.Patient, it.Kind, it.Effective = carnet.PatientKey(patient), carnet.ItemKind(kind), goTime(effective)
	var err error
	it.Tokens, err = decodeTokens(tokens)
	return err
}

func (r reader) FindItems(ctx context.Context, p carnet.PatientKey, f carnet.ItemFilter) ([]carnet.ItemRow, error) {
	const op = "sqlite.FindItems"
	probe := false
	if f.Limit > 0 && len(f.Tokens) > 0 && len(f.Sources) == 0 {
		var err error
		if probe, err = r.commonTokens(ctx, p, "item_tokens", f.Tokens); err != nil {
			return nil, wrap(op, err)
		}
	}
	return itemparts.Read(f, func(part itemparts.Part, limit int) ([]carnet.ItemRow, error) {
		return r.findItems(ctx, p, f, part, probe, limit)
	})
}

// findItems reads one part of f's items. With f.Visible, each item is
// joined to its source document's latest row, probed by
// documents_logical_id for each item read in order (CROSS JOIN keeps items
// the outer loop): a page reads its items and their documents, and stops.
func (r reader) findItems(ctx context.Context, p carnet.PatientKey, f carnet.ItemFilter, part itemparts.Part, probe bool, limit int) ([]carnet.ItemRow, error) {
	const op = "sqlite.FindItems"
	q := query{alias: "d."}
	cols := "i.patient_key, i.id, i.kind, i.source_logical_id, i.effective, i.tokens, i.sealed"
	if f.WithoutSealed {
		cols = strings.Replace(cols, "i.sealed", "NULL", 1)
	}
	from := "items AS i"
	if len(f.Sources) > 0 {
		// The items of a few documents: without the hint the planner walks
		// items_find for its order, reading every item of the record (the
		// web's pastille view opens 20 documents, each with its results).
		from = "items AS i INDEXED BY items_source"
	}
	if f.Visible != nil {
		cols += ", d." + strings.ReplaceAll(documentColsUnsealed, ", ", ", d.")
		cols = strings.Replace(cols, "d.NULL", "NULL", 1)
		from += " CROSS JOIN documents AS d INDEXED BY documents_logical_id"
	}
	q.b.WriteString("SELECT " + cols + " FROM " + from + " WHERE i.patient_key = ?")
	q.args = append(q.args, string(p))
	if f.Visible != nil {
		q.add("d.patient_key = i.patient_key AND d.logical_id = i.source_logical_id AND d.latest = 1 AND d.status IN (?, ?)",
			string(carnet.StatusCurrent), string(carnet.StatusArchived))
		q.cond(*f.Visible)
	}
	if len(f.Kinds) > 0 {
		args := make([]any, len(f.Kinds))
		for i, k := range f.Kinds {
			args[i] = string(k)
		}
		q.add("i.kind IN "+in(len(args)), args...)
	}
	if len(f.Sources) > 0 {
		args := make([]any, len(f.Sources))
		for i, s := range f.Sources {
			args[i] = s
		}
		q.add("i.source_logical_id IN "+in(len(args)), args...)
	}
	q.timeRange("i.effective", f.Effective)
	if probe {
		// Common tokens (a category of most results) are tested on each
		// item read in order, as for documents (commonTokens).
		for _, tf := range f.Tokens {
			q.add(hasFunc+"(i.tokens, ?, ?, 0)", tf.Kind, encodeStrings(tf.Values))
		}
	} else {
		q.tokens(p, "i.id", "item_tokens", "item_id", f.Tokens)
	}
	// NULL sorts lowest in SQLite: unknown times come last in DESC order.
	order := " ORDER BY i.effective DESC, i.id"
	switch part {
	case itemparts.Dated:
		q.add("i.effective IS NOT NULL")
		if f.Chronological {
			order = " ORDER BY i.effective, i.id DESC"
		}
		if f.After != nil {
			// The first term bounds the index range; the second cuts the tie.
			at := f.After.Effective.UnixMicro()
			if f.Chronological {
				q.add("i.effective >= ?", at)
				q.add("(i.effective > ? OR i.id < ?)", at, f.After.ID)
			} else {
				q.add("i.effective <= ?", at)
				q.add("(i.effective < ? OR i.id > ?)", at, f.After.ID)
			}
		}
	case itemparts.Undated:
		q.add("i.effective IS NULL")
		order = " ORDER BY i.id"
		if f.After != nil && f.After.Effective.IsZero() {
			q.add("i.id > ?", f.After.ID)
		}
	}
	q.b.WriteString(order)
	if limit > 0 {
		q.b.WriteString(" LIMIT ?")
		q.args = append(q.args, limit)
	}

	rows, err := r.c.query(ctx, q.b.String(), q.args...)
	if err != nil {
		return nil, wrap(op, err)
	}
	defer rows.Close()
	var out []carnet.ItemRow
	for rows.Next() {
		var (
			it  carnet.ItemRow
			err error
		)
		if f.Visible != nil {
			it.Source = new(carnet.DocumentRow)
			err = scanItemSource(rows.Rows, &it)
		} else {
			err = scanItem(rows.Rows, &it)
		}
		if err != nil {
			return nil, wrap(op, err)
		}
		out = append(out, it)
	}
	return out, wrap(op, rows.Err())
}

// scanItemSource scans an item joined to its source document's row.
func scanItemSource(rows *sql.Rows, it *carnet.ItemRow) error {
	var (
		patient, kind string
		effective     sql.NullInt64
		tokens        sql.RawBytes
		ds            documentScan
	)
	dest := append([]any{&patient, &it.ID, &kind, &it.SourceLogicalID, &effective, &tokens, &it.Sealed}, ds.dest(it.Source)...)
	if err := rows.Scan(dest...); err != nil {
		return err
	}
	it.Patient, it.Kind, it.Effective = carnet.PatientKey(patient), carnet.ItemKind(kind), goTime(effective)
	var err error
	if it.Tokens, err = decodeTokens(tokens); err != nil {
		return err
	}
	return ds.finish(it.Source)
}

func (t *tx) FindItems(ctx context.Context, p carnet.PatientKey, f carnet.ItemFilter) ([]carnet.ItemRow, error) {
	if err := t.check(ctx); err != nil {
		return nil, wrap("sqlite.FindItems", err)
	}
	return t.reader.FindItems(ctx, p, f)
}

func (t *tx) InsertItems(ctx context.Context, rows []carnet.ItemRow) error {
	const op = "sqlite.InsertItems"
	return t.step(ctx, op, func(ctx context.Context) error {
		// Refuse before writing anything, so that a conflict leaves nothing
		// of the call (the writer is alone: nobody can take an id between
		// this check and the inserts). A filing inserts its items in a
		// few statements, whatever their number: each statement costs the
		// single writer far more than the rows it writes.
		seen := make(map[string]bool, len(rows))
		for _, row := range rows {
			if seen[row.ID] {
				return refused(conflict(op, "an item id appears twice", nil))
			}
			seen[row.ID] = true
		}
		for chunk := range slices.Chunk(rows, itemRowsPerInsert) {
			args := make([]any, 0, 7*len(chunk))
			for _, row := range chunk {
				args = append(args, row.ID)
			}
			var taken bool
			err := t.c.queryOne(ctx, func(r *sql.Rows) error { taken = true; return nil },
				"SELECT 1 FROM routes WHERE id IN "+in(len(chunk))+" LIMIT 1", args...)
			if err == nil && taken {
				// As before: an id in use anywhere is a conflict.
				return refused(conflict(op, "the item id is already in use", nil))
			}
			if !errors.Is(err, sql.ErrNoRows) {
				return err
			}
		}
		for chunk := range slices.Chunk(rows, itemRowsPerInsert) {
			// The check above rules a conflict out: any error breaks the batch.
			items := make([]any, 0, 7*len(chunk))
			routes := make([]any, 0, 2*len(chunk))
			for _, row := range chunk {
				items = append(items, string(row.Patient), row.ID, string(row.Kind), row.SourceLogicalID, dbTime(row.Effective),
					encodeTokens(row.Tokens), nonNil(row.Sealed))
				routes = append(routes, row.ID, string(row.Patient))
			}
			// OR FAIL: see noStatementJournal.
			if _, err := t.c.exec(ctx, "INSERT OR FAIL INTO items ("+itemCols+") VALUES "+valueRows(len(chunk), 7), items...); err != nil {
				return err
			}
			if _, err := t.c.exec(ctx, "INSERT OR FAIL INTO routes (id, patient_key, kind) VALUES "+
				strings.TrimSuffix(strings.Repeat("(?, ?, 'item'), ", len(chunk)), ", "), routes...); err != nil {
				return err
			}
		}
		var toks []ownedToken
		for _, row := range rows {
			for _, tok := range row.Tokens {
				toks = append(toks, ownedToken{row.Patient, row.ID, tok})
			}
		}
		return t.insertOwnedTokens(ctx, "item_tokens", "item_id", toks)
	})
}

// itemRowsPerInsert bounds the items one statement writes (7 parameters
// each; SQLite takes 32,766).
const itemRowsPerInsert = 64

// valueRows is n rows of k placeholders, for a multi-row INSERT.
func valueRows(n, k int) string {
	row := "(" + strings.TrimSuffix(strings.Repeat("?, ", k), ", ") + ")"
	return strings.TrimSuffix(strings.Repeat(row+", ", n), ", ")
}

func (t *tx) DeleteItems(ctx context.Context, p carnet.PatientKey, source string) (int, error) {
	const op = "sqlite.DeleteItems"
	var n int
	err := t.step(ctx, op, func(ctx context.Context) error {
		type victim struct {
			id     string
			tokens []carnet.Token
		}
		var victims []victim
		rows, err := t.c.query(ctx, "SELECT id, tokens FROM items WHERE patient_key = ? AND source_logical_id = ?",
			string(p), source)
		if err != nil {
			return err
		}
		for rows.Next() {
			var (
				v   victim
				enc []byte
			)
			if err := rows.Scan(&v.id, &enc); err != nil {
				rows.Close()
				return err
			}
			if v.tokens, err = decodeTokens(enc); err != nil {
				rows.Close()
				return err
			}
			victims = append(victims, v)
		}
		if err := rows.Err(); err != nil {
			rows.Close()
			return err
		}
		if err := rows.Close(); err != nil {
			return err
		}
		// Tokens by full key, as for documents: item_tokens has no other index.
		for _, v := range victims {
			for _, tok := range v.tokens {
				if _, err := t.c.exec(ctx, "DELETE FROM item_tokens WHERE patient_key = ? AND kind = ? AND value = ? AND item_id = ?",
					string(p), tok.Kind, tok.Value, v.id); err != nil {
					return err
				}
			}
			if _, err := t.c.exec(ctx, "DELETE FROM routes WHERE id = ? AND patient_key = ?", v.id, string(p)); err != nil {
				return err
			}
			if _, err := t.c.exec(ctx, "DELETE FROM items WHERE patient_key = ? AND id = ?", string(p), v.id); err != nil {
				return err
			}
		}
		n = len(victims)
		return nil
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}
