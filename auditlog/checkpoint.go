package auditlog

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"

	"github.com/carnet-sante/carnet"
	"golang.org/x/mod/sumdb/note"
)

// HashSize is the size of leaf hashes and roots (SHA-256).
const HashSize = 32

// Checkpoint is the signed statement "the log named Origin has Size leaves
// and this Root". Its text is the transparency-dev checkpoint body:
//
//	<origin>\n<size in decimal>\n<base64 of the root>\n
type Checkpoint struct {
	Origin string
	Size   uint64
	Root   []byte
}

// Marshal returns the checkpoint's note text (unsigned).
func (c Checkpoint) Marshal() []byte {
	return fmt.Appendf(nil, "%s\n%d\n%s\n", c.Origin, c.Size, base64.StdEncoding.EncodeToString(c.Root))
}

// ParseCheckpoint parses a checkpoint's note text. Only the canonical form
// is accepted: three lines, no extension lines, a decimal size without
// leading zeros, a 32-byte root in padded standard base64.
func ParseCheckpoint(text []byte) (Checkpoint, error) {
	bad := func(why string) (Checkpoint, error) {
		return Checkpoint{}, carnet.Errorf(carnet.KindInvalid, "malformed checkpoint: %s", why)
	}
	lines := strings.Split(string(text), "\n")
	if len(lines) != 4 || lines[3] != "" {
		return bad("want exactly three lines")
	}
	origin := lines[0]
	if !validOrigin(origin) {
		return bad("invalid origin")
	}
	s := lines[1]
	if s == "" || (len(s) > 1 && s[0] == '0') || strings.TrimLeft(s, "0123456789") != "" {
		return bad("invalid size")
	}
	size, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return bad("invalid size")
	}
	root, err := base64.StdEncoding.Strict().DecodeString(lines[2])
	if err != nil || len(root) != HashSize {
		return bad("invalid root hash")
	}
	return Checkpoint{Origin: origin, Size: size, Root: root}, nil
}

// validOrigin keeps the origin a printable one-liner: it is shown to people
// and is the first line of a note.
func validOrigin(o string) bool {
	if o == "" || len(o) > 256 {
		return false
	}
	for _, r := range o {
		if r <= ' ' || r == 0x7f || r == '\u2014' {
			return false
		}
	}
	return true
}

// SignCheckpoint returns the signed note of c.
func SignCheckpoint(c Checkpoint, s note.Signer) ([]byte, error) {
	if !validOrigin(c.Origin) || len(c.Root) != HashSize {
		return nil, carnet.Errorf(carnet.KindInvalid, "checkpoint has an invalid origin or root")
	}
	msg, err := note.Sign(&note.Note{Text: string(c.Marshal())}, s)
	if err != nil {
		return nil, carnet.WrapError(carnet.KindInternal, "auditlog.SignCheckpoint", err)
	}
	return msg, nil
}

// ErrBadCheckpoint is wrapped by every refusal of OpenCheckpoint.
var ErrBadCheckpoint = errors.New("checkpoint not signed by the expected key or not for the expected log")

// OpenCheckpoint verifies a signed checkpoint against v and checks that it is
// for the log named origin. It fails with a KindUnauthenticated error
// wrapping ErrBadCheckpoint when the signature is missing or wrong, or the
// origin is another log's.
func OpenCheckpoint(signed []byte, origin string, v note.Verifier) (Checkpoint, error) {
	const op = "auditlog.OpenCheckpoint"
	n, err := note.Open(signed, note.VerifierList(v))
	if err != nil {
		return Checkpoint{}, &carnet.Error{Kind: carnet.KindUnauthenticated, Op: op, Msg: "checkpoint signature not verified", Err: errors.Join(ErrBadCheckpoint, err)}
	}
	c, err := ParseCheckpoint([]byte(n.Text))
	if err != nil {
		return Checkpoint{}, err
	}
	if c.Origin != origin {
		return Checkpoint{}, &carnet.Error{Kind: carnet.KindUnauthenticated, Op: op, Msg: "checkpoint is for another log", Err: ErrBadCheckpoint}
	}
	return c, nil
}

// GenerateKey returns a new Ed25519 signing key and its verifier key, both
// in the note encoding ("PRIVATE+KEY+name+hash+key", "name+hash+key"). name
// is the key's name, conventionally the log's origin.
func GenerateKey(name string) (skey, vkey string, err error) {
	skey, vkey, err = note.GenerateKey(rand.Reader, name)
	if err != nil {
		return "", "", carnet.WrapError(carnet.KindInvalid, "auditlog.GenerateKey", err)
	}
	return skey, vkey, nil
}

// WriteKeyFile writes a signing key to a new file readable by its owner only
// (0600). It refuses to overwrite an existing file: losing a log key is
// losing the ability to extend the log under the same identity.
func WriteKeyFile(path, skey string) error {
	const op = "auditlog.WriteKeyFile"
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			return carnet.WrapError(carnet.KindConflict, op, err)
		}
		return carnet.WrapError(carnet.KindInternal, op, err)
	}
	_, err = f.WriteString(skey + "\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return carnet.WrapError(carnet.KindInternal, op, err)
	}
	return nil
}

// LoadSigner reads a signing key written by WriteKeyFile. It refuses a file
// that group or others may read or write, as ssh does.
func LoadSigner(path string) (note.Signer, error) {
	const op = "auditlog.LoadSigner"
	fi, err := os.Stat(path)
	if err != nil {
		return nil, carnet.WrapError(carnet.KindUnavailable, op, err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, &carnet.Error{Kind: carnet.KindUnavailable, Op: op, Msg: "audit log key file must be private (mode 0600)"}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, carnet.WrapError(carnet.KindUnavailable, op, err)
	}
	s, err := note.NewSigner(string(bytes.TrimSpace(b)))
	if err != nil {
		// The cause may quote the key; keep it out of the error.
		return nil, &carnet.Error{Kind: carnet.KindUnavailable, Op: op, Msg: "audit log key file is not a note signing key"}
	}
	return s, nil
}

// NewVerifier parses a verifier key ("name+hash+key").
func NewVerifier(vkey string) (note.Verifier, error) {
	v, err := note.NewVerifier(strings.TrimSpace(vkey))
	if err != nil {
		return nil, carnet.WrapError(carnet.KindInvalid, "auditlog.NewVerifier", err)
	}
	return v, nil
}
