package conformance_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	carnet "github.com/carnet-sante/carnet"
	"github.com/carnet-sante/carnet/internal/testenv"
	. "github.com/carnet-sante/carnet/internal/xdsclient"
	"github.com/carnet-sante/carnet/xds"
	"github.com/carnet-sante/carnet/xua"
)

// A structure's software, authenticated by its own token, files and
// queries for the professional a signed XUA assertion names; the assertion
// is verified (signature, issuer, audience, times, replay) and binds the
// patient; bris de glace comes from its purpose of use.
func TestXUA(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b testenv.Backend) {
		env := testenv.New(t, b, testenv.Options{})
		caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		caT := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "AC de test"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
		caDER, _ := x509.CreateCertificate(rand.Reader, caT, caT, &caKey.PublicKey, caKey)
		ca, _ := x509.ParseCertificate(caDER)
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		leafT := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "Cachet Centre de santé"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature}
		der, _ := x509.CreateCertificate(rand.Reader, leafT, ca, &key.PublicKey, caKey)
		cert, _ := x509.ParseCertificate(der)
		v, err := xua.New(xua.Config{Issuers: []xua.Issuer{{Cert: cert}}, Audience: "urn:carnet:test", AllowTestINS: true})
		if err != nil {
			t.Fatal(err)
		}
		node := httptest.NewServer(xds.New(xds.Config{Service: env.Service, Authenticate: env.Authenticate, XUA: v, RequireXUA: true}))
		defer node.Close()
		assertion := func(nameID, purpose, reason, patient string) string {
			s, err := xua.Sign(xua.Claims{Issuer: "CN=Cachet Centre de santé", Audience: "urn:carnet:test", IssueInstant: time.Now(), NameID: nameID, SubjectName: "MARTIN Jeanne, Centre de santé",
				Profession: "10", Specialty: "SM54", PurposeOfUse: purpose, Reason: reason, PatientCX: patient}, key, cert)
			if err != nil {
				t.Fatal(err)
			}
			return `<wsse:Security xmlns:wsse="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd">` + s + `</wsse:Security>`
		}
		software := env.SoftwareToken(t, "logiciel-cds", author)
		c := New(t, node.URL, software)
		// Without an assertion: refused, XUA is required on this node.
		if r := findDocuments(c, "ObjectRef", "('"+approved+"')"); r.Status != 401 || r.Env.First("Fault") == nil {
			t.Errorf("no assertion: %d\n%s", r.Status, r.Raw)
		}
		c.Security = assertion(author.ID.Value, "normal", "", testCX)
		if r := c.Provide(set("SubmissionSet01", "1.2.250.1.999.3.1", doc("Document01", "1.2.250.1.999.4.1", "déposé sous XUA"))); r.ResponseStatus() != "Success" {
			t.Fatalf("ITI-41 with XUA: %d %s %v\n%s", r.Status, r.ResponseStatus(), r.ErrorCodes(), r.Raw)
		}
		// The same assertion again is a replay.
		if r := findDocuments(c, "ObjectRef", "('"+approved+"')"); r.Status != 401 || !strings.Contains(string(r.Raw), "InvalidSecurityToken") {
			t.Errorf("replayed assertion: %d\n%s", r.Status, r.Raw)
		}
		// The author finds their document; the filing was theirs.
		c.Security = assertion(author.ID.Value, "normal", "", testCX)
		if es := findDocuments(c, "LeafClass", "('"+approved+"')").Entries(); es["1.2.250.1.999.4.1"] == nil {
			t.Errorf("the author does not find the document filed under XUA")
		}
		// An assertion changed after signing is refused.
		c.Security = strings.Replace(assertion(author.ID.Value, "normal", "", testCX), author.ID.Value, stranger.ID.Value, 1)
		if r := findDocuments(c, "ObjectRef", "('"+approved+"')"); r.Status != 401 {
			t.Errorf("forged assertion: %d", r.Status)
		}
		// The assertion names one patient: a query on another is refused.
		c.Security = assertion(author.ID.Value, "normal", "", "180012345678901^^^&1.2.250.1.213.1.4.10&ISO^NH")
		if r := findDocuments(c, "ObjectRef", "('"+approved+"')"); !r.HasError("XDSPatientIdDoesNotMatch") {
			t.Errorf("query on another patient than the assertion's: %v", r.ErrorCodes())
		}
		// A professional's own token cannot carry another's assertion.
		other := New(t, node.URL, env.ProfessionalToken(t, stranger, ""))
		other.Security = assertion(author.ID.Value, "normal", "", testCX)
		if r := findDocuments(other, "ObjectRef", "('"+approved+"')"); r.Status != 401 {
			t.Errorf("a professional's token with another's assertion: %d", r.Status)
		}
		// A professional outside the care team sees nothing; in bris de
		// glace, with a reason, they see the record, as through MHD.
		c.Security = assertion(stranger.ID.Value, "normal", "", testCX)
		if r := findDocuments(c, "ObjectRef", "('"+approved+"')"); r.ResponseStatus() != "Success" || len(r.Env.Find("ObjectRef")) != 0 {
			t.Errorf("stranger, normal mode: %s %d", r.ResponseStatus(), len(r.Env.Find("ObjectRef")))
		}
		c.Security = assertion(stranger.ID.Value, "bris_de_glace", "patient inconscient", testCX)
		if r := findDocuments(c, "ObjectRef", "('"+approved+"')"); r.ResponseStatus() != "Success" || len(r.Env.Find("ObjectRef")) != 1 {
			t.Errorf("stranger, bris de glace: %s %v %d", r.ResponseStatus(), r.ErrorCodes(), len(r.Env.Find("ObjectRef")))
		}
		// A bris de glace is recorded in the patient's access history.
		hist, err := env.Service.AuditHistory(t.Context(), carnet.Request{Actor: carnet.Actor{Kind: carnet.ActorPatient, ID: carnet.Identifier{System: "urn:oid:1.2.250.1.213.1.4.10", Value: testINS}, Scopes: []string{"patient/*.cruds"}}},
			carnet.Identifier{System: "urn:oid:1.2.250.1.213.1.4.10", Value: testINS}, carnet.AuditFilter{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		btg := false
		for _, h := range hist {
			if h.Event.Mode == carnet.ModeBreakGlass && h.Event.Actor.ID.Value == stranger.ID.Value {
				btg = true
			}
		}
		if !btg {
			t.Errorf("the bris de glace is not in the access history (%d entries)", len(hist))
		}
	})
}
