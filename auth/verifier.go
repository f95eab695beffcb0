package auth

import (
	"context"
	"crypto"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	carnet "github.com/carnet-sante/carnet"
)

// Claim names read from tokens (docs/AUTH.md has the table).
const (
	ClaimActor          = "carnet_actor" // professional, patient or system
	ClaimRPPS           = "rpps"
	ClaimProfession     = "profession" // TRE_G15, e.g. G15_10
	ClaimSpecialty      = "specialty"  // e.g. G15_10/SM04
	ClaimFINESS         = "finess"
	ClaimINS            = "ins"
	ClaimINSSystem      = "ins_system" // urn:oid:1.2.250.1.213.1.4.8 when absent
	ClaimRepresentative = "legal_representative"
	ClaimName           = "name"
	ClaimScope          = "scope"
	ClaimClientID       = "client_id"
	ClaimAZP            = "azp"
	// ClaimCentre15 (boolean) marks a regulating physician of a SAMU –
	// centre 15: only they may use the centre 15 mode (ETREAT).
	ClaimCentre15 = "centre15"
	// ClaimOperator (boolean) marks an operator's client: with the scope
	// system/Permit.cruds it manages data permits (docs/SECONDARY.md).
	ClaimOperator = "carnet_operator"
)

// Skew bounds.
const (
	DefaultSkew = 30 * time.Second
	MaxSkew     = 60 * time.Second
	maxScopes   = 64
	maxAud      = 16
)

const oidFINESS = "1.2.250.1.71.4.2.2"

// Issuer is one trusted OpenID Connect issuer: what an operator configures.
type Issuer struct {
	// URL is the issuer identifier; tokens' iss must equal it exactly,
	// and discovery is read from URL + "/.well-known/openid-configuration".
	URL string
	// Audience must be one of the token's aud values: the identifier this
	// Carnet deployment is registered under at the issuer.
	Audience string
	// JWKSURL, when set, is used instead of discovery.
	JWKSURL string
}

// Config configures a Verifier.
type Config struct {
	Issuers []Issuer
	// Algorithms narrows the accepted algorithms (RS256, ES256, EdDSA);
	// empty means all three. Nothing else can be added.
	Algorithms []string
	// Skew is the clock tolerance on exp, nbf and iat: 0 means
	// DefaultSkew, more than MaxSkew is refused.
	Skew time.Duration
	// AllowTestINS accepts the test INS OIDs (demo and test deployments).
	AllowTestINS bool
	// OperatorIssuers are the issuers (among Issuers) allowed to grant
	// the carnet_operator claim: a token of another issuer claiming it is
	// refused. Empty: no issuer may, there is no operator.
	OperatorIssuers []string
	HTTPClient      *http.Client
	Now             func() time.Time
	MinRefresh      time.Duration // see KeySetOptions
	MaxKeyAge       time.Duration
}

// Verifier authenticates bearer tokens. It is safe for concurrent use.
type Verifier struct {
	seen         jtiCache
	issuers      map[string]verifierIssuer
	algs         []string
	skew         time.Duration
	allowTestINS bool
	operators    map[string]bool // issuers allowed to grant carnet_operator
	now          func() time.Time
}

type verifierIssuer struct {
	audience string
	jwksURL  string
	keys     keySource
}

// keySource gives the key for a token; *KeySet is the real one.
type keySource interface {
	Key(ctx context.Context, kid, alg string) (crypto.PublicKey, error)
}

// NewVerifier checks cfg and returns a Verifier. Keys are fetched on first
// use.
func NewVerifier(cfg Config) (*Verifier, error) {
	if len(cfg.Issuers) == 0 {
		return nil, errors.New("auth: no issuer configured")
	}
	v := &Verifier{issuers: map[string]verifierIssuer{}, skew: cfg.Skew,
		allowTestINS: cfg.AllowTestINS, now: cfg.Now, operators: map[string]bool{}}
	if v.now == nil {
		v.now = time.Now
	}
	switch {
	case v.skew < 0 || v.skew > MaxSkew:
		return nil, fmt.Errorf("auth: clock skew %s outside [0, %s]", v.skew, MaxSkew)
	case v.skew == 0:
		v.skew = DefaultSkew
	}
	v.algs = []string{AlgRS256, AlgES256, AlgEdDSA}
	if len(cfg.Algorithms) > 0 {
		v.algs = nil
		for _, a := range cfg.Algorithms {
			if !supportedAlgs[a] {
				return nil, fmt.Errorf("auth: algorithm %q not supported", a)
			}
			v.algs = append(v.algs, a)
		}
	}
	for _, is := range cfg.Issuers {
		if is.URL == "" || is.Audience == "" {
			return nil, errors.New("auth: an issuer needs a URL and an audience")
		}
		if _, dup := v.issuers[is.URL]; dup {
			return nil, fmt.Errorf("auth: issuer %s configured twice", is.URL)
		}
		ks := NewKeySet(is.URL, KeySetOptions{JWKSURL: is.JWKSURL, HTTPClient: cfg.HTTPClient,
			Now: v.now, MinRefresh: cfg.MinRefresh, MaxKeyAge: cfg.MaxKeyAge})
		v.issuers[is.URL] = verifierIssuer{audience: is.Audience, jwksURL: is.JWKSURL, keys: ks}
	}
	for _, u := range cfg.OperatorIssuers {
		if _, ok := v.issuers[u]; !ok {
			return nil, fmt.Errorf("auth: operator issuer %s is not a configured issuer", u)
		}
		v.operators[u] = true
	}
	return v, nil
}

// Principal is what a verified token says about its bearer.
type Principal struct {
	Actor   carnet.Actor
	Issuer  string
	Subject string
	Expiry  time.Time
	// LegalRepresentative is set for a patient actor acting as the legal
	// representative of the patient whose INS is Actor.ID (a parent for a
	// minor). carnet.Actor has no field for it yet.
	LegalRepresentative bool
}

// refuse is the error callers see for a bad token: what is wrong with it,
// in words safe for its holder (RFC 6750 error_description), the precise
// reason in the cause, for the server log.
func refuse(reason error) error { return refuseAs("invalid bearer token", reason) }

func refuseAs(what string, reason error) error {
	return &carnet.Error{Kind: carnet.KindUnauthenticated, Op: "auth", Msg: what, Err: reason}
}

// Authenticate verifies the request's bearer token and returns its actor.
func (v *Verifier) Authenticate(r *http.Request) (carnet.Actor, error) {
	p, err := v.AuthenticatePrincipal(r)
	if err != nil {
		return carnet.Actor{}, err
	}
	return p.Actor, nil
}

// AuthenticatePrincipal is Authenticate with everything the token said.
func (v *Verifier) AuthenticatePrincipal(r *http.Request) (*Principal, error) {
	tok, err := BearerToken(r)
	if err != nil {
		return nil, err
	}
	return v.Verify(r.Context(), tok)
}

// BearerToken returns the token of the request's single "Authorization:
// Bearer" header. Tokens in the query string or form are not read.
func BearerToken(r *http.Request) (string, error) {
	hs := r.Header.Values("Authorization")
	if len(hs) == 0 {
		return "", refuseAs("a bearer token is required", errors.New("no Authorization header"))
	}
	if len(hs) > 1 {
		return "", refuseAs("one Authorization header, please", errors.New("several Authorization headers"))
	}
	scheme, tok, ok := strings.Cut(hs[0], " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", refuseAs("a bearer token is required (Authorization: Bearer …)", errors.New("Authorization is not Bearer"))
	}
	tok = strings.TrimLeft(tok, " ")
	if tok == "" || strings.ContainsAny(tok, " \t") {
		return "", refuseAs("malformed bearer token", errors.New("malformed bearer token"))
	}
	return tok, nil
}

// Verify checks a compact JWS token and maps its claims to a Principal.
// Errors are KindUnauthenticated, or KindUnavailable when the issuer's
// keys cannot be fetched at all.
func (v *Verifier) Verify(ctx context.Context, raw string) (*Principal, error) {
	t, iss, claims, err := v.verified(ctx, raw)
	if err != nil {
		return nil, err
	}
	if t.jku != "" {
		// Keys named by the token itself are never trusted.
		return nil, refuseAs("keys named by the token itself are not accepted", errors.New("token header carries jku"))
	}
	p, err := v.principal(iss, claims)
	if err != nil {
		return nil, refuseAs("the token's claims do not name an actor this server accepts", err)
	}
	return p, nil
}

// verified checks a token's structure, issuer, signature, times and
// audience, and returns its claims.
func (v *Verifier) verified(ctx context.Context, raw string) (*jws, string, map[string]json.RawMessage, error) {
	t, err := parseJWS(raw)
	if err != nil {
		return nil, "", nil, refuseAs("malformed bearer token", err)
	}
	if !slices.Contains(v.algs, t.alg) {
		return nil, "", nil, refuseAs("the token's signing algorithm is not accepted", fmt.Errorf("alg %s not enabled", t.alg))
	}
	claims, err := strictObject(t.payload)
	if err != nil {
		return nil, "", nil, refuseAs("malformed bearer token", fmt.Errorf("claims: %w", err))
	}
	var iss string
	if err := stringMember(claims, "iss", &iss); err != nil {
		return nil, "", nil, refuseAs("malformed bearer token", err)
	}
	is, ok := v.issuers[iss]
	if !ok {
		return nil, "", nil, refuseAs("the token's issuer is not trusted here", fmt.Errorf("issuer %q not trusted", iss))
	}
	key, err := is.keys.Key(ctx, t.kid, t.alg)
	if err != nil {
		if carnet.IsKind(err, carnet.KindUnavailable) {
			return nil, "", nil, err
		}
		return nil, "", nil, refuseAs("the token's signing key is unknown to its issuer", err)
	}
	if err := verifySignature(t.alg, key, t.signingInput, t.signature); err != nil {
		return nil, "", nil, refuseAs("the token's signature does not verify", err)
	}
	// From here the claims are the issuer's.
	if err := v.checkTimes(claims); err != nil {
		return nil, "", nil, refuseAs("the token has expired or is not valid yet", err)
	}
	if err := checkAudience(claims, is.audience); err != nil {
		return nil, "", nil, refuseAs("the token was issued for another audience", err)
	}
	return t, iss, claims, nil
}

// ClientAssertion is what a verified client JWT (CDS Hooks: the CDS
// Client authenticating to a CDS Service) says.
type ClientAssertion struct {
	Issuer, Subject, ID string
	Expiry              time.Time
}

// VerifyClient checks the JWT a client signs to authenticate itself (CDS
// Hooks 2.0 "Trusting CDS Clients"): a trusted issuer's signature, the
// audience (the service's URL), exp and iat, a jti never seen before
// (replays are refused until the token expires), at most 5 minutes of
// lifetime. A jku header is accepted only when it is the JWK Set URL
// configured for that issuer; keys are never fetched from it.
func (v *Verifier) VerifyClient(ctx context.Context, raw string) (ClientAssertion, error) {
	t, iss, claims, err := v.verified(ctx, raw)
	if err != nil {
		return ClientAssertion{}, err
	}
	if t.jku != "" && t.jku != v.issuers[iss].jwksURL {
		return ClientAssertion{}, refuse(fmt.Errorf("jku %q is not the JWK Set configured for %s", t.jku, iss))
	}
	a := ClientAssertion{Issuer: iss}
	if err := stringMember(claims, "sub", &a.Subject); err != nil {
		return ClientAssertion{}, refuse(err)
	}
	if err := stringMember(claims, "jti", &a.ID); err != nil || a.ID == "" || len(a.ID) > 256 {
		return ClientAssertion{}, refuseAs("client token without a jti", errors.New("client token without a jti"))
	}
	exp, _, err := numericDate(claims, "exp")
	if err != nil {
		return ClientAssertion{}, refuse(err)
	}
	iat, ok, err := numericDate(claims, "iat")
	if err != nil || !ok {
		return ClientAssertion{}, refuseAs("client token without iat", errors.New("client token without iat"))
	}
	if exp.Sub(iat) > 5*time.Minute+v.skew {
		return ClientAssertion{}, refuseAs("client token lives longer than 5 minutes", errors.New("client token lives longer than 5 minutes"))
	}
	a.Expiry = exp
	if !v.seen.add(iss+"\x00"+a.ID, exp.Add(v.skew), v.now()) {
		return ClientAssertion{}, refuseAs("client token replayed: each jti is used once", errors.New("client token replayed"))
	}
	return a, nil
}

// jtiCache remembers client token ids until they expire.
type jtiCache struct {
	mu   sync.Mutex
	seen map[string]time.Time
}

// add records id until exp; false if it was already there.
func (c *jtiCache) add(id string, exp, now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.seen == nil {
		c.seen = map[string]time.Time{}
	}
	if len(c.seen) > 10000 {
		for k, e := range c.seen {
			if now.After(e) {
				delete(c.seen, k)
			}
		}
	}
	if e, ok := c.seen[id]; ok && !now.After(e) {
		return false
	}
	c.seen[id] = exp
	return true
}

func (v *Verifier) checkTimes(c map[string]json.RawMessage) error {
	now := v.now()
	exp, ok, err := numericDate(c, "exp")
	if err != nil {
		return err
	}
	if !ok {
		return errors.New("token has no exp")
	}
	if !now.Before(exp.Add(v.skew)) {
		return fmt.Errorf("token expired at %s", exp.UTC().Format(time.RFC3339))
	}
	if nbf, ok, err := numericDate(c, "nbf"); err != nil {
		return err
	} else if ok && now.Add(v.skew).Before(nbf) {
		return fmt.Errorf("token not valid before %s", nbf.UTC().Format(time.RFC3339))
	}
	if iat, ok, err := numericDate(c, "iat"); err != nil {
		return err
	} else if ok && now.Add(v.skew).Before(iat) {
		return fmt.Errorf("token issued in the future, at %s", iat.UTC().Format(time.RFC3339))
	}
	return nil
}

// numericDate reads a JSON number of seconds since the epoch (RFC 7519).
func numericDate(c map[string]json.RawMessage, name string) (time.Time, bool, error) {
	raw, ok := c[name]
	if !ok {
		return time.Time{}, false, nil
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f < 0 || f > 1e11 {
		return time.Time{}, false, fmt.Errorf("claim %s is not a NumericDate", name)
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)), true, nil
}

func checkAudience(c map[string]json.RawMessage, want string) error {
	raw, ok := c["aud"]
	if !ok {
		return errors.New("token has no aud")
	}
	var one string
	if json.Unmarshal(raw, &one) == nil {
		if one == want {
			return nil
		}
		return fmt.Errorf("aud %q is not %q", one, want)
	}
	var many []string
	if err := json.Unmarshal(raw, &many); err != nil || len(many) > maxAud {
		return errors.New("aud is neither a string nor a short array of strings")
	}
	if slices.Contains(many, want) {
		return nil
	}
	return fmt.Errorf("aud does not contain %q", want)
}

// principal maps verified claims to an actor.
func (v *Verifier) principal(iss string, c map[string]json.RawMessage) (*Principal, error) {
	p := &Principal{Issuer: iss}
	var kind, rpps, ins, clientID, azp string
	for _, m := range []struct {
		name string
		dst  *string
	}{
		{"sub", &p.Subject}, {ClaimActor, &kind}, {ClaimRPPS, &rpps}, {ClaimINS, &ins},
		{ClaimClientID, &clientID}, {ClaimAZP, &azp}, {ClaimName, &p.Actor.Name},
		{ClaimProfession, &p.Actor.Profession}, {ClaimSpecialty, &p.Actor.Specialty},
	} {
		if err := stringMember(c, m.name, m.dst); err != nil {
			return nil, err
		}
	}
	exp, _, _ := numericDate(c, "exp")
	p.Expiry = exp.UTC()
	scopes, err := scopeClaim(c)
	if err != nil {
		return nil, err
	}
	p.Actor.Scopes = scopes
	if len(p.Actor.Name) > 200 || !printable(p.Actor.Name) {
		return nil, errors.New("bad name claim")
	}
	if kind == "" {
		// No explicit kind: infer it, most specific identity first.
		switch {
		case rpps != "":
			kind = string(carnet.ActorProfessional)
		case ins != "":
			kind = string(carnet.ActorPatient)
		case slices.ContainsFunc(scopes, func(s string) bool { return strings.HasPrefix(s, "system/") }):
			kind = string(carnet.ActorSystem)
		default:
			return nil, errors.New("token names no actor")
		}
	}
	if err := v.setIdentity(p, carnet.ActorKind(kind), iss, rpps, ins, clientID, azp, c); err != nil {
		return nil, err
	}
	orgs, err := finessClaim(c)
	if err != nil {
		return nil, err
	}
	for _, f := range orgs {
		p.Actor.Orgs = append(p.Actor.Orgs, carnet.Identifier{System: "urn:oid:" + oidFINESS, Value: f})
	}
	if len(p.Actor.Orgs) > 0 {
		p.Actor.Org = p.Actor.Orgs[0]
	}
	if raw, ok := c[ClaimCentre15]; ok {
		if err := json.Unmarshal(raw, &p.Actor.Centre15); err != nil {
			return nil, errors.New("centre15 is not a boolean")
		}
		if p.Actor.Centre15 && p.Actor.Kind != carnet.ActorProfessional {
			return nil, errors.New("centre15 names a professional")
		}
	}
	if raw, ok := c[ClaimOperator]; ok {
		if err := json.Unmarshal(raw, &p.Actor.Operator); err != nil {
			return nil, errors.New("carnet_operator is not a boolean")
		}
		if p.Actor.Operator && p.Actor.Kind != carnet.ActorSystem {
			return nil, errors.New("carnet_operator names a system (client credentials)")
		}
		if p.Actor.Operator && !v.operators[iss] {
			return nil, errors.New("carnet_operator from an issuer not allowed to grant it")
		}
	}
	return p, nil
}

// finessClaim reads the finess claim: one FINESS, or an array of them for
// software acting for several structures (a hospital group).
func finessClaim(c map[string]json.RawMessage) ([]string, error) {
	raw, ok := c[ClaimFINESS]
	if !ok {
		return nil, nil
	}
	var one string
	var many []string
	if err := json.Unmarshal(raw, &one); err == nil {
		many = []string{one}
	} else if err := json.Unmarshal(raw, &many); err != nil {
		return nil, errors.New("finess is neither a string nor an array of strings")
	}
	if len(many) > 64 {
		return nil, errors.New("too many finess")
	}
	for _, f := range many {
		// A FINESS (9 digits), or a structure's national id (Struct_IdNat:
		// "1" + FINESS, "3" + SIRET, …).
		if !digits(f, 9, 16) {
			return nil, errors.New("bad finess claim")
		}
	}
	return many, nil
}

func (v *Verifier) setIdentity(p *Principal, kind carnet.ActorKind, iss, rpps, ins, clientID, azp string, c map[string]json.RawMessage) error {
	a := &p.Actor
	a.Kind = kind
	switch kind {
	case carnet.ActorProfessional:
		if !digits(rpps, 11, 12) {
			return errors.New("professional without a valid rpps claim")
		}
		if !validProfession(a.Profession) {
			return errors.New("professional without a valid TRE_G15 profession")
		}
		if a.Specialty != "" && (len(a.Specialty) > 32 || !printable(a.Specialty) || strings.ContainsRune(a.Specialty, ' ')) {
			return errors.New("bad specialty claim")
		}
		a.ID = carnet.Identifier{System: "urn:oid:" + carnet.OIDRPPS, Value: rpps}
	case carnet.ActorPatient:
		var sys string
		if err := stringMember(c, ClaimINSSystem, &sys); err != nil {
			return err
		}
		if sys == "" {
			sys = carnet.OIDInsNIR
		}
		if !strings.HasPrefix(sys, "urn:oid:") {
			sys = "urn:oid:" + sys
		}
		id := carnet.Identifier{System: sys, Value: ins}
		isINS, test := id.IsINS()
		if !isINS || !digits(ins, 15, 15) {
			return errors.New("patient without a valid INS")
		}
		if test && !v.allowTestINS {
			return errors.New("test INS outside demo or test mode")
		}
		if raw, ok := c[ClaimRepresentative]; ok {
			if err := json.Unmarshal(raw, &p.LegalRepresentative); err != nil {
				return errors.New("legal_representative is not a boolean")
			}
		}
		a.LegalRepresentative = p.LegalRepresentative
		a.ID = id
		a.Profession, a.Specialty = "", ""
	case carnet.ActorSystem:
		id := clientID
		if id == "" {
			id = azp
		}
		if id == "" || len(id) > 128 || !printable(id) {
			return errors.New("system without a client_id")
		}
		// Client ids are unique per issuer only: the issuer is the namespace.
		a.ID = carnet.Identifier{System: iss, Value: id}
		a.Profession, a.Specialty = "", ""
		if a.Name == "" {
			a.Name = id
		}
	default:
		return fmt.Errorf("unknown actor kind %q", kind)
	}
	return nil
}

func scopeClaim(c map[string]json.RawMessage) ([]string, error) {
	var s string
	if err := stringMember(c, ClaimScope, &s); err != nil {
		return nil, err
	}
	if len(s) > 4096 {
		return nil, errors.New("scope claim too long")
	}
	f := strings.Fields(s)
	if len(f) > maxScopes {
		return nil, errors.New("too many scopes")
	}
	return f, nil
}

// validProfession accepts a TRE_G15 code: "G15_" and two digits.
func validProfession(s string) bool {
	return len(s) == 6 && strings.HasPrefix(s, "G15_") && digits(s[4:], 2, 2)
}

func digits(s string, minLen, maxLen int) bool {
	if len(s) < minLen || len(s) > maxLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// printable refuses control characters, which have no place in names and
// identifiers and could forge lines in logs.
func printable(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return false
		}
	}
	return true
}
