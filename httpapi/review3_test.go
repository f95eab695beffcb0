package httpapi_test

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	carnet "github.com/carnet-sante/carnet"
	"github.com/carnet-sante/carnet/auth"
	"github.com/carnet-sante/carnet/httpapi"
	"github.com/carnet-sante/carnet/internal/testenv"
	"github.com/carnet-sante/carnet/secondary"
)

// The third hostile review (docs/SECURITY-REVIEW-3.md) tried the newest
// paths — data permits and Bulk export, $summary/$everything, FHIR XML —
// as an attacker would. Each TestReview3… reproduces one finding: it fails
// on the code the review was run on (main at eefcc3d).

// issuerRouter sends each trusted issuer's discovery and JWKS requests to
// that issuer's in-process client.
type issuerRouter []*auth.DemoIssuer

func (r issuerRouter) RoundTrip(req *http.Request) (*http.Response, error) {
	for _, is := range r {
		if strings.HasPrefix(req.URL.String(), is.IssuerURL()+"/") {
			return is.Client().Transport.RoundTrip(req)
		}
	}
	return nil, http.ErrNotSupported
}

// twoIssuers serves env's Service and Secondary behind a verifier that
// trusts env's issuer and a second one (a hospital group's identity
// provider, say), as a deployment with several issuers does.
func twoIssuers(t *testing.T, env *testenv.Env) (base string, other *auth.DemoIssuer) {
	base, _, other = serveTwoIssuers(t, env)
	return base, other
}

// serveTwoIssuers is twoIssuers, also returning where exports are written.
func serveTwoIssuers(t *testing.T, env *testenv.Env) (base, bulkDir string, other *auth.DemoIssuer) {
	t.Helper()
	other, err := auth.NewDemoIssuer(t.TempDir(), time.Now)
	if err != nil {
		t.Fatal(err)
	}
	other.SetIssuerURL("https://idp.groupe-hospitalier.example")
	v, err := auth.NewVerifier(auth.Config{Issuers: []auth.Issuer{{URL: env.Issuer.IssuerURL(), Audience: testenv.Audience}, {URL: other.IssuerURL(), Audience: testenv.Audience}},
		AllowTestINS: true, HTTPClient: &http.Client{Transport: issuerRouter{env.Issuer, other}}})
	if err != nil {
		t.Fatal(err)
	}
	bulkDir = t.TempDir()
	api := httpapi.New(httpapi.Config{Service: env.Service, Authenticate: v.Authenticate, Secondary: env.Secondary, BulkDir: bulkDir})
	t.Cleanup(api.Close)
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	return srv.URL, bulkDir, other
}

// Finding 2 (high where several issuers are trusted): a data permit named
// its recipient by client_id alone, while client ids are unique per issuer
// only (auth: "the issuer is the namespace"). A client of another trusted
// issuer registered under the same client_id, with the permit/<id> scope
// its own issuer grants, exported under the permit — every record's
// pseudonymised data — and spent its privacy budget.
func TestReview3PermitClientOfAnotherIssuer(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b testenv.Backend) {
		env := testenv.New(t, b, testenv.Options{})
		base, other := twoIssuers(t, env)
		op := bulkClient{t: t, base: base, token: env.OperatorToken(t)}
		code, body := postJSON(t, op, "/Permit", map[string]any{
			"purpose": "Étude", "recipient": "Institut", "client": "labo-recherche",
			"itemTypes": []string{"Observation"}, "expires": time.Now().Add(time.Hour), "epsilon": 1})
		if code != http.StatusCreated {
			t.Fatalf("create permit: %d %s", code, body)
		}
		var p struct{ ID string }
		json.Unmarshal(body, &p)

		// The permit's recipient, at the operator's issuer, may use it.
		holder := bulkClient{t: t, base: base, token: env.PermitToken(t, "labo-recherche", p.ID)}
		if u, code, body := holder.kickOff("/$export"); u == "" {
			t.Fatalf("the permit's client cannot export: %d %s", code, body)
		}

		// Another issuer's client under the same client_id may not.
		tok, err := other.Issue(carnet.ActorSystem, map[string]any{auth.ClaimClientID: "labo-recherche",
			auth.ClaimScope: secondary.ScopePrefix + p.ID}, testenv.Audience, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		impostor := bulkClient{t: t, base: base, token: tok}
		if u, code, _ := impostor.kickOff("/$export"); u != "" || code != http.StatusNotFound {
			t.Errorf("a client of another issuer with the same client_id exports under the permit: %d %s", code, u)
		}
		res := impostor.do("GET", base+"/$stats?code=http://loinc.org|2160-0", nil, nil)
		readAll(t, res)
		if res.StatusCode != http.StatusNotFound {
			t.Errorf("a client of another issuer with the same client_id asks statistics under the permit: %d", res.StatusCode)
		}
	})
}

// Finding 6 (medium): FHIR XML answers copied every string as is, and JSON
// lets a filer write characters XML 1.0 forbids ("\u0001", U+FFFF) in a
// title, a description, a name. A professional who files one document so
// titled made every XML answer that holds it — the patient's whole
// document search — not well-formed: XML clients could no longer read any
// of the patient's documents (the record blinded for them, emergency
// included). The XML answer writes U+FFFD for such characters.
func TestReview3XMLAnswerWithControlCharacters(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b testenv.Backend) {
		rec := newRecord(t, b)
		env, c := rec.env, rec.c
		gp := rec.pros["gp"]
		d := review2Doc("1.2.250.1.999.93.1.1", "Compte rendu\u0001\uffff piégé", gp)
		r := c.as(env.Token(t, "gp")).do("POST", "/DocumentReference", "application/fhir+json",
			publishBody(t, rec.ins, d.UniqueID, d.Meta, d.Content))
		if r.Status != 201 {
			t.Fatalf("the gp files a document: %d %s", r.Status, r.Body)
		}
		x := c.as(env.Token(t, "gp")).get(rec.search() + "&_format=xml")
		if x.Status != 200 {
			t.Fatalf("XML search: %d %s", x.Status, x.Body)
		}
		dec := xml.NewDecoder(bytes.NewReader(x.Body))
		for {
			_, err := dec.Token()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("the patient's document search in XML is not well-formed: %v", err)
			}
		}
		if !bytes.Contains(x.Body, []byte("Compte rendu\ufffd\ufffd piégé")) || !bytes.Contains(x.Body, []byte("Consultation confidentielle")) {
			t.Errorf("the XML search lacks the documents: %s", x.Body)
		}
	})
}

// Finding 7 (low): a finished export's NDJSON files stayed on the server's
// disk until their client sent DELETE or the server stopped: past the
// manifest's Expires (24 hours), and after the permit was revoked or
// expired — when nobody may download them any more — the pseudonymised
// data of every record released stayed in the bulk directory, and the job
// still counted against the client's two. Now a revoked or expired
// permit's job is deleted at its next status or download request, and a
// job past its retention at any request (and at the next kick-off).
func TestReview3ExportFilesOutliveTheirUse(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b testenv.Backend) {
		env := testenv.New(t, b, testenv.Options{})
		pop := newPopulation(t, env)
		base, bulkDir, _ := serveTwoIssuers(t, env)
		op := bulkClient{t: t, base: base, token: env.OperatorToken(t)}
		var docTypes []string
		for _, d := range pop.ds.Documents {
			if tok := d.Meta.Type.Token(); !slices.Contains(docTypes, tok) {
				docTypes = append(docTypes, tok)
			}
		}
		newPermit := func() string {
			code, body := postJSON(t, op, "/Permit", map[string]any{"purpose": "Étude", "recipient": "Institut", "client": "labo",
				"documentTypes": docTypes, "expires": time.Now().Add(time.Hour), "minK": 2})
			if code != http.StatusCreated {
				t.Fatalf("create permit: %d %s", code, body)
			}
			var p struct{ ID string }
			json.Unmarshal(body, &p)
			return p.ID
		}
		onDisk := func(status string) []string {
			job := status[strings.LastIndex(status, "/")+1:]
			files, _ := filepath.Glob(filepath.Join(bulkDir, "carnet-bulk-*", job, "*.ndjson"))
			return files
		}
		export := func(permit string) (bulkClient, string) {
			holder := bulkClient{t: t, base: base, token: env.PermitToken(t, "labo", permit)}
			status, code, body := holder.kickOff("/$export")
			if status == "" {
				t.Fatalf("kick-off: %d %s", code, body)
			}
			if m := holder.wait(status); len(m.Output) == 0 || len(onDisk(status)) == 0 {
				t.Fatalf("setup: the export wrote no file: %+v %v", m, onDisk(status))
			}
			return holder, status
		}

		// gone polls the job's status and checks its files are deleted.
		gone := func(holder bulkClient, status string, want int, why string) {
			t.Helper()
			res := holder.do("GET", status, nil, nil)
			readAll(t, res)
			if res.StatusCode != want {
				t.Errorf("status of %s: %d, want %d", why, res.StatusCode, want)
			}
			if files := onDisk(status); len(files) != 0 {
				t.Errorf("the files of %s stay on disk: %v", why, files)
			}
		}

		// The permit is revoked: its job's files are refused, and deleted.
		permit := newPermit()
		holder, status := export(permit)
		res := op.do("DELETE", base+"/Permit/"+permit, nil, nil)
		readAll(t, res)
		if res.StatusCode != http.StatusNoContent {
			t.Fatalf("revoke: %d", res.StatusCode)
		}
		gone(holder, status, http.StatusForbidden, "a revoked permit's export")

		// Past its retention, the job and its files are gone.
		holder, status = export(newPermit())
		defer httpapi.SetBulkRetention(time.Millisecond)()
		time.Sleep(5 * time.Millisecond)
		gone(holder, status, http.StatusNotFound, "an export past its retention")
	})
}
