package sqlite

import (
	"context"
	"database/sql"
	"errors"

	"github.com/carnet-sante/carnet"
)

// The data permits (carnet.PermitStore): written through the one writer,
// each change a compare-and-set on the version.

var _ carnet.PermitStore = (*Store)(nil)

func (s *Store) PutPermit(ctx context.Context, row carnet.PermitRow) error {
	const op = "sqlite.PutPermit"
	return s.sessionWrite(ctx, op, func(ctx context.Context, t *tx) error {
		if row.Version == 1 {
			res, err := t.c.exec(ctx, `INSERT INTO permits (id, version, sealed, created) VALUES (?, 1, ?, ?) ON CONFLICT (id) DO NOTHING`,
				row.ID, nonNil(row.Sealed), requiredTime(row.Created))
			if err != nil {
				return err
			}
			if n, err := res.RowsAffected(); err != nil || n == 0 {
				return &carnet.Error{Kind: carnet.KindConflict, Op: op, Msg: "permit id in use"}
			}
			return nil
		}
		res, err := t.c.exec(ctx, `UPDATE permits SET version = ?, sealed = ? WHERE id = ? AND version = ?`,
			row.Version, nonNil(row.Sealed), row.ID, row.Version-1)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return &carnet.Error{Kind: carnet.KindConflict, Op: op, Msg: "the permit changed meanwhile"}
		}
		return nil
	})
}

func (s *Store) Permit(ctx context.Context, id string) (carnet.PermitRow, error) {
	const op = "sqlite.Permit"
	row := carnet.PermitRow{ID: id}
	var created sql.NullInt64
	err := s.rc.queryOne(ctx, func(rows *sql.Rows) error { return rows.Scan(&row.Version, &row.Sealed, &created) },
		"SELECT version, sealed, created FROM permits WHERE id = ?", id)
	if errors.Is(err, sql.ErrNoRows) {
		return carnet.PermitRow{}, &carnet.Error{Kind: carnet.KindNotFound, Op: op, Msg: "permit not found"}
	}
	if err != nil {
		return carnet.PermitRow{}, wrap(op, err)
	}
	row.Created = goTime(created)
	return row, nil
}

func (s *Store) Permits(ctx context.Context) ([]carnet.PermitRow, error) {
	const op = "sqlite.Permits"
	rows, err := s.rc.query(ctx, "SELECT id, version, sealed, created FROM permits ORDER BY created, id")
	if err != nil {
		return nil, wrap(op, err)
	}
	defer rows.Close()
	var out []carnet.PermitRow
	for rows.Next() {
		var r carnet.PermitRow
		var created sql.NullInt64
		if err := rows.Scan(&r.ID, &r.Version, &r.Sealed, &created); err != nil {
			return nil, wrap(op, err)
		}
		r.Created = goTime(created)
		out = append(out, r)
	}
	return out, wrap(op, rows.Err())
}
