package auth

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	carnet "github.com/carnet-sante/carnet"
)

// loginFixture is the demo issuer with its login on, over real HTTP, and a
// relying party registered at it.
type loginFixture struct {
	d   *DemoIssuer
	srv *httptest.Server
	rp  *RelyingParty
	// clock moves the issuer's and the verifiers' time.
	mu  sync.Mutex
	now time.Time
}

const rpClient = "carnet-web"

func newLoginFixture(t *testing.T) *loginFixture {
	t.Helper()
	f := &loginFixture{now: time.Now()}
	clock := func() time.Time { f.mu.Lock(); defer f.mu.Unlock(); return f.now }
	d, err := NewDemoIssuer(t.TempDir(), clock)
	if err != nil {
		t.Fatal(err)
	}
	f.d = d
	f.srv = httptest.NewServer(http.StripPrefix("/idp", d))
	t.Cleanup(f.srv.Close)
	d.SetIssuerURL(f.srv.URL + "/idp")
	redirect := "https://carnet.test/connexion/retour"
	if err := d.EnableLogin("carnet-demo", DemoClient{ID: rpClient, RedirectURIs: []string{redirect}}); err != nil {
		t.Fatal(err)
	}
	users, err := NewVerifier(Config{Issuers: []Issuer{{URL: d.IssuerURL(), Audience: "carnet-demo"}}, AllowTestINS: true, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	f.rp, err = NewRelyingParty(RPConfig{Issuer: d.IssuerURL(), ClientID: rpClient, RedirectURI: redirect, Users: users, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *loginFixture) advance(d time.Duration) {
	f.mu.Lock()
	f.now = f.now.Add(d)
	f.mu.Unlock()
}

var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// login does what a browser does: open the authorization URL, pick user on
// the page, and return the code and state sent back.
func (f *loginFixture) login(t *testing.T, l LoginRequest, user string) (code, state string) {
	t.Helper()
	u, err := f.rp.AuthorizeURL(context.Background(), l)
	if err != nil {
		t.Fatal(err)
	}
	res, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.Contains(string(page), "Démonstration") {
		t.Fatalf("login page: %d\n%s", res.StatusCode, page)
	}
	if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") || strings.Contains(csp, "unsafe-inline") {
		t.Errorf("login page CSP %q", csp)
	}
	form := url.Values{}
	for _, m := range regexp.MustCompile(`name="([a-z_]+)" value="([^"]*)"`).FindAllStringSubmatch(string(page), -1) {
		if m[1] != "user" {
			form.Set(m[1], htmlUnescape(m[2]))
		}
	}
	form.Set("user", user)
	res, err = noRedirect.PostForm(f.d.IssuerURL()+"/authorize", form)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("choosing %s: %d", user, res.StatusCode)
	}
	back, err := url.Parse(res.Header.Get("Location"))
	if err != nil || !strings.HasPrefix(back.String(), "https://carnet.test/connexion/retour?") {
		t.Fatalf("sent back to %q", res.Header.Get("Location"))
	}
	return back.Query().Get("code"), back.Query().Get("state")
}

func htmlUnescape(s string) string {
	return strings.NewReplacer("&amp;", "&", "&#43;", "+", "&#34;", `"`, "&#39;", "'", "&lt;", "<", "&gt;", ">").Replace(s)
}

// The code flow with PKCE end to end: the relying party gets the demo
// user's actor; a code is good once, for its verifier, for a minute.
func TestDemoLoginCodeFlow(t *testing.T) {
	f := newLoginFixture(t)
	ctx := context.Background()
	l, err := NewLoginRequest()
	if err != nil {
		t.Fatal(err)
	}
	code, state := f.login(t, l, "cardio")
	if !l.CheckState(state) || l.CheckState(state+"x") || l.CheckState("") {
		t.Fatalf("state %q not sent back as given (%q)", state, l.State)
	}
	p, err := f.rp.Exchange(ctx, l, code)
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	if p.Actor.Kind != carnet.ActorProfessional || p.Actor.Specialty != "G15_10/SM04" || p.Actor.ID.Value == "" {
		t.Errorf("signed in as %+v, want the demo cardiologist", p.Actor)
	}
	if _, err := f.rp.Exchange(ctx, l, code); err == nil {
		t.Error("a code was exchanged twice")
	}

	// Another verifier than the one the challenge was made from.
	l2, _ := NewLoginRequest()
	code, _ = f.login(t, l2, "patient0")
	stolen := l2
	stolen.Verifier = l.Verifier
	if _, err := f.rp.Exchange(ctx, stolen, code); err == nil {
		t.Error("a code was exchanged without its PKCE verifier")
	}
	// The code was burnt by the failed attempt.
	if _, err := f.rp.Exchange(ctx, l2, code); err == nil {
		t.Error("a code survived a failed exchange")
	}

	// Expired.
	l3, _ := NewLoginRequest()
	code, _ = f.login(t, l3, "patient0")
	f.advance(61 * time.Second)
	if _, err := f.rp.Exchange(ctx, l3, code); err == nil {
		t.Error("a code was exchanged after its minute")
	}

	// Another nonce than the request's: the ID token is refused.
	l4, _ := NewLoginRequest()
	code, _ = f.login(t, l4, DemoRepresentative)
	other := l4
	other.Nonce = "autre"
	if _, err := f.rp.Exchange(ctx, other, code); err == nil {
		t.Error("an ID token with another nonce was accepted")
	}
	l5, _ := NewLoginRequest()
	code, _ = f.login(t, l5, DemoRepresentative)
	p, err = f.rp.Exchange(ctx, l5, code)
	if err != nil || !p.LegalRepresentative || p.Actor.Kind != carnet.ActorPatient {
		t.Errorf("legal representative: %+v, %v", p, err)
	}
}

// The authorization endpoint never sends a code, or anything, to an
// unregistered redirect URI, and requires PKCE S256.
func TestDemoAuthorizeRefuses(t *testing.T) {
	f := newLoginFixture(t)
	l, _ := NewLoginRequest()
	good, err := f.rp.AuthorizeURL(context.Background(), l)
	if err != nil {
		t.Fatal(err)
	}
	for name, change := range map[string]func(url.Values){
		"other redirect": func(v url.Values) { v.Set("redirect_uri", "https://evil.test/cb") },
		"other client":   func(v url.Values) { v.Set("client_id", "evil") },
		"plain PKCE":     func(v url.Values) { v.Set("code_challenge_method", "plain") },
		"no PKCE":        func(v url.Values) { v.Del("code_challenge") },
		"implicit":       func(v url.Values) { v.Set("response_type", "token") },
	} {
		u, _ := url.Parse(good)
		q := u.Query()
		change(q)
		u.RawQuery = q.Encode()
		res, err := noRedirect.Get(u.String())
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusBadRequest || res.Header.Get("Location") != "" || strings.Contains(string(body), `name="user"`) {
			t.Errorf("%s: %d, Location %q; want 400 and no way to sign in", name, res.StatusCode, res.Header.Get("Location"))
		}
	}
	// A form posted without the page's binding.
	u, _ := url.Parse(good)
	form := u.Query()
	form.Set("user", "gp")
	res, err := noRedirect.PostForm(f.d.IssuerURL()+"/authorize", form)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusForbidden || res.Header.Get("Location") != "" {
		t.Errorf("unbound form: %d %q, want 403", res.StatusCode, res.Header.Get("Location"))
	}
}

// The demo-user grant gives a tool a token for a demo user (what `carnet
// token --url` asks for); unknown users and grants are refused.
func TestDemoTokenGrant(t *testing.T) {
	f := newLoginFixture(t)
	post := func(v url.Values) (int, map[string]any) {
		res, err := http.PostForm(f.d.IssuerURL()+"/token", v)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(res.Body).Decode(&out)
		if res.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("token response cacheable")
		}
		return res.StatusCode, out
	}
	code, out := post(url.Values{"grant_type": {GrantDemoUser}, "user": {"gp"}})
	if code != 200 || out["token_type"] != "Bearer" {
		t.Fatalf("demo-user grant: %d %v", code, out)
	}
	p, err := f.rp.cfg.Users.Verify(context.Background(), out["access_token"].(string))
	if err != nil || p.Actor.Kind != carnet.ActorProfessional {
		t.Errorf("demo-user token: %+v %v", p, err)
	}
	if code, out := post(url.Values{"grant_type": {GrantDemoUser}, "user": {"nobody"}}); code != 400 || out["error"] != "invalid_grant" {
		t.Errorf("unknown user: %d %v", code, out)
	}
	if code, out := post(url.Values{"grant_type": {"password"}, "username": {"gp"}}); code != 400 || out["error"] != "unsupported_grant_type" {
		t.Errorf("password grant: %d %v", code, out)
	}
	// Discovery names the endpoints and PKCE.
	res, err := http.Get(f.d.IssuerURL() + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	var disc map[string]any
	_ = json.NewDecoder(res.Body).Decode(&disc)
	res.Body.Close()
	if disc["authorization_endpoint"] != f.d.IssuerURL()+"/authorize" || disc["token_endpoint"] != f.d.IssuerURL()+"/token" {
		t.Errorf("discovery: %v", disc)
	}
}
