package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	carnet "github.com/carnet-sante/carnet"
	"github.com/carnet-sante/carnet/auditlog"
	"github.com/carnet-sante/carnet/auth"
	"github.com/carnet-sante/carnet/seal"
	"github.com/carnet-sante/carnet/synth"
)

// server is `carnet serve` running in this process, as a user starts it.
type server struct {
	URL    string
	cancel context.CancelFunc
	done   chan error
}

func startServe(t *testing.T, args ...string) *server {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	s := &server{cancel: cancel, done: make(chan error, 1)}
	go func() {
		err := run(ctx, append([]string{"serve", "--addr", "127.0.0.1:0"}, args...), pw, debugStderr())
		pw.CloseWithError(err)
		s.done <- err
	}()
	urlRE := regexp.MustCompile(`listens on (https?://[0-9.:]+)`)
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			if m := urlRE.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
			}
		}
	}()
	select {
	case s.URL = <-found:
	case err := <-s.done:
		t.Fatalf("carnet serve stopped: %v", err)
	case <-time.After(2 * time.Minute):
		t.Fatal("carnet serve did not start")
	}
	t.Cleanup(s.stop)
	return s
}

func (s *server) stop() {
	s.cancel()
	<-s.done
	s.done <- nil // later stops return at once
}

// idp is an outside OpenID Connect issuer for servers started without
// --demo: the demo issuer's code, served over HTTP by the test, trusted by
// the server through --oidc-issuer (discovery and JWKS over the network).
type idp struct {
	issuer *auth.DemoIssuer
	url    string
}

const idpAudience = "carnet-serve-test"

func newIdP(t *testing.T) *idp {
	t.Helper()
	d, err := auth.NewDemoIssuer(t.TempDir(), time.Now)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/", d)
	ts := httptest.NewServer(mux)
	t.Cleanup(ts.Close)
	d.SetIssuerURL(ts.URL)
	return &idp{issuer: d, url: ts.URL}
}

// args are the flags of a production server trusting this issuer, with an
// access matrix (header only: no profession restriction).
func (i *idp) args(t *testing.T) []string {
	t.Helper()
	m := filepath.Join(t.TempDir(), "matrix.csv")
	if err := os.WriteFile(m, []byte("profession,document,label,effect,source\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return []string{"--oidc-issuer", i.url, "--audience", idpAudience, "--access-matrix", m}
}

func (i *idp) token(t *testing.T, user string) string {
	t.Helper()
	tok, err := i.issuer.Mint(user, idpAudience, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// softwareToken is a token for producing software of the organisations of
// authors: it may file their documents.
func (i *idp) softwareToken(t *testing.T, authors ...carnet.Author) string {
	t.Helper()
	var orgs []string
	for _, a := range authors {
		if k := carnet.OrgKey(a.OrgID); k != "" && !slices.Contains(orgs, k) {
			orgs = append(orgs, k)
		}
	}
	tok, err := i.issuer.Issue(carnet.ActorSystem, map[string]any{auth.ClaimClientID: "lgc-test", auth.ClaimScope: "system/*.cruds", auth.ClaimFINESS: orgs}, idpAudience, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// filer returns, for a filing, a token of the software of its author's
// organisation (one token per organisation).
func (i *idp) filer(t *testing.T) func(filing) string {
	var mu sync.Mutex
	tokens := map[string]string{}
	return func(f filing) string {
		mu.Lock()
		defer mu.Unlock()
		k := carnet.OrgKey(f.author.OrgID)
		if tokens[k] == "" {
			tokens[k] = i.softwareToken(t, f.author)
		}
		return tokens[k]
	}
}

// proToken is a token for the professional who is author a.
func (i *idp) proToken(t *testing.T, a carnet.Author) string {
	t.Helper()
	c := map[string]any{auth.ClaimRPPS: a.ID.Value, auth.ClaimProfession: a.Profession.Code, auth.ClaimScope: "user/*.rs"}
	if a.Specialty.Code != "" {
		c[auth.ClaimSpecialty] = a.Specialty.Code
	}
	tok, err := i.issuer.Issue(carnet.ActorProfessional, c, idpAudience, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// demoToken runs `carnet token` against a --demo server, as a user would.
// demoSoftwareToken is a token of producing software acting for the
// organisations of sub's authors, signed with the demo issuer's key in
// data (the operator's key: `carnet token` only mints the demo users').
func demoSoftwareToken(t *testing.T, s *server, data string, sub carnet.Submission) string {
	t.Helper()
	d, err := auth.NewDemoIssuer(data, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	d.SetIssuerURL(s.URL + demoIssuerPath)
	var orgs []string
	for _, doc := range sub.Documents {
		for _, a := range doc.Meta.Authors {
			if k := carnet.OrgKey(a.OrgID); k != "" && !slices.Contains(orgs, k) {
				orgs = append(orgs, k)
			}
		}
	}
	tok, err := d.Issue(carnet.ActorSystem, map[string]any{auth.ClaimClientID: "lgc-test", auth.ClaimScope: "system/*.cruds", auth.ClaimFINESS: orgs}, demoAudience, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func demoToken(t *testing.T, s *server, user string) string {
	t.Helper()
	var out strings.Builder
	args := []string{"token", "--user", user, "--url", s.URL}
	if err := run(context.Background(), args, &out, io.Discard); err != nil {
		t.Fatalf("carnet token: %v", err)
	}
	return strings.TrimSpace(out.String())
}

func get(t *testing.T, u string, token ...string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest("GET", u, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(token) > 0 {
		req.Header.Set("Authorization", "Bearer "+token[0])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	return res.StatusCode, body
}

func demoSearch(base string) string {
	p := synth.Generate(demoOptions).Patients[0]
	return base + "/DocumentReference?patient.identifier=" + url.QueryEscape(p.INS.System+"|"+p.INS.Value) + "&status=current"
}

// The README's first command: `carnet serve --demo` answers /metadata and an
// ITI-67 search for a demo patient; restarting it on the same data loads
// nothing twice.
func TestServeDemo(t *testing.T) {
	data := t.TempDir()
	s := startServe(t, "--demo", "--data", data)
	if code, cs := get(t, s.URL+"/metadata"); code != 200 || cs["resourceType"] != "CapabilityStatement" {
		t.Fatalf("/metadata: %d %v", code, cs["resourceType"])
	}
	if code, b := get(t, demoSearch(s.URL)); code != 401 || b["resourceType"] != "OperationOutcome" {
		t.Fatalf("ITI-67 without a token: %d %v, want 401", code, b)
	}
	// The README's flow: a token from `carnet token`, for the first demo patient.
	tok := demoToken(t, s, "patient0")
	code, b := get(t, demoSearch(s.URL), tok)
	if code != 200 || b["resourceType"] != "Bundle" {
		t.Fatalf("ITI-67: %d %v", code, b)
	}
	total := b["total"].(float64)
	if total < 5 {
		t.Fatalf("demo patient has %v current documents, want several", total)
	}
	// The same patient's record is nobody else's business: another demo
	// patient finds nothing there.
	if code, b := get(t, demoSearch(s.URL), demoToken(t, s, "patient1")); code != 200 || b["total"].(float64) != 0 {
		t.Errorf("another patient searching patient0's record: %d, %v documents; want 0", code, b["total"])
	}
	if info, err := os.Stat(filepath.Join(data, seal.KeyFileName)); err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("key file: %v, mode %v; want 0600", err, info.Mode().Perm())
	}
	s.stop()

	again := startServe(t, "--demo", "--data", data)
	if _, b := get(t, demoSearch(again.URL), demoToken(t, again, "patient0")); b["total"].(float64) != total {
		t.Errorf("after restart: %v documents, want %v (demo data loaded once)", b["total"], total)
	}
}

// Fail closed without keys (RELIABILITY.md #3): with the key file missing
// or replaced, data endpoints answer 503 with an OperationOutcome; nothing
// is read, served, or written under the wrong key.
func TestServeRefusesWithoutItsKey(t *testing.T) {
	data := t.TempDir()
	s := startServe(t, "--demo", "--data", data)
	s.stop()
	keyPath := filepath.Join(data, seal.KeyFileName)
	original, err := os.ReadFile(keyPath)
	if err != nil {
		t.Fatal(err)
	}

	idp := newIdP(t)
	// In both modes: --demo (which loads its data at start) keeps the
	// promise too (issue 13 item 12).
	check := func(t *testing.T) {
		for _, demo := range []bool{false, true} {
			var s *server
			var tok string
			if demo {
				s = startServe(t, "--demo", "--data", data)
				tok = demoToken(t, s, "patient0")
			} else {
				s = startServe(t, append([]string{"--data", data, "--allow-test-ins"}, idp.args(t)...)...)
				tok = idp.token(t, "patient0")
			}
			if code, _ := get(t, s.URL+"/metadata"); code != 200 {
				t.Errorf("demo %v: /metadata without key: %d, want 200", demo, code)
			}
			code, b := get(t, demoSearch(s.URL), tok)
			if code != 503 || b["resourceType"] != "OperationOutcome" {
				t.Errorf("demo %v: ITI-67 without the right key: %d %v, want 503 OperationOutcome", demo, code, b["resourceType"])
			}
			s.stop()
		}
	}
	t.Run("missing", func(t *testing.T) {
		if err := os.Remove(keyPath); err != nil {
			t.Fatal(err)
		}
		check(t)
		if _, err := os.Stat(keyPath); err == nil {
			t.Error("a new key file was created for an existing database")
		}
	})
	t.Run("wrong", func(t *testing.T) {
		other := filepath.Join(t.TempDir(), "other.keys")
		if _, err := seal.LoadOrCreateKeyFile(other, true); err != nil {
			t.Fatal(err)
		}
		b, _ := os.ReadFile(other)
		if err := os.WriteFile(keyPath, b, 0o600); err != nil {
			t.Fatal(err)
		}
		check(t)
	})
	// The audit log's signing key is recorded in the database, sealed
	// under the data key (docs/AUDIT.md): a node that lost its key files
	// signs with the deployment's key, and its checkpoints still verify
	// under the verifier key the patient was given.
	t.Run("audit log key files missing", func(t *testing.T) {
		if err := os.WriteFile(keyPath, original, 0o600); err != nil {
			t.Fatal(err)
		}
		logKey := filepath.Join(data, auditlog.SigningKeyFile)
		verifierKey := filepath.Join(data, auditlog.VerifierKeyFile)
		vk, err := os.ReadFile(verifierKey)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range []string{logKey, verifierKey} {
			if err := os.Remove(f); err != nil {
				t.Fatal(err)
			}
		}
		s := startServe(t, append([]string{"--data", data, "--allow-test-ins"}, idp.args(t)...)...)
		if code, b := get(t, demoSearch(s.URL), idp.token(t, "patient0")); code != 200 || b["total"].(float64) < 5 {
			t.Errorf("key files missing, key recorded in the database: %d, %v documents; want 200", code, b["total"])
		}
		s.stop()
		// The operator puts the verifier key file back (it is the anchor
		// kept apart): fsck checks the whole log against it.
		if err := os.WriteFile(verifierKey, vk, 0o644); err != nil {
			t.Fatal(err)
		}
		if out, err := runCmd(t, "fsck", "--data", data); err != nil || !strings.Contains(out, "\nok") {
			t.Errorf("fsck with the original verifier key after a restart without key files: %v\n%s", err, out)
		}
	})
	t.Run("restored", func(t *testing.T) {
		if err := os.WriteFile(keyPath, original, 0o600); err != nil {
			t.Fatal(err)
		}
		s := startServe(t, append([]string{"--data", data, "--allow-test-ins"}, idp.args(t)...)...)
		if code, b := get(t, demoSearch(s.URL), idp.token(t, "patient0")); code != 200 || b["total"].(float64) < 5 {
			t.Errorf("with the key back: %d, %v documents", code, b["total"])
		}
	})
}

func TestFlagsReadEnvironment(t *testing.T) {
	t.Setenv("CARNET_DATA", t.TempDir())
	t.Setenv("CARNET_DEMO", "true")
	s := startServe(t)
	if code, b := get(t, demoSearch(s.URL), demoToken(t, s, "patient0")); code != 200 || b["total"].(float64) < 5 {
		t.Errorf("CARNET_DEMO/CARNET_DATA not honoured: %d %v", code, b["total"])
	}
	if !strings.HasPrefix(s.URL, "http://127.0.0.1:") {
		t.Errorf("URL %s", s.URL)
	}
}

// debugStderr is where test servers log: nowhere, unless
// CARNET_DEBUG_SERVE is set.
func debugStderr() io.Writer {
	if os.Getenv("CARNET_DEBUG_SERVE") != "" {
		return os.Stderr
	}
	return io.Discard
}

// Security review 3, N2: only an --operator-issuer may grant
// carnet_operator. Without the flag, no token is an operator's, whatever
// its issuer; with it, that issuer's operator manages permits.
func TestServeOperatorIssuer(t *testing.T) {
	idp := newIdP(t)
	tok, err := idp.issuer.Issue(carnet.ActorSystem, map[string]any{auth.ClaimClientID: "operateur", auth.ClaimOperator: true,
		auth.ClaimScope: "system/Permit.cruds"}, idpAudience, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	for _, operator := range []bool{false, true} {
		args := append([]string{"--data", t.TempDir()}, idp.args(t)...)
		want := 401
		if operator {
			args, want = append(args, "--operator-issuer", idp.url), 200
		}
		s := startServe(t, args...)
		req, _ := http.NewRequest("GET", s.URL+"/Permit", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != want {
			t.Errorf("--operator-issuer given: %v; an operator token of the issuer lists permits: %d, want %d", operator, res.StatusCode, want)
		}
		s.stop()
	}
}
