package auth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	carnet "github.com/carnet-sante/carnet"
)

// GrantDemoUser is the demo issuer's own grant type: a token for a named
// demo user, for command-line tools (`carnet token --url`). The demo issuer
// has no passwords, so it grants nothing its login page does not.
const GrantDemoUser = "urn:carnet:params:oauth:grant-type:demo-user"

// GrantDemoCDSClient asks the demo issuer for the JWT the demo CDS Client
// (the demo software) signs to call the pastille: audience the service's
// URL, 5 minutes, a fresh jti (carnet token --cds-client).
const GrantDemoCDSClient = "urn:carnet:params:oauth:grant-type:demo-cds-client"

// MaxDemoTokenTTL bounds what GrantDemoUser's ttl may ask for.
const MaxDemoTokenTTL = 24 * time.Hour

// Lifetimes of the demo issuer's codes and tokens.
const (
	demoCodeTTL  = 60 * time.Second
	demoTokenTTL = time.Hour
	maxDemoCodes = 10000
)

// DemoClient is a client registered at the demo issuer's authorization
// endpoint: a public client (PKCE, no secret), with its exact redirect URIs.
type DemoClient struct {
	ID           string
	RedirectURIs []string
}

// demoLogin is the demo issuer's authorization server: the login page, the
// codes it issued, the token endpoint.
type demoLogin struct {
	d        *DemoIssuer
	audience string
	clients  []DemoClient
	// cdsAudience is the pastille's URL, the audience of GrantDemoCDSClient
	// (empty: not offered).
	cdsAudience string
	// formKey binds the login page's form to the request it was made for.
	formKey [32]byte

	mu    sync.Mutex
	codes map[[32]byte]*demoCode // by SHA-256 of the code
}

// demoCode is what a code stands for until it is exchanged (once).
type demoCode struct {
	user, client, redirect, challenge, nonce, scope string
	expires                                         time.Time
}

// EnableLogin turns on the authorization endpoint (…/authorize: a French
// page to pick a demo user, saying it is a demo) and the token endpoint
// (…/token) for these clients; access tokens carry audience. Call it
// before serving.
func (d *DemoIssuer) EnableLogin(audience string, clients ...DemoClient) error {
	l := &demoLogin{d: d, audience: audience, clients: clients, codes: map[[32]byte]*demoCode{}}
	if _, err := rand.Read(l.formKey[:]); err != nil {
		return err
	}
	d.mu.Lock()
	d.login = l
	d.mu.Unlock()
	return nil
}

// EnableCDSClient lets the token endpoint sign, for GrantDemoCDSClient,
// the demo CDS Client's JWTs for the service at audience. Call it after
// EnableLogin, before serving.
func (d *DemoIssuer) EnableCDSClient(audience string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.login != nil {
		d.login.cdsAudience = audience
	}
}

func (d *DemoIssuer) loginEndpoints() *demoLogin {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.login
}

// authRequest is an authorization request's parameters (RFC 6749 §4.1.1,
// OIDC, RFC 7636).
type authRequest struct {
	ClientID, RedirectURI, Scope, State, Nonce, Challenge string
}

func readAuthRequest(v url.Values) authRequest {
	return authRequest{ClientID: v.Get("client_id"), RedirectURI: v.Get("redirect_uri"), Scope: v.Get("scope"),
		State: v.Get("state"), Nonce: v.Get("nonce"), Challenge: v.Get("code_challenge")}
}

// mac binds the login form to the request it answers.
func (l *demoLogin) mac(a authRequest) string {
	m := hmac.New(sha256.New, l.formKey[:])
	for _, s := range []string{a.ClientID, a.RedirectURI, a.Scope, a.State, a.Nonce, a.Challenge} {
		m.Write([]byte(s))
		m.Write([]byte{0})
	}
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// check validates a request; the message is for the page, in French. A
// wrong client or redirect URI is never redirected to.
func (l *demoLogin) check(v url.Values, a authRequest) string {
	i := slices.IndexFunc(l.clients, func(c DemoClient) bool { return c.ID == a.ClientID })
	switch {
	case i < 0:
		return "Application inconnue (client_id)."
	case !slices.Contains(l.clients[i].RedirectURIs, a.RedirectURI):
		return "Adresse de retour non enregistrée pour cette application (redirect_uri)."
	case v.Get("response_type") != "code":
		return "Seul le flux « code d'autorisation » est accepté (response_type=code)."
	case v.Get("code_challenge_method") != "S256" || len(a.Challenge) != 43:
		return "PKCE S256 est obligatoire (code_challenge, code_challenge_method=S256)."
	case !slices.Contains(strings.Fields(a.Scope), "openid"):
		return "La portée doit comprendre openid."
	case a.State == "" || len(a.State) > 512 || len(a.Nonce) > 512:
		return "Paramètre state absent ou trop long."
	}
	return ""
}

// authorize serves the login page (GET) and issues a code for the user
// picked (POST).
func (l *demoLogin) authorize(w http.ResponseWriter, r *http.Request) {
	pageHeaders(w)
	var v url.Values
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		v = r.URL.Query()
	case http.MethodPost:
		r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
		if err := r.ParseForm(); err != nil {
			l.page(w, http.StatusBadRequest, authRequest{}, "Formulaire illisible.")
			return
		}
		v = r.PostForm
	default:
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	a := readAuthRequest(v)
	if msg := l.check(v, a); msg != "" {
		l.page(w, http.StatusBadRequest, authRequest{}, msg)
		return
	}
	if r.Method != http.MethodPost {
		l.page(w, http.StatusOK, a, "")
		return
	}
	if subtle.ConstantTimeCompare([]byte(v.Get("form")), []byte(l.mac(a))) != 1 {
		l.page(w, http.StatusForbidden, authRequest{}, "Formulaire expiré ou venu d'ailleurs : recommencez la connexion.")
		return
	}
	user := v.Get("user")
	u, ok := l.d.users[user]
	if !ok || u.group == "" || u.group == groupSoftware { // software signs in with client credentials, not here
		l.page(w, http.StatusBadRequest, a, "Choisissez un utilisateur de démonstration.")
		return
	}
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		http.Error(w, "indisponible", http.StatusServiceUnavailable)
		return
	}
	code := base64.RawURLEncoding.EncodeToString(raw[:])
	now := l.d.now()
	l.mu.Lock()
	for k, c := range l.codes {
		if now.After(c.expires) {
			delete(l.codes, k)
		}
	}
	if len(l.codes) >= maxDemoCodes {
		l.mu.Unlock()
		http.Error(w, "trop de connexions en cours", http.StatusServiceUnavailable)
		return
	}
	l.codes[sha256.Sum256([]byte(code))] = &demoCode{user: user, client: a.ClientID, redirect: a.RedirectURI,
		challenge: a.Challenge, nonce: a.Nonce, scope: a.Scope, expires: now.Add(demoCodeTTL)}
	l.mu.Unlock()
	back, _ := url.Parse(a.RedirectURI)
	q := back.Query()
	q.Set("code", code)
	q.Set("state", a.State)
	back.RawQuery = q.Encode()
	http.Redirect(w, r, back.String(), http.StatusSeeOther)
}

// token exchanges a code (authorization_code with PKCE) or names a demo
// user (GrantDemoUser) for tokens (RFC 6749 §5).
func (l *demoLogin) token(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		tokenError(w, http.StatusMethodNotAllowed, "invalid_request", "POST only")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		tokenError(w, http.StatusBadRequest, "invalid_request", "the body must be application/x-www-form-urlencoded")
		return
	}
	v := r.PostForm
	switch v.Get("grant_type") {
	case "authorization_code":
		l.exchange(w, v)
	case GrantDemoUser:
		user := v.Get("user")
		u, ok := l.d.users[user]
		if !ok {
			tokenError(w, http.StatusBadRequest, "invalid_grant", "unknown demo user; one of "+strings.Join(l.d.Users(), ", "))
			return
		}
		ttl := demoTokenTTL
		if s := v.Get("ttl"); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n < 1 || time.Duration(n)*time.Second > MaxDemoTokenTTL {
				tokenError(w, http.StatusBadRequest, "invalid_request", "ttl is a number of seconds, from 1 to 86400 (a demo token lives 24 h at most)")
				return
			}
			ttl = time.Duration(n) * time.Second
		}
		tok, err := l.d.Mint(user, l.audience, ttl)
		if err != nil {
			tokenError(w, http.StatusInternalServerError, "server_error", "cannot sign")
			return
		}
		writeTokenJSON(w, map[string]any{"access_token": tok, "token_type": "Bearer",
			"expires_in": int(ttl.Seconds()), "scope": u.claims[ClaimScope]})
	case GrantDemoCDSClient:
		if l.cdsAudience == "" {
			tokenError(w, http.StatusBadRequest, "unsupported_grant_type", "this server has no pastille for a demo CDS Client")
			return
		}
		jti := make([]byte, 16)
		if _, err := rand.Read(jti); err != nil {
			tokenError(w, http.StatusInternalServerError, "server_error", "no randomness")
			return
		}
		const life = 5 * time.Minute
		tok, err := l.d.Issue("", map[string]any{"sub": DemoSystem, "jti": hex.EncodeToString(jti)}, l.cdsAudience, life)
		if err != nil {
			tokenError(w, http.StatusInternalServerError, "server_error", "cannot sign")
			return
		}
		writeTokenJSON(w, map[string]any{"access_token": tok, "token_type": "client-assertion", "expires_in": int(life.Seconds())})
	default:
		tokenError(w, http.StatusBadRequest, "unsupported_grant_type", "grant_type is authorization_code, "+GrantDemoUser+" or "+GrantDemoCDSClient)
	}
}

func (l *demoLogin) exchange(w http.ResponseWriter, v url.Values) {
	code := v.Get("code")
	key := sha256.Sum256([]byte(code))
	l.mu.Lock()
	c := l.codes[key]
	delete(l.codes, key) // single use, whatever happens next
	l.mu.Unlock()
	now := l.d.now()
	switch {
	case c == nil || code == "":
		tokenError(w, http.StatusBadRequest, "invalid_grant", "unknown or already used code")
		return
	case now.After(c.expires):
		tokenError(w, http.StatusBadRequest, "invalid_grant", "expired code")
		return
	case v.Get("client_id") != c.client || v.Get("redirect_uri") != c.redirect:
		tokenError(w, http.StatusBadRequest, "invalid_grant", "the code was issued to another client or redirect_uri")
		return
	}
	verifier := v.Get("code_verifier")
	sum := sha256.Sum256([]byte(verifier))
	if len(verifier) < 43 || len(verifier) > 128 ||
		subtle.ConstantTimeCompare([]byte(base64.RawURLEncoding.EncodeToString(sum[:])), []byte(c.challenge)) != 1 {
		tokenError(w, http.StatusBadRequest, "invalid_grant", "code_verifier does not match the code_challenge")
		return
	}
	access, err := l.d.Mint(c.user, l.audience, demoTokenTTL)
	if err != nil {
		tokenError(w, http.StatusInternalServerError, "server_error", "cannot sign")
		return
	}
	u := l.d.users[c.user]
	claims := map[string]any{"iss": l.d.IssuerURL(), "sub": "demo:" + c.user, "aud": c.client,
		"iat": now.Unix(), "exp": now.Add(demoTokenTTL).Unix(), "auth_time": now.Unix(), ClaimName: u.claims[ClaimName]}
	if c.nonce != "" {
		claims["nonce"] = c.nonce
	}
	id, err := l.d.sign(claims)
	if err != nil {
		tokenError(w, http.StatusInternalServerError, "server_error", "cannot sign")
		return
	}
	writeTokenJSON(w, map[string]any{"access_token": access, "id_token": id, "token_type": "Bearer",
		"expires_in": int(demoTokenTTL.Seconds()), "scope": u.claims[ClaimScope]})
}

func tokenError(w http.ResponseWriter, status int, code, desc string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": desc})
}

func writeTokenJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// pageHeaders are the login page's: no script at all, nothing cached, never
// framed.
func pageHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Frame-Options", "DENY")
}

type loginGroup struct {
	Name  string
	Users []loginUser
}

type loginUser struct{ Login, Label string }

func (l *demoLogin) page(w http.ResponseWriter, status int, a authRequest, problem string) {
	data := struct {
		Request authRequest
		Form    string
		Problem string
		Groups  []loginGroup
	}{Request: a, Problem: problem}
	if a.ClientID != "" {
		data.Form = l.mac(a)
		for _, g := range []string{groupProfessionals, groupPatients, groupRepresentatives, groupAuditors} {
			lg := loginGroup{Name: g}
			for _, login := range l.d.Users() {
				if u := l.d.users[login]; u.group == g {
					lg.Users = append(lg.Users, loginUser{Login: login, Label: u.label})
				}
			}
			data.Groups = append(data.Groups, lg)
		}
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_ = loginPage.Execute(w, data)
}

// The login page uses the web space's stylesheet when it is there.
var loginPage = template.Must(template.New("login").Parse(`<!doctype html>
<html lang="fr">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Connexion de démonstration — Carnet</title>
<link rel="stylesheet" href="/static/carnet.css">
</head>
<body>
<header class="site"><p class="brand">Carnet</p></header>
<main id="contenu">
<h1>Connexion de démonstration</h1>
<p class="alerte" role="note"><strong>Démonstration :</strong> ce fournisseur d'identité n'existe qu'en mode démonstration.
Il n'y a pas de mot de passe : choisissez une personne fictive. Les données sont synthétiques ; n'y mettez jamais de données réelles.</p>
{{if .Problem}}<p class="erreur" role="alert">{{.Problem}}</p>{{end}}
{{if .Form}}
<form method="post" action="authorize">
<input type="hidden" name="response_type" value="code">
<input type="hidden" name="client_id" value="{{.Request.ClientID}}">
<input type="hidden" name="redirect_uri" value="{{.Request.RedirectURI}}">
<input type="hidden" name="scope" value="{{.Request.Scope}}">
<input type="hidden" name="state" value="{{.Request.State}}">
<input type="hidden" name="nonce" value="{{.Request.Nonce}}">
<input type="hidden" name="code_challenge" value="{{.Request.Challenge}}">
<input type="hidden" name="code_challenge_method" value="S256">
<input type="hidden" name="form" value="{{.Form}}">
{{range .Groups}}
<fieldset>
<legend>{{.Name}}</legend>
<ul class="choix">
{{range .Users}}<li><button type="submit" name="user" value="{{.Login}}">{{.Label}}</button></li>
{{end}}</ul>
</fieldset>
{{end}}
</form>
{{end}}
</main>
</body>
</html>
`))

// professionLabel names a professional's profession and specialty in
// French for the login page.
func professionLabel(a carnet.Author) string {
	switch a.Specialty.Code {
	case "G15_10/SM54":
		return "médecin généraliste"
	case "G15_10/SM04":
		return "cardiologue"
	case "G15_10/SM59":
		return "médecin urgentiste (SAMU, centre 15)"
	case "G15_21/SH":
		return "pharmacienne"
	}
	switch a.Profession.Code {
	case "G15_60":
		return "infirmière"
	case "G15_40":
		return "chirurgien-dentiste"
	case "G15_21":
		return "pharmacien"
	case "G15_10":
		return "médecin"
	}
	return a.Profession.Code
}

// frenchDate writes YYYY-MM-DD as DD/MM/YYYY.
func frenchDate(iso string) string {
	t, err := time.Parse(time.DateOnly, iso)
	if err != nil {
		return iso
	}
	return t.Format("02/01/2006")
}
