package httpapi_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	carnet "github.com/carnet-sante/carnet"
	"github.com/carnet-sante/carnet/auth"
	"github.com/carnet-sante/carnet/fhir"
	"github.com/carnet-sante/carnet/internal/testenv"
)

// The first hour of an integrator (issue 13): what a newcomer met, each
// TestIntegratorNN the test of its item NN.

// Item 2: a refusal says why when saying so reveals nothing.
func TestIntegrator02RefusalsSayWhy(t *testing.T) {
	rec := newRecord(t, testenv.SQLite)
	env, c := rec.env, rec.c
	gp := c.as(env.Token(t, "gp"))
	for name, q := range map[string]string{
		"a malformed INS":          "patient.identifier=" + url.QueryEscape(rec.ins.System+"|abc"),
		"an INS under another OID": "patient.identifier=" + url.QueryEscape("urn:oid:1.2.3|"+rec.ins.Value),
	} {
		r := gp.get("/DocumentReference?" + q)
		if r.Status != 400 || !bytes.Contains(r.Body, []byte("INS")) {
			t.Errorf("%s: %d %s, want 400 naming the INS", name, r.Status, r.Body)
		}
	}
	if r := c.as(env.Token(t, "samu")).do("GET", rec.search(), "", nil, "X-Purpose-Of-Use", "BTG"); r.Status != 400 || !bytes.Contains(r.Body, []byte("needs a reason")) {
		t.Errorf("bris de glace without a reason: %d %s", r.Status, r.Body)
	}
	// A refused token is told what is wrong with it, in WWW-Authenticate.
	past, err := auth.NewDemoIssuer(env.KeyDir, func() time.Time { return time.Now().Add(-3 * time.Hour) })
	if err != nil {
		t.Fatal(err)
	}
	past.SetIssuerURL(env.Issuer.IssuerURL())
	expired, err := past.Mint("gp", testenv.Audience, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	r := c.as(expired).get(rec.search())
	if h := r.Header.Get("WWW-Authenticate"); r.Status != 401 || !strings.Contains(h, `error="invalid_token"`) || !strings.Contains(h, "expired") {
		t.Errorf("an expired token: %d, WWW-Authenticate %q", r.Status, h)
	}
	req, _ := http.NewRequest("GET", env.URL+rec.search(), nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if h := res.Header.Get("WWW-Authenticate"); res.StatusCode != 401 || h != `Bearer realm="carnet"` {
		t.Errorf("no token: %d, WWW-Authenticate %q (no error code without a token, RFC 6750)", res.StatusCode, h)
	}
	// A replayed CDS Client JWT says so.
	jwt := clientJWT(t, env)
	body := hookBody(t, "Practitioner/"+rec.pros["gp"].ID.Value, rec.ins.System+"|"+rec.ins.Value, env.Token(t, "gp"))
	if r, _ := callPastille(t, rec, jwt, body); r.Status != 200 {
		t.Fatalf("first call: %d", r.Status)
	}
	r = c.as(jwt).do("POST", "/cds-services/carnet-pastille", "application/json", body)
	if r.Status != 401 || !strings.Contains(r.Header.Get("WWW-Authenticate"), "replayed") || !bytes.Contains(r.Body, []byte("replayed")) {
		t.Errorf("a replayed client JWT: %d %q %s", r.Status, r.Header.Get("WWW-Authenticate"), r.Body)
	}
	// An RPPS that is not one.
	r = c.as(env.Token(t, "patient0")).do("POST", "/Consent", "application/fhir+json",
		consentBody(t, carnet.Consent{Kind: carnet.ConsentBlock, Professional: carnet.Identifier{System: "urn:oid:" + carnet.OIDRPPS, Value: "abc"}}, carnet.Identifier{}))
	if r.Status != 400 || !bytes.Contains(r.Body, []byte("RPPS")) {
		t.Errorf("blocking the RPPS abc: %d %s, want 400", r.Status, r.Body)
	}
}

// Item 3: a patient's search without a patient parameter is of their own
// record, as /Consent, /Communication and /AuditEvent already were.
func TestIntegrator03PatientSearchesTheirOwnRecord(t *testing.T) {
	rec := newRecord(t, testenv.SQLite)
	patient := rec.c.as(rec.env.Token(t, "patient0"))
	for path, want := range map[string]string{
		"/DocumentReference": rec.consult, "/List": rec.consult, "/DocumentReference/$relevant": rec.consult,
	} {
		r := patient.get(path)
		if r.Status != 200 || !bytes.Contains(r.Body, []byte(want)) {
			t.Errorf("the patient's %s without a patient: %d, does not list their documents", path, r.Status)
		}
	}
	if r := patient.get("/Observation"); r.Status != 200 {
		t.Errorf("the patient's /Observation: %d %s", r.Status, r.Body)
	}
	// Anyone else must name the record.
	if r := rec.c.as(rec.env.Token(t, "gp")).get("/DocumentReference"); r.Status != 400 || !bytes.Contains(r.Body, []byte("patient")) {
		t.Errorf("the GP's search naming no patient: %d %s, want 400", r.Status, r.Body)
	}
}

// Item 4: FHIR XML is answered when asked for (Accept, _format; issue 17),
// and JSON when it comes first.
func TestIntegrator04XMLAnswered(t *testing.T) {
	rec := newRecord(t, testenv.SQLite)
	gp := rec.c.as(rec.env.Token(t, "gp"))
	want := len(decode[fhir.Bundle](t, gp.get(rec.search())).Entry)
	for _, tc := range []struct{ path, accept string }{
		{rec.search(), "application/fhir+xml"},
		{rec.search() + "&_format=xml", ""},
		{rec.search() + "&_format=" + url.QueryEscape("application/fhir+xml"), "application/fhir+json"},
	} {
		r := fromXML(t, gp.do("GET", tc.path, "", nil, "Accept", tc.accept))
		if b := decode[fhir.Bundle](t, r); r.Status != 200 || b.ResourceType != "Bundle" || len(b.Entry) != want || want == 0 {
			t.Errorf("GET %s (Accept %q): %d, %d entries, want 200 and %d", tc.path, tc.accept, r.Status, len(b.Entry), want)
		}
	}
	cs := fromXML(t, gp.do("GET", "/metadata", "", nil, "Accept", "application/fhir+xml"))
	if cs.Status != 200 || !bytes.Contains(cs.Body, []byte(`"format":["application/fhir+json","application/fhir+xml"]`)) {
		t.Errorf("/metadata in XML: %d %s", cs.Status, cs.Body)
	}
	if r := gp.do("GET", rec.search(), "", nil, "Accept", "application/fhir+json, application/fhir+xml;q=0.5"); r.Status != 200 || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/fhir+json") {
		t.Errorf("JSON first among what is accepted: %d %s", r.Status, r.Header.Get("Content-Type"))
	}
}

// Item 5: AuditEvent searchsets carry total (when one page holds it) and a
// self link.
func TestIntegrator05AuditEventBundle(t *testing.T) {
	rec := newRecord(t, testenv.SQLite)
	patient := rec.c.as(rec.env.Token(t, "patient0"))
	b := decode[fhir.Bundle](t, patient.get("/AuditEvent"))
	if b.Total == nil || *b.Total != len(b.Entry) || len(b.Entry) == 0 {
		t.Errorf("total %v for %d entries", b.Total, len(b.Entry))
	}
	self := false
	for _, l := range b.Link {
		self = self || (l.Relation == "self" && strings.HasSuffix(l.URL, "/AuditEvent"))
	}
	if !self {
		t.Errorf("no self link: %+v", b.Link)
	}
	paged := decode[fhir.Bundle](t, patient.get("/AuditEvent?_count=1"))
	if paged.Total != nil {
		t.Errorf("a first page of many says total %d: it does not know", *paged.Total)
	}
}

// Item 7: a patient's choices name the professional by name and
// profession, as the record knows them, not by RPPS only.
func TestIntegrator07ChoicesNameTheProfessional(t *testing.T) {
	rec := newRecord(t, testenv.SQLite)
	patient := rec.c.as(rec.env.Token(t, "patient0"))
	rpps := func(login string) carnet.Identifier {
		return carnet.Identifier{System: "urn:oid:" + carnet.OIDRPPS, Value: rec.pros[login].ID.Value}
	}
	// The cardiologist looked at the record (and was refused: not in the
	// care team); the GP wrote its documents; the nurse never met it.
	rec.c.as(rec.env.Token(t, "cardio")).get(rec.search())
	for _, login := range []string{"gp", "cardio", "nurse"} {
		kind := carnet.ConsentBlock
		if login == "nurse" {
			kind = carnet.ConsentDesignate
		}
		if r := patient.do("POST", "/Consent", "application/fhir+json", consentBody(t, carnet.Consent{Kind: kind, Permit: kind == carnet.ConsentDesignate, Professional: rpps(login)}, carnet.Identifier{})); r.Status != 201 {
			t.Fatalf("%s: %d %s", login, r.Status, r.Body)
		}
	}
	shown := map[string]string{}
	for _, e := range decode[fhir.Bundle](t, patient.get("/Consent")).Entry {
		var c fhir.Consent
		if err := json.Unmarshal(e.Resource, &c); err != nil {
			t.Fatal(err)
		}
		if c.Provision != nil && len(c.Provision.Actor) == 1 && c.Provision.Actor[0].Reference.Identifier != nil {
			shown[c.Provision.Actor[0].Reference.Identifier.Value] = c.Provision.Actor[0].Reference.Display
		}
	}
	for login, want := range map[string]string{"gp": "Dr Hélène LEFEVRE (médecin)", "cardio": "Antoine GARNIER (médecin)", "nurse": ""} {
		if got := shown[rec.pros[login].ID.Value]; got != want {
			t.Errorf("%s shown as %q, want %q", login, got, want)
		}
	}
}

// Item 12: a _page cursor that is garbage or belongs to another search is
// refused (400), never answered with a silent first page; following the
// next links still walks the whole result.
func TestIntegrator12PageCursors(t *testing.T) {
	rec := newRecord(t, testenv.SQLite)
	patient := rec.c.as(rec.env.Token(t, "patient0"))
	next := func(b fhir.Bundle) string {
		for _, l := range b.Link {
			if l.Relation == "next" {
				return l.URL
			}
		}
		return ""
	}
	for _, path := range []string{"/DocumentReference?_count=1&" + insQuery(rec.ins)} {
		first := decode[fhir.Bundle](t, patient.get(path))
		link := next(first)
		if link == "" {
			t.Fatalf("%s: no next link over %d entries", path, len(first.Entry))
		}
		u, err := url.Parse(link)
		if err != nil {
			t.Fatal(err)
		}
		cursor := u.Query().Get("_page")
		seen := len(first.Entry)
		for link != "" {
			b := decode[fhir.Bundle](t, patient.get(strings.TrimPrefix(link, rec.env.URL)))
			seen += len(b.Entry)
			link = next(b)
		}
		if first.Total != nil && seen != *first.Total {
			t.Errorf("%s: the pages served %d of %d", path, seen, *first.Total)
		}
		for name, q := range map[string]string{
			"garbage":          path + "&_page=abcdefghijklmnop",
			"not base64":       path + "&_page=" + url.QueryEscape("!!"),
			"another search's": path + "&status=current&_page=" + cursor,
		} {
			r := patient.get(q)
			if r.Status != 400 || !bytes.Contains(r.Body, []byte("_page")) {
				t.Errorf("%s: a %s cursor: %d %s, want 400", path, name, r.Status, r.Body)
			}
		}
	}
	for _, path := range []string{"/List?" + insQuery(rec.ins), "/Observation?" + insQuery(rec.ins)} {
		if r := patient.get(path + "&_page=abcdefghijklmnop"); r.Status != 400 {
			t.Errorf("%s with a garbage cursor: %d %s, want 400", path, r.Status, r.Body)
		}
	}
}
