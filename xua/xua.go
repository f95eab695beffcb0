// Package xua verifies IHE XUA assertions: a SAML 2.0 assertion in the
// WS-Security header of a SOAP 1.2 request, signed (XML-DSig, exclusive
// canonicalization, RSA-SHA256 or ECDSA-SHA256) by a trusted issuer, naming
// the professional who acts, the patient and the purpose of use, as the
// DMP's VIHF does (docs/XDS.md, "Authentication"). It maps the assertion to
// the same carnet.Actor as an OIDC token (auth.ProfessionalActor).
package xua

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"sync"
	"time"

	carnet "github.com/carnet-sante/carnet"
)

// Namespaces and algorithms.
const (
	nsSOAP = "http://www.w3.org/2003/05/soap-envelope"
	nsWSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
	nsWSU  = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
	nsSAML = "urn:oasis:names:tc:SAML:2.0:assertion"
	nsDS   = "http://www.w3.org/2000/09/xmldsig#"
	nsExc  = "http://www.w3.org/2001/10/xml-exc-c14n#"

	AlgExcC14N     = "http://www.w3.org/2001/10/xml-exc-c14n#"
	AlgEnveloped   = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
	AlgRSASHA256   = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
	AlgECDSASHA256 = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"
	AlgSHA256      = "http://www.w3.org/2001/04/xmlenc#sha256"
)

// Attribute names read (XSPA / XACML, as the DMP's VIHF uses them).
const (
	AttrSubjectID    = "urn:oasis:names:tc:xspa:1.0:subject:subject-id"
	AttrRole         = "urn:oasis:names:tc:xacml:2.0:subject:role"
	AttrPurposeOfUse = "urn:oasis:names:tc:xspa:1.0:subject:purposeofuse"
	AttrResourceID   = "urn:oasis:names:tc:xacml:2.0:resource:resource-id"
	AttrStructure    = "Identifiant_Structure"
	// AttrAccessReason is the stated reason of a bris de glace. The VIHF
	// names none: this attribute is Carnet's (docs/XDS.md).
	AttrAccessReason = "urn:carnet:xua:access-reason"
)

// OIDProfession is TRE_G15 (professions), the code system of the first
// subject:role.
const OIDProfession = "1.2.250.1.71.1.2.7"

// Issuer is one trusted assertion issuer: the certificate its assertions
// are signed with (the structure's seal certificate, for the DMP).
type Issuer struct {
	Cert *x509.Certificate
	// Centre15: the issuer is a SAMU – centre 15 whose professionals are
	// regulating physicians (they alone may use the centre 15 mode).
	Centre15 bool
}

// Config configures a Verifier.
type Config struct {
	Issuers []Issuer
	// Audience must be in the assertion's AudienceRestriction.
	Audience string
	// AllowNoAudience accepts an assertion without any
	// AudienceRestriction (the DMP's VIHF 4.0 carries none); an assertion
	// that has one must still name Audience.
	AllowNoAudience bool
	// Skew is the clock tolerance (default 30 s, at most 60 s).
	Skew time.Duration
	// MaxLifetime caps how long after its IssueInstant an assertion is
	// accepted, whatever its NotOnOrAfter (default 1 h).
	MaxLifetime  time.Duration
	AllowTestINS bool
	Now          func() time.Time
	// Used, when set, records the assertions accepted, in the
	// deployment's store: an assertion is then used once by every node over
	// it and across restarts. Without it the Verifier remembers them in
	// its own memory (one node, until it stops).
	Used carnet.AssertionStore
}

// Verifier checks assertions. It remembers the ids of the assertions it
// accepted until they expire (Config.Used, else in memory): an assertion is
// used once.
type Verifier struct {
	cfg  Config
	mu   sync.Mutex
	seen map[string]time.Time
}

// maxSeen bounds the replay memory; when it is full of live ids new
// assertions are refused (fail closed) until some expire.
const maxSeen = 200_000

// New returns a Verifier; it needs at least one issuer and an audience.
func New(cfg Config) (*Verifier, error) {
	if len(cfg.Issuers) == 0 || cfg.Audience == "" {
		return nil, errors.New("xua: at least one trusted issuer certificate and an audience are required")
	}
	for _, is := range cfg.Issuers {
		if _, err := verifierKey(is.Cert); err != nil {
			return nil, fmt.Errorf("xua: issuer %s: %w", is.Cert.Subject, err)
		}
	}
	if cfg.Skew <= 0 {
		cfg.Skew = 30 * time.Second
	}
	cfg.Skew = min(cfg.Skew, time.Minute)
	if cfg.MaxLifetime <= 0 {
		cfg.MaxLifetime = time.Hour
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Verifier{cfg: cfg, seen: map[string]time.Time{}}, nil
}

// Assertion is what a verified assertion says.
type Assertion struct {
	ID     string
	Issuer string // the Issuer element's text (the seal certificate's DN for the DMP)
	Actor  carnet.Actor
	Mode   carnet.Mode
	Reason string
	// Patient is the resource-id (the patient's INS), zero when absent.
	Patient carnet.Identifier
	Expires time.Time
}

// Error is a refused assertion; Reason is for the server log only.
type Error struct{ Reason string }

func (e *Error) Error() string { return "xua: " + e.Reason }

func refuse(format string, a ...any) error { return &Error{Reason: fmt.Sprintf(format, a...)} }

// Verify reads the SOAP 1.2 envelope and verifies the one SAML assertion of
// its WS-Security header. It returns nil, nil when the envelope carries no
// WS-Security header.
func (v *Verifier) Verify(envelope []byte) (*Assertion, error) {
	return v.VerifyContext(context.Background(), envelope)
}

// VerifyContext is Verify within a request (the store's record of used
// assertions is written under ctx).
func (v *Verifier) VerifyContext(ctx context.Context, envelope []byte) (*Assertion, error) {
	root, err := parse(envelope)
	if err != nil {
		return nil, refuse("%v", err)
	}
	if !root.is(nsSOAP, "Envelope") {
		return nil, refuse("not a SOAP 1.2 envelope")
	}
	var secs []*elem
	for _, h := range root.all(nsSOAP, "Header") {
		secs = append(secs, h.all(nsWSSE, "Security")...)
	}
	if len(root.all(nsSOAP, "Header")) > 1 {
		return nil, refuse("several SOAP headers")
	}
	// Anywhere in the envelope, exactly one assertion, in the one
	// Security header: nothing else can be mistaken for it.
	var assertions []*elem
	encrypted := false
	root.walk(func(e *elem) {
		if e.Space == nsSAML && e.Local == "Assertion" {
			assertions = append(assertions, e)
		}
		if e.Space == nsSAML && e.Local == "EncryptedAssertion" {
			encrypted = true
		}
	})
	switch {
	case len(secs) == 0 && len(assertions) == 0 && !encrypted:
		return nil, nil
	case len(secs) != 1:
		return nil, refuse("%d WS-Security headers, want one", len(secs))
	case encrypted:
		return nil, refuse("encrypted assertions are not read")
	case len(assertions) != 1:
		return nil, refuse("%d SAML assertions, want one", len(assertions))
	case assertions[0].Parent != secs[0]:
		return nil, refuse("the assertion is not a child of the WS-Security header")
	}
	a := assertions[0]
	is, err := v.checkSignature(root, a)
	if err != nil {
		return nil, err
	}
	out, err := v.read(a, is)
	if err != nil {
		return nil, err
	}
	if v.cfg.Used != nil {
		sum := sha256.Sum256([]byte(out.Issuer + "\x00" + out.ID))
		fresh, err := v.cfg.Used.UseAssertion(ctx, base64.RawURLEncoding.EncodeToString(sum[:]), v.cfg.Now(), out.Expires.Add(v.cfg.Skew))
		switch {
		case err != nil: // fail closed
			return nil, refuse("the record of used assertions cannot be written: %v", err)
		case !fresh:
			return nil, refuse("assertion %q replayed", clip(out.ID))
		}
		return out, nil
	}
	if !v.once(out.Issuer+"\x00"+out.ID, out.Expires) {
		return nil, refuse("assertion %q replayed (or too many live assertions)", clip(out.ID))
	}
	return out, nil
}

// checkSignature verifies the enveloped signature of a, which must sign a
// itself (Reference URI "#" + its ID, an ID no other element carries) with
// a trusted issuer's key.
func (v *Verifier) checkSignature(root, a *elem) (Issuer, error) {
	id, ok := a.attr("ID")
	if !ok || id == "" || len(id) > 256 {
		return Issuer{}, refuse("assertion without an ID")
	}
	ids := 0
	root.walk(func(e *elem) {
		for _, at := range e.Attrs {
			if (strings.EqualFold(at.Local, "id") && (at.Prefix == "" || at.Space == nsWSU || at.Space == "http://www.w3.org/XML/1998/namespace")) && at.Value == id {
				ids++
			}
		}
	})
	if ids != 1 {
		return Issuer{}, refuse("the assertion's ID is carried by %d elements", ids)
	}
	var sigs []*elem
	a.walk(func(e *elem) {
		if e.is(nsDS, "Signature") {
			sigs = append(sigs, e)
		}
	})
	if len(sigs) != 1 || sigs[0].Parent != a {
		return Issuer{}, refuse("the assertion must hold exactly one ds:Signature, as its child")
	}
	sig := sigs[0]
	si := sig.child(nsDS, "SignedInfo")
	if si == nil || len(sig.all(nsDS, "SignedInfo")) != 1 {
		return Issuer{}, refuse("no SignedInfo")
	}
	cm := si.child(nsDS, "CanonicalizationMethod")
	if alg, _ := cm.attrOf("Algorithm"); alg != AlgExcC14N {
		return Issuer{}, refuse("canonicalization %q: only exclusive c14n without comments", clip(alg))
	}
	sm, _ := si.child(nsDS, "SignatureMethod").attrOf("Algorithm")
	if sm != AlgRSASHA256 && sm != AlgECDSASHA256 {
		return Issuer{}, refuse("signature method %q: only RSA-SHA256 and ECDSA-SHA256", clip(sm))
	}
	refs := si.all(nsDS, "Reference")
	if len(refs) != 1 {
		return Issuer{}, refuse("%d references, want one", len(refs))
	}
	ref := refs[0]
	if uri, _ := ref.attr("URI"); uri != "#"+id {
		return Issuer{}, refuse("the signature does not reference the assertion")
	}
	var ts []*elem
	if t := ref.child(nsDS, "Transforms"); t != nil {
		ts = t.all(nsDS, "Transform")
	}
	if len(ts) != 2 {
		return Issuer{}, refuse("transforms must be enveloped-signature then exclusive c14n")
	}
	if alg, _ := ts[0].attrOf("Algorithm"); alg != AlgEnveloped {
		return Issuer{}, refuse("first transform %q, want enveloped-signature", clip(alg))
	}
	if alg, _ := ts[1].attrOf("Algorithm"); alg != AlgExcC14N {
		return Issuer{}, refuse("second transform %q, want exclusive c14n", clip(alg))
	}
	if dm, _ := ref.child(nsDS, "DigestMethod").attrOf("Algorithm"); dm != AlgSHA256 {
		return Issuer{}, refuse("digest %q: only SHA-256", clip(dm))
	}
	want, err := b64(ref.child(nsDS, "DigestValue"))
	if err != nil {
		return Issuer{}, refuse("DigestValue: %v", err)
	}
	got := sha256.Sum256(canonical(a, sig, prefixList(ts[1])))
	if subtle.ConstantTimeCompare(got[:], want) != 1 {
		return Issuer{}, refuse("the assertion's digest does not match: it was changed after signing")
	}
	sv, err := b64(sig.child(nsDS, "SignatureValue"))
	if err != nil {
		return Issuer{}, refuse("SignatureValue: %v", err)
	}
	signed := sha256.Sum256(canonical(si, nil, prefixList(cm)))
	is, err := v.issuerOf(sig)
	if err != nil {
		return Issuer{}, err
	}
	if err := verifySig(is.Cert, sm, signed[:], sv); err != nil {
		return Issuer{}, refuse("signature: %v", err)
	}
	now := v.cfg.Now()
	if now.Before(is.Cert.NotBefore) || now.After(is.Cert.NotAfter) {
		return Issuer{}, refuse("the issuer's certificate is not valid now")
	}
	return is, nil
}

// issuerOf picks the trusted issuer: the one whose certificate KeyInfo
// carries, byte for byte, or the only one configured. A key or certificate
// in KeyInfo is never trusted by itself.
func (v *Verifier) issuerOf(sig *elem) (Issuer, error) {
	var certs []*elem
	sig.walk(func(e *elem) {
		if e.is(nsDS, "X509Certificate") {
			certs = append(certs, e)
		}
	})
	if len(certs) > 1 {
		return Issuer{}, refuse("several certificates in KeyInfo")
	}
	if len(certs) == 1 {
		der, err := b64(certs[0])
		if err != nil {
			return Issuer{}, refuse("X509Certificate: %v", err)
		}
		for _, is := range v.cfg.Issuers {
			if bytes.Equal(is.Cert.Raw, der) {
				return is, nil
			}
		}
		return Issuer{}, refuse("the signing certificate is not a trusted issuer's")
	}
	if len(v.cfg.Issuers) == 1 {
		return v.cfg.Issuers[0], nil
	}
	return Issuer{}, refuse("no certificate in KeyInfo and several trusted issuers")
}

func verifierKey(c *x509.Certificate) (crypto.PublicKey, error) {
	switch k := c.PublicKey.(type) {
	case *rsa.PublicKey:
		if k.N.BitLen() < 2048 {
			return nil, errors.New("RSA keys have at least 2048 bits")
		}
		return k, nil
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() {
			return nil, errors.New("ECDSA keys are P-256")
		}
		return k, nil
	}
	return nil, errors.New("the certificate's key is neither RSA nor ECDSA P-256")
}

func verifySig(c *x509.Certificate, alg string, digest, sig []byte) error {
	key, err := verifierKey(c)
	if err != nil {
		return err
	}
	switch k := key.(type) {
	case *rsa.PublicKey:
		if alg != AlgRSASHA256 {
			return errors.New("algorithm does not match the issuer's RSA key")
		}
		return rsa.VerifyPKCS1v15(k, crypto.SHA256, digest, sig)
	case *ecdsa.PublicKey:
		if alg != AlgECDSASHA256 {
			return errors.New("algorithm does not match the issuer's ECDSA key")
		}
		// XML-DSig ECDSA values are r || s, not ASN.1.
		if len(sig) != 64 {
			return errors.New("ECDSA P-256 signature is 64 bytes")
		}
		r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
		if !ecdsa.Verify(k, digest, r, s) {
			return errors.New("ECDSA verification failed")
		}
		return nil
	}
	return errors.New("unsupported key")
}

// prefixList reads the InclusiveNamespaces PrefixList of a transform or
// canonicalization method.
func prefixList(e *elem) []string {
	if e == nil {
		return nil
	}
	in := e.child(nsExc, "InclusiveNamespaces")
	if in == nil {
		return nil
	}
	pl, _ := in.attr("PrefixList")
	f := strings.Fields(pl)
	if len(f) > 32 {
		f = f[:32]
	}
	return f
}

func (e *elem) attrOf(local string) (string, bool) {
	if e == nil {
		return "", false
	}
	return e.attr(local)
}

func b64(e *elem) ([]byte, error) {
	if e == nil {
		return nil, errors.New("missing")
	}
	s := strings.Map(func(r rune) rune {
		if r == ' ' || r == '\n' || r == '\r' || r == '\t' {
			return -1
		}
		return r
	}, e.text())
	if len(s) > 64<<10 {
		return nil, errors.New("too long")
	}
	return base64.StdEncoding.DecodeString(s)
}

func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}

// once records id until exp; false when it was seen (a replay) or when the
// memory is full of live ids.
func (v *Verifier) once(id string, exp time.Time) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	now := v.cfg.Now()
	if e, ok := v.seen[id]; ok && !now.After(e) {
		return false
	}
	if len(v.seen) >= maxSeen {
		for k, e := range v.seen {
			if now.After(e) {
				delete(v.seen, k)
			}
		}
		if len(v.seen) >= maxSeen {
			return false
		}
	}
	v.seen[id] = exp.Add(v.cfg.Skew)
	return true
}
