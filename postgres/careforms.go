package postgres

import (
	"context"
	"errors"

	"github.com/carnet-sante/carnet"
	"github.com/jackc/pgx/v5"
)

// The records' point-of-care forms (carnet.CareFormStore), shared by every
// server over this database.

var _ carnet.CareFormStore = (*Store)(nil)

func (s *Store) PutCareForm(ctx context.Context, p carnet.PatientKey, stamp string, sealed []byte) error {
	_, err := s.exec(ctx, "postgres.PutCareForm", `INSERT INTO care_forms (patient_key, stamp, sealed) VALUES ($1, $2, $3)
		ON CONFLICT (patient_key) DO UPDATE SET stamp = excluded.stamp, sealed = excluded.sealed`,
		string(p), stamp, emptyIfNil(sealed))
	return err
}

func (s *Store) CareForm(ctx context.Context, p carnet.PatientKey) (stamp string, sealed []byte, err error) {
	const op = "postgres.CareForm"
	err = s.withReader(ctx, op, func(r reader) error {
		err := r.q.QueryRow(ctx, `SELECT stamp, sealed FROM care_forms WHERE patient_key = $1`, string(p)).Scan(&stamp, &sealed)
		if errors.Is(err, pgx.ErrNoRows) {
			return notFound(op, "point-of-care form")
		}
		return mapError(op, err)
	})
	return stamp, sealed, err
}
