package auth

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"
)

// Bounds on what a token may be. A real access token is 1–3 KB; these
// leave room for long scope lists while keeping parsing cheap.
const (
	MaxTokenSize   = 16 << 10
	maxHeaderSize  = 2 << 10
	maxJSONMembers = 64
)

// Algorithms accepted, whatever the configuration. HMAC algorithms are
// absent on purpose: an issuer's public key must never become a shared
// secret.
const (
	AlgRS256 = "RS256"
	AlgES256 = "ES256"
	AlgEdDSA = "EdDSA"
)

var supportedAlgs = map[string]bool{AlgRS256: true, AlgES256: true, AlgEdDSA: true}

// jws is a parsed, not yet verified, compact JWS.
type jws struct {
	alg, kid     string
	jku          string // a JWK Set URL the header names: never fetched, only compared
	signingInput string // header "." payload, as received
	signature    []byte
	payload      []byte
}

// parseJWS splits and decodes a compact JWS. It checks structure only:
// three base64url segments without padding, a header that is a strict JSON
// object naming a supported alg, no "crit" extension it would have to
// understand.
func parseJWS(raw string) (*jws, error) {
	if len(raw) > MaxTokenSize {
		return nil, fmt.Errorf("token of %d bytes exceeds %d", len(raw), MaxTokenSize)
	}
	h, rest, ok := strings.Cut(raw, ".")
	if !ok {
		return nil, errors.New("token is not a compact JWS: no '.'")
	}
	p, s, ok := strings.Cut(rest, ".")
	if !ok || strings.Contains(s, ".") {
		return nil, errors.New("token is not a compact JWS: want three segments")
	}
	if h == "" || p == "" || s == "" {
		return nil, errors.New("token has an empty segment")
	}
	if len(h) > maxHeaderSize {
		return nil, errors.New("token header too large")
	}
	hdr, err := b64(h)
	if err != nil {
		return nil, fmt.Errorf("token header: %w", err)
	}
	payload, err := b64(p)
	if err != nil {
		return nil, fmt.Errorf("token payload: %w", err)
	}
	sig, err := b64(s)
	if err != nil {
		return nil, fmt.Errorf("token signature: %w", err)
	}
	members, err := strictObject(hdr)
	if err != nil {
		return nil, fmt.Errorf("token header: %w", err)
	}
	t := &jws{signingInput: raw[:len(h)+1+len(p)], signature: sig, payload: payload}
	if err := stringMember(members, "alg", &t.alg); err != nil {
		return nil, err
	}
	if t.alg == "" {
		return nil, errors.New("token header has no alg")
	}
	if !supportedAlgs[t.alg] {
		// Covers "none", "HS256" and every spelling variant of them.
		return nil, fmt.Errorf("token alg %q not allowed", t.alg)
	}
	if err := stringMember(members, "kid", &t.kid); err != nil {
		return nil, err
	}
	var typ string
	if err := stringMember(members, "typ", &typ); err != nil {
		return nil, err
	}
	switch strings.ToLower(typ) {
	case "", "jwt", "at+jwt", "application/at+jwt":
	default:
		// Logout tokens, SETs and the like are JWTs that are not access
		// tokens: refuse rather than read them as one.
		return nil, fmt.Errorf("token typ %q not accepted", typ)
	}
	if _, ok := members["crit"]; ok {
		return nil, errors.New("token header has crit extensions")
	}
	if err := stringMember(members, "jku", &t.jku); err != nil {
		return nil, err
	}
	for _, name := range []string{"jwk", "x5u", "x5c"} {
		// Keys named by the token itself are never trusted; refusing them
		// outright keeps a misread impossible.
		if _, ok := members[name]; ok {
			return nil, fmt.Errorf("token header carries %s", name)
		}
	}
	return t, nil
}

// b64 decodes unpadded base64url strictly (no padding, no stray bits).
func b64(s string) ([]byte, error) {
	return base64.RawURLEncoding.Strict().DecodeString(s)
}

// strictObject decodes a JSON object's members, refusing duplicate names
// (encoding/json would keep the last one silently, and match names
// case-insensitively when decoding into a struct), trailing data and
// objects with too many members.
func strictObject(data []byte) (map[string]json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, errors.New("not a JSON object")
	}
	out := make(map[string]json.RawMessage)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		name, ok := tok.(string)
		if !ok {
			return nil, errors.New("member name is not a string")
		}
		if _, dup := out[name]; dup {
			return nil, fmt.Errorf("duplicate member %q", name)
		}
		if len(out) >= maxJSONMembers {
			return nil, errors.New("too many members")
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		out[name] = v
	}
	if _, err := dec.Token(); err != nil { // the closing '}'
		return nil, err
	}
	if _, err := dec.Token(); err == nil {
		return nil, errors.New("data after the JSON object")
	}
	return out, nil
}

// stringMember sets *dst to member name when it is present; a present
// member of another JSON type is an error.
func stringMember(m map[string]json.RawMessage, name string, dst *string) error {
	v, ok := m[name]
	if !ok {
		return nil
	}
	if err := json.Unmarshal(v, dst); err != nil {
		return fmt.Errorf("member %q is not a string", name)
	}
	return nil
}

// verifySignature checks sig over input with key for alg. The key's Go
// type must be the one alg implies: an RSA key can never verify an ES256
// or EdDSA token, and nothing here can treat a key as an HMAC secret.
func verifySignature(alg string, key crypto.PublicKey, input string, sig []byte) error {
	switch alg {
	case AlgRS256:
		k, ok := key.(*rsa.PublicKey)
		if !ok {
			return fmt.Errorf("alg %s with a %T key", alg, key)
		}
		sum := sha256.Sum256([]byte(input))
		return rsa.VerifyPKCS1v15(k, crypto.SHA256, sum[:], sig)
	case AlgES256:
		k, ok := key.(*ecdsa.PublicKey)
		if !ok || k.Curve.Params().Name != "P-256" {
			return fmt.Errorf("alg %s with a %T key", alg, key)
		}
		// JWS ECDSA signatures are r||s, fixed width, not ASN.1.
		if len(sig) != 64 {
			return fmt.Errorf("ES256 signature of %d bytes", len(sig))
		}
		sum := sha256.Sum256([]byte(input))
		r := new(big.Int).SetBytes(sig[:32])
		s := new(big.Int).SetBytes(sig[32:])
		if !ecdsa.Verify(k, sum[:], r, s) {
			return errors.New("ES256 signature does not verify")
		}
		return nil
	case AlgEdDSA:
		k, ok := key.(ed25519.PublicKey)
		if !ok || len(k) != ed25519.PublicKeySize {
			return fmt.Errorf("alg %s with a %T key", alg, key)
		}
		if !ed25519.Verify(k, []byte(input), sig) {
			return errors.New("EdDSA signature does not verify")
		}
		return nil
	}
	return fmt.Errorf("alg %q not allowed", alg)
}
