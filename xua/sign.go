package xua

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"
)

// Claims are what Sign writes into an assertion, named as the DMP's VIHF
// names them.
type Claims struct {
	ID           string // the assertion's ID (an NCName), random when empty
	Issuer       string
	Audience     string
	IssueInstant time.Time
	NotOnOrAfter time.Time // zero: IssueInstant + 5 minutes
	NameID       string    // the professional's national id (8 + RPPS)
	SubjectName  string    // subject-id: name, given name
	Profession   string    // TRE_G15 code without G15_ (10 for a physician)
	Specialty    string    // savoir-faire code (SM54), optional
	Structure    string    // Identifiant_Structure, optional
	PurposeOfUse string    // normal, bris_de_glace, centre_15
	Reason       string    // a bris de glace's reason
	PatientCX    string    // resource-id, optional
}

// Sign returns the assertion c signed with key (RSA-SHA256 or ECDSA P-256
// SHA-256), its certificate in KeyInfo: what a VIHF-producing software or
// the demo identity provider sends. The XML is written here, then
// canonicalized by the same code that verifies (tests also check the
// canonicalization against fixed vectors).
func Sign(c Claims, key crypto.Signer, cert *x509.Certificate) (string, error) {
	if c.ID == "" {
		var b [16]byte
		if _, err := rand.Read(b[:]); err != nil {
			return "", err
		}
		c.ID = fmt.Sprintf("_%x", b)
	}
	if c.NotOnOrAfter.IsZero() {
		c.NotOnOrAfter = c.IssueInstant.Add(5 * time.Minute)
	}
	if c.PurposeOfUse == "" {
		c.PurposeOfUse = "normal"
	}
	ts := func(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }
	var b strings.Builder
	b.WriteString(`<saml2:Assertion xmlns:saml2="` + nsSAML + `" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" ID="` + esc(c.ID) + `" IssueInstant="` + ts(c.IssueInstant) + `" Version="2.0">`)
	b.WriteString(`<saml2:Issuer Format="urn:oasis:names:tc:SAML:1.1:nameid-format:X509SubjectName">` + esc(c.Issuer) + `</saml2:Issuer>`)
	b.WriteString(`<saml2:Subject><saml2:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified">` + esc(c.NameID) + `</saml2:NameID>` +
		`<saml2:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:sender-vouches"/></saml2:Subject>`)
	b.WriteString(`<saml2:Conditions NotBefore="` + ts(c.IssueInstant) + `" NotOnOrAfter="` + ts(c.NotOnOrAfter) + `"><saml2:AudienceRestriction><saml2:Audience>` + esc(c.Audience) + `</saml2:Audience></saml2:AudienceRestriction></saml2:Conditions>`)
	b.WriteString(`<saml2:AuthnStatement AuthnInstant="` + ts(c.IssueInstant) + `"><saml2:AuthnContext><saml2:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:X509</saml2:AuthnContextClassRef></saml2:AuthnContext></saml2:AuthnStatement>`)
	b.WriteString(`<saml2:AttributeStatement>`)
	attrStr := func(name, v string) {
		b.WriteString(`<saml2:Attribute Name="` + esc(name) + `"><saml2:AttributeValue xsi:type="xs:string" xmlns:xs="http://www.w3.org/2001/XMLSchema">` + esc(v) + `</saml2:AttributeValue></saml2:Attribute>`)
	}
	coded := func(el, code, system string) string {
		return `<saml2:AttributeValue><` + el + ` xmlns="urn:hl7-org:v3" xsi:type="CE" code="` + esc(code) + `" codeSystem="` + esc(system) + `"/></saml2:AttributeValue>`
	}
	attrStr(AttrSubjectID, c.SubjectName)
	b.WriteString(`<saml2:Attribute Name="` + AttrRole + `">` + coded("Role", c.Profession, OIDProfession))
	if c.Specialty != "" {
		b.WriteString(coded("Role", c.Specialty, "1.2.250.1.213.1.1.4.5"))
	}
	b.WriteString(`</saml2:Attribute>`)
	b.WriteString(`<saml2:Attribute Name="` + AttrPurposeOfUse + `">` + coded("PurposeOfUse", c.PurposeOfUse, "1.2.250.1.213.1.1.4.248") + `</saml2:Attribute>`)
	if c.Structure != "" {
		attrStr(AttrStructure, c.Structure)
	}
	if c.PatientCX != "" {
		attrStr(AttrResourceID, c.PatientCX)
	}
	if c.Reason != "" {
		attrStr(AttrAccessReason, c.Reason)
	}
	attrStr("VIHF_Version", "4.0")
	attrStr("Authentification_Mode", "INDIRECTE")
	b.WriteString(`</saml2:AttributeStatement></saml2:Assertion>`)
	return signAssertion(b.String(), key, cert)
}

// signAssertion signs an assertion written without its signature, which
// goes right after its Issuer element.
func signAssertion(unsigned string, key crypto.Signer, cert *x509.Certificate) (string, error) {
	root, err := parse([]byte(unsigned))
	if err != nil {
		return "", err
	}
	id, _ := root.attr("ID")
	sigAt := strings.Index(unsigned, "</saml2:Issuer>")
	if sigAt < 0 {
		return "", errors.New("xua: no saml2:Issuer to sign after")
	}
	sigAt += len("</saml2:Issuer>")
	digest := sha256.Sum256(canonical(root, nil, nil))
	var alg string
	switch key.Public().(type) {
	case *rsa.PublicKey:
		alg = AlgRSASHA256
	case *ecdsa.PublicKey:
		alg = AlgECDSASHA256
	default:
		return "", errors.New("xua: RSA or ECDSA keys only")
	}
	signedInfo := `<ds:SignedInfo><ds:CanonicalizationMethod Algorithm="` + AlgExcC14N + `"/><ds:SignatureMethod Algorithm="` + alg + `"/>` +
		`<ds:Reference URI="#` + esc(id) + `"><ds:Transforms><ds:Transform Algorithm="` + AlgEnveloped + `"/><ds:Transform Algorithm="` + AlgExcC14N + `"/></ds:Transforms>` +
		`<ds:DigestMethod Algorithm="` + AlgSHA256 + `"/><ds:DigestValue>` + base64.StdEncoding.EncodeToString(digest[:]) + `</ds:DigestValue></ds:Reference></ds:SignedInfo>`
	sig, err := parse([]byte(`<ds:Signature xmlns:ds="` + nsDS + `">` + signedInfo + `</ds:Signature>`))
	if err != nil {
		return "", err
	}
	h := sha256.Sum256(canonical(sig.child(nsDS, "SignedInfo"), nil, nil))
	raw, err := key.Sign(rand.Reader, h[:], crypto.SHA256)
	if err != nil {
		return "", err
	}
	if alg == AlgECDSASHA256 {
		var v struct{ R, S *big.Int }
		if _, err := asn1.Unmarshal(raw, &v); err != nil {
			return "", err
		}
		raw = make([]byte, 64)
		v.R.FillBytes(raw[:32])
		v.S.FillBytes(raw[32:])
	}
	signature := `<ds:Signature xmlns:ds="` + nsDS + `">` + signedInfo + `<ds:SignatureValue>` + base64.StdEncoding.EncodeToString(raw) + `</ds:SignatureValue>` +
		`<ds:KeyInfo><ds:X509Data><ds:X509Certificate>` + base64.StdEncoding.EncodeToString(cert.Raw) + `</ds:X509Certificate></ds:X509Data></ds:KeyInfo></ds:Signature>`
	return unsigned[:sigAt] + signature + unsigned[sigAt:], nil
}

func esc(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}
