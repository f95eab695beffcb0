package seal

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/carnet-sante/carnet"
)

// fakeStore implements just enough of carnet.Store for StoreKeys: DataKeys
// and Update, with transactions that apply only when fn returns nil. The
// embedded interfaces are nil: any other method panics, which would show
// that the adapter uses more of the Store than it should.
type fakeStore struct {
	carnet.Store
	mu      sync.Mutex
	keys    map[carnet.PatientKey][]carnet.WrappedKey
	updates int
	retries int // how many times Update runs fn before the attempt that counts
	changes []carnet.PatientKey
}

type fakeTx struct {
	carnet.Tx
	keys    map[carnet.PatientKey][]carnet.WrappedKey
	changes []carnet.PatientKey
}

func (tx *fakeTx) NoteKeyChange(_ context.Context, p carnet.PatientKey) error {
	tx.changes = append(tx.changes, p)
	return nil
}

func (s *fakeStore) DataKeys(_ context.Context, p carnet.PatientKey) ([]carnet.WrappedKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return cloneKeys(s.keys[p]), nil
}

func (s *fakeStore) Update(_ context.Context, fn func(carnet.Tx) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.updates++
	for attempt := 0; ; attempt++ {
		tx := &fakeTx{keys: map[carnet.PatientKey][]carnet.WrappedKey{}}
		for p, ks := range s.keys {
			tx.keys[p] = cloneKeys(ks)
		}
		if err := fn(tx); err != nil {
			return err
		}
		if attempt < s.retries {
			continue // a serialization failure: discard and run fn again
		}
		s.keys = tx.keys
		s.changes = append(s.changes, tx.changes...)
		return nil
	}
}

func (tx *fakeTx) DataKeys(_ context.Context, p carnet.PatientKey) ([]carnet.WrappedKey, error) {
	return cloneKeys(tx.keys[p]), nil
}

func (tx *fakeTx) PutDataKey(_ context.Context, p carnet.PatientKey, k carnet.WrappedKey) error {
	for _, h := range tx.keys[p] {
		if h.ID == k.ID {
			return carnet.Errorf(carnet.KindConflict, "data key id in use")
		}
	}
	tx.keys[p] = append(tx.keys[p], k)
	return nil
}

func TestStoreKeys(t *testing.T) {
	ctx := context.Background()
	st := &fakeStore{keys: map[carnet.PatientKey][]carnet.WrappedKey{}, retries: 1}
	ks := StoreKeys(st)
	k1 := carnet.WrappedKey{ID: "01", KEKID: "k", Wrapped: []byte{1}}
	k2 := carnet.WrappedKey{ID: "02", KEKID: "k", Wrapped: []byte{2}}

	got, err := ks.AddDataKey(ctx, "p", k1, true)
	if err != nil || len(got) != 1 || got[0].ID != "01" {
		t.Fatalf("first AddDataKey(ifNone) = %v, %v; want [01]", got, err)
	}
	got, err = ks.AddDataKey(ctx, "p", k2, true)
	if err != nil || len(got) != 1 || got[0].ID != "01" {
		t.Fatalf("second AddDataKey(ifNone) = %v, %v; want the existing [01] only", got, err)
	}
	got, err = ks.AddDataKey(ctx, "p", k2, false)
	if err != nil || len(got) != 2 || got[1].ID != "02" {
		t.Fatalf("AddDataKey(rotation) = %v, %v; want [01 02]", got, err)
	}
	if stored, _ := ks.DataKeys(ctx, "p"); len(stored) != 2 {
		t.Errorf("store holds %d keys, want 2", len(stored))
	}
	if st.updates != 3 {
		t.Errorf("AddDataKey ran %d Store.Update, want one per call (3)", st.updates)
	}
	// The rotation, not the first key, is noted for other processes.
	if len(st.changes) != 1 || st.changes[0] != "p" {
		t.Errorf("key changes noted: %v, want [p] (the rotation)", st.changes)
	}
	_, err = ks.AddDataKey(ctx, "p", k1, false)
	wantKind(t, "AddDataKey(duplicate id)", err, carnet.KindConflict)
}

func TestStoreKeysWithSealer(t *testing.T) {
	st := &fakeStore{keys: map[carnet.PatientKey][]carnet.WrappedKey{}}
	kr := testKeyring(t)
	s := New(kr, StoreKeys(st))
	ct := mustSeal(t, s, "p1", docBinding, []byte("through the Store"))
	mustOpen(t, New(kr, StoreKeys(st)), "p1", docBinding, ct, []byte("through the Store"))
	if len(st.keys["p1"]) != 1 {
		t.Errorf("store holds %d data keys for p1, want 1", len(st.keys["p1"]))
	}
}

type failingKeys struct{ err error }

func (f failingKeys) DataKeys(context.Context, carnet.PatientKey) ([]carnet.WrappedKey, error) {
	return nil, f.err
}

func (f failingKeys) AddDataKey(context.Context, carnet.PatientKey, carnet.WrappedKey, bool) ([]carnet.WrappedKey, error) {
	return nil, f.err
}

func TestKeyStoreFailureKeepsItsKind(t *testing.T) {
	down := &carnet.Error{Kind: carnet.KindUnavailable, Op: "sqlite.DataKeys", Err: errors.New("database is locked")}
	s := New(testKeyring(t), failingKeys{down})
	_, err := s.Seal(context.Background(), "p1", docBinding, []byte("x"))
	wantKind(t, "Seal with the store down", err, carnet.KindUnavailable)
	if !errors.Is(err, down) {
		t.Errorf("Seal error %v does not wrap the store's error", err)
	}
}
