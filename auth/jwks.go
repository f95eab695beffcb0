package auth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	carnet "github.com/carnet-sante/carnet"
)

// Defaults for key refresh.
const (
	// DefaultMinRefresh is the least time between two JWKS fetches: an
	// unknown kid triggers a refresh, and a flood of forged kids must not
	// become a flood of requests to the issuer.
	DefaultMinRefresh = 30 * time.Second
	// DefaultMaxKeyAge is how long fetched keys are used before being
	// refetched, so that removed (revoked) keys stop verifying.
	DefaultMaxKeyAge = time.Hour
	maxDocumentSize  = 1 << 20
	minRSABits       = 2048
	maxRSABits       = 8192
)

// JWK is the public part of one JSON Web Key, as published in a JWKS.
type JWK struct {
	Kty string `json:"kty"`
	Kid string `json:"kid,omitempty"`
	Use string `json:"use,omitempty"`
	Alg string `json:"alg,omitempty"`
	Crv string `json:"crv,omitempty"`
	N   string `json:"n,omitempty"`
	E   string `json:"e,omitempty"`
	X   string `json:"x,omitempty"`
	Y   string `json:"y,omitempty"`
	D   string `json:"d,omitempty"` // never accepted: a published private key is a misconfiguration
}

// publicKey is a parsed JWK.
type publicKey struct {
	kid string
	alg string // the JWK's alg if it named one: then only that alg
	key crypto.PublicKey
}

// algFor is the only JWS algorithm a key of this type can verify.
func algFor(k crypto.PublicKey) string {
	switch k.(type) {
	case *rsa.PublicKey:
		return AlgRS256
	case *ecdsa.PublicKey:
		return AlgES256
	case ed25519.PublicKey:
		return AlgEdDSA
	}
	return ""
}

// ParseJWK returns the public key of j: RSA (n, e; 2048 to 8192 bits), EC
// P-256 (x, y) or OKP Ed25519 (x). Other types and curves, encryption
// keys and keys with private parts are refused.
func ParseJWK(j JWK) (crypto.PublicKey, error) {
	if j.D != "" {
		return nil, errors.New("jwk carries a private key")
	}
	if j.Use != "" && j.Use != "sig" {
		return nil, fmt.Errorf("jwk use %q", j.Use)
	}
	var key crypto.PublicKey
	switch j.Kty {
	case "RSA":
		n, err := b64(j.N)
		if err != nil || len(n) == 0 {
			return nil, errors.New("jwk: bad RSA modulus")
		}
		e, err := b64(j.E)
		if err != nil || len(e) == 0 || len(e) > 4 {
			return nil, errors.New("jwk: bad RSA exponent")
		}
		var exp int
		for _, b := range e {
			exp = exp<<8 | int(b)
		}
		pk := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: exp}
		if bits := pk.N.BitLen(); bits < minRSABits || bits > maxRSABits {
			return nil, fmt.Errorf("jwk: RSA key of %d bits", bits)
		}
		if exp < 3 || exp%2 == 0 {
			return nil, fmt.Errorf("jwk: RSA exponent %d", exp)
		}
		key = pk
	case "EC":
		if j.Crv != "P-256" {
			return nil, fmt.Errorf("jwk: EC curve %q", j.Crv)
		}
		x, errX := b64(j.X)
		y, errY := b64(j.Y)
		if errX != nil || errY != nil || len(x) != 32 || len(y) != 32 {
			return nil, errors.New("jwk: bad P-256 coordinates")
		}
		point := append(append([]byte{4}, x...), y...)
		pk, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), point)
		if err != nil {
			return nil, fmt.Errorf("jwk: %w", err)
		}
		key = pk
	case "OKP":
		if j.Crv != "Ed25519" {
			return nil, fmt.Errorf("jwk: OKP curve %q", j.Crv)
		}
		x, err := b64(j.X)
		if err != nil || len(x) != ed25519.PublicKeySize {
			return nil, errors.New("jwk: bad Ed25519 key")
		}
		key = ed25519.PublicKey(x)
	default:
		return nil, fmt.Errorf("jwk: kty %q not supported", j.Kty)
	}
	if j.Alg != "" && j.Alg != algFor(key) {
		return nil, fmt.Errorf("jwk: alg %q does not fit kty %s", j.Alg, j.Kty)
	}
	return key, nil
}

// KeySetOptions tunes a KeySet; zero values take the defaults.
type KeySetOptions struct {
	// JWKSURL skips discovery when set.
	JWKSURL    string
	HTTPClient *http.Client
	Now        func() time.Time
	MinRefresh time.Duration
	MaxKeyAge  time.Duration
}

// KeySet holds one issuer's signing keys, fetched from its jwks_uri (found
// by OIDC discovery unless configured). It is safe for concurrent use.
type KeySet struct {
	issuer     string
	client     *http.Client
	now        func() time.Time
	minRefresh time.Duration
	maxAge     time.Duration

	fetchMu sync.Mutex // one fetch at a time; held across the HTTP calls

	mu          sync.Mutex
	jwksURL     string
	keys        []publicKey
	fetched     time.Time // last successful fetch
	lastAttempt time.Time
}

// NewKeySet returns the key set of issuer. Nothing is fetched until the
// first key is needed, so a server starts even when its issuer is down.
func NewKeySet(issuer string, o KeySetOptions) *KeySet {
	ks := &KeySet{issuer: issuer, client: o.HTTPClient, now: o.Now,
		minRefresh: o.MinRefresh, maxAge: o.MaxKeyAge, jwksURL: o.JWKSURL}
	if ks.client == nil {
		ks.client = &http.Client{Timeout: 10 * time.Second}
	}
	if ks.now == nil {
		ks.now = time.Now
	}
	if ks.minRefresh <= 0 {
		ks.minRefresh = DefaultMinRefresh
	}
	if ks.maxAge <= 0 {
		ks.maxAge = DefaultMaxKeyAge
	}
	return ks
}

// errNoKey means the key set has no key for a token: the token is refused
// (401), unlike a failure to reach the issuer (503).
var errNoKey = errors.New("no key for the token")

// Key returns the key for kid that can verify alg. An unknown kid, or keys
// older than MaxKeyAge, trigger a refresh, at most once per MinRefresh. An
// empty kid is accepted only when exactly one key fits alg.
func (ks *KeySet) Key(ctx context.Context, kid, alg string) (crypto.PublicKey, error) {
	ks.mu.Lock()
	stale := ks.keys == nil || ks.now().Sub(ks.fetched) >= ks.maxAge
	ks.mu.Unlock()
	var refreshErr error
	if stale {
		refreshErr = ks.refresh(ctx)
	}
	if k, ok := ks.lookup(kid, alg); ok {
		return k, nil
	}
	if !stale {
		// Maybe the issuer rotated its keys since the last fetch.
		refreshErr = ks.refresh(ctx)
		if k, ok := ks.lookup(kid, alg); ok {
			return k, nil
		}
	}
	ks.mu.Lock()
	have := ks.keys != nil
	ks.mu.Unlock()
	if !have && refreshErr != nil {
		return nil, carnet.WrapError(carnet.KindUnavailable, "auth.keys", refreshErr)
	}
	return nil, fmt.Errorf("%w: kid %q alg %s", errNoKey, kid, alg)
}

func (ks *KeySet) lookup(kid, alg string) (crypto.PublicKey, bool) {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	var found crypto.PublicKey
	n := 0
	for _, k := range ks.keys {
		if algFor(k.key) != alg || (k.alg != "" && k.alg != alg) {
			continue
		}
		if kid != "" && k.kid != kid {
			continue
		}
		found = k.key
		n++
	}
	return found, n == 1
}

// Refresh fetches the keys now, unless a fetch was attempted less than
// MinRefresh ago.
func (ks *KeySet) Refresh(ctx context.Context) error { return ks.refresh(ctx) }

func (ks *KeySet) refresh(ctx context.Context) error {
	ks.fetchMu.Lock()
	defer ks.fetchMu.Unlock()
	ks.mu.Lock()
	now := ks.now()
	if !ks.lastAttempt.IsZero() && now.Sub(ks.lastAttempt) < ks.minRefresh {
		ks.mu.Unlock()
		return errors.New("jwks refresh rate-limited")
	}
	ks.lastAttempt = now
	jwksURL := ks.jwksURL
	ks.mu.Unlock()

	if jwksURL == "" {
		u, err := ks.discover(ctx)
		if err != nil {
			return err
		}
		jwksURL = u
	}
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := ks.getJSON(ctx, jwksURL, &set); err != nil {
		return fmt.Errorf("jwks: %w", err)
	}
	keys := make([]publicKey, 0, len(set.Keys))
	for _, raw := range set.Keys {
		// Keys we cannot use (encryption keys, other curves) are skipped,
		// not fatal: issuers publish them alongside signing keys.
		var j JWK
		if json.Unmarshal(raw, &j) != nil {
			continue
		}
		k, err := ParseJWK(j)
		if err != nil {
			continue
		}
		keys = append(keys, publicKey{kid: j.Kid, alg: j.Alg, key: k})
	}
	ks.mu.Lock()
	ks.jwksURL = jwksURL
	ks.keys = keys
	ks.fetched = ks.now()
	ks.mu.Unlock()
	return nil
}

// discover reads the issuer's OIDC discovery document. Its issuer must be
// the configured one exactly (OpenID Connect Discovery §4.3), or another
// party could hand out keys for it.
func (ks *KeySet) discover(ctx context.Context) (string, error) {
	var doc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	u := strings.TrimSuffix(ks.issuer, "/") + "/.well-known/openid-configuration"
	if err := ks.getJSON(ctx, u, &doc); err != nil {
		return "", fmt.Errorf("discovery: %w", err)
	}
	if doc.Issuer != ks.issuer {
		return "", fmt.Errorf("discovery: issuer %q, want %q", doc.Issuer, ks.issuer)
	}
	ju, err := url.Parse(doc.JWKSURI)
	if err != nil || (ju.Scheme != "https" && ju.Scheme != "http") || ju.Host == "" {
		return "", errors.New("discovery: bad jwks_uri")
	}
	iu, _ := url.Parse(ks.issuer)
	if ju.Scheme == "http" && (iu == nil || iu.Scheme != "http") {
		// Keys for an https issuer never travel in clear.
		return "", errors.New("discovery: jwks_uri over http for an https issuer")
	}
	return doc.JWKSURI, nil
}

func (ks *KeySet) getJSON(ctx context.Context, u string, dst any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := ks.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: status %d", u, resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxDocumentSize+1))
	if err != nil {
		return err
	}
	if len(body) > maxDocumentSize {
		return fmt.Errorf("GET %s: document larger than %d bytes", u, maxDocumentSize)
	}
	return json.Unmarshal(body, dst)
}
