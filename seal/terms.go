package seal

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/carnet-sante/carnet"
)

// KeyringRecord is the reserved record under which the stored keyring
// lives: its "data keys" are the keyring's terms, each a key-encryption key
// wrapped under a root key of the key file (docs/BACKUP.md, "Stored
// keyring and rotation"). It is never a patient.
const KeyringRecord carnet.PatientKey = "carnet-keyring"

// DefaultKeyringRefresh is how often WatchKeyring re-reads the stored
// keyring, so that a node starts wrapping under a new term without restart.
const DefaultKeyringRefresh = 30 * time.Second

// termSet is the stored keyring as last read: the KEKs that wrap data keys,
// oldest first. Empty before the first rotation: the key file's newest root
// key then wraps data keys, as before rotations existed.
type termSet struct {
	keks []*kek
	byID map[string]*kek
	err  error // a term that did not unwrap (its root key is not loaded)
}

type terms struct {
	mu     sync.Mutex // one reload at a time
	loaded bool
	set    *termSet
}

// termSnapshot returns the terms, reading them from the store on first use.
func (s *Sealer) termSnapshot(ctx context.Context) (*termSet, error) {
	s.terms.mu.Lock()
	defer s.terms.mu.Unlock()
	if s.terms.loaded {
		return s.terms.set, nil
	}
	return s.reloadTermsLocked(ctx)
}

// RefreshKeyring re-reads the stored keyring: a rotation done by another
// node (or `carnet keys rotate`) is seen from then on.
func (s *Sealer) RefreshKeyring(ctx context.Context) error {
	if err := s.ready("seal.RefreshKeyring"); err != nil {
		return err
	}
	s.terms.mu.Lock()
	defer s.terms.mu.Unlock()
	_, err := s.reloadTermsLocked(ctx)
	return err
}

func (s *Sealer) reloadTermsLocked(ctx context.Context) (*termSet, error) {
	const op = "seal.RefreshKeyring"
	wks, err := s.keys.DataKeys(ctx, KeyringRecord)
	if err != nil {
		return nil, storeError(op, err)
	}
	set := &termSet{byID: map[string]*kek{}}
	files := s.kr.set.Load()
	for _, wk := range wks {
		secret, err := unwrap(files, KeyringRecord, wk)
		if err == nil && kekID(secret) != wk.ID {
			err = errors.New("keyring term does not match its id")
		}
		if err != nil {
			// A term wrapped under a root key this node lacks: data keys
			// under it will not open here; say so once it matters.
			set.err = unavailable(op, fmt.Errorf("keyring term %s: %w", wk.ID, err))
			continue
		}
		aead, err := newGCM(derive(secret, labelKEKWrap))
		if err != nil {
			return nil, unavailable(op, err)
		}
		k := &kek{id: wk.ID, secret: secret, wrap: aead}
		set.keks = append(set.keks, k)
		set.byID[k.id] = k
	}
	s.terms.set, s.terms.loaded = set, true
	return set, nil
}

// currentKEK is the KEK that wraps new data keys: the newest term, or the
// key file's newest root key before any rotation.
func (s *Sealer) currentKEK(ctx context.Context) (*kek, error) {
	t, err := s.termSnapshot(ctx)
	if err != nil {
		return nil, err
	}
	if n := len(t.keks); n > 0 {
		return t.keks[n-1], nil
	}
	return s.kr.set.Load().current(), nil
}

// kekByID finds the KEK that wrapped a data key, re-reading the stored
// keyring once when it is not known: another node may have rotated.
func (s *Sealer) kekByID(ctx context.Context, id string) *kek {
	if k := s.kr.set.Load().byID[id]; k != nil {
		return k
	}
	t, err := s.termSnapshot(ctx)
	if err == nil && t.byID[id] != nil {
		return t.byID[id]
	}
	if s.RefreshKeyring(ctx) != nil {
		return nil
	}
	t, _ = s.termSnapshot(ctx)
	return t.byID[id]
}

// RotateKEK adds a new term to the stored keyring, wrapped under the key
// file's newest root key, and makes it the KEK of new data keys. Every node
// sharing the store sees it at its next refresh (WatchKeyring), or at once
// when it meets a data key wrapped under it. It returns the new KEK's id.
func (s *Sealer) RotateKEK(ctx context.Context) (string, error) {
	const op = "seal.RotateKEK"
	if err := s.ready(op); err != nil {
		return "", err
	}
	secret, err := GenerateKEK()
	if err != nil {
		return "", carnet.WrapError(carnet.KindInternal, op, err)
	}
	id := kekID(secret)
	root := s.kr.set.Load().current()
	nonce := make([]byte, nonceSize)
	if _, err := rand.Read(nonce); err != nil {
		return "", carnet.WrapError(carnet.KindInternal, op, err)
	}
	w := append([]byte{wrapV1}, nonce...)
	w = root.wrap.Seal(w, nonce, secret, wrapAAD(KeyringRecord, id, root.id))
	if _, err := s.keys.AddDataKey(ctx, KeyringRecord, carnet.WrappedKey{ID: id, KEKID: root.id, Wrapped: w, Created: s.clock.Now()}, false); err != nil {
		return "", storeError(op, err)
	}
	if err := s.RefreshKeyring(ctx); err != nil {
		return "", err
	}
	return id, nil
}

// KeyringTerms returns the ids of the stored keyring's KEKs, oldest first.
func (s *Sealer) KeyringTerms(ctx context.Context) ([]string, error) {
	if err := s.ready("seal.KeyringTerms"); err != nil {
		return nil, err
	}
	t, err := s.termSnapshot(ctx)
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(t.keks))
	for i, k := range t.keks {
		ids[i] = k.id
	}
	return slices.Clip(ids), nil
}

// WatchKeyring re-reads the stored keyring every interval until ctx ends.
func (s *Sealer) WatchKeyring(ctx context.Context, every time.Duration) {
	if every <= 0 {
		every = DefaultKeyringRefresh
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.RefreshKeyring(ctx)
		}
	}
}
