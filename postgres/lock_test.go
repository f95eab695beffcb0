package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/carnet-sante/carnet"
	"github.com/carnet-sante/carnet/postgres/pgtest"
	"github.com/carnet-sante/carnet/storetest"
)

// A transaction holding a record (it read it) makes another transaction on
// that record wait until it ends, and that one then reads what it
// committed; a transaction on another record goes on meanwhile.
func TestUpdateLocksTheRecordsItTouches(t *testing.T) {
	s := pgtest.Open(t)
	ctx := context.Background()
	for _, p := range []carnet.PatientKey{"a", "b"} {
		if err := s.Update(ctx, func(tx carnet.Tx) error { return tx.PutPatient(ctx, storetest.NewPatientRow(p)) }); err != nil {
			t.Fatal(err)
		}
	}
	increment := func(p carnet.PatientKey, hold <-chan struct{}, holding chan<- struct{}) error {
		return s.Update(ctx, func(tx carnet.Tx) error {
			row, err := tx.Patient(ctx, p)
			if err != nil {
				return err
			}
			if holding != nil {
				holding <- struct{}{}
				<-hold
			}
			row.Version++
			return tx.PutPatient(ctx, row)
		})
	}

	hold, holding := make(chan struct{}), make(chan struct{}, 1)
	first := make(chan error, 1)
	go func() { first <- increment("a", hold, holding) }()
	<-holding // the first transaction has read record a and holds it

	// Another record: not held up.
	if err := increment("b", nil, nil); err != nil {
		t.Fatalf("record b while a is held: %v", err)
	}
	// The same record: waits for the first transaction.
	second := make(chan error, 1)
	go func() { second <- increment("a", nil, nil) }()
	select {
	case err := <-second:
		t.Fatalf("a second transaction on record a ended (%v) while the first held it", err)
	case <-time.After(300 * time.Millisecond):
	}
	close(hold)
	if err := <-first; err != nil {
		t.Fatalf("first: %v", err)
	}
	if err := <-second; err != nil {
		t.Fatalf("second, after the first: %v", err)
	}
	row, err := s.Patient(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	if row.Version != 3 {
		t.Errorf("record a at version %d after two increments, want 3", row.Version)
	}
	if n := s.Retries(); n != 0 {
		t.Errorf("%d transactions run again, want 0: the second waited instead", n)
	}
}
