package auth

import (
	"bytes"
	"cmp"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	carnet "github.com/carnet-sante/carnet"
	"github.com/carnet-sante/carnet/synth"
)

// DemoKeyFile is the name of the demo issuer's key file in its directory.
const DemoKeyFile = "demo-idp-ed25519.pem"

// demoUser is what a demo token says about its user.
type demoUser struct {
	kind   carnet.ActorKind
	claims map[string]any
	// label and group are how the login page shows the user, in French.
	label, group string
}

// DemoIssuer is the built-in identity provider of demo mode: it signs
// tokens for fixed demo users with an Ed25519 key kept on disk, and serves
// discovery and JWKS so that a Verifier trusts it like any issuer. Tokens
// come from Mint (`carnet token --user NAME`) or, once EnableLogin was
// called, from its authorization and token endpoints (a page to pick a demo
// user, the code flow with PKCE). Never use it outside a demo.
type DemoIssuer struct {
	key   ed25519.PrivateKey
	kid   string
	now   func() time.Time
	users map[string]demoUser

	mu     sync.RWMutex
	issuer string
	login  *demoLogin // nil: no authorization or token endpoint
}

// NewDemoIssuer loads the key from dir, creating dir (0700) and the key
// file (0600) on first use, so that every process pointed at dir signs
// with the same key. A key file readable by others is refused.
func NewDemoIssuer(dir string, now func() time.Time) (*DemoIssuer, error) {
	if now == nil {
		now = time.Now
	}
	key, err := loadOrCreateKey(dir)
	if err != nil {
		return nil, carnet.WrapError(carnet.KindInternal, "auth.demo", err)
	}
	pub := key.Public().(ed25519.PublicKey)
	sum := sha256.Sum256(pub)
	d := &DemoIssuer{key: key, kid: "demo-" + base64.RawURLEncoding.EncodeToString(sum[:9]),
		now: now, users: demoUsers()}
	return d, nil
}

func loadOrCreateKey(dir string) (ed25519.PrivateKey, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, DemoKeyFile)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err == nil {
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			f.Close()
			return nil, err
		}
		der, err := x509.MarshalPKCS8PrivateKey(priv)
		if err != nil {
			f.Close()
			return nil, err
		}
		if err := pem.Encode(f, &pem.Block{Type: "PRIVATE KEY", Bytes: der}); err != nil {
			f.Close()
			return nil, err
		}
		if err := f.Sync(); err != nil {
			f.Close()
			return nil, err
		}
		return priv, f.Close()
	}
	if !errors.Is(err, os.ErrExist) {
		return nil, err
	}
	// Another process may be writing it right now; the read below fails
	// cleanly on a partial file and the caller can retry.
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("demo key %s is readable by others (mode %o)", path, fi.Mode().Perm())
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("demo key %s is not a PEM private key", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("demo key %s: %w", path, err)
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("demo key %s is not Ed25519", path)
	}
	return priv, nil
}

// SetIssuerURL sets the issuer identifier put in tokens and discovery:
// the external URL where Handler is mounted, e.g.
// "http://localhost:8080/demo-idp". It must be called before Mint.
func (d *DemoIssuer) SetIssuerURL(u string) {
	d.mu.Lock()
	d.issuer = strings.TrimSuffix(u, "/")
	d.mu.Unlock()
}

// IssuerURL returns the issuer identifier set by SetIssuerURL.
func (d *DemoIssuer) IssuerURL() string {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.issuer
}

// Users returns the demo user names Mint accepts, sorted.
func (d *DemoIssuer) Users() []string {
	out := make([]string, 0, len(d.users))
	for u := range d.users {
		out = append(out, u)
	}
	sort.Strings(out)
	return out
}

// Mint returns a signed token for user, valid for ttl (at most a day).
func (d *DemoIssuer) Mint(user string, audience string, ttl time.Duration) (string, error) {
	u, ok := d.users[user]
	if !ok {
		return "", carnet.Errorf(carnet.KindNotFound, "unknown demo user %q", user)
	}
	claims := map[string]any{"sub": "demo:" + user}
	for k, v := range u.claims {
		claims[k] = v
	}
	return d.Issue(u.kind, claims, audience, ttl)
}

// Issue signs a token for an identity that is not one of the demo users:
// claims are the identity claims (rpps, profession, ins, client_id, scope…)
// merged over the registered ones. It is for tests and demo tools that need
// more people than the roster; the same limits as Mint apply. A token
// gets a random jti unless claims give one.
func (d *DemoIssuer) Issue(kind carnet.ActorKind, claims map[string]any, audience string, ttl time.Duration) (string, error) {
	iss := d.IssuerURL()
	if iss == "" {
		return "", carnet.Errorf(carnet.KindInternal, "demo issuer URL not set")
	}
	if audience == "" || ttl <= 0 || ttl > 24*time.Hour {
		return "", carnet.Errorf(carnet.KindInvalid, "demo token needs an audience and a lifetime up to 24h")
	}
	now := d.now()
	var jti [16]byte
	if _, err := rand.Read(jti[:]); err != nil {
		return "", carnet.WrapError(carnet.KindInternal, "auth.demo", err)
	}
	out := map[string]any{"iss": iss, "aud": audience, "sub": "demo:issued", "iat": now.Unix(), "exp": now.Add(ttl).Unix(),
		"jti": base64.RawURLEncoding.EncodeToString(jti[:]), ClaimActor: string(kind)}
	for k, v := range claims {
		if k == "iss" || k == "aud" || k == "exp" || k == "iat" || k == "nbf" || k == ClaimActor {
			continue
		}
		out[k] = v
	}
	return d.sign(out)
}

func (d *DemoIssuer) sign(claims map[string]any) (string, error) {
	hdr, err := json.Marshal(map[string]string{"alg": AlgEdDSA, "typ": "JWT", "kid": d.kid})
	if err != nil {
		return "", err
	}
	body, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	input := base64.RawURLEncoding.EncodeToString(hdr) + "." + base64.RawURLEncoding.EncodeToString(body)
	sig := ed25519.Sign(d.key, []byte(input))
	return input + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}

// JWK returns the public key as published in the JWKS.
func (d *DemoIssuer) JWK() JWK {
	pub := d.key.Public().(ed25519.PublicKey)
	return JWK{Kty: "OKP", Crv: "Ed25519", Kid: d.kid, Use: "sig", Alg: AlgEdDSA,
		X: base64.RawURLEncoding.EncodeToString(pub)}
}

// ServeHTTP serves discovery (…/.well-known/openid-configuration) and the
// JWKS (…/jwks.json) wherever it is mounted, e.g. under /demo-idp/ with
// http.StripPrefix.
func (d *DemoIssuer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if l := d.loginEndpoints(); l != nil {
		switch {
		case strings.HasSuffix(r.URL.Path, "/authorize"):
			l.authorize(w, r)
			return
		case strings.HasSuffix(r.URL.Path, "/token"):
			l.token(w, r)
			return
		}
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	var v any
	switch {
	case strings.HasSuffix(r.URL.Path, "/.well-known/openid-configuration"):
		iss := d.IssuerURL()
		v = map[string]any{
			"issuer":                                iss,
			"jwks_uri":                              iss + "/jwks.json",
			"id_token_signing_alg_values_supported": []string{AlgEdDSA},
			"response_types_supported":              []string{"token"},
			"subject_types_supported":               []string{"public"},
			"scopes_supported":                      []string{"openid", "fhirUser", "user/*.cruds", "patient/*.cruds", "system/*.cruds"},
		}
		if d.loginEndpoints() != nil {
			m := v.(map[string]any)
			m["authorization_endpoint"] = iss + "/authorize"
			m["token_endpoint"] = iss + "/token"
			m["response_types_supported"] = []string{"code"}
			m["grant_types_supported"] = []string{"authorization_code", GrantDemoUser, GrantDemoCDSClient}
			m["code_challenge_methods_supported"] = []string{"S256"}
			m["token_endpoint_auth_methods_supported"] = []string{"none"}
		}
	case strings.HasSuffix(r.URL.Path, "/jwks.json"):
		v = map[string]any{"keys": []JWK{d.JWK()}}
	default:
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "max-age=300")
	_ = json.NewEncoder(w).Encode(v)
}

// DemoSystem is the demo producing software (logiciel de professionnel de
// santé) that authenticates by client credentials.
const DemoSystem = "lgc"

// DemoRepresentative is the demo legal representative of the demo minor
// (patient DemoMinor), and DemoAuditor the demo auditor.
const (
	DemoRepresentative = "parent2"
	DemoAuditor        = "auditor"
	DemoMinor          = 2
)

// Groups of the login page, in its order.
const (
	groupProfessionals   = "Professionnels de santé"
	groupPatients        = "Patients"
	groupRepresentatives = "Représentant légal d'un mineur"
	groupAuditors        = "Audit"
	groupSoftware        = "Logiciels"
)

// demoUsers builds the demo users from synth's fixed roster and first
// patients, so that tokens name the same people as the demo data.
func demoUsers() map[string]demoUser {
	pats, pros := synth.Options{Patients: 4, Professionals: len(synth.RosterLogins())}.People()
	users := map[string]demoUser{}
	var lgcOrg any                         // the demo software is the GP practice's
	demoLogins := synth.RosterLogins()[:6] // gp, cardio, nurse, dentist, samu, pharma
	for _, p := range pros {
		if !slices.Contains(demoLogins, p.Login) {
			continue
		}
		a := p.Author
		c := map[string]any{
			ClaimRPPS:       a.ID.Value,
			ClaimProfession: a.Profession.Code,
			ClaimName:       strings.TrimSpace(strings.Join(a.Given, " ") + " " + a.Family),
			ClaimScope:      "openid fhirUser user/*.cruds",
		}
		if a.Specialty.Code != "" {
			c[ClaimSpecialty] = a.Specialty.Code
		}
		if v := a.OrgID.Value; strings.HasPrefix(v, "1") && len(v) == 10 {
			c[ClaimFINESS] = v[1:] // Struct_IdNat is "1" + FINESS
		}
		if p.Login == "samu" {
			c[ClaimCentre15] = true // the demo's SAMU physician regulates the centre 15
		}
		if p.Login == "gp" {
			lgcOrg = c[ClaimFINESS]
		}
		users[p.Login] = demoUser{kind: carnet.ActorProfessional, claims: c, group: groupProfessionals,
			label: a.DisplayName() + " — " + professionLabel(a)}
	}
	for i, p := range pats {
		c := map[string]any{
			ClaimINS:       p.INS.Value,
			ClaimINSSystem: p.INS.System,
			ClaimName:      strings.TrimSpace(strings.Join(p.Identity.Given[:1], " ") + " " + p.Identity.Family),
			ClaimScope:     "openid fhirUser patient/*.cruds",
		}
		users[fmt.Sprintf("patient%d", i)] = demoUser{kind: carnet.ActorPatient, claims: c, group: groupPatients,
			label: fmt.Sprintf("%s (née ou né le %s)", c[ClaimName], frenchDate(p.Identity.BirthDate))}
	}
	// The legal representative of the demo minor (patient2, Chloé Martin,
	// born 2015): a parent, who acts for her with her INS.
	minor := pats[DemoMinor]
	users[DemoRepresentative] = demoUser{kind: carnet.ActorPatient, group: groupRepresentatives,
		label: "Nathalie Martin, représentante légale de " + strings.Join(minor.Identity.Given[:1], "") + " " + minor.Identity.Family,
		claims: map[string]any{
			ClaimINS: minor.INS.Value, ClaimINSSystem: minor.INS.System, ClaimRepresentative: true,
			ClaimName: "Nathalie MARTIN", ClaimScope: "openid fhirUser patient/*.cruds",
		}}
	// An auditor reads access histories and nothing else.
	users[DemoAuditor] = demoUser{kind: carnet.ActorSystem, group: groupAuditors,
		label:  "Auditrice de démonstration (historiques des accès)",
		claims: map[string]any{ClaimClientID: "auditeur-demo", ClaimName: "Auditrice de démonstration", ClaimScope: "openid system/AuditEvent.rs"}}
	users[DemoSystem] = demoUser{kind: carnet.ActorSystem, group: groupSoftware,
		label: "Logiciel du cabinet du médecin généraliste (dépose les documents de ses auteurs)", claims: map[string]any{
			ClaimClientID: DemoSystem,
			ClaimName:     "Logiciel de démonstration du cabinet du médecin généraliste",
			ClaimScope:    "system/*.cruds",
			ClaimFINESS:   lgcOrg, // files for the authors of that practice only
		}}
	return users
}

// Client returns an HTTP client that reaches this issuer's discovery and
// JWKS in process, for the server that mounts it: the server verifies demo
// tokens over the same HTTP exchange as with an outside issuer, without
// calling itself over the network (its public URL may not be reachable
// from inside). Other URLs fail.
func (d *DemoIssuer) Client() *http.Client {
	return &http.Client{Transport: demoTransport{d}, Timeout: 5 * time.Second}
}

type demoTransport struct{ d *DemoIssuer }

func (t demoTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	iss := t.d.IssuerURL()
	if iss == "" || !strings.HasPrefix(r.URL.String(), iss+"/") {
		return nil, fmt.Errorf("demo issuer client: %s is not under %s", r.URL, iss)
	}
	rec := &memResponse{header: http.Header{}, status: http.StatusOK}
	t.d.ServeHTTP(rec, r)
	return &http.Response{
		Status: fmt.Sprintf("%d %s", rec.status, http.StatusText(rec.status)), StatusCode: rec.status,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: rec.header, Body: io.NopCloser(bytes.NewReader(rec.body.Bytes())),
		ContentLength: int64(rec.body.Len()), Request: r,
	}, nil
}

// memResponse is an http.ResponseWriter kept in memory.
type memResponse struct {
	header http.Header
	body   bytes.Buffer
	status int
	wrote  bool
}

func (m *memResponse) Header() http.Header { return m.header }
func (m *memResponse) WriteHeader(code int) {
	if !m.wrote {
		m.status, m.wrote = code, true
	}
}
func (m *memResponse) Write(b []byte) (int, error) {
	m.wrote = true
	return m.body.Write(b)
}

// DemoUser is a demo user as the server's banner and login page show it.
type DemoUser struct{ Name, Label, Group string }

// DemoUsers are the demo users, by group then name.
func DemoUsers() []DemoUser {
	var out []DemoUser
	for name, u := range demoUsers() {
		out = append(out, DemoUser{Name: name, Label: u.label, Group: u.group})
	}
	slices.SortFunc(out, func(a, b DemoUser) int { return cmp.Or(cmp.Compare(a.Group, b.Group), cmp.Compare(a.Name, b.Name)) })
	return out
}

// DemoUserNames are the demo users' names, sorted.
func DemoUserNames() []string {
	out := slices.Collect(maps.Keys(demoUsers()))
	slices.Sort(out)
	return out
}
