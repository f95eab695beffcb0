package auth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	carnet "github.com/carnet-sante/carnet"
)

const testAud = "https://carnet.test/fhir"

var testNow = time.Date(2026, 10, 1, 9, 0, 0, 0, time.UTC)

// testKey is a signing key with its kid.
type testKey struct {
	kid  string
	priv crypto.Signer
}

var (
	keysOnce sync.Once
	rsaKey   *rsa.PrivateKey
	ecKey    *ecdsa.PrivateKey
	edKey    ed25519.PrivateKey
)

func testKeys(t testing.TB) (*rsa.PrivateKey, *ecdsa.PrivateKey, ed25519.PrivateKey) {
	t.Helper()
	keysOnce.Do(func() {
		var err error
		if rsaKey, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
		if ecKey, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
			panic(err)
		}
		if _, edKey, err = ed25519.GenerateKey(rand.Reader); err != nil {
			panic(err)
		}
	})
	return rsaKey, ecKey, edKey
}

func jwkOf(t testing.TB, k testKey) JWK {
	t.Helper()
	enc := base64.RawURLEncoding.EncodeToString
	switch p := k.priv.Public().(type) {
	case *rsa.PublicKey:
		return JWK{Kty: "RSA", Kid: k.kid, Use: "sig", N: enc(p.N.Bytes()), E: enc([]byte{1, 0, 1})}
	case *ecdsa.PublicKey:
		b, _ := p.Bytes()
		return JWK{Kty: "EC", Kid: k.kid, Crv: "P-256", X: enc(b[1:33]), Y: enc(b[33:])}
	case ed25519.PublicKey:
		return JWK{Kty: "OKP", Kid: k.kid, Crv: "Ed25519", X: enc(p)}
	}
	t.Fatalf("key type %T", k.priv)
	return JWK{}
}

func b64json(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// signToken signs claims with k, the alg following the key type.
func signToken(t testing.TB, k testKey, hdr map[string]any, claims any) string {
	t.Helper()
	h := map[string]any{"kid": k.kid, "typ": "JWT"}
	var alg string
	switch k.priv.(type) {
	case *rsa.PrivateKey:
		alg = AlgRS256
	case *ecdsa.PrivateKey:
		alg = AlgES256
	case ed25519.PrivateKey:
		alg = AlgEdDSA
	}
	h["alg"] = alg
	for n, v := range hdr {
		h[n] = v
	}
	input := b64json(t, h) + "." + b64json(t, claims)
	return input + "." + base64.RawURLEncoding.EncodeToString(rawSign(t, k.priv, input))
}

func rawSign(t testing.TB, priv crypto.Signer, input string) []byte {
	t.Helper()
	sum := sha256.Sum256([]byte(input))
	switch p := priv.(type) {
	case *rsa.PrivateKey:
		s, err := rsa.SignPKCS1v15(rand.Reader, p, crypto.SHA256, sum[:])
		if err != nil {
			t.Fatal(err)
		}
		return s
	case *ecdsa.PrivateKey:
		r, s, err := ecdsa.Sign(rand.Reader, p, sum[:])
		if err != nil {
			t.Fatal(err)
		}
		out := make([]byte, 64)
		r.FillBytes(out[:32])
		s.FillBytes(out[32:])
		return out
	case ed25519.PrivateKey:
		return ed25519.Sign(p, []byte(input))
	}
	t.Fatalf("key type %T", priv)
	return nil
}

// testIssuer is an OIDC issuer on a loopback server whose JWKS can change.
type testIssuer struct {
	srv *httptest.Server
	mu  sync.Mutex
	jwk []JWK
	// discoveryIssuer overrides the issuer in discovery when set.
	discoveryIssuer string
	fetches         int
}

func newTestIssuer(t *testing.T, keys ...testKey) *testIssuer {
	t.Helper()
	ti := &testIssuer{}
	ti.setKeys(t, keys...)
	ti.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ti.mu.Lock()
		defer ti.mu.Unlock()
		switch r.URL.Path {
		case "/.well-known/openid-configuration":
			iss := ti.srv.URL
			if ti.discoveryIssuer != "" {
				iss = ti.discoveryIssuer
			}
			_ = json.NewEncoder(w).Encode(map[string]string{"issuer": iss, "jwks_uri": ti.srv.URL + "/keys"})
		case "/keys":
			ti.fetches++
			_ = json.NewEncoder(w).Encode(map[string]any{"keys": ti.jwk})
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(ti.srv.Close)
	return ti
}

func (ti *testIssuer) setKeys(t testing.TB, keys ...testKey) {
	t.Helper()
	ti.mu.Lock()
	defer ti.mu.Unlock()
	ti.jwk = nil
	for _, k := range keys {
		ti.jwk = append(ti.jwk, jwkOf(t, k))
	}
}

func (ti *testIssuer) fetchCount() int {
	ti.mu.Lock()
	defer ti.mu.Unlock()
	return ti.fetches
}

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func newVerifier(t *testing.T, ti *testIssuer, c *clock) *Verifier {
	t.Helper()
	v, err := NewVerifier(Config{
		Issuers:      []Issuer{{URL: ti.srv.URL, Audience: testAud}},
		AllowTestINS: true,
		HTTPClient:   ti.srv.Client(),
		Now:          c.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func proClaims(iss string) map[string]any {
	return map[string]any{
		"iss": iss, "aud": testAud, "sub": "u1",
		"iat": testNow.Unix(), "exp": testNow.Add(10 * time.Minute).Unix(),
		"rpps": "810100001006", "profession": "G15_10", "specialty": "G15_10/SM04",
		"name": "Hélène LEFEVRE", "finess": "750200122",
		"scope": "openid user/*.cruds",
	}
}

func with(m map[string]any, kv ...any) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		out[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(out, kv[i].(string))
		} else {
			out[kv[i].(string)] = kv[i+1]
		}
	}
	return out
}

func TestVerifyAcceptsEachAlgorithm(t *testing.T) {
	r, e, d := testKeys(t)
	keys := []testKey{{"rsa1", r}, {"ec1", e}, {"ed1", d}}
	ti := newTestIssuer(t, keys...)
	v := newVerifier(t, ti, &clock{t: testNow})
	for _, k := range keys {
		tok := signToken(t, k, nil, proClaims(ti.srv.URL))
		p, err := v.Verify(context.Background(), tok)
		if err != nil {
			t.Fatalf("%s: Verify: %v", k.kid, err)
		}
		want := carnet.Actor{
			Kind: carnet.ActorProfessional, Name: "Hélène LEFEVRE",
			ID:         carnet.Identifier{System: "urn:oid:1.2.250.1.71.4.2.1", Value: "810100001006"},
			Profession: "G15_10", Specialty: "G15_10/SM04",
			Org: carnet.Identifier{System: "urn:oid:1.2.250.1.71.4.2.2", Value: "750200122"},
		}
		got := p.Actor
		if got.Kind != want.Kind || got.ID != want.ID || got.Name != want.Name || got.Profession != want.Profession ||
			got.Specialty != want.Specialty || got.Org != want.Org || strings.Join(got.Scopes, " ") != "openid user/*.cruds" {
			t.Errorf("%s: actor = %+v, want %+v with scopes", k.kid, got, want)
		}
		if p.Subject != "u1" || p.Issuer != ti.srv.URL || !p.Expiry.Equal(testNow.Add(10*time.Minute)) {
			t.Errorf("%s: principal = %+v", k.kid, p)
		}
	}
}

func TestVerifyActorKinds(t *testing.T) {
	_, _, d := testKeys(t)
	k := testKey{"ed1", d}
	ti := newTestIssuer(t, k)
	v := newVerifier(t, ti, &clock{t: testNow})
	base := map[string]any{"iss": ti.srv.URL, "aud": []string{"other", testAud}, "exp": testNow.Add(time.Minute).Unix()}
	tests := []struct {
		name   string
		claims map[string]any
		want   carnet.Actor
		rep    bool
	}{
		{"patient", with(base, "ins", "254036615212345", "ins_system", "urn:oid:1.2.250.1.213.1.4.10", "scope", "patient/*.rs"),
			carnet.Actor{Kind: carnet.ActorPatient, ID: carnet.Identifier{System: "urn:oid:1.2.250.1.213.1.4.10", Value: "254036615212345"}}, false},
		{"representative", with(base, "ins", "254036615212345", "ins_system", "1.2.250.1.213.1.4.10", "legal_representative", true),
			carnet.Actor{Kind: carnet.ActorPatient, ID: carnet.Identifier{System: "urn:oid:1.2.250.1.213.1.4.10", Value: "254036615212345"}}, true},
		{"system by scope", with(base, "client_id", "lgc-1", "scope", "system/DocumentReference.c"),
			carnet.Actor{Kind: carnet.ActorSystem, ID: carnet.Identifier{System: ti.srv.URL, Value: "lgc-1"}, Name: "lgc-1"}, false},
		{"system by claim, azp", with(base, "carnet_actor", "system", "azp", "lgc-2"),
			carnet.Actor{Kind: carnet.ActorSystem, ID: carnet.Identifier{System: ti.srv.URL, Value: "lgc-2"}, Name: "lgc-2"}, false},
	}
	for _, tt := range tests {
		p, err := v.Verify(context.Background(), signToken(t, k, nil, tt.claims))
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if p.Actor.Kind != tt.want.Kind || p.Actor.ID != tt.want.ID || p.Actor.Name != tt.want.Name || p.LegalRepresentative != tt.rep {
			t.Errorf("%s: got %+v rep=%v, want %+v rep=%v", tt.name, p.Actor, p.LegalRepresentative, tt.want, tt.rep)
		}
	}
}

// callerSafe are the descriptions a token's holder may be told.
var callerSafe = map[string]bool{
	"malformed bearer token": true, "the token's signing algorithm is not accepted": true,
	"the token's issuer is not trusted here": true, "the token's signing key is unknown to its issuer": true,
	"the token's signature does not verify": true, "the token has expired or is not valid yet": true,
	"the token was issued for another audience": true, "the token's claims do not name an actor this server accepts": true,
	"keys named by the token itself are not accepted": true,
}

func TestVerifyRefuses(t *testing.T) {
	r, e, d := testKeys(t)
	rk, ek, dk := testKey{"rsa1", r}, testKey{"ec1", e}, testKey{"ed1", d}
	ti := newTestIssuer(t, rk, ek, dk)
	c := &clock{t: testNow}
	v := newVerifier(t, ti, c)
	iss := ti.srv.URL
	good := proClaims(iss)
	_, otherEd, _ := ed25519.GenerateKey(rand.Reader)

	// HS256 keyed with the RSA public key: the classic confusion attack.
	hsToken := func() string {
		pubDER := x509.MarshalPKCS1PublicKey(&r.PublicKey)
		input := b64json(t, map[string]any{"alg": "HS256", "kid": "rsa1", "typ": "JWT"}) + "." + b64json(t, good)
		m := hmac.New(sha256.New, pubDER)
		m.Write([]byte(input))
		return input + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
	}()
	noneToken := b64json(t, map[string]any{"alg": "none", "typ": "JWT"}) + "." + b64json(t, good) + "."
	noneWithSig := noneToken + "c2ln"
	valid := signToken(t, dk, nil, good)
	parts := strings.Split(valid, ".")
	forged := func() string {
		sig, _ := b64(parts[2])
		sig[0] ^= 1
		return parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(sig)
	}()
	tamperedClaims := parts[0] + "." + b64json(t, with(good, "rpps", "810100001014")) + "." + parts[2]
	// An ES256 header naming the RSA key's kid: the key type must match.
	ecWithRSAKid := signToken(t, ek, map[string]any{"kid": "rsa1"}, good)
	dupClaims := func() string {
		input := b64json(t, map[string]any{"alg": "EdDSA", "kid": "ed1"}) + "." +
			base64.RawURLEncoding.EncodeToString([]byte(`{"iss":"`+iss+`","aud":"`+testAud+`","exp":9999999999,"rpps":"810100001006","profession":"G15_10","rpps":"810100001014"}`))
		return input + "." + base64.RawURLEncoding.EncodeToString(ed25519.Sign(d, []byte(input)))
	}()

	tests := []struct {
		name  string
		token string
	}{
		{"forged signature", forged},
		{"claims changed after signing", tamperedClaims},
		{"signed by another key, same kid", signToken(t, testKey{"ed1", otherEd}, nil, good)},
		{"alg none, empty signature", noneToken},
		{"alg none with a signature", noneWithSig},
		{"alg HS256 keyed with the public key", hsToken},
		{"alg ES256 with an RSA kid", ecWithRSAKid},
		{"alg RS256 header over an EdDSA signature", func() string {
			input := b64json(t, map[string]any{"alg": "RS256", "kid": "rsa1"}) + "." + b64json(t, good)
			return input + "." + base64.RawURLEncoding.EncodeToString(ed25519.Sign(d, []byte(input)))
		}()},
		{"wrong issuer", signToken(t, dk, nil, with(good, "iss", "https://evil.example"))},
		{"issuer with a trailing slash", signToken(t, dk, nil, with(good, "iss", iss+"/"))},
		{"no issuer", signToken(t, dk, nil, with(good, "iss", nil))},
		{"wrong audience", signToken(t, dk, nil, with(good, "aud", "https://other.test"))},
		{"audience list without ours", signToken(t, dk, nil, with(good, "aud", []string{"a", "b"}))},
		{"no audience", signToken(t, dk, nil, with(good, "aud", nil))},
		{"expired beyond skew", signToken(t, dk, nil, with(good, "exp", testNow.Add(-31*time.Second).Unix()))},
		{"no exp", signToken(t, dk, nil, with(good, "exp", nil))},
		{"exp as a string", signToken(t, dk, nil, with(good, "exp", "9999999999"))},
		{"not yet valid", signToken(t, dk, nil, with(good, "nbf", testNow.Add(2*time.Minute).Unix()))},
		{"issued in the future", signToken(t, dk, nil, with(good, "iat", testNow.Add(2*time.Minute).Unix()))},
		{"unknown kid", signToken(t, testKey{"nope", d}, nil, good)},
		{"jwk in header", signToken(t, dk, map[string]any{"jwk": jwkOf(t, dk)}, good)},
		{"crit in header", signToken(t, dk, map[string]any{"crit": []string{"exp"}}, good)},
		{"logout token typ", signToken(t, dk, map[string]any{"typ": "logout+jwt"}, good)},
		{"duplicate claim", dupClaims},
		{"oversized", signToken(t, dk, nil, with(good, "pad", strings.Repeat("a", MaxTokenSize)))},
		{"two segments", parts[0] + "." + parts[1]},
		{"four segments", valid + ".x"},
		{"empty", ""},
		{"padded base64", parts[0] + "=." + parts[1] + "." + parts[2]},
		{"non-base64 payload", parts[0] + ".!!!." + parts[2]},
		{"header not JSON", base64.RawURLEncoding.EncodeToString([]byte("alg")) + "." + parts[1] + "." + parts[2]},
		{"professional without rpps", signToken(t, dk, nil, with(good, "rpps", nil, "carnet_actor", "professional"))},
		{"profession not TRE_G15", signToken(t, dk, nil, with(good, "profession", "doctor"))},
		{"no actor at all", signToken(t, dk, nil, with(good, "rpps", nil, "profession", nil))},
		{"patient with a bad INS", signToken(t, dk, nil, with(good, "rpps", nil, "ins", "12", "profession", nil))},
	}
	for _, tt := range tests {
		_, err := v.Verify(context.Background(), tt.token)
		if !carnet.IsKind(err, carnet.KindUnauthenticated) {
			t.Errorf("%s: err = %v, want kind unauthenticated", tt.name, err)
			continue
		}
		// The holder is told what is wrong with their token in general
		// words (RFC 6750 error_description); the precise reason, which
		// may name a key id, a claim or a time, stays in the cause.
		msg := carnet.ErrorMessage(err)
		if !callerSafe[msg] {
			t.Errorf("%s: caller sees %q, want one of the general descriptions", tt.name, msg)
		}
		var ce *carnet.Error
		if !errors.As(err, &ce) || ce.Err == nil {
			t.Errorf("%s: no precise reason kept for the log", tt.name)
		}
	}
	// The same token within the skew is accepted: the refusals above are
	// about the check, not the clock.
	if _, err := v.Verify(context.Background(), signToken(t, dk, nil, with(good, "exp", testNow.Add(-29*time.Second).Unix()))); err != nil {
		t.Errorf("expired within skew: %v", err)
	}
}

func TestTestINSRefusedOutsideDemo(t *testing.T) {
	_, _, d := testKeys(t)
	k := testKey{"ed1", d}
	ti := newTestIssuer(t, k)
	v, err := NewVerifier(Config{Issuers: []Issuer{{URL: ti.srv.URL, Audience: testAud}}, HTTPClient: ti.srv.Client(), Now: func() time.Time { return testNow }})
	if err != nil {
		t.Fatal(err)
	}
	claims := map[string]any{"iss": ti.srv.URL, "aud": testAud, "exp": testNow.Add(time.Minute).Unix(), "ins": "254036615212345"}
	if _, err := v.Verify(context.Background(), signToken(t, k, nil, with(claims, "ins_system", "urn:oid:1.2.250.1.213.1.4.10"))); !carnet.IsKind(err, carnet.KindUnauthenticated) {
		t.Errorf("test INS: err = %v, want unauthenticated", err)
	}
	if _, err := v.Verify(context.Background(), signToken(t, k, nil, claims)); err != nil {
		t.Errorf("real INS-NIR: %v", err)
	}
}

func TestKeyRotation(t *testing.T) {
	_, e, d := testKeys(t)
	old, next := testKey{"old", d}, testKey{"new", e}
	ti := newTestIssuer(t, old)
	c := &clock{t: testNow}
	v := newVerifier(t, ti, c)
	claims := proClaims(ti.srv.URL)
	claims["exp"] = testNow.Add(time.Hour).Unix()
	oldTok, newTok := signToken(t, old, nil, claims), signToken(t, next, nil, claims)
	if _, err := v.Verify(context.Background(), oldTok); err != nil {
		t.Fatalf("old key before rotation: %v", err)
	}
	ti.setKeys(t, next)
	// Within the refresh interval the new kid cannot trigger a fetch.
	if _, err := v.Verify(context.Background(), newTok); !carnet.IsKind(err, carnet.KindUnauthenticated) {
		t.Errorf("new kid within rate limit: err = %v, want unauthenticated", err)
	}
	if got := ti.fetchCount(); got != 1 {
		t.Errorf("JWKS fetches = %d, want 1 (rate-limited)", got)
	}
	c.Add(DefaultMinRefresh + time.Second)
	if _, err := v.Verify(context.Background(), newTok); err != nil {
		t.Fatalf("new key after refresh: %v", err)
	}
	if _, err := v.Verify(context.Background(), oldTok); !carnet.IsKind(err, carnet.KindUnauthenticated) {
		t.Errorf("removed key: err = %v, want unauthenticated", err)
	}
	// Many unknown kids in a row cost at most one fetch per interval.
	before := ti.fetchCount()
	for i := range 20 {
		_, _ = v.Verify(context.Background(), signToken(t, testKey{"k" + string(rune('a'+i)), d}, nil, claims))
	}
	if got := ti.fetchCount() - before; got > 1 {
		t.Errorf("unknown kids caused %d fetches, want at most 1", got)
	}
}

func TestPeriodicRefreshDropsRevokedKey(t *testing.T) {
	_, e, d := testKeys(t)
	k1, k2 := testKey{"k1", d}, testKey{"k2", e}
	ti := newTestIssuer(t, k1, k2)
	c := &clock{t: testNow}
	v := newVerifier(t, ti, c)
	claims := proClaims(ti.srv.URL)
	claims["exp"] = testNow.Add(3 * time.Hour).Unix()
	tok := signToken(t, k1, nil, claims)
	if _, err := v.Verify(context.Background(), tok); err != nil {
		t.Fatal(err)
	}
	ti.setKeys(t, k2) // k1 revoked; its kid is still known to the cache
	c.Add(DefaultMaxKeyAge + time.Second)
	if _, err := v.Verify(context.Background(), tok); !carnet.IsKind(err, carnet.KindUnauthenticated) {
		t.Errorf("revoked key after MaxKeyAge: err = %v, want unauthenticated", err)
	}
}

func TestIssuerProblems(t *testing.T) {
	_, _, d := testKeys(t)
	k := testKey{"ed1", d}

	t.Run("discovery names another issuer", func(t *testing.T) {
		ti := newTestIssuer(t, k)
		ti.discoveryIssuer = "https://evil.example"
		v := newVerifier(t, ti, &clock{t: testNow})
		_, err := v.Verify(context.Background(), signToken(t, k, nil, proClaims(ti.srv.URL)))
		if err == nil || carnet.ErrorKind(err) == carnet.KindInternal {
			t.Errorf("err = %v, want a refusal", err)
		}
	})
	t.Run("issuer down", func(t *testing.T) {
		ti := newTestIssuer(t, k)
		v := newVerifier(t, ti, &clock{t: testNow})
		ti.srv.Close()
		_, err := v.Verify(context.Background(), signToken(t, k, nil, proClaims(ti.srv.URL)))
		if !carnet.IsKind(err, carnet.KindUnavailable) {
			t.Errorf("err = %v, want unavailable", err)
		}
	})
}

func TestNewVerifierConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
	}{
		{"no issuer", Config{}},
		{"no audience", Config{Issuers: []Issuer{{URL: "https://idp.test"}}}},
		{"HS256 enabled", Config{Issuers: []Issuer{{URL: "https://idp.test", Audience: "a"}}, Algorithms: []string{"HS256"}}},
		{"skew too large", Config{Issuers: []Issuer{{URL: "https://idp.test", Audience: "a"}}, Skew: 2 * time.Minute}},
	}
	for _, tt := range tests {
		if _, err := NewVerifier(tt.cfg); err == nil {
			t.Errorf("%s: accepted", tt.name)
		}
	}
}

// TestAuthenticateOverHTTP runs a protected handler on a loopback server:
// refused requests get 401 and none of the data.
func TestAuthenticateOverHTTP(t *testing.T) {
	r, _, d := testKeys(t)
	dk := testKey{"ed1", d}
	ti := newTestIssuer(t, dk)
	v := newVerifier(t, ti, &clock{t: testNow})
	const secret = "DOSSIER-MEDICAL"
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		a, err := v.Authenticate(req)
		if err != nil {
			status := http.StatusInternalServerError
			switch carnet.ErrorKind(err) {
			case carnet.KindUnauthenticated:
				status = http.StatusUnauthorized
			case carnet.KindUnavailable:
				status = http.StatusServiceUnavailable
			}
			http.Error(w, carnet.ErrorMessage(err), status)
			return
		}
		if !Allows(a.Scopes, a.Kind, "DocumentReference", carnet.ActionRead) {
			http.Error(w, "forbidden", http.StatusForbidden)
			return
		}
		_, _ = w.Write([]byte(secret + " " + a.ID.Value))
	}))
	defer api.Close()
	good := proClaims(ti.srv.URL)
	tests := []struct {
		name    string
		headers []string
		status  int
	}{
		{"valid", []string{"Bearer " + signToken(t, dk, nil, good)}, 200},
		{"lower-case scheme", []string{"bearer " + signToken(t, dk, nil, good)}, 200},
		{"no header", nil, 401},
		{"basic", []string{"Basic dXNlcjpwYXNz"}, 401},
		{"two headers", []string{"Bearer " + signToken(t, dk, nil, good), "Bearer x"}, 401},
		{"forged", []string{"Bearer " + signToken(t, testKey{"ed1", r}, map[string]any{"alg": "EdDSA"}, good)}, 401},
		{"expired", []string{"Bearer " + signToken(t, dk, nil, with(good, "exp", testNow.Add(-time.Hour).Unix()))}, 401},
		{"scope does not allow reading", []string{"Bearer " + signToken(t, dk, nil, with(good, "scope", "user/Observation.rs"))}, 403},
	}
	for _, tt := range tests {
		req, _ := http.NewRequest(http.MethodGet, api.URL, nil)
		for _, h := range tt.headers {
			req.Header.Add("Authorization", h)
		}
		resp, err := api.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body := make([]byte, 4096)
		n, _ := resp.Body.Read(body)
		resp.Body.Close()
		if resp.StatusCode != tt.status {
			t.Errorf("%s: status %d, want %d (%s)", tt.name, resp.StatusCode, tt.status, body[:n])
		}
		if tt.status != 200 && strings.Contains(string(body[:n]), secret) {
			t.Errorf("%s: refused response leaks data", tt.name)
		}
	}
}

// staticKeys serves fixed keys, for the fuzz target (no network).
type staticKeys map[string]crypto.PublicKey

func (s staticKeys) Key(_ context.Context, kid, alg string) (crypto.PublicKey, error) {
	k, ok := s[kid]
	if !ok || algFor(k) != alg {
		return nil, errNoKey
	}
	return k, nil
}

func FuzzVerify(f *testing.F) {
	r, e, d := testKeys(f)
	const iss = "https://idp.test"
	v := &Verifier{
		issuers: map[string]verifierIssuer{iss: {audience: testAud,
			keys: staticKeys{"rsa1": &r.PublicKey, "ec1": &e.PublicKey, "ed1": d.Public()}}},
		algs: []string{AlgRS256, AlgES256, AlgEdDSA}, skew: DefaultSkew, allowTestINS: true,
		now: func() time.Time { return testNow },
	}
	for _, k := range []testKey{{"rsa1", r}, {"ec1", e}, {"ed1", d}} {
		f.Add(signToken(f, k, nil, proClaims(iss)))
	}
	f.Add("eyJhbGciOiJub25lIn0.e30.")
	f.Add("a.b.c")
	f.Fuzz(func(t *testing.T, tok string) {
		p, err := v.Verify(context.Background(), tok)
		if err != nil {
			var ce *carnet.Error
			if !errors.As(err, &ce) || ce.Kind != carnet.KindUnauthenticated {
				t.Fatalf("error %v is not unauthenticated", err)
			}
			return
		}
		// Anything accepted must carry a valid signature by a known key
		// and name an actor.
		if p.Actor.Kind == "" || p.Actor.ID.Value == "" {
			t.Fatalf("accepted token without an actor: %+v", p)
		}
	})
}

// The operator claim marks a system only, must be a boolean, and is
// accepted only from an operator issuer (Config.OperatorIssuers).
func TestVerifyOperator(t *testing.T) {
	_, _, d := testKeys(t)
	k := testKey{"ed1", d}
	ti := newTestIssuer(t, k)
	c := &clock{t: testNow}
	base := map[string]any{"iss": ti.srv.URL, "aud": testAud, "exp": testNow.Add(time.Minute).Unix()}
	op := with(base, "client_id", "op", "scope", "system/Permit.cruds", "carnet_operator", true)
	// No operator issuer configured: no operator at all.
	if p, err := newVerifier(t, ti, c).Verify(context.Background(), signToken(t, k, nil, op)); err == nil {
		t.Errorf("operator accepted with no operator issuer: %+v", p)
	}
	if _, err := NewVerifier(Config{Issuers: []Issuer{{URL: ti.srv.URL, Audience: testAud}},
		OperatorIssuers: []string{"https://elsewhere.example"}}); err == nil {
		t.Error("an operator issuer that is not a trusted issuer is accepted")
	}
	v, err := NewVerifier(Config{Issuers: []Issuer{{URL: ti.srv.URL, Audience: testAud}}, OperatorIssuers: []string{ti.srv.URL},
		AllowTestINS: true, HTTPClient: ti.srv.Client(), Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	p, err := v.Verify(context.Background(), signToken(t, k, nil, op))
	if err != nil || !p.Actor.Operator || p.Actor.Kind != carnet.ActorSystem {
		t.Errorf("operator: %+v, %v", p, err)
	}
	p, err = v.Verify(context.Background(), signToken(t, k, nil, with(base, "client_id", "lgc", "scope", "system/*.cruds")))
	if err != nil || p.Actor.Operator {
		t.Errorf("a system without the claim is an operator: %+v, %v", p, err)
	}
	for name, claims := range map[string]map[string]any{
		"professional": with(proClaims(ti.srv.URL), "carnet_operator", true),
		"not boolean":  with(base, "client_id", "op", "carnet_operator", "yes"),
	} {
		if _, err := v.Verify(context.Background(), signToken(t, k, nil, claims)); err == nil {
			t.Errorf("%s: operator claim accepted", name)
		}
	}
}
