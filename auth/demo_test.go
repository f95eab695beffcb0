package auth

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	carnet "github.com/carnet-sante/carnet"
	"github.com/carnet-sante/carnet/synth"
)

// TestDemoIssuerTokensVerify mounts the demo issuer under /demo-idp/ on a
// loopback server and verifies minted tokens with an ordinary Verifier.
func TestDemoIssuerTokensVerify(t *testing.T) {
	dir := t.TempDir()
	d, err := NewDemoIssuer(dir, func() time.Time { return testNow })
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/demo-idp/", http.StripPrefix("/demo-idp", d))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	d.SetIssuerURL(srv.URL + "/demo-idp")
	v, err := NewVerifier(Config{
		Issuers:      []Issuer{{URL: d.IssuerURL(), Audience: testAud}},
		AllowTestINS: true, HTTPClient: srv.Client(), Now: func() time.Time { return testNow },
	})
	if err != nil {
		t.Fatal(err)
	}

	pats, pros := synth.Options{Patients: 4, Professionals: 8}.People()
	want := map[string]carnet.Actor{DemoSystem: {Kind: carnet.ActorSystem, ID: carnet.Identifier{System: d.IssuerURL(), Value: DemoSystem}}}
	for _, p := range pros[:6] {
		want[p.Login] = carnet.Actor{Kind: carnet.ActorProfessional, ID: p.Author.ID,
			Profession: p.Author.Profession.Code, Specialty: p.Author.Specialty.Code}
	}
	for i, p := range pats {
		want["patient"+string(rune('0'+i))] = carnet.Actor{Kind: carnet.ActorPatient, ID: p.INS}
	}
	// The legal representative of the minor acts with the minor's INS; the
	// auditor is a system reading access histories only.
	want[DemoRepresentative] = carnet.Actor{Kind: carnet.ActorPatient, ID: pats[DemoMinor].INS, LegalRepresentative: true}
	want[DemoAuditor] = carnet.Actor{Kind: carnet.ActorSystem, ID: carnet.Identifier{System: d.IssuerURL(), Value: "auditeur-demo"}, Scopes: []string{"openid", "system/AuditEvent.rs"}}
	for _, name := range []string{"gp", "cardio", "nurse", "dentist", "samu", "pharma", "patient0", "patient3", "lgc"} {
		if _, ok := want[name]; !ok {
			t.Fatalf("expected demo user %s missing from synth", name)
		}
	}
	if got := len(d.Users()); got != len(want) {
		t.Errorf("Users() = %v, want %d users", d.Users(), len(want))
	}
	for name, w := range want {
		tok, err := d.Mint(name, testAud, 15*time.Minute)
		if err != nil {
			t.Fatalf("Mint(%s): %v", name, err)
		}
		a, err := v.Verify(context.Background(), tok)
		if err != nil {
			t.Fatalf("%s: Verify: %v", name, err)
		}
		g := a.Actor
		if g.Kind != w.Kind || g.ID != w.ID || g.Profession != w.Profession || g.Specialty != w.Specialty || g.Name == "" ||
			g.LegalRepresentative != w.LegalRepresentative || (w.Scopes != nil && strings.Join(g.Scopes, " ") != strings.Join(w.Scopes, " ")) {
			t.Errorf("%s: actor %+v, want %+v", name, g, w)
		}
	}
	gp, _ := v.Verify(context.Background(), mustMint(t, d, "gp"))
	if gp.Actor.Profession != "G15_10" || gp.Actor.Specialty == "" {
		t.Errorf("gp = %+v, want a physician G15_10 with a specialty", gp.Actor)
	}
	if !Allows(gp.Actor.Scopes, gp.Actor.Kind, "DocumentReference", carnet.ActionRead) {
		t.Errorf("gp scopes %q do not allow reading documents", gp.Actor.Scopes)
	}
	// Refused: unknown users, and a token for another audience.
	if _, err := d.Mint("root", testAud, time.Minute); !carnet.IsKind(err, carnet.KindNotFound) {
		t.Errorf("Mint(root) err = %v, want not-found", err)
	}
	other, _ := d.Mint("gp", "https://elsewhere.test", time.Minute)
	if _, err := v.Verify(context.Background(), other); !carnet.IsKind(err, carnet.KindUnauthenticated) {
		t.Errorf("other audience: err = %v, want unauthenticated", err)
	}
	// Outside demo mode test INS are refused, even from the demo issuer.
	strict, _ := NewVerifier(Config{Issuers: []Issuer{{URL: d.IssuerURL(), Audience: testAud}},
		HTTPClient: srv.Client(), Now: func() time.Time { return testNow }})
	if _, err := strict.Verify(context.Background(), mustMint(t, d, "patient0")); !carnet.IsKind(err, carnet.KindUnauthenticated) {
		t.Errorf("test INS without AllowTestINS: err = %v", err)
	}
}

func mustMint(t *testing.T, d *DemoIssuer, user string) string {
	t.Helper()
	tok, err := d.Mint(user, testAud, 15*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestDemoIssuerKeyFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	d1, err := NewDemoIssuer(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, DemoKeyFile)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o600 {
		t.Errorf("key file mode %o, want 600", got)
	}
	// A second process (carnet token next to carnet serve) signs with the
	// same key.
	d2, err := NewDemoIssuer(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if d1.JWK() != d2.JWK() {
		t.Errorf("second issuer has another key: %+v vs %+v", d2.JWK(), d1.JWK())
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := NewDemoIssuer(dir, nil); err == nil || !strings.Contains(err.Error(), "readable by others") {
		t.Errorf("world-readable key accepted: %v", err)
	}
}

func TestDemoIssuerNeedsURL(t *testing.T) {
	d, err := NewDemoIssuer(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Mint("gp", testAud, time.Minute); err == nil {
		t.Error("Mint without an issuer URL succeeded")
	}
}
