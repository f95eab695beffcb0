package xua

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"

	carnet "github.com/carnet-sante/carnet"
	"github.com/carnet-sante/carnet/internal/cputime"
)

// Canonical forms written by hand from the exclusive c14n rules: inherited
// namespaces rendered only where visibly used, declarations and attributes
// sorted, empty elements expanded, text and attributes escaped.
func TestCanonicalVectors(t *testing.T) {
	for _, tc := range []struct{ in, sub, want string }{
		{`<r xmlns="urn:d" xmlns:a="urn:a" xmlns:unused="urn:u"><a:x b="2" a:c="1" a="&lt;&quot;&#9;"/></r>`, "x",
			`<a:x xmlns:a="urn:a" a="&lt;&quot;&#x9;" b="2" a:c="1"></a:x>`},
		{`<r xmlns="urn:d"><e>a &amp; b &gt; c</e></r>`, "e", `<e xmlns="urn:d">a &amp; b &gt; c</e>`},
		{`<p:r xmlns:p="urn:p" xmlns="urn:d"><p:e><f xmlns=""/><p:g xmlns:p="urn:p"/></p:e></p:r>`, "e",
			`<p:e xmlns:p="urn:p"><f></f><p:g></p:g></p:e>`},
		{`<r xmlns="urn:d"><e><f xmlns=""/></e></r>`, "e", `<e xmlns="urn:d"><f xmlns=""></f></e>`},
		{`<r xmlns:z="urn:z" xmlns:a="urn:a"><e z:q="1" a:q="2" xml:lang="fr"/></r>`, "e",
			`<e xmlns:a="urn:a" xmlns:z="urn:z" xml:lang="fr" a:q="2" z:q="1"></e>`}, // by namespace URI: http://www.w3.org/XML/… < urn:a < urn:z
	} {
		root, err := parse([]byte(tc.in))
		if err != nil {
			t.Fatal(err)
		}
		var sub *elem
		root.walk(func(e *elem) {
			if e.Local == tc.sub && sub == nil {
				sub = e
			}
		})
		if got := string(canonical(sub, nil, nil)); got != tc.want {
			t.Errorf("c14n of %s:\n got %s\nwant %s", tc.in, got, tc.want)
		}
	}
}

type testPKI struct {
	caKey   *ecdsa.PrivateKey
	ca      *x509.Certificate
	rsaKey  *rsa.PrivateKey
	rsaCert *x509.Certificate
	ecKey   *ecdsa.PrivateKey
	ecCert  *x509.Certificate
	evilKey *rsa.PrivateKey
	evil    *x509.Certificate
}

var pki = func() *testPKI {
	p := &testPKI{}
	p.caKey, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "AC de test Carnet"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &p.caKey.PublicKey, p.caKey)
	p.ca, _ = x509.ParseCertificate(der)
	leaf := func(cn string, pub crypto.PublicKey, parent *x509.Certificate, signer crypto.Signer) *x509.Certificate {
		tm := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn, Organization: []string{"Centre de santé"}},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour), KeyUsage: x509.KeyUsageDigitalSignature}
		if parent == nil {
			parent = tm
		}
		d, err := x509.CreateCertificate(rand.Reader, tm, parent, pub, signer)
		if err != nil {
			panic(err)
		}
		c, _ := x509.ParseCertificate(d)
		return c
	}
	p.rsaKey, _ = rsa.GenerateKey(rand.Reader, 2048)
	p.rsaCert = leaf("cachet RSA", &p.rsaKey.PublicKey, p.ca, p.caKey)
	p.ecKey, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p.ecCert = leaf("cachet ECDSA", &p.ecKey.PublicKey, p.ca, p.caKey)
	p.evilKey, _ = rsa.GenerateKey(rand.Reader, 2048)
	p.evil = leaf("cachet RSA", &p.evilKey.PublicKey, nil, p.evilKey)
	return p
}()

const audience = "urn:carnet:test"

func claims(now time.Time) Claims {
	return Claims{Issuer: "CN=cachet RSA,O=Centre de santé", Audience: audience, IssueInstant: now, NameID: "810002345678", SubjectName: "MARTIN Jeanne",
		Profession: "10", Specialty: "SM54", Structure: "1750000001", PatientCX: "279035121518989^^^&1.2.250.1.213.1.4.10&ISO^NH"}
}

func envelope(assertion string) []byte {
	return []byte(`<?xml version="1.0" encoding="UTF-8"?>
<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:a="http://www.w3.org/2005/08/addressing">
  <s:Header>
    <a:Action s:mustUnderstand="1">urn:ihe:iti:2007:RegistryStoredQuery</a:Action>
    <wsse:Security xmlns:wsse="` + nsWSSE + `" s:mustUnderstand="1">` + assertion + `</wsse:Security>
  </s:Header>
  <s:Body><q:AdhocQueryRequest xmlns:q="urn:oasis:names:tc:ebxml-regrep:xsd:query:3.0"/></s:Body>
</s:Envelope>`)
}

func newVerifier(t *testing.T, now *time.Time) *Verifier {
	v, err := New(Config{Issuers: []Issuer{{Cert: pki.rsaCert}, {Cert: pki.ecCert, Centre15: true}}, Audience: audience, AllowTestINS: true, Now: func() time.Time { return *now }})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func sign(t *testing.T, c Claims, key crypto.Signer, cert *x509.Certificate) string {
	t.Helper()
	s, err := Sign(c, key, cert)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestVerifyMapsTheProfessional(t *testing.T) {
	now := time.Now()
	v := newVerifier(t, &now)
	a, err := v.Verify(envelope(sign(t, claims(now), pki.rsaKey, pki.rsaCert)))
	if err != nil {
		t.Fatal(err)
	}
	want := carnet.Actor{Kind: carnet.ActorProfessional, ID: carnet.Identifier{System: "urn:oid:1.2.250.1.71.4.2.1", Value: "810002345678"}, Name: "MARTIN Jeanne",
		Profession: "G15_10", Specialty: "G15_10/SM54", Org: carnet.Identifier{System: "urn:oid:1.2.250.1.71.4.2.2", Value: "1750000001"}}
	got := a.Actor
	if got.Kind != want.Kind || got.ID != want.ID || got.Name != want.Name || got.Profession != want.Profession || got.Specialty != want.Specialty || got.Org != want.Org || got.Centre15 {
		t.Errorf("actor %+v, want %+v", got, want)
	}
	if a.Mode != carnet.ModeNormal || a.Patient.Value != "279035121518989" || a.Patient.System != "urn:oid:1.2.250.1.213.1.4.10" {
		t.Errorf("mode %s patient %+v", a.Mode, a.Patient)
	}
	// ECDSA, the centre 15 mode from an issuer trusted as a SAMU.
	c := claims(now)
	c.PurposeOfUse = "centre_15"
	a, err = v.Verify(envelope(sign(t, c, pki.ecKey, pki.ecCert)))
	if err != nil {
		t.Fatal(err)
	}
	if a.Mode != carnet.ModeCentre15 || !a.Actor.Centre15 {
		t.Errorf("centre 15: mode %s, Centre15 %v", a.Mode, a.Actor.Centre15)
	}
	c = claims(now)
	c.PurposeOfUse, c.Reason = "bris_de_glace", "patient inconscient aux urgences"
	if a, err = v.Verify(envelope(sign(t, c, pki.rsaKey, pki.rsaCert))); err != nil || a.Mode != carnet.ModeBreakGlass || a.Reason != c.Reason {
		t.Errorf("bris de glace: %v %+v", err, a)
	}
	// No WS-Security header: nothing to verify; an empty one is refused.
	plain := strings.Replace(string(envelope("")), `<wsse:Security xmlns:wsse="`+nsWSSE+`" s:mustUnderstand="1"></wsse:Security>`, "", 1)
	if a, err := v.Verify([]byte(plain)); err != nil || a != nil {
		t.Errorf("an envelope without WS-Security: %+v %v", a, err)
	}
	if _, err := v.Verify(envelope("")); err == nil {
		t.Errorf("an empty WS-Security header is accepted")
	}
}

func TestVerifyRefuses(t *testing.T) {
	now := time.Now()
	good := func() string { return sign(t, claims(now), pki.rsaKey, pki.rsaCert) }
	other := claims(now)
	other.NameID = "810009999999"
	forged := sign(t, other, pki.evilKey, pki.evil) // same subject DN, not the trusted key
	cases := []struct {
		name string
		env  func() []byte
	}{
		{"subject changed after signing", func() []byte {
			return envelope(strings.Replace(good(), "810002345678", "810009999999", 1))
		}},
		{"patient changed after signing", func() []byte {
			return envelope(strings.Replace(good(), "279035121518989", "180012345678901", 1))
		}},
		{"signed by an untrusted key", func() []byte { return envelope(forged) }},
		{"untrusted key without KeyInfo", func() []byte {
			s := forged[:strings.Index(forged, "<ds:KeyInfo>")] + forged[strings.Index(forged, "</ds:KeyInfo>")+len("</ds:KeyInfo>"):]
			return envelope(s)
		}},
		{"wrapped: a forged assertion, the signed one moved into the Body", func() []byte {
			g := good()
			e := envelope(strings.Replace(g, "810002345678", "810009999999", 1))
			return []byte(strings.Replace(string(e), "<s:Body>", "<s:Body>"+g, 1))
		}},
		{"wrapped: the signed one hidden in the Signature's Object", func() []byte {
			g := good()
			id := g[strings.Index(g, `ID="`)+4:]
			id = id[:strings.Index(id, `"`)]
			evil := strings.Replace(strings.Replace(g, "810002345678", "810009999999", 1), `ID="`+id+`"`, `ID="evil"`, 1)
			evil = strings.Replace(evil, "</ds:Signature>", "<ds:Object>"+g+"</ds:Object></ds:Signature>", 1)
			return envelope(evil)
		}},
		{"the assertion's ID on another element", func() []byte {
			g := good()
			id := g[strings.Index(g, `ID="`)+4:]
			id = id[:strings.Index(id, `"`)]
			return []byte(strings.Replace(string(envelope(g)), `<q:AdhocQueryRequest `, `<q:AdhocQueryRequest id="`+id+`" `, 1))
		}},
		{"two assertions", func() []byte { return envelope(good() + good()) }},
		{"signature removed", func() []byte {
			g := good()
			return envelope(g[:strings.Index(g, "<ds:Signature")] + g[strings.Index(g, "</ds:Signature>")+len("</ds:Signature>"):])
		}},
		{"a comment inserted", func() []byte {
			return envelope(strings.Replace(good(), "<saml2:Subject>", "<saml2:Subject><!--x-->", 1))
		}},
		{"DTD", func() []byte {
			return append([]byte(`<!DOCTYPE s:Envelope [<!ENTITY x "810009999999">]>`), envelope(good())[len(`<?xml version="1.0" encoding="UTF-8"?>`):]...)
		}},
		{"expired", func() []byte {
			c := claims(now.Add(-10 * time.Minute))
			return envelope(sign(t, c, pki.rsaKey, pki.rsaCert))
		}},
		{"lifetime beyond the cap", func() []byte {
			c := claims(now.Add(-2 * time.Hour))
			c.NotOnOrAfter = now.Add(time.Hour)
			return envelope(sign(t, c, pki.rsaKey, pki.rsaCert))
		}},
		{"issued in the future", func() []byte { return envelope(sign(t, claims(now.Add(5*time.Minute)), pki.rsaKey, pki.rsaCert)) }},
		{"wrong audience", func() []byte {
			c := claims(now)
			c.Audience = "urn:another:service"
			return envelope(sign(t, c, pki.rsaKey, pki.rsaCert))
		}},
		{"a second AudienceRestriction naming another service", func() []byte {
			return envelope(resign(t, good(), "</saml2:AudienceRestriction>", "</saml2:AudienceRestriction><saml2:AudienceRestriction><saml2:Audience>urn:other</saml2:Audience></saml2:AudienceRestriction>"))
		}},
		{"an unknown condition", func() []byte {
			return envelope(resign(t, good(), "</saml2:AudienceRestriction>", "</saml2:AudienceRestriction><saml2:Condition/>"))
		}},
		{"a second Subject", func() []byte {
			return envelope(resign(t, good(), "</saml2:Subject>", "</saml2:Subject><saml2:Subject><saml2:NameID>810009999999</saml2:NameID></saml2:Subject>"))
		}},
		{"bris de glace without a reason", func() []byte {
			c := claims(now)
			c.PurposeOfUse = "bris_de_glace"
			return envelope(sign(t, c, pki.rsaKey, pki.rsaCert))
		}},
		{"unknown purpose of use", func() []byte {
			c := claims(now)
			c.PurposeOfUse = "curiosite"
			return envelope(sign(t, c, pki.rsaKey, pki.rsaCert))
		}},
		{"not a professional id", func() []byte {
			c := claims(now)
			c.NameID = "DUPONT"
			return envelope(sign(t, c, pki.rsaKey, pki.rsaCert))
		}},
	}
	for _, tc := range cases {
		v := newVerifier(t, &now)
		a, err := v.Verify(tc.env())
		var xe *Error
		if err == nil || !errors.As(err, &xe) {
			t.Errorf("%s: accepted (%+v)", tc.name, a)
		} else {
			t.Logf("%s: %v", tc.name, err)
		}
	}
	// With one trusted issuer, an assertion without KeyInfo is checked
	// against that issuer's key: a forged one fails the signature.
	one, err := New(Config{Issuers: []Issuer{{Cert: pki.rsaCert}}, Audience: audience, AllowTestINS: true, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	noKeyInfo := forged[:strings.Index(forged, "<ds:KeyInfo>")] + forged[strings.Index(forged, "</ds:KeyInfo>")+len("</ds:KeyInfo>"):]
	if _, err := one.Verify(envelope(noKeyInfo)); err == nil || !strings.Contains(err.Error(), "signature") {
		t.Errorf("forged assertion without KeyInfo, one trusted issuer: %v", err)
	}
	// Replay: the same assertion twice.
	v := newVerifier(t, &now)
	g := envelope(good())
	if _, err := v.Verify(g); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(g); err == nil {
		t.Errorf("a replayed assertion is accepted")
	}
	// The same assertion after it expired is refused as expired, and
	// forgotten by the replay memory.
	later := now.Add(time.Hour)
	v2 := newVerifier(t, &later)
	if _, err := v2.Verify(g); err == nil {
		t.Errorf("an expired assertion is accepted")
	}
}

func FuzzVerify(f *testing.F) {
	now := time.Now()
	seed, err := Sign(claims(now), pki.rsaKey, pki.rsaCert)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(envelope(seed))
	f.Add(envelope(""))
	f.Add([]byte(`<a xmlns:p="u"><p:b p:c="&amp;"/></a>`))
	f.Fuzz(func(t *testing.T, b []byte) {
		v, _ := New(Config{Issuers: []Issuer{{Cert: pki.rsaCert}}, Audience: audience, AllowTestINS: true, Now: func() time.Time { return now }})
		_, _ = v.Verify(b)
		if root, err := parse(b); err == nil {
			c := canonical(root, nil, nil)
			// Canonicalization is idempotent.
			r2, err := parse(c)
			if err != nil {
				t.Fatalf("canonical form does not parse: %v\n%s", err, c)
			}
			if c2 := canonical(r2, nil, nil); string(c2) != string(c) {
				t.Fatalf("c14n not idempotent:\n%s\n%s", c, c2)
			}
		}
	})
}

// resign edits a signed assertion (old → new) and signs it again with the
// trusted key, exactly as the issuer would have: what is refused is the
// content, not the signature.
// TestVerifyWithoutAudience: an assertion naming no audience (the DMP's
// VIHF 4.0) is refused unless the deployment allows it; one naming another
// service stays refused.
func TestVerifyWithoutAudience(t *testing.T) {
	now := time.Now()
	good := sign(t, claims(now), pki.rsaKey, pki.rsaCert)
	start := strings.Index(good, "<saml2:AudienceRestriction>")
	end := strings.Index(good, "</saml2:AudienceRestriction>") + len("</saml2:AudienceRestriction>")
	none := resign(t, good, good[start:end], "")
	if strings.Contains(none, "AudienceRestriction") {
		t.Fatal("the test assertion still has an AudienceRestriction")
	}
	other := claims(now)
	other.Audience = "urn:another:service"
	wrong := sign(t, other, pki.rsaKey, pki.rsaCert)
	for _, allow := range []bool{false, true} {
		v, err := New(Config{Issuers: []Issuer{{Cert: pki.rsaCert}}, Audience: audience, AllowNoAudience: allow, AllowTestINS: true, Now: func() time.Time { return now }})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := v.Verify(envelope(none)); (err == nil) != allow {
			t.Errorf("AllowNoAudience %v, no audience: %v", allow, err)
		}
		if _, err := v.Verify(envelope(wrong)); err == nil {
			t.Errorf("AllowNoAudience %v: an assertion for another service was accepted", allow)
		}
	}
}

func resign(t *testing.T, signed, old, new string) string {
	t.Helper()
	start := strings.Index(signed, "<ds:Signature")
	end := strings.Index(signed, "</ds:Signature>") + len("</ds:Signature>")
	s, err := signAssertion(strings.Replace(signed[:start]+signed[end:], old, new, 1), pki.rsaKey, pki.rsaCert)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// BenchmarkVerify is the cost of one assertion's check (parse, c14n,
// SHA-256, RSA-2048 verification) within a small SOAP envelope.
func BenchmarkVerify(b *testing.B) {
	now := time.Now()
	v, err := New(Config{Issuers: []Issuer{{Cert: pki.rsaCert}}, Audience: audience, AllowTestINS: true, Now: func() time.Time { return now }})
	if err != nil {
		b.Fatal(err)
	}
	envs := make([][]byte, b.N)
	for i := range envs {
		c := claims(now)
		c.ID = fmt.Sprintf("_bench%d", i)
		s, err := Sign(c, pki.rsaKey, pki.rsaCert)
		if err != nil {
			b.Fatal(err)
		}
		envs[i] = envelope(s)
	}
	b.ResetTimer()
	cpu0 := cputime.Process()
	for i := 0; i < b.N; i++ {
		if _, err := v.Verify(envs[i]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64((cputime.Process()-cpu0).Microseconds())/float64(b.N), "cpu-µs/op")
}
