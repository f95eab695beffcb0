package seal

import (
	"bufio"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/carnet-sante/carnet"
	"github.com/cloudflare/circl/group"
	"github.com/cloudflare/circl/secretsharing"
)

// Key shares (docs/BACKUP.md, "Key shares"): a deployment's key files are
// sealed under a key derived from a random ristretto255 scalar, and the
// scalar is split with Shamir's scheme, k of n. Each share carries its
// point of the polynomial and the sealed bundle; k shares recover the
// scalar, k−1 recover some other scalar, under which the bundle does not
// open.

const (
	shareTag   = "carnet-key-share-v1"
	labelShare = "carnet key shares v1"
	maxShares  = 255
	scalarSize = 32
	// maxShareText bounds what ParseShare reads: a share holds a sealed
	// bundle of a few key files.
	maxShareText = 1 << 20
)

// Share is one custodian's share of a deployment's keys.
type Share struct {
	Deployment string // the audit log's origin: which deployment the keys are of
	Threshold  int    // k: how many shares open the keys
	Total      int    // n
	Index      int    // 1…n
	point      []byte // the share: id ‖ value, ristretto255 scalars
	sealed     []byte // nonce ‖ AES-256-GCM(bundle) ‖ tag, the same in every share
}

var errShares = errors.New("these shares cannot open the keys")

// SplitKeys seals bundle and splits its key into n shares of which any k
// open it (2 ≤ k ≤ n ≤ 255).
func SplitKeys(bundle []byte, deployment string, k, n int) ([]Share, error) {
	const op = "seal.SplitKeys"
	if k < 2 || n < k || n > maxShares {
		return nil, carnet.Errorf(carnet.KindInvalid, "want 2 <= threshold <= shares <= %d", maxShares)
	}
	if deployment == "" || strings.ContainsAny(deployment, " \n\r\t") {
		return nil, carnet.Errorf(carnet.KindInvalid, "invalid deployment name")
	}
	g := group.Ristretto255
	secret := g.RandomScalar(rand.Reader)
	aead, err := shareAEAD(secret)
	if err != nil {
		return nil, carnet.WrapError(carnet.KindInternal, op, err)
	}
	nonce := make([]byte, nonceSize)
	if _, err := rand.Read(nonce); err != nil {
		return nil, carnet.WrapError(carnet.KindInternal, op, err)
	}
	sealed := aead.Seal(nonce, nonce, bundle, shareAAD(deployment, k, n))
	parts := secretsharing.New(rand.Reader, uint(k-1), secret).Share(uint(n))
	out := make([]Share, n)
	for i, p := range parts {
		id, err := p.ID.MarshalBinary()
		if err != nil {
			return nil, carnet.WrapError(carnet.KindInternal, op, err)
		}
		v, err := p.Value.MarshalBinary()
		if err != nil {
			return nil, carnet.WrapError(carnet.KindInternal, op, err)
		}
		out[i] = Share{Deployment: deployment, Threshold: k, Total: n, Index: i + 1, point: append(id, v...), sealed: sealed}
	}
	return out, nil
}

// CombineKeys opens the bundle from k or more distinct shares of one
// export. Fewer shares, shares of different exports or damaged shares are
// refused (KindUnauthenticated): nothing is returned.
func CombineKeys(shares []Share) ([]byte, error) {
	const op = "seal.CombineKeys"
	if len(shares) == 0 {
		return nil, carnet.Errorf(carnet.KindInvalid, "no share given")
	}
	first := shares[0]
	seen := map[int]bool{}
	g := group.Ristretto255
	parts := make([]secretsharing.Share, 0, len(shares))
	for _, s := range shares {
		if s.Deployment != first.Deployment || s.Threshold != first.Threshold || s.Total != first.Total || string(s.sealed) != string(first.sealed) {
			return nil, &carnet.Error{Kind: carnet.KindInvalid, Op: op, Msg: "the shares are not of one export"}
		}
		if seen[s.Index] {
			continue // the same custodian twice counts once
		}
		seen[s.Index] = true
		id, v := g.NewScalar(), g.NewScalar()
		if len(s.point) != 2*scalarSize || id.UnmarshalBinary(s.point[:scalarSize]) != nil || v.UnmarshalBinary(s.point[scalarSize:]) != nil || id.IsZero() {
			return nil, &carnet.Error{Kind: carnet.KindInvalid, Op: op, Msg: fmt.Sprintf("share %d is damaged", s.Index)}
		}
		parts = append(parts, secretsharing.Share{ID: id, Value: v})
	}
	if len(parts) < first.Threshold {
		return nil, &carnet.Error{Kind: carnet.KindUnauthenticated, Op: op,
			Msg: fmt.Sprintf("%d distinct shares given, %d needed: %v", len(parts), first.Threshold, errShares)}
	}
	secret, err := secretsharing.Recover(uint(first.Threshold-1), parts)
	if err != nil {
		return nil, &carnet.Error{Kind: carnet.KindUnauthenticated, Op: op, Msg: errShares.Error(), Err: err}
	}
	aead, err := shareAEAD(secret)
	if err != nil {
		return nil, carnet.WrapError(carnet.KindInternal, op, err)
	}
	if len(first.sealed) < nonceSize+tagSize {
		return nil, &carnet.Error{Kind: carnet.KindInvalid, Op: op, Msg: "sealed keys are damaged"}
	}
	bundle, err := aead.Open(nil, first.sealed[:nonceSize], first.sealed[nonceSize:], shareAAD(first.Deployment, first.Threshold, first.Total))
	if err != nil {
		return nil, &carnet.Error{Kind: carnet.KindUnauthenticated, Op: op, Msg: errShares.Error() + " (wrong or too few shares)"}
	}
	return bundle, nil
}

func shareAEAD(secret group.Scalar) (interface {
	Seal(dst, nonce, plaintext, ad []byte) []byte
	Open(dst, nonce, ciphertext, ad []byte) ([]byte, error)
}, error) {
	b, err := secret.MarshalBinary()
	if err != nil {
		return nil, err
	}
	return newGCM(derive(b, labelShare))
}

func shareAAD(deployment string, k, n int) []byte {
	a := append([]byte(labelShare), 0)
	a = appendString(a, deployment)
	a = binary.BigEndian.AppendUint16(a, uint16(k))
	return binary.BigEndian.AppendUint16(a, uint16(n))
}

// MarshalText writes the share file (docs/BACKUP.md).
func (s Share) MarshalText() ([]byte, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\ndeployment %s\nthreshold %d\nshares %d\nindex %d\nshare %s\nsealed %s\n",
		shareTag, s.Deployment, s.Threshold, s.Total, s.Index,
		base64.StdEncoding.EncodeToString(s.point), base64.StdEncoding.EncodeToString(s.sealed))
	return []byte(b.String()), nil
}

// Fingerprint identifies the export a share belongs to (the same for all
// its shares), for custodians to check they hold shares of one export.
func (s Share) Fingerprint() string {
	h := sha256.Sum256(s.sealed)
	return base64.RawURLEncoding.EncodeToString(h[:9])
}

// ParseShare reads a share file. Errors name the line, never its content.
func ParseShare(text []byte) (Share, error) {
	var s Share
	if len(text) > maxShareText {
		return s, carnet.Errorf(carnet.KindInvalid, "share file too large")
	}
	sc := bufio.NewScanner(strings.NewReader(string(text)))
	sc.Buffer(make([]byte, 0, 64<<10), maxShareText)
	want := []string{"", "deployment", "threshold", "shares", "index", "share", "sealed"}
	n := 0
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if n >= len(want) {
			return s, carnet.Errorf(carnet.KindInvalid, "share: unexpected line %d", n+1)
		}
		if n == 0 {
			if line != shareTag {
				return s, carnet.Errorf(carnet.KindInvalid, "not a %s file", shareTag)
			}
			n++
			continue
		}
		v, ok := strings.CutPrefix(line, want[n]+" ")
		if !ok || v == "" {
			return s, carnet.Errorf(carnet.KindInvalid, "share: line %d: want %q", n+1, want[n])
		}
		var err error
		switch want[n] {
		case "deployment":
			s.Deployment = v
		case "threshold":
			s.Threshold, err = strconv.Atoi(v)
		case "shares":
			s.Total, err = strconv.Atoi(v)
		case "index":
			s.Index, err = strconv.Atoi(v)
		case "share":
			s.point, err = base64.StdEncoding.Strict().DecodeString(v)
		case "sealed":
			s.sealed, err = base64.StdEncoding.Strict().DecodeString(v)
		}
		if err != nil {
			return s, carnet.Errorf(carnet.KindInvalid, "share: line %d: bad %s", n+1, want[n])
		}
		n++
	}
	if err := sc.Err(); err != nil {
		return s, carnet.WrapError(carnet.KindInvalid, "seal.ParseShare", err)
	}
	if n != len(want) || s.Threshold < 2 || s.Total < s.Threshold || s.Total > maxShares || s.Index < 1 || s.Index > s.Total || len(s.point) != 2*scalarSize {
		return s, carnet.Errorf(carnet.KindInvalid, "incomplete or inconsistent share file")
	}
	return s, nil
}
