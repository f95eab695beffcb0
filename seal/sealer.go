package seal

import (
	"context"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/maphash"
	"sync"
	"sync/atomic"

	"github.com/carnet-sante/carnet"
)

// Ciphertext format, version 1 (docs/ENCRYPTION.md):
//
//	version (1) | data key id (16) | nonce (12) | AES-256-GCM ciphertext | tag (16)
const (
	formatV1   = 1
	dekIDSize  = 16
	nonceSize  = 12
	tagSize    = 16
	headerSize = 1 + dekIDSize + nonceSize
	// Overhead is how many bytes Seal adds to a plaintext.
	Overhead = headerSize + tagSize

	wrapV1 = 1 // wrapped data key: version (1) | nonce (12) | GCM(data key) | tag (16)

	tokenSize = 16 // blind-index tokens keep 128 bits of HMAC-SHA256

	// DefaultCacheSize is how many patients' unwrapped data keys a Sealer
	// keeps in memory unless told otherwise.
	DefaultCacheSize = 10000

	aadSeal = "carnet seal v1"
	aadWrap = "carnet data key v1"
)

var (
	errAuth      = errors.New("message authentication failed")
	errFormat    = errors.New("not a Carnet ciphertext of a known format")
	errNoPatient = errors.New("no patient key")
)

// Option configures a Sealer.
type Option func(*Sealer)

// WithClock sets the clock that dates new data keys (default SystemClock).
func WithClock(c carnet.Clock) Option { return func(s *Sealer) { s.clock = c } }

// WithCacheSize bounds how many patients' data keys are kept unwrapped in
// memory (default DefaultCacheSize).
func WithCacheSize(n int) Option { return func(s *Sealer) { s.cacheSize = n } }

// Sealer implements carnet.Sealer with per-patient data keys wrapped by the
// keyring's KEKs. It is safe for concurrent use.
//
// Seal, Token and EnsureDataKey create the patient's first data key when
// there is none, in their own KeyStore transaction: call them before, never
// inside, a Store.Update of the same store.
type Sealer struct {
	kr        *Keyring
	keys      KeyStore
	clock     carnet.Clock
	cacheSize int
	cache     *keyCache
	seed      maphash.Seed
	creating  [64]sync.Mutex // one first data key per patient in this process
	terms     terms          // the stored keyring (RotateKEK)
	// changesFrom is the last key change applied (WatchKeyChanges).
	changesFrom atomic.Uint64
}

var _ carnet.Sealer = (*Sealer)(nil)

// New returns a Sealer over kr and keys. With a nil keyring or key store it
// refuses everything with KindUnavailable, like Locked.
func New(kr *Keyring, keys KeyStore, opts ...Option) *Sealer {
	s := &Sealer{kr: kr, keys: keys, clock: carnet.SystemClock{}, cacheSize: DefaultCacheSize, seed: maphash.MakeSeed()}
	for _, o := range opts {
		o(s)
	}
	s.cache = newKeyCache(s.cacheSize)
	return s
}

// dataKey is one unwrapped data key of a patient, with the keys derived
// from it. err is set when it could not be unwrapped (KindUnavailable).
type dataKey struct {
	id      [dekIDSize]byte
	content cipher.AEAD
	token   []byte
	err     error
}

// patientKeys is what the cache keeps for a patient.
type patientKeys struct {
	byID   map[[dekIDSize]byte]*dataKey
	oldest *dataKey // roots the blind index: must not change over time
	newest *dataKey // seals new data
}

func unavailable(op string, err error) *carnet.Error {
	return &carnet.Error{Kind: carnet.KindUnavailable, Op: op, Msg: "encryption keys unavailable", Err: err}
}

func (s *Sealer) ready(op string) error {
	if s.kr == nil || s.keys == nil {
		return unavailable(op, errNoKEK)
	}
	return nil
}

// Seal encrypts plaintext for patient p at place b, with p's newest data
// key and a fresh random nonce.
func (s *Sealer) Seal(ctx context.Context, p carnet.PatientKey, b carnet.Binding, plaintext []byte) ([]byte, error) {
	const op = "seal.Seal"
	if err := s.ready(op); err != nil {
		return nil, err
	}
	if p == "" {
		return nil, carnet.WrapError(carnet.KindInternal, op, errNoPatient)
	}
	pk, _, err := s.patientKeys(ctx, op, p, true)
	if err != nil {
		return nil, err
	}
	dk := pk.newest
	if dk.err != nil {
		return nil, dk.err
	}
	out := make([]byte, headerSize, headerSize+len(plaintext)+tagSize)
	out[0] = formatV1
	copy(out[1:], dk.id[:])
	nonce := out[1+dekIDSize : headerSize]
	if _, err := rand.Read(nonce); err != nil {
		return nil, carnet.WrapError(carnet.KindInternal, op, err)
	}
	return dk.content.Seal(out, nonce, plaintext, sealAAD(out[:1+dekIDSize], p, b)), nil
}

// Open decrypts a ciphertext that Seal made for p at b. Anything else —
// another patient, place or version, a damaged or unknown format — is
// KindInternal with no plaintext; a data key that cannot be unwrapped is
// KindUnavailable.
func (s *Sealer) Open(ctx context.Context, p carnet.PatientKey, b carnet.Binding, ciphertext []byte) ([]byte, error) {
	const op = "seal.Open"
	if err := s.ready(op); err != nil {
		return nil, err
	}
	if len(ciphertext) < Overhead || ciphertext[0] != formatV1 {
		return nil, carnet.WrapError(carnet.KindInternal, op, errFormat)
	}
	if p == "" {
		return nil, carnet.WrapError(carnet.KindInternal, op, errNoPatient)
	}
	var id [dekIDSize]byte
	copy(id[:], ciphertext[1:])
	pk, fresh, err := s.patientKeys(ctx, op, p, false)
	if err != nil {
		return nil, err
	}
	dk := pk.byID[id]
	if dk == nil && !fresh {
		// Another process may have added a data key since we cached.
		if pk, err = s.reload(ctx, op, p); err != nil {
			return nil, err
		}
		dk = pk.byID[id]
	}
	if dk == nil {
		// Not a key of this patient: a misplaced ciphertext, or a shredded
		// record. Either way, authentication fails.
		return nil, carnet.WrapError(carnet.KindInternal, op, fmt.Errorf("open %s: %w", b.Kind, errAuth))
	}
	if dk.err != nil {
		return nil, dk.err
	}
	plaintext, err := dk.content.Open(nil, ciphertext[1+dekIDSize:headerSize], ciphertext[headerSize:],
		sealAAD(ciphertext[:1+dekIDSize], p, b))
	if err != nil {
		return nil, carnet.WrapError(carnet.KindInternal, op, fmt.Errorf("open %s: %w", b.Kind, errAuth))
	}
	return plaintext, nil
}

// Token returns the blind-index token of value for field and patient p:
// HMAC-SHA256 under a key derived from p's oldest data key, so that the
// tokens die with the record's keys (crypto-shredding). Values are used as
// given; callers normalise them (case, accents) first.
func (s *Sealer) Token(ctx context.Context, p carnet.PatientKey, field, value string) (string, error) {
	const op = "seal.Token"
	if err := s.ready(op); err != nil {
		return "", err
	}
	if p == "" {
		return "", carnet.WrapError(carnet.KindInternal, op, errNoPatient)
	}
	pk, _, err := s.patientKeys(ctx, op, p, true)
	if err != nil {
		return "", err
	}
	if pk.oldest.err != nil {
		return "", pk.oldest.err
	}
	return blindToken(pk.oldest.token, field, value), nil
}

// IdentityToken returns the blind-index token of an identifier (INS) under
// the keyring's identity index key, the same for every patient and stable
// across KEK rotation.
func (s *Sealer) IdentityToken(field, value string) (string, error) {
	if err := s.ready("seal.IdentityToken"); err != nil {
		return "", err
	}
	return blindToken(s.kr.set.Load().identity, field, value), nil
}

// EnsureDataKey makes sure p has a data key and that it is cached, so that
// later Seal and Token calls for p touch no store; call it before a
// Store.Update that will seal for a new patient.
func (s *Sealer) EnsureDataKey(ctx context.Context, p carnet.PatientKey) error {
	const op = "seal.EnsureDataKey"
	if err := s.ready(op); err != nil {
		return err
	}
	if p == "" {
		return carnet.WrapError(carnet.KindInternal, op, errNoPatient)
	}
	pk, _, err := s.patientKeys(ctx, op, p, true)
	if err != nil {
		return err
	}
	return pk.newest.err
}

// RotateDataKey adds a new data key for p, wrapped by the current KEK; Seal
// uses it from now on, older data keys still open older ciphertexts and the
// oldest still roots p's blind index. It returns the new key's id.
func (s *Sealer) RotateDataKey(ctx context.Context, p carnet.PatientKey) (string, error) {
	const op = "seal.RotateDataKey"
	if err := s.ready(op); err != nil {
		return "", err
	}
	if p == "" {
		return "", carnet.WrapError(carnet.KindInternal, op, errNoPatient)
	}
	wk, err := s.newWrappedKey(ctx, p)
	if err != nil {
		return "", err
	}
	gen := s.cache.generation()
	all, err := s.keys.AddDataKey(ctx, p, wk, false)
	if err != nil {
		return "", storeError(op, err)
	}
	s.cache.putIfGen(p, s.unwrapAll(ctx, op, p, all), gen)
	return wk.ID, nil
}

// Forget drops p's data keys from memory. After its wrapped keys are
// deleted from the store (crypto-shredding), every process must Forget p
// (or restart) for p's data to become unreadable there too.
func (s *Sealer) Forget(p carnet.PatientKey) { s.cache.remove(p) }

// patientKeys returns p's keys from the cache or the store; fresh tells
// whether they were just read from the store. With create set, a patient
// without data keys gets its first one.
func (s *Sealer) patientKeys(ctx context.Context, op string, p carnet.PatientKey, create bool) (*patientKeys, bool, error) {
	if pk := s.cache.get(p); pk != nil {
		return pk, false, nil
	}
	pk, err := s.reload(ctx, op, p)
	if err != nil {
		return nil, false, err
	}
	if pk.newest == nil && create {
		if pk, err = s.createFirst(ctx, op, p); err != nil {
			return nil, false, err
		}
	}
	return pk, true, nil
}

// reload reads p's keys from the store and caches them if there are any.
func (s *Sealer) reload(ctx context.Context, op string, p carnet.PatientKey) (*patientKeys, error) {
	gen := s.cache.generation()
	wks, err := s.keys.DataKeys(ctx, p)
	if err != nil {
		return nil, storeError(op, err)
	}
	pk := s.unwrapAll(ctx, op, p, wks)
	if pk.newest != nil {
		s.cache.putIfGen(p, pk, gen)
	}
	return pk, nil
}

// createFirst gives p its first data key. Within this process one
// goroutine per patient does it and the others then find its key; across
// processes the KeyStore's ifNone transaction does the same job when the
// store serialises writers (SQLite), and otherwise a patient may end up with
// two first keys, which is harmless for Seal and Open (see ENCRYPTION.md for
// the blind index).
func (s *Sealer) createFirst(ctx context.Context, op string, p carnet.PatientKey) (*patientKeys, error) {
	mu := &s.creating[maphash.String(s.seed, string(p))%uint64(len(s.creating))]
	mu.Lock()
	defer mu.Unlock()
	if pk := s.cache.get(p); pk != nil {
		return pk, nil
	}
	gen := s.cache.generation()
	wks, err := s.keys.DataKeys(ctx, p)
	if err != nil {
		return nil, storeError(op, err)
	}
	if len(wks) == 0 {
		wk, err := s.newWrappedKey(ctx, p)
		if err != nil {
			return nil, err
		}
		if wks, err = s.keys.AddDataKey(ctx, p, wk, true); err != nil {
			return nil, storeError(op, err)
		}
	}
	pk := s.unwrapAll(ctx, op, p, wks)
	if pk.newest == nil {
		return nil, carnet.WrapError(carnet.KindInternal, op, errors.New("key store kept no data key"))
	}
	s.cache.putIfGen(p, pk, gen)
	return pk, nil
}

// newWrappedKey draws a data key and its id and wraps the key under the
// current KEK (the stored keyring's newest term, else the key file's newest
// root key), bound to p, the data key id and the KEK id.
func (s *Sealer) newWrappedKey(ctx context.Context, p carnet.PatientKey) (carnet.WrappedKey, error) {
	kek, err := s.currentKEK(ctx)
	if err != nil {
		return carnet.WrappedKey{}, err
	}
	secret := make([]byte, KeySize)
	var rawID [dekIDSize]byte
	nonce := make([]byte, nonceSize)
	for _, b := range [][]byte{secret, rawID[:], nonce} {
		if _, err := rand.Read(b); err != nil {
			return carnet.WrappedKey{}, carnet.WrapError(carnet.KindInternal, "seal.newWrappedKey", err)
		}
	}
	id := hex.EncodeToString(rawID[:])
	out := append([]byte{wrapV1}, nonce...)
	out = kek.wrap.Seal(out, nonce, secret, wrapAAD(p, id, kek.id))
	return carnet.WrappedKey{ID: id, KEKID: kek.id, Wrapped: out, Created: s.clock.Now()}, nil
}

// unwrapAll unwraps p's keys. A key that fails keeps its error instead of
// failing the lot: a retired KEK must not make a patient's newer data
// unreadable.
func (s *Sealer) unwrapAll(ctx context.Context, op string, p carnet.PatientKey, wks []carnet.WrappedKey) *patientKeys {
	pk := &patientKeys{byID: make(map[[dekIDSize]byte]*dataKey, len(wks))}
	for _, wk := range wks {
		dk := &dataKey{}
		raw, err := hex.DecodeString(wk.ID)
		if err != nil || len(raw) != dekIDSize {
			// Unnameable in a ciphertext; only a damaged store holds it.
			continue
		}
		copy(dk.id[:], raw)
		if _, dup := pk.byID[dk.id]; dup {
			continue
		}
		if secret, err := unwrapWith(s.kekByID(ctx, wk.KEKID), p, wk); err != nil {
			dk.err = unavailable(op, fmt.Errorf("data key %s: %w", wk.ID, err))
		} else if dk.content, err = newGCM(derive(secret, labelContent)); err != nil {
			dk.err = unavailable(op, err)
		} else {
			dk.token = derive(secret, labelToken)
		}
		pk.byID[dk.id] = dk
		if pk.oldest == nil {
			pk.oldest = dk
		}
		pk.newest = dk
	}
	return pk
}

func unwrap(set *keySet, p carnet.PatientKey, wk carnet.WrappedKey) ([]byte, error) {
	return unwrapWith(set.byID[wk.KEKID], p, wk)
}

func unwrapWith(kek *kek, p carnet.PatientKey, wk carnet.WrappedKey) ([]byte, error) {
	if kek == nil {
		return nil, fmt.Errorf("wrapped by KEK %q, which is not loaded", wk.KEKID)
	}
	w := wk.Wrapped
	if len(w) != 1+nonceSize+KeySize+tagSize || w[0] != wrapV1 {
		return nil, errors.New("wrapped data key of unknown format")
	}
	secret, err := kek.wrap.Open(nil, w[1:1+nonceSize], w[1+nonceSize:], wrapAAD(p, wk.ID, kek.id))
	if err != nil {
		return nil, fmt.Errorf("unwrap under KEK %s: %w", kek.id, errAuth)
	}
	return secret, nil
}

// sealAAD binds a ciphertext to its header (version and data key id; GCM
// authenticates the nonce itself), its patient and its place. Fields are
// length-prefixed so that no two bindings encode alike.
func sealAAD(header []byte, p carnet.PatientKey, b carnet.Binding) []byte {
	a := make([]byte, 0, len(aadSeal)+1+len(header)+4*3+len(p)+len(b.Kind)+len(b.ID)+8)
	a = append(a, aadSeal...)
	a = append(a, 0)
	a = append(a, header...)
	a = appendString(a, string(p))
	a = appendString(a, b.Kind)
	a = appendString(a, b.ID)
	return binary.BigEndian.AppendUint64(a, uint64(int64(b.Version)))
}

// wrapAAD binds a wrapped data key to its patient, its id and its KEK, so
// that a wrapped key copied to another patient does not unwrap.
func wrapAAD(p carnet.PatientKey, dekID, kekID string) []byte {
	a := append([]byte(aadWrap), 0)
	a = appendString(a, string(p))
	a = appendString(a, dekID)
	return appendString(a, kekID)
}

func appendString(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}

func blindToken(key []byte, field, value string) string {
	m := hmac.New(sha256.New, key)
	m.Write(appendString(nil, field))
	m.Write([]byte(value))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:tokenSize])
}

// storeError keeps the store's kind (a store that is down is already
// KindUnavailable) and adds the operation.
func storeError(op string, err error) error {
	return carnet.WrapError(carnet.ErrorKind(err), op, err)
}

// Locked returns a Sealer that refuses everything with KindUnavailable: the
// sealer of a server started without its keys, which must answer 503
// rather than serve or store anything.
func Locked() carnet.Sealer { return locked{} }

type locked struct{}

func (locked) Seal(context.Context, carnet.PatientKey, carnet.Binding, []byte) ([]byte, error) {
	return nil, unavailable("seal.Seal", errNoKEK)
}

func (locked) Open(context.Context, carnet.PatientKey, carnet.Binding, []byte) ([]byte, error) {
	return nil, unavailable("seal.Open", errNoKEK)
}

func (locked) Token(context.Context, carnet.PatientKey, string, string) (string, error) {
	return "", unavailable("seal.Token", errNoKEK)
}

func (locked) IdentityToken(string, string) (string, error) {
	return "", unavailable("seal.IdentityToken", errNoKEK)
}
