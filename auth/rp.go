package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// RelyingParty signs people in with the OpenID Connect authorization code
// flow and PKCE (S256) at one issuer: Carnet's web space as the issuer's
// client. The access token obtained is verified exactly as the API verifies
// bearer tokens (Users); the ID token by the issuer's keys, with the client
// id as audience and the nonce of the request.
type RelyingParty struct {
	cfg RPConfig
	ids *Verifier // ID tokens: audience = client id

	mu   sync.Mutex
	disc *rpDiscovery
	at   time.Time
}

// RPConfig configures a RelyingParty.
type RPConfig struct {
	Issuer       string // the issuer URL, as configured for the API
	ClientID     string
	ClientSecret string // empty: a public client (PKCE only)
	RedirectURI  string
	// Users verifies access tokens (the API's Verifier, which trusts
	// Issuer): the session's actor is what the access token says.
	Users      *Verifier
	HTTPClient *http.Client
	Now        func() time.Time
	// AllowTestINS is passed to the ID token verifier (it reads no INS).
	AllowTestINS bool
}

type rpDiscovery struct {
	Issuer                string   `json:"issuer"`
	AuthorizationEndpoint string   `json:"authorization_endpoint"`
	TokenEndpoint         string   `json:"token_endpoint"`
	JWKSURI               string   `json:"jwks_uri"`
	CodeChallengeMethods  []string `json:"code_challenge_methods_supported"`
	ScopesSupported       []string `json:"scopes_supported"`
	GrantTypesSupported   []string `json:"grant_types_supported"`
}

// NewRelyingParty checks cfg.
func NewRelyingParty(cfg RPConfig) (*RelyingParty, error) {
	if cfg.Issuer == "" || cfg.ClientID == "" || cfg.RedirectURI == "" || cfg.Users == nil {
		return nil, errors.New("auth: a relying party needs an issuer, a client id, a redirect URI and the users' verifier")
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	ids, err := NewVerifier(Config{Issuers: []Issuer{{URL: cfg.Issuer, Audience: cfg.ClientID}},
		HTTPClient: cfg.HTTPClient, Now: cfg.Now, AllowTestINS: cfg.AllowTestINS})
	if err != nil {
		return nil, err
	}
	return &RelyingParty{cfg: cfg, ids: ids}, nil
}

// Issuer returns the issuer URL.
func (rp *RelyingParty) Issuer() string { return rp.cfg.Issuer }

// Discovery returns the issuer's endpoints (cached for an hour), for the
// SMART configuration.
func (rp *RelyingParty) Discovery(ctx context.Context) (authorize, token, jwks string, err error) {
	d, err := rp.discovery(ctx)
	if err != nil {
		return "", "", "", err
	}
	return d.AuthorizationEndpoint, d.TokenEndpoint, d.JWKSURI, nil
}

func (rp *RelyingParty) discovery(ctx context.Context) (*rpDiscovery, error) {
	rp.mu.Lock()
	if rp.disc != nil && rp.cfg.Now().Sub(rp.at) < time.Hour {
		d := rp.disc
		rp.mu.Unlock()
		return d, nil
	}
	rp.mu.Unlock()
	var d rpDiscovery
	if err := rp.getJSON(ctx, strings.TrimSuffix(rp.cfg.Issuer, "/")+"/.well-known/openid-configuration", &d); err != nil {
		return nil, fmt.Errorf("discovery of %s: %w", rp.cfg.Issuer, err)
	}
	if d.Issuer != rp.cfg.Issuer {
		return nil, fmt.Errorf("discovery: issuer %q, want %q", d.Issuer, rp.cfg.Issuer)
	}
	for _, u := range []string{d.AuthorizationEndpoint, d.TokenEndpoint} {
		pu, err := url.Parse(u)
		if err != nil || pu.Host == "" || (pu.Scheme != "https" && !(pu.Scheme == "http" && strings.HasPrefix(rp.cfg.Issuer, "http://"))) {
			return nil, fmt.Errorf("discovery: bad endpoint %q (https required for an https issuer)", u)
		}
	}
	rp.mu.Lock()
	rp.disc, rp.at = &d, rp.cfg.Now()
	rp.mu.Unlock()
	return &d, nil
}

func (rp *RelyingParty) getJSON(ctx context.Context, u string, dst any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := rp.cfg.HTTPClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: status %d", u, resp.StatusCode)
	}
	return json.NewDecoder(io.LimitReader(resp.Body, maxDocumentSize)).Decode(dst)
}

// LoginRequest is what a login must remember until the issuer sends the
// user back: kept server-side, never in a URL but state.
type LoginRequest struct {
	State, Nonce, Verifier string
}

// NewLoginRequest draws a state and a nonce (128 bits each) and a PKCE
// code verifier (256 bits).
func NewLoginRequest() (LoginRequest, error) {
	var b [16 + 16 + 32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return LoginRequest{}, err
	}
	enc := base64.RawURLEncoding.EncodeToString
	return LoginRequest{State: enc(b[:16]), Nonce: enc(b[16:32]), Verifier: enc(b[32:])}, nil
}

// Challenge is the PKCE S256 challenge of the verifier.
func (l LoginRequest) Challenge() string {
	sum := sha256.Sum256([]byte(l.Verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// AuthorizeURL is where the browser is sent to sign in.
func (rp *RelyingParty) AuthorizeURL(ctx context.Context, l LoginRequest) (string, error) {
	d, err := rp.discovery(ctx)
	if err != nil {
		return "", err
	}
	u, err := url.Parse(d.AuthorizationEndpoint)
	if err != nil {
		return "", err
	}
	q := u.Query()
	q.Set("response_type", "code")
	q.Set("client_id", rp.cfg.ClientID)
	q.Set("redirect_uri", rp.cfg.RedirectURI)
	q.Set("scope", "openid fhirUser")
	q.Set("state", l.State)
	q.Set("nonce", l.Nonce)
	q.Set("code_challenge", l.Challenge())
	q.Set("code_challenge_method", "S256")
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// CheckState compares the state sent back with the one remembered, in
// constant time.
func (l LoginRequest) CheckState(got string) bool {
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(l.State)) == 1
}

// Exchange trades the code for tokens and returns who signed in. Errors
// are KindUnauthenticated with a generic message (the cause for the log
// only), or KindUnavailable when the issuer cannot be reached.
func (rp *RelyingParty) Exchange(ctx context.Context, l LoginRequest, code string) (*Principal, error) {
	d, err := rp.discovery(ctx)
	if err != nil {
		return nil, refuseLogin(err)
	}
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {rp.cfg.RedirectURI},
		"client_id": {rp.cfg.ClientID}, "code_verifier": {l.Verifier}}
	if rp.cfg.ClientSecret != "" {
		form.Set("client_secret", rp.cfg.ClientSecret)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.TokenEndpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, refuseLogin(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := rp.cfg.HTTPClient.Do(req)
	if err != nil {
		return nil, refuseLogin(err)
	}
	defer resp.Body.Close()
	var tr struct {
		AccessToken string `json:"access_token"`
		IDToken     string `json:"id_token"`
		TokenType   string `json:"token_type"`
		Error       string `json:"error"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxDocumentSize)).Decode(&tr); err != nil {
		return nil, refuseLogin(fmt.Errorf("token response: %w", err))
	}
	if resp.StatusCode != http.StatusOK || tr.AccessToken == "" || tr.IDToken == "" || !strings.EqualFold(tr.TokenType, "Bearer") {
		return nil, refuseLogin(fmt.Errorf("token endpoint: status %d, error %q", resp.StatusCode, tr.Error))
	}
	if err := rp.ids.verifyIDToken(ctx, tr.IDToken, l.Nonce); err != nil {
		return nil, refuseLogin(err)
	}
	return rp.cfg.Users.Verify(ctx, tr.AccessToken)
}

func refuseLogin(cause error) error {
	return refuse(fmt.Errorf("login: %w", cause))
}

// verifyIDToken checks an ID token (OIDC Core §3.1.3.7): the issuer's
// signature, iss, aud (the client id), exp, and the nonce of the request.
func (v *Verifier) verifyIDToken(ctx context.Context, raw, nonce string) error {
	_, _, claims, err := v.verified(ctx, raw)
	if err != nil {
		return err
	}
	var got string
	if err := stringMember(claims, "nonce", &got); err != nil {
		return err
	}
	if subtle.ConstantTimeCompare([]byte(got), []byte(nonce)) != 1 {
		return errors.New("ID token nonce is not the request's")
	}
	return nil
}
