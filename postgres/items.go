package postgres

import (
	"context"
	"github.com/carnet-sante/carnet/internal/itemparts"
	"strings"
	"time"

	"github.com/carnet-sante/carnet"
	"github.com/jackc/pgx/v5"
)

// Extracted items (IHE QEDm): table items, searched through item_tokens,
// their ids in routes with kind 'item'.

const itemSelect = `
	SELECT i.patient_key, i.id, i.kind, i.source_logical_id, i.effective, i.tokens, i.sealed
	FROM items i`

func scanItem(row pgx.Row) (carnet.ItemRow, error) {
	var (
		it            carnet.ItemRow
		patient, kind string
		effective     *time.Time
		tokens        []byte
	)
	err := row.Scan(&patient, &it.ID, &kind, &it.SourceLogicalID, &effective, &tokens, &it.Sealed)
	if err != nil {
		return carnet.ItemRow{}, err
	}
	if it.Tokens, err = decodeTokens(tokens); err != nil {
		return carnet.ItemRow{}, err
	}
	it.Patient, it.Kind = carnet.PatientKey(patient), carnet.ItemKind(kind)
	it.Effective = fromNull(effective)
	it.Sealed = nilIfEmpty(it.Sealed)
	return it, nil
}

// itemSourceCols are the columns of an item's source document row, as
// documentSelectUnsealed reads them.
var itemSourceCols = func() string {
	cols := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(documentSelectUnsealed), "SELECT"))
	return strings.TrimSpace(cols[:strings.Index(cols, "FROM")])
}()

// scanItemSource scans an item joined to its source document's row.
func scanItemSource(row pgx.Row) (carnet.ItemRow, error) {
	var (
		it            carnet.ItemRow
		patient, kind string
		effective     *time.Time
		tokens        []byte
		ds            documentScan
	)
	it.Source = new(carnet.DocumentRow)
	dest := append([]any{&patient, &it.ID, &kind, &it.SourceLogicalID, &effective, &tokens, &it.Sealed}, ds.dest(it.Source)...)
	if err := row.Scan(dest...); err != nil {
		return carnet.ItemRow{}, err
	}
	var err error
	if it.Tokens, err = decodeTokens(tokens); err != nil {
		return carnet.ItemRow{}, err
	}
	if err := ds.finish(it.Source); err != nil {
		return carnet.ItemRow{}, err
	}
	it.Patient, it.Kind = carnet.PatientKey(patient), carnet.ItemKind(kind)
	it.Effective = fromNull(effective)
	it.Sealed = nilIfEmpty(it.Sealed)
	return it, nil
}

func (r reader) FindItems(ctx context.Context, p carnet.PatientKey, f carnet.ItemFilter) ([]carnet.ItemRow, error) {
	const op = "postgres.FindItems"
	probe := false
	if f.Limit > 0 && len(f.Tokens) > 0 && len(f.Sources) == 0 {
		var err error
		if probe, err = r.commonTokens(ctx, p, "item_tokens", f.Tokens); err != nil {
			return nil, mapError(op, err)
		}
	}
	return itemparts.Read(f, func(part itemparts.Part, limit int) ([]carnet.ItemRow, error) {
		return r.findItems(ctx, p, f, part, probe, limit)
	})
}

// findItems reads one part of f's items. With f.Visible, each item read
// in order is joined to its source document's latest row by a lateral
// probe of documents_logical_id: OFFSET 0 keeps it per item, so that the
// planner does not hash the record's documents first (as cond's probes).
func (r reader) findItems(ctx context.Context, p carnet.PatientKey, f carnet.ItemFilter, part itemparts.Part, probe bool, limit int) ([]carnet.ItemRow, error) {
	const op = "postgres.FindItems"
	w := where{args: []any{string(p)}}
	sealed := "i.sealed"
	if f.WithoutSealed {
		sealed = "NULL::bytea"
	}
	if f.Visible != nil {
		// The document's columns (documentSelectUnsealed's) after the item's.
		sealed += ", " + itemSourceCols
	}
	sel := strings.Replace(itemSelect, "i.sealed", sealed, 1)
	if f.Visible != nil {
		var b strings.Builder
		w.cond(&b, *f.Visible)
		sel += ` CROSS JOIN LATERAL (SELECT * FROM documents d
			WHERE d.patient_key = i.patient_key AND d.logical_id = i.source_logical_id AND d.latest
			AND d.status = ANY(` + w.arg([]string{string(carnet.StatusCurrent), string(carnet.StatusArchived)}) + `::text[])
			AND ` + b.String() + ` OFFSET 0) d`
	}
	w.add("i.patient_key = $1")
	if len(f.Kinds) > 0 {
		kinds := make([]string, len(f.Kinds))
		for i, k := range f.Kinds {
			kinds[i] = string(k)
		}
		if len(kinds) == 1 {
			// An equality: items_find is then read in its order.
			w.add("i.kind = " + w.arg(kinds[0]))
		} else {
			w.add("i.kind = ANY(" + w.arg(kinds) + "::text[])")
		}
	}
	if len(f.Sources) > 0 {
		w.add("i.source_logical_id = ANY(" + w.arg(f.Sources) + "::text[])")
	}
	w.within("i.effective", f.Effective)
	for _, tf := range f.Tokens {
		fence := ""
		if probe {
			// A common token is probed per item read in order (commonTokens).
			fence = " OFFSET 0"
		}
		w.add(`EXISTS (SELECT 1 FROM item_tokens t
			WHERE t.patient_key = i.patient_key AND t.item_id = i.id
			AND t.kind = ` + w.arg(tf.Kind) + ` AND t.value = ANY(` + w.arg(bytesOf(tf.Values)) + `::bytea[])` + fence + `)`)
	}
	order := " ORDER BY i.effective DESC NULLS LAST, i.id"
	switch part {
	case itemparts.Dated:
		w.add("i.effective IS NOT NULL")
		if f.Chronological {
			order = " ORDER BY i.effective, i.id DESC"
		}
		if f.After != nil {
			// The first term bounds the index range; the second cuts the tie.
			at := w.arg(f.After.Effective)
			if f.Chronological {
				w.add("i.effective >= " + at)
				w.add("(i.effective > " + at + " OR i.id < " + w.arg(f.After.ID) + ")")
			} else {
				w.add("i.effective <= " + at)
				w.add("(i.effective < " + at + " OR i.id > " + w.arg(f.After.ID) + ")")
			}
		}
	case itemparts.Undated:
		w.add("i.effective IS NULL")
		order = " ORDER BY i.id"
		if f.After != nil && f.After.Effective.IsZero() {
			w.add("i.id > " + w.arg(f.After.ID))
		}
	}
	if limit > 0 {
		order += " LIMIT " + w.arg(limit)
	}
	rows, err := r.q.Query(ctx, sel+w.String()+order, w.args...)
	if err != nil {
		return nil, mapError(op, err)
	}
	items, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (carnet.ItemRow, error) {
		if f.Visible != nil {
			return scanItemSource(row)
		}
		return scanItem(row)
	})
	return items, mapError(op, err)
}

func (s *Store) FindItems(ctx context.Context, p carnet.PatientKey, f carnet.ItemFilter) (rows []carnet.ItemRow, err error) {
	err = s.withReader(ctx, "postgres.FindItems", func(r reader) (err error) {
		rows, err = r.FindItems(ctx, p, f)
		return err
	})
	return rows, err
}

// InsertItems claims the routes first: a route already taken (by any
// patient, any kind of object) is the only expected conflict, detected
// without an error that would abort the transaction; the routes this call
// did claim are then released, so that nothing of it stays. Routes and items
// are separate statements because Citus distributes them differently.
func (t *tx) InsertItems(ctx context.Context, rows []carnet.ItemRow) error {
	const op = "postgres.InsertItems"
	if len(rows) == 0 {
		return nil
	}
	if err := t.lock(ctx, patientsOf(rows, func(r carnet.ItemRow) carnet.PatientKey { return r.Patient })...); err != nil {
		return err
	}
	n := len(rows)
	var (
		patients, ids, kinds, sources = make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		effective                     = make([]*time.Time, n)
		tokens, sealed                = make([][]byte, n), make([][]byte, n)
		tkPatients, tkIDs, tkKinds    []string
		tkValues                      [][]byte
	)
	seen := make(map[string]bool, n)
	for i, row := range rows {
		if seen[row.ID] {
			return conflict(op, "an item id appears twice")
		}
		seen[row.ID] = true
		patients[i], ids[i], kinds[i], sources[i] = string(row.Patient), row.ID, string(row.Kind), row.SourceLogicalID
		effective[i] = toNull(row.Effective)
		tokens[i], sealed[i] = encodeTokens(row.Tokens), emptyIfNil(row.Sealed)
		for _, tk := range row.Tokens {
			tkPatients, tkIDs = append(tkPatients, string(row.Patient)), append(tkIDs, row.ID)
			tkKinds, tkValues = append(tkKinds, tk.Kind), append(tkValues, []byte(tk.Value))
		}
	}

	routed, err := t.q.Query(ctx, `
		INSERT INTO routes (id, patient_key, kind)
		SELECT x.id, x.patient_key, 'item' FROM unnest($1::text[], $2::text[]) AS x(id, patient_key)
		ON CONFLICT DO NOTHING RETURNING id`, ids, patients)
	if err != nil {
		return mapError(op, err)
	}
	claimed, err := pgx.CollectRows(routed, pgx.RowTo[string])
	if err != nil {
		return mapError(op, err)
	}
	if len(claimed) < n {
		if len(claimed) > 0 {
			if _, err := t.q.Exec(ctx, `DELETE FROM routes WHERE id = ANY($1::text[])`, claimed); err != nil {
				return mapError(op, err)
			}
		}
		return conflict(op, "an item id is already in use")
	}

	// Every item has its route, so with all routes claimed no item row can
	// exist under these ids: a failure here is not an expected conflict.
	_, err = t.q.Exec(ctx, `
		WITH i AS (
			INSERT INTO items (patient_key, id, kind, source_logical_id, effective, tokens, sealed)
			SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::bytea[], $7::bytea[])
		)
		INSERT INTO item_tokens (patient_key, item_id, kind, value)
		SELECT DISTINCT * FROM unnest($8::text[], $9::text[], $10::text[], $11::bytea[])`,
		patients, ids, kinds, sources, effective, tokens, sealed, tkPatients, tkIDs, tkKinds, tkValues)
	return mapError(op, err)
}

func (t *tx) DeleteItems(ctx context.Context, p carnet.PatientKey, source string) (int, error) {
	const op = "postgres.DeleteItems"
	if err := t.lock(ctx, p); err != nil {
		return 0, err
	}
	rows, err := t.q.Query(ctx, `
		WITH i AS (
			DELETE FROM items WHERE patient_key = $1 AND source_logical_id = $2 RETURNING id
		), tk AS (
			DELETE FROM item_tokens t USING i WHERE t.patient_key = $1 AND t.item_id = i.id
		)
		SELECT id FROM i`, string(p), source)
	if err != nil {
		return 0, mapError(op, err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return 0, mapError(op, err)
	}
	if len(ids) == 0 {
		return 0, nil
	}
	if _, err := t.q.Exec(ctx, `DELETE FROM routes WHERE id = ANY($1::text[]) AND patient_key = $2`, ids, string(p)); err != nil {
		return 0, mapError(op, err)
	}
	return len(ids), nil
}
