package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/carnet-sante/carnet/edge"
	"github.com/carnet-sante/carnet/internal/testenv"
	"github.com/carnet-sante/carnet/sqlite"
)

// testPKI is a CA, a server certificate for 127.0.0.1 and a software
// client certificate, written as PEM files (keys 0600).
type testPKI struct {
	dir                       string
	caFile, certFile, keyFile string
	clientCert                tls.Certificate
	clientKeyID               string
	pool                      *x509.CertPool
}

func newPKI(t *testing.T) *testPKI {
	t.Helper()
	dir := t.TempDir()
	p := &testPKI{dir: dir, caFile: filepath.Join(dir, "ca.pem"), certFile: filepath.Join(dir, "tls.crt"), keyFile: filepath.Join(dir, "tls.key")}
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Carnet test CA"}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(365 * 24 * time.Hour)}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	writePEM := func(path, typ string, der []byte, mode os.FileMode) {
		if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), mode); err != nil {
			t.Fatal(err)
		}
	}
	writePEM(p.caFile, "CERTIFICATE", caDER, 0o644)
	issue := func(cn string, usage x509.ExtKeyUsage, ip bool) (*ecdsa.PrivateKey, []byte) {
		k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
			ExtKeyUsage: []x509.ExtKeyUsage{usage}, KeyUsage: x509.KeyUsageDigitalSignature,
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(200 * 24 * time.Hour)}
		if ip {
			tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &k.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		return k, der
	}
	sk, sder := issue("127.0.0.1", x509.ExtKeyUsageServerAuth, true)
	writePEM(p.certFile, "CERTIFICATE", sder, 0o644)
	skb, _ := x509.MarshalECPrivateKey(sk)
	writePEM(p.keyFile, "EC PRIVATE KEY", skb, 0o600)
	ck, cder := issue("lgc-cabinet-dupont", x509.ExtKeyUsageClientAuth, false)
	p.clientCert = tls.Certificate{Certificate: [][]byte{cder}, PrivateKey: ck}
	leaf, _ := x509.ParseCertificate(cder)
	p.clientKeyID = edge.KeyID(leaf)
	p.pool = x509.NewCertPool()
	p.pool.AddCert(ca)
	return p
}

func (p *testPKI) client(withCert bool) *http.Client {
	cfg := &tls.Config{RootCAs: p.pool}
	if withCert {
		cfg.Certificates = []tls.Certificate{p.clientCert}
	}
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg}}
}

func do(t *testing.T, cl *http.Client, method, u, token, ctype string, body []byte) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, u, bytes.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	res, err := cl.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, b
}

// carnet doctor is red on the demo configuration and green on the
// documented production one, built here for real: TLS with a generated
// certificate, the access matrix and value sets from ../shared, an outside
// identity provider, a fresh backup and a live replica.
func TestDoctorRedOnDemoGreenOnProduction(t *testing.T) {
	matrix := testenv.Shared(t, "reference", "access-matrix-partial.csv")
	valuesets := testenv.Shared(t, "reference", "ci-sis-jdv")

	t.Run("demo", func(t *testing.T) {
		data := t.TempDir()
		s := startServe(t, "--demo", "--data", data)
		s.stop()
		out, err := carnetCmd(t, "doctor", "--demo", "--data", data)
		if err == nil {
			t.Fatalf("doctor is green on the demo configuration:\n%s", out)
		}
		t.Logf("carnet doctor on the demo configuration:\n%s", out)
		for _, want := range []string{"FAIL  demo mode", "FAIL  TLS", "FAIL  backup", "FAIL  replica", "FAIL  access matrix", "FAIL  value sets"} {
			if !strings.Contains(out, want) {
				t.Errorf("doctor on demo: no %q line in\n%s", want, out)
			}
		}
	})

	t.Run("production", func(t *testing.T) {
		root := t.TempDir()
		data, backups, replica := filepath.Join(root, "data"), filepath.Join(root, "backups"), filepath.Join(root, "replica")
		pki := newPKI(t)
		idp := newIdP(t)
		// The production configuration, as environment (docs/OPERATIONS.md).
		env := map[string]string{
			"CARNET_TLS_CERT": pki.certFile, "CARNET_TLS_KEY": pki.keyFile,
			"CARNET_ACCESS_MATRIX": matrix, "CARNET_VALUESETS": valuesets,
			"CARNET_OIDC_ISSUER": idp.url, "CARNET_AUDIENCE": idpAudience,
			"CARNET_DATA": data, "CARNET_REPLICA": replica, "CARNET_BACKUPS": backups,
		}
		for k, v := range env {
			t.Setenv(k, v)
		}
		s := startServe(t, "--replica-interval", "100ms")
		if !strings.HasPrefix(s.URL, "https://") {
			t.Fatalf("the server does not serve HTTPS: %s", s.URL)
		}
		cl := pki.client(false)
		f := filingsFor(3, 1, true)[0]
		if res, b := do(t, cl, "POST", s.URL+"/", idp.softwareToken(t, f.author), "application/fhir+json", f.body); res.StatusCode != 200 {
			t.Fatalf("filing: %d %s", res.StatusCode, b)
		}
		if res, _ := do(t, cl, "GET", s.URL+"/log/checkpoint", "", "", nil); res.StatusCode != 200 {
			t.Fatalf("checkpoint: %d", res.StatusCode)
		}
		mustCarnet(t, "backup")
		deadline := time.Now().Add(20 * time.Second)
		for {
			if _, _, err := sqlite.LatestReplica(replica); err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("no replica generation")
			}
			time.Sleep(50 * time.Millisecond)
		}
		time.Sleep(300 * time.Millisecond) // a shipping turn after the last write
		out, err := carnetCmd(t, "doctor", "--url", s.URL, "--url-ca", pki.caFile)
		if err != nil {
			t.Fatalf("doctor is red on the production configuration: %v\n%s", err, out)
		}
		t.Logf("carnet doctor on the production configuration:\n%s", out)
		for _, want := range []string{"ok    TLS", "ok    backup", "ok    replica", "ok    audit log", "ok    server TLS", "ok    server ready", "ok    key files"} {
			if !strings.Contains(out, want) {
				t.Errorf("no %q line in\n%s", want, out)
			}
		}
		// The same deployment with its key file opened to others is red.
		os.Chmod(filepath.Join(data, "carnet.keys"), 0o640)
		if out, err := carnetCmd(t, "doctor"); err == nil || !strings.Contains(out, "FAIL  key files") {
			t.Errorf("doctor with carnet.keys mode 0640: %v\n%s", err, out)
		}
		os.Chmod(filepath.Join(data, "carnet.keys"), 0o600)
	})
}
