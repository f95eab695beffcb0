package seal

import (
	"context"
	"slices"
	"sync"

	"github.com/carnet-sante/carnet"
)

// KeyStore keeps the patients' wrapped data keys. It is all the Sealer needs
// from storage, so that seal does not depend on a Store implementation.
type KeyStore interface {
	// DataKeys returns p's wrapped data keys, oldest first (empty, not an
	// error, for a patient with none).
	DataKeys(ctx context.Context, p carnet.PatientKey) ([]carnet.WrappedKey, error)
	// AddDataKey stores k for p in one transaction that first reads p's
	// keys, and returns p's keys as that transaction left them, oldest
	// first. With ifNone set, k is stored only when p has no key yet:
	// otherwise nothing is written and the existing keys are returned, so
	// that two first submissions for a patient end up with one data key
	// whenever the store serialises them.
	AddDataKey(ctx context.Context, p carnet.PatientKey, k carnet.WrappedKey, ifNone bool) ([]carnet.WrappedKey, error)
}

// StoreKeys adapts a carnet.Store: AddDataKey runs in one s.Update.
func StoreKeys(s carnet.Store) KeyStore { return storeKeys{s} }

type storeKeys struct{ s carnet.Store }

func (k storeKeys) DataKeys(ctx context.Context, p carnet.PatientKey) ([]carnet.WrappedKey, error) {
	return k.s.DataKeys(ctx, p)
}

func (k storeKeys) AddDataKey(ctx context.Context, p carnet.PatientKey, wk carnet.WrappedKey, ifNone bool) ([]carnet.WrappedKey, error) {
	var out []carnet.WrappedKey
	err := k.s.Update(ctx, func(tx carnet.Tx) error {
		// fn may run again on a retry: out is set afresh each time.
		have, err := tx.DataKeys(ctx, p)
		if err != nil {
			return err
		}
		if ifNone && len(have) > 0 {
			out = have
			return nil
		}
		if err := tx.PutDataKey(ctx, p, wk); err != nil {
			return err
		}
		if len(have) > 0 || p == KeyringRecord {
			// A rotation: other processes drop what they cached.
			if err := tx.NoteKeyChange(ctx, p); err != nil {
				return err
			}
		}
		out, err = tx.DataKeys(ctx, p)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ShredDataKeys deletes p's data keys and notes the change, in one Update.
func (k storeKeys) ShredDataKeys(ctx context.Context, p carnet.PatientKey) (n int, err error) {
	err = k.s.Update(ctx, func(tx carnet.Tx) (err error) {
		n, err = tx.ShredDataKeys(ctx, p)
		return err
	})
	return n, err
}

// KeyChanges is the Store's.
func (k storeKeys) KeyChanges(ctx context.Context, after uint64, limit int) ([]carnet.KeyChange, error) {
	return k.s.KeyChanges(ctx, after, limit)
}

// SharedKeyStore is a KeyStore shared by several processes (StoreKeys):
// it shreds a record's keys and tells every process which records' keys
// changed, so that each drops what it cached (Sealer.WatchKeyChanges).
type SharedKeyStore interface {
	KeyStore
	ShredDataKeys(ctx context.Context, p carnet.PatientKey) (int, error)
	KeyChanges(ctx context.Context, after uint64, limit int) ([]carnet.KeyChange, error)
}

var _ SharedKeyStore = storeKeys{}

// MemoryKeys is a KeyStore in memory, for tests and demos. Keys are kept in
// insertion order.
type MemoryKeys struct {
	mu   sync.Mutex
	keys map[carnet.PatientKey][]carnet.WrappedKey
}

var _ KeyStore = (*MemoryKeys)(nil)

// NewMemoryKeys returns an empty MemoryKeys.
func NewMemoryKeys() *MemoryKeys {
	return &MemoryKeys{keys: make(map[carnet.PatientKey][]carnet.WrappedKey)}
}

// DataKeys implements KeyStore.
func (m *MemoryKeys) DataKeys(_ context.Context, p carnet.PatientKey) ([]carnet.WrappedKey, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return cloneKeys(m.keys[p]), nil
}

// AddDataKey implements KeyStore. A data key id already used for p is
// KindConflict, as in the Store contract.
func (m *MemoryKeys) AddDataKey(_ context.Context, p carnet.PatientKey, k carnet.WrappedKey, ifNone bool) ([]carnet.WrappedKey, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	have := m.keys[p]
	if ifNone && len(have) > 0 {
		return cloneKeys(have), nil
	}
	for _, h := range have {
		if h.ID == k.ID {
			return nil, carnet.Errorf(carnet.KindConflict, "data key id in use")
		}
	}
	k.Wrapped = slices.Clone(k.Wrapped)
	m.keys[p] = append(have, k)
	return cloneKeys(m.keys[p]), nil
}

// Set replaces p's keys, as an attacker with write access to the database
// could; tests use it to tamper with wrapped keys.
func (m *MemoryKeys) Set(p carnet.PatientKey, keys []carnet.WrappedKey) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.keys[p] = cloneKeys(keys)
}

// DeleteDataKeys removes all of p's data keys: crypto-shredding. Every
// ciphertext of p becomes unreadable once the Sealers forget their cached
// copies (Sealer.Forget).
func (m *MemoryKeys) DeleteDataKeys(p carnet.PatientKey) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.keys, p)
}

func cloneKeys(ks []carnet.WrappedKey) []carnet.WrappedKey {
	out := make([]carnet.WrappedKey, len(ks))
	for i, k := range ks {
		k.Wrapped = slices.Clone(k.Wrapped)
		out[i] = k
	}
	return out
}
