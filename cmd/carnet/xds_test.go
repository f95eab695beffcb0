package main

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	carnet "github.com/carnet-sante/carnet"
	"github.com/carnet-sante/carnet/internal/xdsclient"
	"github.com/carnet-sante/carnet/synth"
	"github.com/carnet-sante/carnet/xds"
)

const (
	xdsFindDocuments = "urn:uuid:14d4debf-8f97-4251-9a74-a90016b0af0d"
	xdsApproved      = "urn:oasis:names:tc:ebxml-regrep:StatusType:Approved"
)

// XDS.b on a real `carnet serve`: producing software files by its
// certificate over mutual TLS (the --tls-clients map), with no token; a
// caller with neither certificate nor token gets a SOAP fault; and in
// --demo a demo user's token from `carnet token` queries and retrieves
// (docs/XDS.md, "Authentication").
func TestXDSOverMutualTLSAndDemo(t *testing.T) {
	pki := newPKI(t)
	idp := newIdP(t)
	f := filingsFor(7, 1, false)[0]
	ds := synth.Generate(synth.Options{Seed: 7, Patients: 8, DocsPerPatient: 1})
	d := ds.Documents[0]
	if d.UniqueID != f.uid {
		t.Fatalf("synth is not deterministic")
	}
	clients := filepath.Join(t.TempDir(), "clients.csv")
	os.WriteFile(clients, []byte(pki.clientKeyID+",lgc-xds,"+carnet.OrgKey(f.author.OrgID)+",system/DocumentReference.crus system/Binary.cr system/List.crs\n"), 0o600)
	s := startServe(t, append([]string{"--data", t.TempDir(), "--allow-test-ins",
		"--tls-cert", pki.certFile, "--tls-key", pki.keyFile, "--tls-client-ca", pki.caFile, "--tls-clients", clients}, idp.args(t)...)...)

	soft := xdsclient.New(t, s.URL, "")
	soft.HTTP = pki.client(true)
	set := xdsclient.SubmissionSet{ID: "SubmissionSet01", UniqueID: d.UniqueID + ".set", SourceID: "1.2.250.1.999.2", PatientCX: xdsclient.CX(f.ins),
		Time: "20240305101600", ContentType: xdsclient.Code3(d.Meta.Type), Entries: []xdsclient.Entry{xdsclient.EntryFromMeta("Document01", d.UniqueID, f.ins, d.Meta, d.Content)}}
	if r := soft.Provide(set); r.Status != 200 || r.ResponseStatus() != "Success" {
		t.Fatalf("ITI-41 by certificate: %d %s %v", r.Status, r.ResponseStatus(), r.ErrorCodes())
	}
	nobody := xdsclient.New(t, s.URL, "")
	nobody.HTTP = pki.client(false)
	if r := nobody.Provide(set); r.Status != 401 || r.Env.First("Fault") == nil {
		t.Errorf("no certificate, no token: %d", r.Status)
	}
	// The author reads it through XDS with their token.
	author := xdsclient.New(t, s.URL, idp.proToken(t, f.author))
	author.HTTP = pki.client(false)
	r := author.Query(xdsFindDocuments, "LeafClass", [2]string{"$XDSDocumentEntryPatientId", "'" + xdsclient.CX(f.ins) + "'"}, [2]string{"$XDSDocumentEntryStatus", "('" + xdsApproved + "')"})
	if r.Entries()[d.UniqueID] == nil {
		t.Fatalf("the author does not find it: %s %v", r.ResponseStatus(), r.ErrorCodes())
	}
	if r, got := author.Retrieve(xds.DefaultRepositoryUniqueID, d.UniqueID); r.ResponseStatus() != "Success" || !bytes.Equal(got[d.UniqueID], d.Content) {
		t.Errorf("ITI-43: %s %v", r.ResponseStatus(), r.ErrorCodes())
	}
	s.stop()

	// --demo: the GP's token from `carnet token`.
	demo := startServe(t, "--demo", "--demo-patients", "4", "--data", t.TempDir())
	pats, _ := synth.Options{Patients: 4, Professionals: len(synth.RosterLogins())}.People()
	gp := xdsclient.New(t, demo.URL, demoToken(t, demo, "gp"))
	r = gp.Query(xdsFindDocuments, "LeafClass", [2]string{"$XDSDocumentEntryPatientId", "'" + xdsclient.CX(pats[0].INS) + "'"}, [2]string{"$XDSDocumentEntryStatus", "('" + xdsApproved + "')"})
	r0 := r.Entries()
	if r.ResponseStatus() != "Success" || len(r.Entries()) == 0 {
		t.Fatalf("demo FindDocuments as gp: %s %v, %d entries", r.ResponseStatus(), r.ErrorCodes(), len(r.Entries()))
	}
	for uid := range r.Entries() {
		if rr, got := gp.Retrieve(xds.DefaultRepositoryUniqueID, uid); rr.ResponseStatus() != "Success" || len(got[uid]) == 0 {
			t.Errorf("demo ITI-43 of %s: %s %v", uid, rr.ResponseStatus(), rr.ErrorCodes())
		}
		break
	}
	// --demo XUA: the demo GP's practice software (lgc's token) sends the
	// GP's assertion from the demo issuer's /demo-idp/xua: the GP finds
	// the record as with their own token; a changed assertion is refused.
	resp, err := http.Get(demo.URL + "/demo-idp/xua?user=gp&patient=" + pats[0].INS.Value)
	if err != nil {
		t.Fatal(err)
	}
	sec, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("demo XUA issuer: %d %s", resp.StatusCode, sec)
	}
	lgc := xdsclient.New(t, demo.URL, demoToken(t, demo, "lgc"))
	lgc.Security = string(sec)
	if r := lgc.Query(xdsFindDocuments, "ObjectRef", [2]string{"$XDSDocumentEntryPatientId", "'" + xdsclient.CX(pats[0].INS) + "'"}, [2]string{"$XDSDocumentEntryStatus", "('" + xdsApproved + "')"}); r.ResponseStatus() != "Success" || len(r.Env.Find("ObjectRef")) != len(r0) {
		t.Errorf("demo XUA FindDocuments as gp: %s %v, %d documents, want %d", r.ResponseStatus(), r.ErrorCodes(), len(r.Env.Find("ObjectRef")), len(r0))
	}
	if r := lgc.Query(xdsFindDocuments, "ObjectRef", [2]string{"$XDSDocumentEntryPatientId", "'" + xdsclient.CX(pats[0].INS) + "'"}, [2]string{"$XDSDocumentEntryStatus", "('" + xdsApproved + "')"}); r.Status != 401 {
		t.Errorf("demo XUA: a replayed assertion answers %d", r.Status)
	}
}
