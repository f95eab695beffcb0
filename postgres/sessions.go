package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/carnet-sante/carnet"
	"github.com/jackc/pgx/v5"
)

// The web sessions (carnet.SessionStore), shared by every server over this
// database.

var _ carnet.SessionStore = (*Store)(nil)

func (s *Store) PutSession(ctx context.Context, row carnet.SessionRow) error {
	_, err := s.exec(ctx, "postgres.PutSession", `INSERT INTO web_sessions (id, sealed, created, seen, expires) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (id) DO UPDATE SET sealed = excluded.sealed, seen = excluded.seen, expires = excluded.expires`,
		row.ID, emptyIfNil(row.Sealed), row.Created, row.Seen, row.Expires)
	return err
}

func (s *Store) Session(ctx context.Context, id string) (row carnet.SessionRow, err error) {
	const op = "postgres.Session"
	err = s.withReader(ctx, op, func(r reader) error {
		row.ID = id
		err := r.q.QueryRow(ctx, `SELECT sealed, created, seen, expires FROM web_sessions WHERE id = $1`, id).
			Scan(&row.Sealed, &row.Created, &row.Seen, &row.Expires)
		if errors.Is(err, pgx.ErrNoRows) {
			return notFound(op, "session")
		}
		return mapError(op, err)
	})
	row.Created, row.Seen, row.Expires = row.Created.UTC(), row.Seen.UTC(), row.Expires.UTC()
	return row, err
}

func (s *Store) TouchSession(ctx context.Context, id string, seen time.Time) error {
	_, err := s.exec(ctx, "postgres.TouchSession", `UPDATE web_sessions SET seen = $1 WHERE id = $2`, seen, id)
	return err
}

func (s *Store) DeleteSession(ctx context.Context, id string) error {
	_, err := s.exec(ctx, "postgres.DeleteSession", `DELETE FROM web_sessions WHERE id = $1`, id)
	return err
}

func (s *Store) PruneSessions(ctx context.Context, now, idleBefore time.Time) (int, error) {
	tag, err := s.exec(ctx, "postgres.PruneSessions", `DELETE FROM web_sessions WHERE expires <= $1 OR seen < $2`, now, idleBefore)
	if err != nil {
		return 0, err
	}
	return int(tag.RowsAffected()), nil
}
