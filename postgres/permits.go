package postgres

import (
	"context"
	"errors"

	"github.com/carnet-sante/carnet"
	"github.com/jackc/pgx/v5"
)

// The data permits (carnet.PermitStore), shared by every server over this
// database; each change a compare-and-set on the version.

var _ carnet.PermitStore = (*Store)(nil)

func (s *Store) PutPermit(ctx context.Context, row carnet.PermitRow) error {
	const op = "postgres.PutPermit"
	if row.Version == 1 {
		tag, err := s.exec(ctx, op, `INSERT INTO permits (id, version, sealed, created) VALUES ($1, 1, $2, $3) ON CONFLICT (id) DO NOTHING`,
			row.ID, emptyIfNil(row.Sealed), row.Created)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return &carnet.Error{Kind: carnet.KindConflict, Op: op, Msg: "permit id in use"}
		}
		return nil
	}
	tag, err := s.exec(ctx, op, `UPDATE permits SET version = $1, sealed = $2 WHERE id = $3 AND version = $4`,
		row.Version, emptyIfNil(row.Sealed), row.ID, row.Version-1)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return &carnet.Error{Kind: carnet.KindConflict, Op: op, Msg: "the permit changed meanwhile"}
	}
	return nil
}

func (s *Store) Permit(ctx context.Context, id string) (row carnet.PermitRow, err error) {
	const op = "postgres.Permit"
	err = s.withReader(ctx, op, func(r reader) error {
		row.ID = id
		err := r.q.QueryRow(ctx, `SELECT version, sealed, created FROM permits WHERE id = $1`, id).Scan(&row.Version, &row.Sealed, &row.Created)
		if errors.Is(err, pgx.ErrNoRows) {
			return notFound(op, "permit")
		}
		return mapError(op, err)
	})
	row.Created = row.Created.UTC()
	return row, err
}

func (s *Store) Permits(ctx context.Context) (out []carnet.PermitRow, err error) {
	const op = "postgres.Permits"
	err = s.withReader(ctx, op, func(r reader) error {
		out = nil
		rows, err := r.q.Query(ctx, `SELECT id, version, sealed, created FROM permits ORDER BY created, id`)
		if err != nil {
			return mapError(op, err)
		}
		defer rows.Close()
		for rows.Next() {
			var p carnet.PermitRow
			if err := rows.Scan(&p.ID, &p.Version, &p.Sealed, &p.Created); err != nil {
				return mapError(op, err)
			}
			p.Created = p.Created.UTC()
			out = append(out, p)
		}
		return mapError(op, rows.Err())
	})
	return out, err
}
