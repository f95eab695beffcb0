package sqlite

import (
	"context"
	"database/sql"
	"errors"

	"github.com/carnet-sante/carnet"
)

// The records' point-of-care forms (carnet.CareFormStore), written through
// the one writer like everything else.

var _ carnet.CareFormStore = (*Store)(nil)

func (s *Store) PutCareForm(ctx context.Context, p carnet.PatientKey, stamp string, sealed []byte) error {
	return s.sessionWrite(ctx, "sqlite.PutCareForm", func(ctx context.Context, t *tx) error {
		_, err := t.c.exec(ctx, `INSERT INTO care_forms (patient_key, stamp, sealed) VALUES (?, ?, ?)
			ON CONFLICT (patient_key) DO UPDATE SET stamp = excluded.stamp, sealed = excluded.sealed`,
			string(p), stamp, nonNil(sealed))
		return err
	})
}

func (s *Store) CareForm(ctx context.Context, p carnet.PatientKey) (string, []byte, error) {
	const op = "sqlite.CareForm"
	var stamp string
	var sealed []byte
	err := s.rc.queryOne(ctx, func(rows *sql.Rows) error { return rows.Scan(&stamp, &sealed) },
		"SELECT stamp, sealed FROM care_forms WHERE patient_key = ?", string(p))
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil, &carnet.Error{Kind: carnet.KindNotFound, Op: op, Msg: "no point-of-care form"}
	}
	if err != nil {
		return "", nil, wrap(op, err)
	}
	return stamp, sealed, nil
}
