package web

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	carnet "github.com/carnet-sante/carnet"
	"github.com/carnet-sante/carnet/auth"
	"github.com/carnet-sante/carnet/internal/testenv"
	"github.com/carnet-sante/carnet/synth"
)

// fixture is the web spaces over a real Service (testenv: a real store,
// keys, audit log), signing people in at the test environment's demo issuer
// with the code flow, over real HTTP. Only the web's clock is ours.
type fixture struct {
	env   *testenv.Env
	web   *Server
	srv   *httptest.Server
	clock *clock
	ins   carnet.Identifier
	docs  []string // patient0's documents
	other string   // a document of another patient
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func newFixture(t testing.TB, b testenv.Backend, docsPerPatient int) *fixture {
	t.Helper()
	env := testenv.New(t, b, testenv.Options{})
	f := &fixture{env: env, clock: &clock{t: time.Now().UTC()}}
	mux := http.NewServeMux()
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	if err := env.Issuer.EnableLogin(testenv.Audience, auth.DemoClient{ID: "carnet-web", RedirectURIs: []string{f.srv.URL + "/connexion/retour"}}); err != nil {
		t.Fatal(err)
	}
	users, err := auth.NewVerifier(auth.Config{Issuers: []auth.Issuer{{URL: env.Issuer.IssuerURL(), Audience: testenv.Audience}},
		AllowTestINS: true, HTTPClient: env.Issuer.Client()})
	if err != nil {
		t.Fatal(err)
	}
	rp, err := auth.NewRelyingParty(auth.RPConfig{Issuer: env.Issuer.IssuerURL(), ClientID: "carnet-web",
		RedirectURI: f.srv.URL + "/connexion/retour", Users: users, HTTPClient: env.Issuer.Client(), AllowTestINS: true})
	if err != nil {
		t.Fatal(err)
	}
	f.web, err = New(Config{Service: env.Service, Sessions: env.Store.(carnet.SessionStore), Sealer: env.Service.Sealer,
		Login: []*auth.RelyingParty{rp}, Clock: f.clock, HasAuditLog: true})
	if err != nil {
		t.Fatal(err)
	}
	f.web.Mount(mux)
	// patient0's record (as the demo users name it), of which the demo GP
	// is in the care team, and another patient's.
	o := synth.Options{Seed: 11, Patients: 1, DocsPerPatient: docsPerPatient}
	_, pros := o.People()
	var gp carnet.Author
	for _, p := range pros {
		if p.Login == "gp" {
			gp = p.Author
		}
	}
	ds := synth.Generate(o)
	f.ins = ds.Patients[0].INS
	file := func(p carnet.Identifier, batch []carnet.SubmittedDocument) []string {
		batch[0].Meta.Authors = append(batch[0].Meta.Authors, gp)
		sub := carnet.Submission{Patient: p,
			Set:       carnet.SubmissionSet{UniqueID: batch[0].UniqueID + ".set", SourceID: "1.2.250.1.999.2", ContentType: batch[0].Meta.Type},
			Documents: batch}
		res, err := env.Service.Provide(context.Background(), testenv.SoftwareFiling("test", sub), sub)
		if err != nil {
			t.Fatal(err)
		}
		return res.DocumentIDs
	}
	var batch []carnet.SubmittedDocument
	for _, d := range ds.Documents {
		batch = append(batch, carnet.SubmittedDocument{UniqueID: d.UniqueID, Meta: d.Meta, Content: d.Content, Path: "test"})
		if len(batch) == 50 {
			f.docs = append(f.docs, file(f.ins, batch)...)
			batch = nil
		}
	}
	if len(batch) > 0 {
		f.docs = append(f.docs, file(f.ins, batch)...)
	}
	other := synth.Generate(synth.Options{Seed: 12, Patients: 2, DocsPerPatient: 1})
	d := other.Documents[1]
	f.other = file(other.Patients[1].INS, []carnet.SubmittedDocument{{UniqueID: d.UniqueID, Meta: d.Meta, Content: d.Content, Path: "test"}})[0]
	return f
}

// browser is a Go HTTP client with a cookie jar: enough to sign in and use
// forms (the real browser runs in cmd/carnet's tests).
type client struct {
	t  testing.TB
	f  *fixture
	hc *http.Client
}

func (f *fixture) client(t testing.TB) *client {
	jar, _ := cookiejar.New(nil)
	return &client{t: t, f: f, hc: &http.Client{Jar: jar}}
}

type page struct {
	status int
	header http.Header
	body   string
	url    *url.URL
}

func (c *client) do(req *http.Request) page {
	c.t.Helper()
	res, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return page{res.StatusCode, res.Header, string(b), res.Request.URL}
}

func (c *client) get(path string) page {
	c.t.Helper()
	req, _ := http.NewRequest("GET", c.f.srv.URL+path, nil)
	return c.do(req)
}

func (c *client) post(path string, form url.Values) page {
	c.t.Helper()
	req, _ := http.NewRequest("POST", c.f.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return c.do(req)
}

var fieldRE = regexp.MustCompile(`name="([a-z_]+)" value="([^"]*)"`)

// login signs in as a demo user through the issuer's page.
func (c *client) login(user string) page {
	c.t.Helper()
	p := c.get("/connexion")
	if p.status != 200 || !strings.Contains(p.body, "Connexion de démonstration") {
		c.t.Fatalf("login page: %d %s", p.status, p.body)
	}
	form := url.Values{}
	for _, m := range fieldRE.FindAllStringSubmatch(p.body, -1) {
		if m[1] != "user" {
			form.Set(m[1], strings.NewReplacer("&amp;", "&", "&#43;", "+").Replace(m[2]))
		}
	}
	form.Set("user", user)
	req, _ := http.NewRequest("POST", p.url.String(), strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return c.do(req)
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func csrfOf(t testing.TB, p page) string {
	t.Helper()
	m := csrfRE.FindStringSubmatch(p.body)
	if m == nil {
		t.Fatalf("no CSRF token on the page:\n%s", p.body)
	}
	return m[1]
}

func (c *client) cookie() *http.Cookie {
	u, _ := url.Parse(c.f.srv.URL)
	for _, ck := range c.hc.Jar.Cookies(u) {
		if ck.Name == cookieName {
			return ck
		}
	}
	return nil
}

// Sign in, the security headers of every page, logout: the old cookie is
// worth nothing afterwards; the session row holds no cookie and nothing in
// clear.
func TestLoginSessionLogout(t *testing.T) {
	for _, b := range testenv.Backends {
		t.Run(b.Name, func(t *testing.T) {
			f := newFixture(t, b, 3)
			c := f.client(t)
			p := c.login("patient0")
			if p.status != 200 || p.url.Path != "/patient" || !strings.Contains(p.body, "Mes documents") {
				t.Fatalf("after login: %d %s\n%s", p.status, p.url, p.body)
			}
			csp := p.header.Get("Content-Security-Policy")
			for _, want := range []string{"frame-ancestors 'none'", "script-src 'self'", "default-src 'none'"} {
				if !strings.Contains(csp, want) {
					t.Errorf("CSP %q lacks %s", csp, want)
				}
			}
			if strings.Contains(csp, "unsafe-inline") || p.header.Get("X-Content-Type-Options") != "nosniff" ||
				p.header.Get("Referrer-Policy") != "no-referrer" || p.header.Get("Cache-Control") != "no-store" {
				t.Errorf("security headers: %v", p.header)
			}
			if strings.Contains(p.body, "<script>") || strings.Contains(p.body, " style=") {
				t.Error("a page carries an inline script or style")
			}
			ck := c.cookie()
			if ck == nil {
				t.Fatal("no session cookie")
			}
			// The store keys the session by a hash; its content is sealed.
			row, err := f.env.Store.(carnet.SessionStore).Session(context.Background(), rowID(ck.Value))
			if err != nil {
				t.Fatalf("session row: %v", err)
			}
			for _, clear := range []string{f.ins.Value, "DURAND", ck.Value} {
				if bytes.Contains(row.Sealed, []byte(clear)) || row.ID == ck.Value {
					t.Errorf("the session row holds %q in clear", clear)
				}
			}
			out := c.post("/deconnexion", url.Values{"csrf": {csrfOf(t, p)}})
			if !strings.Contains(out.body, "Vous êtes déconnecté") {
				t.Fatalf("logout: %d %s", out.status, out.body)
			}
			if _, err := f.env.Store.(carnet.SessionStore).Session(context.Background(), rowID(ck.Value)); !carnet.IsKind(err, carnet.KindNotFound) {
				t.Errorf("the session survived logout: %v", err)
			}
			replay := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			req, _ := http.NewRequest("GET", f.srv.URL+"/patient", nil)
			req.AddCookie(&http.Cookie{Name: cookieName, Value: ck.Value})
			res, err := replay.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != http.StatusSeeOther || !strings.Contains(res.Header.Get("Location"), "/authorize") {
				t.Errorf("the old cookie after logout: %d %q, want a redirect to the login", res.StatusCode, res.Header.Get("Location"))
			}
		})
	}
}

// Idle and absolute expiry, by the web's clock (the demo token's expiry,
// the session's cap, is by the real clock: the web's clock restarts from it
// for each part).
func TestSessionExpiry(t *testing.T) {
	f := newFixture(t, testenv.SQLite, 2)
	c := f.client(t)
	c.login("patient0")
	f.clock.add(IdleTimeout + time.Minute)
	if p := c.get("/patient"); p.url.Path == "/patient" {
		t.Fatalf("a session idle for %v still works", IdleTimeout+time.Minute)
	}
	f.clock.mu.Lock()
	f.clock.t = time.Now().UTC()
	f.clock.mu.Unlock()
	c = f.client(t)
	c.login("patient0")
	// Used every 20 minutes, it lives until the token's expiry (1 hour for
	// demo tokens, under the 8-hour cap), not longer.
	for i := 0; i < 2; i++ {
		f.clock.add(20 * time.Minute)
		if p := c.get("/patient"); p.url.Path != "/patient" {
			t.Fatalf("an active session ended after %d minutes", 20*(i+1))
		}
	}
	f.clock.add(21 * time.Minute)
	if p := c.get("/patient"); p.url.Path == "/patient" {
		t.Fatal("a session outlived the token it was opened with")
	}
}

// A POST without the session's CSRF token, or with another, changes
// nothing; with it, the choice is recorded.
func TestCSRF(t *testing.T) {
	f := newFixture(t, testenv.SQLite, 2)
	c := f.client(t)
	p := c.login("patient0")
	token := csrfOf(t, p)
	other := f.client(t)
	otherToken := csrfOf(t, other.login("patient1"))
	choice := url.Values{"action": {"secondaire"}, "opposition": {"true"}}
	optedOut := func() bool {
		pt, _, err := f.env.Service.Consents(context.Background(), carnet.Request{Actor: carnet.Actor{Kind: carnet.ActorPatient, ID: f.ins}}, f.ins)
		if err != nil {
			t.Fatal(err)
		}
		return pt.Settings().OptOutSecondary
	}
	for name, tok := range map[string]string{"no token": "", "another session's token": otherToken, "a truncated token": token[:20]} {
		form := url.Values{}
		for k, v := range choice {
			form[k] = v
		}
		if tok != "" {
			form.Set("csrf", tok)
		}
		r := c.post("/patient/choix", form)
		if r.status != http.StatusForbidden || !strings.Contains(r.body, "Formulaire refusé") {
			t.Errorf("%s: %d, want 403 saying the form is refused", name, r.status)
		}
		if optedOut() {
			t.Fatalf("%s: the choice was recorded", name)
		}
	}
	choice.Set("csrf", token)
	if r := c.post("/patient/choix", choice); r.status != 200 || !strings.Contains(r.body, "Votre choix est enregistré") || !optedOut() {
		t.Errorf("with the token: %d, opted out %v", r.status, optedOut())
	}
}

// Another patient's document looks exactly like one that does not exist;
// the state sent back by the issuer must be the login's.
func TestDeniedLooksAbsent(t *testing.T) {
	f := newFixture(t, testenv.SQLite, 2)
	c := f.client(t)
	c.login("patient0")
	if p := c.get("/patient/documents/" + f.docs[0]); p.status != 200 {
		t.Fatalf("own document: %d", p.status)
	}
	denied := c.get("/patient/documents/" + f.other)
	absent := c.get("/patient/documents/" + carnet.NewID())
	if denied.status != 404 || absent.status != 404 || denied.body != absent.body {
		t.Errorf("denied %d and absent %d differ:\n%s\n---\n%s", denied.status, absent.status, denied.body, absent.body)
	}
	// A callback with another state opens nothing.
	v := f.client(t)
	v.get("/connexion") // a pending login, sent to the issuer
	p := v.get("/connexion/retour?code=x&state=forged")
	if p.status != http.StatusBadRequest || v.cookie() != nil && v.get("/patient").url.Path == "/patient" {
		t.Errorf("forged state: %d", p.status)
	}
	// A patient may not open the professional space.
	if p := c.get("/pro"); p.status != http.StatusForbidden {
		t.Errorf("a patient opening /pro: %d, want 403", p.status)
	}
}

// The chart is SVG built from numbers and escaped text only: no style
// attribute (the CSP allows none), no script, text escaped.
func TestChartSVG(t *testing.T) {
	lo, hi := 3.5, 5.0
	sr := &series{Code: "2823-3", Name: `Potassium <script>alert(1)</script>`, Unit: "mmol/L", Low: &lo, High: &hi,
		Points: []point{{At: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), Value: 4.2}, {At: time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC), Value: 6.1, Out: true}}}
	svg := string(chart(sr))
	for _, bad := range []string{"<script", "style=", "onload"} {
		if strings.Contains(svg, bad) {
			t.Errorf("chart contains %q", bad)
		}
	}
	for _, want := range []string{"&lt;script&gt;", `class="reference"`, "6,1 !", `class="point hors"`, "<title"} {
		if !strings.Contains(svg, want) {
			t.Errorf("chart lacks %q:\n%s", want, svg)
		}
	}
}

// "Télécharger toutes mes données": one zip with every visible document as
// filed, their metadata as FHIR DocumentReferences, the extracted items as
// FHIR, and a French note; SMART discovery names the real endpoints.
func TestExportAndSMART(t *testing.T) {
	f := newFixture(t, testenv.SQLite, 6)
	c := f.client(t)
	c.login("patient0")
	p := c.get("/patient/export")
	if p.status != 200 || p.header.Get("Content-Type") != "application/zip" {
		t.Fatalf("export: %d %s", p.status, p.header.Get("Content-Type"))
	}
	zr, err := zip.NewReader(strings.NewReader(p.body), int64(len(p.body)))
	if err != nil {
		t.Fatalf("export is not a zip: %v", err)
	}
	docs := 0
	files := map[string][]byte{}
	for _, zf := range zr.File {
		rc, err := zf.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		files[zf.Name] = b
		if strings.HasPrefix(zf.Name, "documents/") {
			docs++
		}
	}
	if docs != len(f.docs) {
		t.Errorf("%d documents in the archive, want %d", docs, len(f.docs))
	}
	var meta, items struct {
		ResourceType string
		Entry        []struct{ Resource struct{ ResourceType string } }
	}
	if err := json.Unmarshal(files["metadonnees.json"], &meta); err != nil || meta.ResourceType != "Bundle" || len(meta.Entry) != len(f.docs) || meta.Entry[0].Resource.ResourceType != "DocumentReference" {
		t.Errorf("metadonnees.json: %v, %d entries", err, len(meta.Entry))
	}
	if err := json.Unmarshal(files["donnees-extraites.json"], &items); err != nil || items.ResourceType != "Bundle" {
		t.Errorf("donnees-extraites.json: %v", err)
	}
	kinds := map[string]bool{}
	for _, e := range items.Entry {
		kinds[e.Resource.ResourceType] = true
	}
	if !kinds["Provenance"] || len(kinds) < 2 {
		t.Errorf("extracted data kinds: %v", kinds)
	}
	if !strings.Contains(string(files["LISEZMOI.txt"]), "toutes vos données") {
		t.Error("no French note in the archive")
	}

	res, err := http.Get(f.srv.URL + "/.well-known/smart-configuration")
	if err != nil {
		t.Fatal(err)
	}
	var smart map[string]any
	_ = json.NewDecoder(res.Body).Decode(&smart)
	res.Body.Close()
	if smart["authorization_endpoint"] != f.env.Issuer.IssuerURL()+"/authorize" || smart["token_endpoint"] != f.env.Issuer.IssuerURL()+"/token" ||
		fmt.Sprint(smart["code_challenge_methods_supported"]) != "[S256]" {
		t.Errorf("smart-configuration: %v", smart)
	}
}

// An emergency access to one record never opens another's: a document of
// another patient named under the record in emergency is not found, and
// that other patient is told of no emergency access. A bris de glace
// without a reason is refused, saying a reason is required.
func TestEmergencyStaysInItsRecord(t *testing.T) {
	f := newFixture(t, testenv.SQLite, 2)
	c := f.client(t)
	p := c.login("gp")
	form := url.Values{"csrf": {csrfOf(t, p)}, "systeme": {strings.TrimPrefix(f.ins.System, "urn:oid:")}, "ins": {f.ins.Value}, "action": {"urgence"}}
	if r := c.post("/pro", form); r.status != http.StatusBadRequest || !strings.Contains(r.body, "Un motif est obligatoire") {
		t.Fatalf("bris de glace without a reason: %d", r.status)
	}
	form.Set("motif", "Malaise au cabinet")
	r := c.post("/pro", form)
	if !strings.HasPrefix(r.url.Path, "/pro/dossier/") || !strings.Contains(r.body, "Accès d'urgence en cours") {
		t.Fatalf("bris de glace: %d %s", r.status, r.url)
	}
	base := r.url.Path
	for _, path := range []string{base + "/documents/" + f.other, base + "/documents/" + f.other + "/pdf"} {
		if p := c.get(path); p.status != http.StatusNotFound {
			t.Errorf("%s: %d, want 404", path, p.status)
		}
	}
	if p := c.get(base + "/documents/" + f.docs[0]); p.status != 200 || !strings.Contains(p.body, "Accès d'urgence en cours") {
		t.Errorf("a document of the record in emergency: %d, banner %v", p.status, strings.Contains(p.body, "Accès d'urgence en cours"))
	}
	other := synth.Generate(synth.Options{Seed: 12, Patients: 2, DocsPerPatient: 1}).Patients[1].INS
	notes, err := f.env.Service.Notifications(context.Background(), carnet.Request{Actor: carnet.Actor{Kind: carnet.ActorPatient, ID: other}}, other, carnet.NotificationFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range notes {
		if n.Kind == carnet.NotifyEmergency {
			t.Errorf("the other patient was told of an emergency access: %s", n.Text)
		}
	}
}

// The centre 15 mode is offered to the regulators of a SAMU – centre 15
// only (the policy refuses it to anyone else): not to every physician.
func TestCentre15OfferedToRegulators(t *testing.T) {
	f := newFixture(t, testenv.SQLite, 1)
	for user, want := range map[string]bool{"gp": false, "cardio": false, "samu": true} {
		p := f.client(t).login(user)
		if p.status != 200 {
			t.Fatalf("%s: home %d", user, p.status)
		}
		if got := strings.Contains(p.body, `value="centre15"`); got != want {
			t.Errorf("%s is offered the centre 15 mode: %v, want %v", user, got, want)
		}
	}
}
