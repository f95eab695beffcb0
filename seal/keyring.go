package seal

import (
	"bufio"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/carnet-sante/carnet"
)

const (
	// KeyFileName is the key file's name in the data directory when the
	// operator gives no path.
	KeyFileName = "carnet.keys"
	// EnvKEK is the environment variable that may hold the keys instead of
	// a key file (see KeyringFromEnv).
	EnvKEK = "CARNET_KEK"

	// KeySize is the size of every secret: KEKs, the identity index secret
	// and data keys (256 bits).
	KeySize = 32

	kekTag   = "carnet-kek-v1"
	indexTag = "carnet-index-v1"
)

// Domain-separation labels. Every raw secret is a root from which each use
// derives its own key, so no key ever serves two primitives.
const (
	labelKEKID    = "carnet kek id v1"
	labelKEKWrap  = "carnet kek wrap v1"
	labelIdentity = "carnet identity token v1"
	labelContent  = "carnet content key v1"
	labelToken    = "carnet patient token v1"
)

var errNoKEK = errors.New("no key-encryption key")

// ErrKeyFileMode is wrapped when a key file may be read or written by
// group or others: refused, as ssh refuses such a private key.
var ErrKeyFileMode = errors.New("key file accessible to group or others")

// CheckKeyFileMode refuses a key file that group or others may access,
// with a message naming the file and the fix.
func CheckKeyFileMode(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if m := fi.Mode().Perm(); m&0o077 != 0 {
		return &carnet.Error{Kind: carnet.KindUnavailable, Op: "seal.CheckKeyFileMode",
			Msg: fmt.Sprintf("key file %s has mode %04o, readable or writable by others: refusing it (chmod 600 %s)", path, m, path),
			Err: ErrKeyFileMode}
	}
	return nil
}

// kek is one loaded key-encryption key.
type kek struct {
	id     string
	secret []byte
	wrap   cipher.AEAD
}

// keySet is an immutable snapshot of a keyring; Rotate swaps in a new one.
type keySet struct {
	keks     []*kek // oldest first; the last wraps new data keys
	byID     map[string]*kek
	index    []byte // the key file's index secret, nil when derived from keks[0]
	identity []byte // key of IdentityToken
}

func (s *keySet) current() *kek { return s.keks[len(s.keks)-1] }

// Keyring holds the key-encryption keys (KEKs) and the identity index key.
// It never prints or logs key material: its String and LogValue show KEK
// ids only. A Keyring is safe for concurrent use.
type Keyring struct {
	path string     // the key file, "" when loaded from elsewhere
	mu   sync.Mutex // serialises Rotate
	set  atomic.Pointer[keySet]
}

// GenerateKEK returns a new random key-encryption key. To pass it in the
// environment, encode it with base64.StdEncoding.
func GenerateKEK() ([]byte, error) {
	k := make([]byte, KeySize)
	if _, err := rand.Read(k); err != nil {
		return nil, err
	}
	return k, nil
}

// NewKeyring returns a keyring holding keks, oldest first: the last one
// wraps new data keys. The identity index key is derived from the first.
func NewKeyring(keks ...[]byte) (*Keyring, error) {
	set, err := newKeySet(nil, keks)
	if err != nil {
		return nil, carnet.WrapError(carnet.KindUnavailable, "seal.NewKeyring", err)
	}
	kr := &Keyring{}
	kr.set.Store(set)
	return kr, nil
}

// KeyringFromEnv parses the value of the environment variable EnvKEK: either
// one or more base64 KEKs separated by commas or white space, oldest first
// (the identity index key is then derived from the first), or the full text
// of a key file. An empty or malformed value is KindUnavailable.
func KeyringFromEnv(value string) (*Keyring, error) {
	const op = "seal.KeyringFromEnv"
	value = strings.TrimSpace(value)
	if value == "" {
		return nil, carnet.WrapError(carnet.KindUnavailable, op, errNoKEK)
	}
	var (
		index []byte
		keks  [][]byte
		err   error
	)
	if strings.Contains(value, "carnet-") || strings.HasPrefix(value, "#") {
		index, keks, err = parseKeyText(value)
	} else {
		fields := strings.FieldsFunc(value, func(r rune) bool {
			return r == ',' || r == ' ' || r == '\t' || r == '\n' || r == '\r'
		})
		for i, f := range fields {
			k, derr := decodeKey(f)
			if derr != nil {
				err = fmt.Errorf("key %d: %w", i+1, derr)
				break
			}
			keks = append(keks, k)
		}
	}
	if err != nil {
		return nil, carnet.WrapError(carnet.KindUnavailable, op, err)
	}
	set, err := newKeySet(index, keks)
	if err != nil {
		return nil, carnet.WrapError(carnet.KindUnavailable, op, err)
	}
	kr := &Keyring{}
	kr.set.Store(set)
	return kr, nil
}

// LoadOrCreateKeyFile loads the key file at path. When the file does not
// exist and create is true, it creates it (mode 0600, synced to disk with
// its directory) holding a new identity index secret and a new KEK; when
// create is false a missing file is KindUnavailable, as is any unreadable
// or malformed file. The file is never overwritten here.
func LoadOrCreateKeyFile(path string, create bool) (*Keyring, error) {
	const op = "seal.LoadOrCreateKeyFile"
	data, err := os.ReadFile(path)
	switch {
	case err == nil:
		if err := CheckKeyFileMode(path); err != nil {
			return nil, err
		}
		return keyringFromFile(op, path, data)
	case !errors.Is(err, fs.ErrNotExist):
		return nil, carnet.WrapError(carnet.KindUnavailable, op, err)
	case !create:
		return nil, &carnet.Error{Kind: carnet.KindUnavailable, Op: op, Msg: "key file missing", Err: err}
	}

	index, err := GenerateKEK()
	if err != nil {
		return nil, carnet.WrapError(carnet.KindUnavailable, op, err)
	}
	k, err := GenerateKEK()
	if err != nil {
		return nil, carnet.WrapError(carnet.KindUnavailable, op, err)
	}
	set, err := newKeySet(index, [][]byte{k})
	if err != nil {
		return nil, carnet.WrapError(carnet.KindUnavailable, op, err)
	}
	if err := createKeyFile(path, formatKeyText(set)); err != nil {
		if errors.Is(err, fs.ErrExist) {
			// Another process created it first: use theirs, or the two
			// would seal under keys that the other cannot read.
			return LoadOrCreateKeyFile(path, false)
		}
		return nil, carnet.WrapError(carnet.KindUnavailable, op, err)
	}
	kr := &Keyring{path: path}
	kr.set.Store(set)
	return kr, nil
}

func keyringFromFile(op, path string, data []byte) (*Keyring, error) {
	index, keks, err := parseKeyText(string(data))
	if err != nil {
		return nil, carnet.WrapError(carnet.KindUnavailable, op, fmt.Errorf("key file %s: %w", path, err))
	}
	set, err := newKeySet(index, keks)
	if err != nil {
		return nil, carnet.WrapError(carnet.KindUnavailable, op, fmt.Errorf("key file %s: %w", path, err))
	}
	kr := &Keyring{path: path}
	kr.set.Store(set)
	return kr, nil
}

// Rotate adds a new KEK to the key file and makes it the one that wraps new
// data keys; older KEKs stay loaded so that existing data keys still
// unwrap. It re-reads the file first so that a rotation done by another
// process is kept, and it refuses to drop a KEK that this keyring holds.
// The file is replaced atomically. It returns the new KEK's id.
func (kr *Keyring) Rotate() (string, error) {
	const op = "seal.Rotate"
	if kr.path == "" {
		return "", carnet.Errorf(carnet.KindInvalid, "this keyring has no key file to rotate")
	}
	kr.mu.Lock()
	defer kr.mu.Unlock()

	data, err := os.ReadFile(kr.path)
	if err != nil {
		return "", carnet.WrapError(carnet.KindUnavailable, op, err)
	}
	index, keks, err := parseKeyText(string(data))
	if err != nil {
		return "", carnet.WrapError(carnet.KindUnavailable, op, fmt.Errorf("key file %s: %w", kr.path, err))
	}
	onDisk, err := newKeySet(index, keks)
	if err != nil {
		return "", carnet.WrapError(carnet.KindUnavailable, op, err)
	}
	for _, k := range kr.set.Load().keks {
		if onDisk.byID[k.id] == nil {
			return "", carnet.WrapError(carnet.KindConflict, op,
				fmt.Errorf("key file %s no longer holds loaded KEK %s", kr.path, k.id))
		}
	}
	k, err := GenerateKEK()
	if err != nil {
		return "", carnet.WrapError(carnet.KindUnavailable, op, err)
	}
	set, err := newKeySet(index, append(keks, k))
	if err != nil {
		return "", carnet.WrapError(carnet.KindUnavailable, op, err)
	}
	if err := replaceKeyFile(kr.path, formatKeyText(set)); err != nil {
		return "", carnet.WrapError(carnet.KindUnavailable, op, err)
	}
	kr.set.Store(set)
	return set.current().id, nil
}

// KEKIDs returns the ids of the loaded KEKs, oldest first.
func (kr *Keyring) KEKIDs() []string {
	set := kr.set.Load()
	ids := make([]string, len(set.keks))
	for i, k := range set.keks {
		ids[i] = k.id
	}
	return ids
}

// CurrentKEK returns the id of the KEK that wraps new data keys.
func (kr *Keyring) CurrentKEK() string { return kr.set.Load().current().id }

// Path returns the key file's path, "" for a keyring not read from a file.
func (kr *Keyring) Path() string { return kr.path }

// String shows KEK ids only, so that a keyring printed by mistake leaks
// nothing.
func (kr *Keyring) String() string {
	return "seal.Keyring{keks: [" + strings.Join(kr.KEKIDs(), " ") + "]}"
}

// GoString is String, for %#v.
func (kr *Keyring) GoString() string { return kr.String() }

// LogValue logs KEK ids only.
func (kr *Keyring) LogValue() slog.Value {
	return slog.GroupValue(
		slog.Any("keks", kr.KEKIDs()),
		slog.String("current", kr.CurrentKEK()),
	)
}

// kekID is the public fingerprint of a KEK: the first 8 bytes of a
// domain-separated SHA-256 of it, in hex. It names the key without
// revealing it, and the same key always gets the same id.
func kekID(secret []byte) string {
	h := sha256.New()
	h.Write([]byte(labelKEKID))
	h.Write([]byte{0})
	h.Write(secret)
	return hex.EncodeToString(h.Sum(nil)[:8])
}

func derive(secret []byte, label string) []byte {
	k, err := hkdf.Key(sha256.New, secret, nil, label, KeySize)
	if err != nil {
		// Only possible for a key length HKDF-SHA256 cannot produce.
		panic("seal: hkdf: " + err.Error())
	}
	return k
}

func newGCM(key []byte) (cipher.AEAD, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

func newKeySet(index []byte, secrets [][]byte) (*keySet, error) {
	if len(secrets) == 0 {
		return nil, errNoKEK
	}
	if index != nil && len(index) != KeySize {
		return nil, fmt.Errorf("index secret: want %d bytes, got %d", KeySize, len(index))
	}
	set := &keySet{byID: make(map[string]*kek, len(secrets)), index: index}
	for i, s := range secrets {
		if len(s) != KeySize {
			return nil, fmt.Errorf("KEK %d: want %d bytes, got %d", i+1, KeySize, len(s))
		}
		id := kekID(s)
		if set.byID[id] != nil {
			return nil, fmt.Errorf("KEK %d: duplicate of KEK %s", i+1, id)
		}
		aead, err := newGCM(derive(s, labelKEKWrap))
		if err != nil {
			return nil, err
		}
		k := &kek{id: id, secret: s, wrap: aead}
		set.keks = append(set.keks, k)
		set.byID[id] = k
	}
	// The identity index must outlive KEK rotation: tokens computed today
	// must find the record tomorrow. A key file carries its own random
	// index secret for that; without one, the first (oldest) KEK is the
	// root, which then must never be retired (see docs/ENCRYPTION.md).
	root := index
	if root == nil {
		root = secrets[0]
	}
	set.identity = derive(root, labelIdentity)
	return set, nil
}

func decodeKey(s string) ([]byte, error) {
	k, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		// The decoder's message quotes an offset, never the input.
		return nil, fmt.Errorf("not standard base64: %w", err)
	}
	if len(k) != KeySize {
		return nil, fmt.Errorf("want %d bytes, got %d", KeySize, len(k))
	}
	return k, nil
}

// parseKeyText reads the key file format. Errors name line numbers, never
// line contents, which may be secrets.
func parseKeyText(text string) (index []byte, keks [][]byte, err error) {
	sc := bufio.NewScanner(strings.NewReader(text))
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		tag, value, ok := strings.Cut(line, " ")
		value = strings.TrimSpace(value)
		if !ok || value == "" {
			return nil, nil, fmt.Errorf("line %d: want %q or %q followed by a base64 key", n, kekTag, indexTag)
		}
		k, err := decodeKey(value)
		if err != nil {
			return nil, nil, fmt.Errorf("line %d: %w", n, err)
		}
		switch tag {
		case kekTag:
			keks = append(keks, k)
		case indexTag:
			if index != nil {
				return nil, nil, fmt.Errorf("line %d: second %s line", n, indexTag)
			}
			index = k
		default:
			return nil, nil, fmt.Errorf("line %d: unknown line kind (want %s or %s)", n, kekTag, indexTag)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, nil, err
	}
	if len(keks) == 0 {
		return nil, nil, errNoKEK
	}
	return index, keks, nil
}

func formatKeyText(set *keySet) string {
	var b strings.Builder
	b.WriteString("# Carnet key file (docs/ENCRYPTION.md). Secret: mode 0600, backed up apart\n")
	b.WriteString("# from the database. Losing it loses every record; never edit it by hand\n")
	b.WriteString("# except to remove a KEK that no data key uses any more.\n")
	b.WriteString("# " + indexTag + ": identity index secret. " + kekTag + ": KEKs, oldest first;\n")
	b.WriteString("# the last one wraps new data keys.\n")
	if set.index != nil {
		fmt.Fprintf(&b, "%s %s\n", indexTag, base64.StdEncoding.EncodeToString(set.index))
	}
	for _, k := range set.keks {
		fmt.Fprintf(&b, "%s %s\n", kekTag, base64.StdEncoding.EncodeToString(k.secret))
	}
	return b.String()
}

// createKeyFile writes a new file, failing with fs.ErrExist if there is one.
// The file and its directory are synced before it returns: data sealed
// under a key that a power cut then loses would be lost with it.
func createKeyFile(path, text string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = f.WriteString(text)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return err
	}
	return syncDir(filepath.Dir(path))
}

// replaceKeyFile swaps in new contents atomically: a crash leaves either the
// old file or the new one, never a torn one.
func replaceKeyFile(path, text string) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, ".carnet-keys-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op once renamed
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	_, err = f.WriteString(text)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
