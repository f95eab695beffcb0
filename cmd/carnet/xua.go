package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"os"
	"strings"
	"time"

	carnet "github.com/carnet-sante/carnet"
	"github.com/carnet-sante/carnet/auth"
	"github.com/carnet-sante/carnet/xua"
)

// xuaVerifier trusts the XUA issuers of --xua-issuer-cert and
// --xua-samu-cert, and in --demo the demo seal certificates; nil when
// none is configured (XUA off: a WS-Security header is ignored).
func xuaVerifier(c serverConfig, demo *demoXUAIssuer, used carnet.AssertionStore) (*xua.Verifier, error) {
	var issuers []xua.Issuer
	for _, set := range []struct {
		files    string
		centre15 bool
	}{{c.XUAIssuerCerts, false}, {c.XUASAMUCerts, true}} {
		for _, f := range strings.Split(set.files, ",") {
			if f = strings.TrimSpace(f); f == "" {
				continue
			}
			certs, err := readCerts(f)
			if err != nil {
				return nil, fmt.Errorf("XUA issuer certificate %s: %w", f, err)
			}
			for _, cert := range certs {
				issuers = append(issuers, xua.Issuer{Cert: cert, Centre15: set.centre15})
			}
		}
	}
	aud := c.XUAAudience
	if aud == "" {
		aud = publicBase(c) + "/xds"
	}
	if demo != nil {
		issuers = append(issuers, xua.Issuer{Cert: demo.cert}, xua.Issuer{Cert: demo.samuCert, Centre15: true})
		aud = demo.audience
	}
	if len(issuers) == 0 {
		if c.XUARequired {
			return nil, errors.New("--xua-required needs --xua-issuer-cert")
		}
		return nil, nil
	}
	// Used assertions are recorded in the store: once for every node over
	// it, and across restarts.
	return xua.New(xua.Config{Issuers: issuers, Audience: aud, AllowNoAudience: c.XUAAllowNoAudience, AllowTestINS: c.Demo || c.AllowTestINS, Used: used})
}

func readCerts(path string) ([]*x509.Certificate, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []*x509.Certificate
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		cert, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, err
		}
		out = append(out, cert)
	}
	if len(out) == 0 {
		return nil, errors.New("no PEM certificate")
	}
	return out, nil
}

// demoXUAIssuer signs XUA assertions for the demo professionals, as a
// structure's software signs its VIHF: GET /demo-idp/xua?user=gp&patient=INS
// [&purpose=normal|bris_de_glace|centre_15&reason=…] answers the
// wsse:Security header to put in a SOAP request. Its keys live in memory:
// a restart makes new ones. Demo only.
type demoXUAIssuer struct {
	demo               *auth.DemoIssuer
	audience           string
	key, samuKey       *ecdsa.PrivateKey
	cert, samuCert     *x509.Certificate
	structure, samuOrg string
}

func newDemoXUA(demo *auth.DemoIssuer, audience string) (*demoXUAIssuer, error) {
	d := &demoXUAIssuer{demo: demo, audience: audience}
	var err error
	if d.key, d.cert, err = demoSeal("Cachet de démonstration Carnet"); err != nil {
		return nil, err
	}
	if d.samuKey, d.samuCert, err = demoSeal("Cachet de démonstration SAMU – centre 15"); err != nil {
		return nil, err
	}
	return d, nil
}

func demoSeal(cn string) (*ecdsa.PrivateKey, *x509.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	t := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn, Organization: []string{"Carnet (démonstration)"}},
		NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(365 * 24 * time.Hour), KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, t, t, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	return key, cert, err
}

func (d *demoXUAIssuer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	p, ok := d.demo.DemoProfessional(q.Get("user"))
	if !ok {
		http.Error(w, "user: a demo professional (gp, cardio, nurse, dentist, samu, pharma)", http.StatusBadRequest)
		return
	}
	ins := q.Get("patient")
	if len(ins) != 15 || strings.Trim(ins, "0123456789") != "" {
		http.Error(w, "patient: a demo patient's INS (15 digits)", http.StatusBadRequest)
		return
	}
	key, cert := d.key, d.cert
	if p.Centre15 {
		key, cert = d.samuKey, d.samuCert
	}
	_, spec, _ := strings.Cut(p.Specialty, "/")
	c := xua.Claims{Issuer: cert.Subject.String(), Audience: d.audience, IssueInstant: time.Now(), NameID: p.RPPS, SubjectName: p.Name,
		Profession: strings.TrimPrefix(p.Profession, "G15_"), Specialty: spec, PurposeOfUse: q.Get("purpose"), Reason: q.Get("reason"),
		PatientCX: ins + "^^^&1.2.250.1.213.1.4.10&ISO^NH"}
	if len(p.Orgs) > 0 {
		c.Structure = p.Orgs[0]
	}
	s, err := xua.Sign(c, key, cert)
	if err != nil {
		http.Error(w, "signing failed", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/xml; charset=UTF-8")
	w.Header().Set("Cache-Control", "no-store")
	fmt.Fprint(w, `<wsse:Security xmlns:wsse="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd">`+s+`</wsse:Security>`)
}
