package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	carnet "github.com/carnet-sante/carnet"
	"github.com/carnet-sante/carnet/internal/xdsclient"
	"github.com/carnet-sante/carnet/synth"
	"github.com/carnet-sante/carnet/xua"
)

// --xua-issuer-cert on a real `carnet serve` with mutual TLS and
// --xua-required: the software's certificate alone is refused; with the
// author's assertion signed by the configured seal certificate it files,
// as the author.
func TestXUAFlagsOverMutualTLS(t *testing.T) {
	pki := newPKI(t)
	f := filingsFor(7, 1, false)[0]
	ds := synth.Generate(synth.Options{Seed: 7, Patients: 8, DocsPerPatient: 1})
	d := ds.Documents[0]
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(3), Subject: pkix.Name{CommonName: "Cachet de test"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	dir := t.TempDir()
	seal := filepath.Join(dir, "seal.pem")
	os.WriteFile(seal, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	clients := filepath.Join(dir, "clients.csv")
	os.WriteFile(clients, []byte(pki.clientKeyID+",lgc-xds,"+carnet.OrgKey(f.author.OrgID)+",system/DocumentReference.crus system/Binary.cr system/List.crs\n"), 0o600)
	s := startServe(t, append([]string{"--data", t.TempDir(), "--allow-test-ins", "--tls-cert", pki.certFile, "--tls-key", pki.keyFile, "--tls-client-ca", pki.caFile, "--tls-clients", clients,
		"--xua-issuer-cert", seal, "--xua-audience", "urn:carnet:xds-test", "--xua-required"}, newIdP(t).args(t)...)...)

	soft := xdsclient.New(t, s.URL, "")
	soft.HTTP = pki.client(true)
	set := xdsclient.SubmissionSet{ID: "SubmissionSet01", UniqueID: d.UniqueID + ".set", SourceID: "1.2.250.1.999.2", PatientCX: xdsclient.CX(f.ins),
		Time: "20240305101600", ContentType: xdsclient.Code3(d.Meta.Type), Entries: []xdsclient.Entry{xdsclient.EntryFromMeta("Document01", d.UniqueID, f.ins, d.Meta, d.Content)}}
	if r := soft.Provide(set); r.Status != 401 || !strings.Contains(string(r.Raw), "FailedAuthentication") {
		t.Fatalf("certificate without assertion under --xua-required: %d\n%s", r.Status, r.Raw)
	}
	a := f.author
	name := strings.Join(append(append([]string{}, a.Given...), a.Family), " ")
	spec := ""
	if _, sm, ok := strings.Cut(a.Specialty.Code, "/"); ok {
		spec = sm
	}
	assertion := func(rpps string) string {
		sig, err := xua.Sign(xua.Claims{Issuer: "CN=Cachet de test", Audience: "urn:carnet:xds-test", IssueInstant: time.Now(), NameID: rpps, SubjectName: name,
			Profession: strings.TrimPrefix(a.Profession.Code, "G15_"), Specialty: spec, PatientCX: xdsclient.CX(f.ins)}, key, cert)
		if err != nil {
			t.Fatal(err)
		}
		return `<wsse:Security xmlns:wsse="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd">` + sig + `</wsse:Security>`
	}
	// The actor is the professional the assertion names, not the
	// software: another professional may not file this author's document
	// (the software alone could).
	soft.Security = assertion("810009999999")
	if r := soft.Provide(set); r.ResponseStatus() != "Failure" || !r.HasError("XDSRegistryError") {
		t.Errorf("filing under another professional's assertion: %s %v", r.ResponseStatus(), r.ErrorCodes())
	}
	soft.Security = assertion(a.ID.Value)
	if r := soft.Provide(set); r.Status != 200 || r.ResponseStatus() != "Success" {
		t.Fatalf("ITI-41 by certificate with the author's assertion: %d %s %v\n%s", r.Status, r.ResponseStatus(), r.ErrorCodes(), r.Raw)
	}
}
