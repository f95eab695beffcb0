package seal

import (
	"context"
	"time"

	"github.com/carnet-sante/carnet"
)

// DefaultKeyChangesPoll is how often WatchKeyChanges asks the store which
// records' keys changed.
const DefaultKeyChangesPoll = time.Second

// keyChangesPage bounds one read of the key changes.
const keyChangesPage = 1000

// Shred deletes every data key of p from the store (crypto-shredding) and
// from this process's cache: what was sealed for p no longer opens, and
// p's blind-index tokens no longer match new ones. Other processes sharing
// the store drop their copies within their WatchKeyChanges interval. It
// returns how many keys it deleted.
func (s *Sealer) Shred(ctx context.Context, p carnet.PatientKey) (int, error) {
	const op = "seal.Shred"
	if err := s.ready(op); err != nil {
		return 0, err
	}
	if p == "" || p == KeyringRecord {
		return 0, carnet.WrapError(carnet.KindInvalid, op, errNoPatient)
	}
	ks, ok := s.keys.(SharedKeyStore)
	if !ok {
		return 0, &carnet.Error{Kind: carnet.KindInternal, Op: op, Msg: "this key store cannot shred"}
	}
	s.cache.remove(p) // before too: no Seal under keys about to go
	n, err := ks.ShredDataKeys(ctx, p)
	s.cache.remove(p)
	if err != nil {
		return 0, storeError(op, err)
	}
	return n, nil
}

// MarkKeyChanges notes the last key change the store holds: where
// WatchKeyChanges starts. Call it before the process caches any key
// (right after New). A key store that is not shared has none.
func (s *Sealer) MarkKeyChanges(ctx context.Context) error {
	ks, ok := s.keys.(SharedKeyStore)
	if !ok {
		return nil
	}
	var last uint64
	for {
		cs, err := ks.KeyChanges(ctx, last, keyChangesPage)
		if err != nil {
			return storeError("seal.MarkKeyChanges", err)
		}
		if len(cs) == 0 {
			s.changesFrom.Store(last)
			return nil
		}
		last = cs[len(cs)-1].Seq
	}
}

// ApplyKeyChanges drops the cached keys of every record whose keys changed
// after from (re-reading the stored keyring when it changed), and returns
// the last change applied.
func (s *Sealer) ApplyKeyChanges(ctx context.Context, from uint64) (uint64, error) {
	ks, ok := s.keys.(SharedKeyStore)
	if !ok {
		return from, nil
	}
	for {
		cs, err := ks.KeyChanges(ctx, from, keyChangesPage)
		if err != nil {
			return from, storeError("seal.ApplyKeyChanges", err)
		}
		keyring := false
		for _, c := range cs {
			if c.Patient == KeyringRecord {
				keyring = true
			} else {
				s.cache.remove(c.Patient)
			}
			from = c.Seq
		}
		if keyring {
			if err := s.RefreshKeyring(ctx); err != nil {
				return from, err
			}
		}
		if len(cs) < keyChangesPage {
			return from, nil
		}
	}
}

// WatchKeyChanges applies, every interval until ctx ends, the key changes
// noted since MarkKeyChanges: a rotation or a shredding done through
// another process (another node on the same database, `carnet keys
// rotate`) reaches this one without restart.
func (s *Sealer) WatchKeyChanges(ctx context.Context, every time.Duration) {
	if every <= 0 {
		every = DefaultKeyChangesPoll
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			from := s.changesFrom.Load()
			if next, err := s.ApplyKeyChanges(ctx, from); err == nil || next > from {
				s.changesFrom.Store(next)
			}
		}
	}
}
