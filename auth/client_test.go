package auth

import (
	"context"
	"testing"
	"time"
)

// A CDS Client's JWT: accepted once, from a trusted issuer, for this
// audience, short-lived; replays, other audiences and long lives refused.
func TestVerifyClient(t *testing.T) {
	d, err := NewDemoIssuer(t.TempDir(), func() time.Time { return testNow })
	if err != nil {
		t.Fatal(err)
	}
	d.SetIssuerURL("https://ehr.example.test")
	const aud = "https://carnet.example.test/cds-services/carnet-pastille"
	v, err := NewVerifier(Config{Issuers: []Issuer{{URL: d.IssuerURL(), Audience: aud}}, HTTPClient: d.Client(), Now: func() time.Time { return testNow }})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	mint := func(jti string, ttl time.Duration, audience string) string {
		tok, err := d.Issue("", map[string]any{"sub": "ehr-client", "jti": jti}, audience, ttl)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	good := mint("j-1", 4*time.Minute, aud)
	a, err := v.VerifyClient(ctx, good)
	if err != nil || a.Issuer != d.IssuerURL() || a.Subject != "ehr-client" || a.ID != "j-1" {
		t.Fatalf("a good client token: %+v %v", a, err)
	}
	if _, err := v.VerifyClient(ctx, good); err == nil {
		t.Error("a replayed client token was accepted")
	}
	if _, err := v.VerifyClient(ctx, mint("j-2", 4*time.Minute, "https://other.example.test/cds-services/x")); err == nil {
		t.Error("a client token for another service was accepted")
	}
	if _, err := v.VerifyClient(ctx, mint("j-3", time.Hour, aud)); err == nil {
		t.Error("a client token living an hour was accepted")
	}
	if _, err := v.VerifyClient(ctx, mint("", 4*time.Minute, aud)); err == nil {
		t.Error("a client token without jti was accepted")
	}
	// A client token is not an access token: it names no actor.
	if _, err := v.Verify(ctx, mint("j-4", 4*time.Minute, aud)); err == nil {
		t.Error("a client token was accepted as an access token")
	}
}
