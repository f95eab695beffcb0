package httpapi_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"

	carnet "github.com/carnet-sante/carnet"
	"github.com/carnet-sante/carnet/fhir"
	"github.com/carnet-sante/carnet/fhirxml"
	"github.com/carnet-sante/carnet/httpapi"
	"github.com/carnet-sante/carnet/internal/testenv"
	"github.com/carnet-sante/carnet/mhd"
	"github.com/carnet-sante/carnet/qedm"
	"github.com/carnet-sante/carnet/synth"
)

const fhirXML = "application/fhir+xml"

// fromXML checks that r is FHIR XML and returns its JSON.
func fromXML(t testing.TB, r response) response {
	t.Helper()
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, fhirXML) {
		t.Fatalf("Content-Type %q, want %s (status %d)\n%s", ct, fhirXML, r.Status, r.Body)
	}
	j, err := fhirxml.ToJSON(r.Body)
	if err != nil {
		t.Fatalf("the answer is not FHIR XML: %v\n%s", err, r.Body)
	}
	r.Body = j
	return r
}

func toXML(t testing.TB, v any) []byte {
	t.Helper()
	b, ok := v.([]byte)
	if !ok {
		var err error
		if b, err = json.Marshal(v); err != nil {
			t.Fatal(err)
		}
	}
	x, err := fhirxml.ToXML(b)
	if err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	return x
}

// comparable is a DocumentReference as JSON without what differs between
// two filings of the same document: ids, uniqueIds, versions, dates, URLs.
func comparable(t testing.TB, dr fhir.DocumentReference) map[string]any {
	t.Helper()
	b, _ := json.Marshal(dr)
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"id", "meta", "masterIdentifier", "identifier", "date"} {
		delete(m, k)
	}
	for _, c := range m["content"].([]any) {
		delete(c.(map[string]any)["attachment"].(map[string]any), "url")
	}
	return m
}

// An ITI-65 in XML files the same document as in JSON (the same metadata
// served, ITI-68 byte-identical), answered in XML; ITI-67 answered in XML
// has the same entries as in JSON; a CDA document too.
func TestXMLFiling(t *testing.T) {
	rec := newRecord(t, testenv.SQLite)
	c := rec.c
	base := synth.Generate(synth.Options{Seed: 41, Patients: 1, DocsPerPatient: 1}).Documents[0]
	doc := func(uid string) carnet.SubmittedDocument {
		return plainDocument(base, uid, "11488-4", "Compte rendu envoyé en XML", rec.pros["gp"])
	}
	sub := func(n string) carnet.Submission {
		return carnet.Submission{Patient: rec.ins, Set: carnet.SubmissionSet{UniqueID: "1.2.250.1.999.17.1." + n, SourceID: "1.2.250.1.999.2", ContentType: base.Meta.Type},
			Documents: []carnet.SubmittedDocument{doc("1.2.250.1.999.17.2." + n)}}
	}
	viaXML, viaJSON := sub("1"), sub("2")
	sw := c.asSoftware(viaXML)
	r := sw.do("POST", "/", fhirXML, toXML(t, mhd.ProvideBundle(viaXML)))
	if r.Status != 200 {
		t.Fatalf("ITI-65 in XML: %d %s", r.Status, r.Body)
	}
	xmlIDs := documentIDs(t, fromXML(t, r)) // answered in the body's format
	r = sw.provide(viaJSON)
	if r.Status != 200 || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/fhir+json") {
		t.Fatalf("ITI-65 in JSON: %d %s", r.Status, r.Body)
	}
	jsonIDs := documentIDs(t, r)
	if len(xmlIDs) != 1 || len(jsonIDs) != 1 {
		t.Fatalf("filed %v and %v", xmlIDs, jsonIDs)
	}
	gp := c.as(rec.env.Token(t, "gp"))
	drX := decode[fhir.DocumentReference](t, gp.get("/DocumentReference/"+xmlIDs[0]))
	drJ := decode[fhir.DocumentReference](t, gp.get("/DocumentReference/"+jsonIDs[0]))
	if a, b := comparable(t, drX), comparable(t, drJ); !reflect.DeepEqual(a, b) {
		t.Errorf("filed through XML:\n%v\nthrough JSON:\n%v", a, b)
	}
	if drX.MasterIdentifier == nil || drX.MasterIdentifier.Value != "urn:oid:"+viaXML.Documents[0].UniqueID {
		t.Errorf("uniqueId %+v, want %s", drX.MasterIdentifier, viaXML.Documents[0].UniqueID)
	}
	// ITI-68: the bytes sent, through either path.
	for _, dr := range []fhir.DocumentReference{drX, drJ} {
		got := gp.get(dr.Content[0].Attachment.URL)
		if got.Status != 200 || !bytes.Equal(got.Body, viaXML.Documents[0].Content) {
			t.Errorf("ITI-68 of %s: %d, %q, want the bytes filed", dr.ID, got.Status, got.Body)
		}
	}
	// The Binary resource in XML when asked for (FHIR read of a Binary).
	bin := decode[fhir.Binary](t, fromXML(t, gp.do("GET", drX.Content[0].Attachment.URL, "", nil, "Accept", fhirXML)))
	if !bytes.Equal(bin.Data, viaXML.Documents[0].Content) {
		t.Errorf("Binary in XML holds %q", bin.Data)
	}

	// ITI-67 answered in XML: the same entries as in JSON.
	jsonSearch := gp.get(rec.search())
	for _, how := range [][]string{{"Accept", fhirXML}, {"Accept", "application/xml;q=0.9, application/json;q=0.5"}, {"X-Format", "_format=xml"}, {"X-Format", "_format=application/fhir%2Bxml"}} {
		path := rec.search()
		var hdr []string
		if how[0] == "X-Format" {
			path += "&" + how[1]
		} else {
			hdr = how
		}
		xr := fromXML(t, gp.do("GET", path, "", nil, hdr...))
		if xr.Status != 200 {
			t.Fatalf("%v: %d %s", how, xr.Status, xr.Body)
		}
		a, b := decode[fhir.Bundle](t, xr), decode[fhir.Bundle](t, jsonSearch)
		if len(a.Entry) != len(b.Entry) || len(a.Entry) < 5 {
			t.Fatalf("%v: %d entries in XML, %d in JSON, want the same, the 5 documents at least", how, len(a.Entry), len(b.Entry))
		}
		for i := range a.Entry {
			var x, y any
			_ = json.Unmarshal(a.Entry[i].Resource, &x)
			_ = json.Unmarshal(b.Entry[i].Resource, &y)
			if a.Entry[i].FullURL != b.Entry[i].FullURL || !reflect.DeepEqual(x, y) {
				t.Errorf("%v: entry %d differs:\n%s\n%s", how, i, a.Entry[i].Resource, b.Entry[i].Resource)
			}
		}
	}

	// A CDA R2 document filed in XML is retrieved byte-identical.
	ds := synth.Generate(synth.Options{Seed: 17, Patients: 1, DocsPerPatient: 1})
	cda := submissionOf(ds.Patients[0].INS, "1.2.250.1.999.17.3", ds.Documents[0])
	r = c.asSoftware(cda).do("POST", "/", fhirXML, toXML(t, mhd.ProvideBundle(cda)), "Accept", "application/fhir+json")
	if r.Status != 200 || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/fhir+json") {
		t.Fatalf("ITI-65 of a CDA in XML, JSON asked: %d %s %s", r.Status, r.Header.Get("Content-Type"), r.Body)
	}
	id := documentIDs(t, r)[0]
	items := 0
	dr := decode[fhir.DocumentReference](t, c.as(rec.env.PatientToken(t, ds.Patients[0].INS, false)).get("/DocumentReference/"+id))
	got := c.as(rec.env.PatientToken(t, ds.Patients[0].INS, false)).get(dr.Content[0].Attachment.URL)
	if got.Status != 200 || !bytes.Equal(got.Body, ds.Documents[0].Content) {
		t.Errorf("ITI-68 of the CDA filed in XML: %d, %d bytes, want the %d filed", got.Status, len(got.Body), len(ds.Documents[0].Content))
	}

	// QEDm items extracted from it, with their Provenance, in XML.
	pt := c.as(rec.env.PatientToken(t, ds.Patients[0].INS, false))
	for _, kind := range []string{"Observation", "Condition", "AllergyIntolerance", "Immunization", "MedicationRequest"} {
		path := "/" + kind + "?" + insQuery(ds.Patients[0].INS) + "&_revinclude=Provenance:target"
		j := pt.get(path)
		x := fromXML(t, pt.do("GET", path, "", nil, "Accept", fhirXML))
		var a, b any
		_ = json.Unmarshal(x.Body, &a)
		_ = json.Unmarshal(j.Body, &b)
		if x.Status != 200 || !reflect.DeepEqual(scrub(a), scrub(b)) {
			t.Errorf("%s: %d, XML and JSON differ:\n%s\n%s", path, x.Status, x.Body, j.Body)
		}
		items += len(decode[fhir.Bundle](t, j).Entry)
	}
	if items == 0 {
		t.Errorf("the CDA gave no QEDm item to read in XML")
	}

	// ITI-106 in XML: a Parameters holding a CDA as a Binary, filed by its
	// author from its header.
	cdaDoc := synth.Generate(synth.Options{Seed: 18, Patients: 1, DocsPerPatient: 1}).Documents[0].Content
	x, _, err := (qedm.Extractor{}).Extract("text/xml", cdaDoc)
	if err != nil || len(x.Derived.Authors) == 0 {
		t.Fatalf("the synthetic CDA names no author: %v", err)
	}
	author := c.as(rec.env.ProfessionalToken(t, x.Derived.Authors[0], ""))
	r = author.do("POST", "/DocumentReference/$generate-metadata", fhirXML, toXML(t, generateBody(cdaDoc)))
	if r.Status != 201 {
		t.Fatalf("ITI-106 in XML: %d %s", r.Status, r.Body)
	}
	dr = decode[fhir.DocumentReference](t, fromXML(t, r))
	if got := author.get(dr.Content[0].Attachment.URL); got.Status != 200 || !bytes.Equal(got.Body, cdaDoc) {
		t.Errorf("ITI-68 of the CDA filed by ITI-106 in XML: %d, %d bytes, want the %d filed", got.Status, len(got.Body), len(cdaDoc))
	}
}

// PDSm PATCH (FHIRPath Patch) and a PCF Consent in XML do what they do in
// JSON; a refusal is told in XML.
func TestXMLPatchAndConsent(t *testing.T) {
	rec := newRecord(t, testenv.SQLite)
	gp := rec.c.as(rec.env.Token(t, "gp"))
	r := gp.do("PATCH", "/DocumentReference/"+rec.consult, fhirXML, toXML(t, []byte(maskFHIRPath)))
	dr := decode[fhir.DocumentReference](t, fromXML(t, r))
	if r.Status != 200 || dr.Meta.VersionID != "2" {
		t.Fatalf("mask in XML: %d %s", r.Status, r.Body)
	}
	masked := false
	for _, l := range dr.SecurityLabel {
		for _, c := range l.Coding {
			masked = masked || c.Code == "MASQUE_PS"
		}
	}
	if !masked {
		t.Errorf("the XML patch did not mask: %+v", dr.SecurityLabel)
	}
	patient := rec.c.as(rec.env.Token(t, "patient0"))
	body := toXML(t, consentBody(t, carnet.Consent{Kind: carnet.ConsentBlock, Professional: carnet.Identifier{System: "urn:oid:" + carnet.OIDRPPS, Value: rec.pros["cardio"].ID.Value}}, carnet.Identifier{}))
	if r := patient.do("POST", "/Consent", fhirXML, body); r.Status != 201 {
		t.Fatalf("Consent in XML: %d %s", r.Status, r.Body)
	}
	if got := rec.visible(t, rec.env.Token(t, "cardio")); len(got) != 0 {
		t.Errorf("the blocked cardiologist still sees %v", got)
	}
	// The same refusal as in JSON (TestIntegrator02), in XML.
	bad := toXML(t, consentBody(t, carnet.Consent{Kind: carnet.ConsentBlock, Professional: carnet.Identifier{System: "urn:oid:" + carnet.OIDRPPS, Value: "abc"}}, carnet.Identifier{}))
	r = fromXML(t, patient.do("POST", "/Consent", fhirXML, bad))
	if r.Status != 400 || !bytes.Contains(r.Body, []byte("RPPS")) {
		t.Errorf("blocking the RPPS abc in XML: %d %s", r.Status, r.Body)
	}
}

// A body that is not FHIR XML is refused as a bad JSON body is: 400 and an
// OperationOutcome naming what is wrong, in XML; nothing is filed.
func TestXMLRefusals(t *testing.T) {
	rec := newRecord(t, testenv.SQLite)
	base := synth.Generate(synth.Options{Seed: 41, Patients: 1, DocsPerPatient: 1}).Documents[0]
	sub := carnet.Submission{Patient: rec.ins, Set: carnet.SubmissionSet{UniqueID: "1.2.250.1.999.17.9", SourceID: "1.2.250.1.999.2", ContentType: base.Meta.Type},
		Documents: []carnet.SubmittedDocument{plainDocument(base, "1.2.250.1.999.17.9.1", "11488-4", "Refusé", rec.pros["gp"])}}
	sw := rec.c.asSoftware(sub)
	good := string(toXML(t, mhd.ProvideBundle(sub)))
	for name, tc := range map[string]struct {
		body       string
		status     int
		diag, expr string
	}{
		"malformed":  {good[:len(good)/2], 400, "malformed XML", ""},
		"dtd":        {`<?xml version="1.0"?><!DOCTYPE Bundle [<!ENTITY a "aaaa">]>` + good[len(`<?xml version="1.0" encoding="UTF-8"?>`):], 400, "DTD", ""},
		"unknown":    {strings.Replace(good, "<status value=\"current\"/>", "<statut value=\"current\"/>", 1), 400, "unknown element <statut>", "Bundle.entry[0].resource"},
		"bad number": {strings.Replace(good, `<size value="`, `<size value="x`, 1), 400, "not a valid unsignedInt", "Bundle.entry[1].resource.content[0].attachment.size"},
		"not FHIR":   {`<Bundle/>`, 400, "not a FHIR R4 resource", "Bundle"},
	} {
		if !strings.Contains(tc.body, "<") || tc.body == good {
			t.Fatalf("%s: the test's body was not changed", name)
		}
		r := fromXML(t, sw.do("POST", "/", fhirXML, []byte(tc.body)))
		oo := outcome(t, r)
		if r.Status != tc.status || !strings.Contains(oo.Issue[0].Diagnostics, tc.diag) || strings.Join(oo.Issue[0].Expression, ",") != tc.expr {
			t.Errorf("%s: %d %s, want %d %q at %q", name, r.Status, r.Body, tc.status, tc.diag, tc.expr)
		}
	}
	if docs, _ := rec.c.search(insQuery(rec.ins)); len(docs) != 3 {
		t.Errorf("%d documents in the record after the refusals, want the 3 of the setup", len(docs))
	}
	// Errors of a JSON request are in XML when XML is asked for.
	r := fromXML(t, rec.c.as(rec.env.Token(t, "gp")).do("GET", "/DocumentReference/"+carnet.NewID(), "", nil, "Accept", fhirXML))
	if r.Status != 404 || outcome(t, r).Issue[0].Code == "" {
		t.Errorf("not found in XML: %d %s", r.Status, r.Body)
	}
	// Without a token nothing is read: 401 (in XML, the body's format).
	r = fromXML(t, rec.c.as("not-a-token").do("POST", "/", fhirXML, []byte(good)))
	if r.Status != 401 {
		t.Errorf("no token: %d", r.Status)
	}
}

// Every kind of FHIR answer Carnet gives is served in XML, equal to its
// JSON: the resources of MHD, PCF, BALP, QEDm and the identity feed.
func TestXMLAnswersEveryRead(t *testing.T) {
	rec := newRecord(t, testenv.SQLite)
	patient := rec.c.as(rec.env.Token(t, "patient0"))
	gp := rec.c.as(rec.env.Token(t, "gp"))
	gp.get(rec.search()) // an access, for the patient's AuditEvents and Communications
	pid := decode[fhir.Bundle](t, gp.get("/Patient?identifier="+url.QueryEscape(rec.ins.System+"|"+rec.ins.Value)))
	if len(pid.Entry) == 0 {
		t.Fatalf("the patient is not found")
	}
	var p struct{ ID string }
	_ = json.Unmarshal(pid.Entry[0].Resource, &p)
	for _, tc := range []struct {
		c    client
		path string
	}{
		{gp, "/metadata"},
		{gp, rec.search()},
		{gp, "/DocumentReference/" + rec.consult},
		{gp, "/DocumentReference/" + rec.consult + "/_history"},
		{gp, "/DocumentReference/$relevant?" + insQuery(rec.ins)},
		{gp, "/List?" + insQuery(rec.ins)},
		{gp, "/Patient/" + p.ID},
		{gp, "/Observation?" + insQuery(rec.ins) + "&_revinclude=Provenance:target"},
		{patient, "/Consent"},
		{patient, "/Communication"},
		{patient, "/AuditEvent"},
		{gp, "/DocumentReference/" + carnet.NewID()},
	} {
		j := tc.c.get(tc.path)
		x := fromXML(t, tc.c.do("GET", tc.path, "", nil, "Accept", fhirXML))
		if x.Status != j.Status {
			t.Errorf("%s: %d in XML, %d in JSON", tc.path, x.Status, j.Status)
			continue
		}
		var a, b any
		_ = json.Unmarshal(x.Body, &a)
		_ = json.Unmarshal(j.Body, &b)
		// Each request adds to the patient's AuditEvents: the XML answer
		// has one more.
		if strings.HasPrefix(tc.path, "/AuditEvent") {
			if n, m := len(decode[fhir.Bundle](t, x).Entry), len(decode[fhir.Bundle](t, j).Entry); n != m+1 || m == 0 {
				t.Errorf("%s: %d entries in XML after %d in JSON", tc.path, n, m)
			}
			continue
		}
		if !reflect.DeepEqual(scrub(a), scrub(b)) {
			t.Errorf("%s: XML and JSON differ:\n%s\n%s", tc.path, x.Body, j.Body)
		}
	}
}

// scrub removes what two successive answers may differ by: a Bundle's id
// and timestamp, a ranking's scores (they weigh time).
func scrub(v any) any {
	switch x := v.(type) {
	case map[string]any:
		delete(x, "score")
		if x["resourceType"] == "Bundle" {
			delete(x, "id")
			delete(x, "timestamp")
		}
		for k, e := range x {
			x[k] = scrub(e)
		}
	case []any:
		for i := range x {
			x[i] = scrub(x[i])
		}
	}
	return v
}

// An XML body past MaxBody is refused as a JSON one is: 413, too-costly,
// told in XML; before a byte of it is converted.
func TestXMLBodyBound(t *testing.T) {
	srv := httptest.NewServer(httpapi.New(httpapi.Config{MaxBody: 4096,
		Authenticate: func(*http.Request) (carnet.Actor, error) {
			return carnet.Actor{Kind: carnet.ActorSystem, Scopes: []string{"system/*.cruds"}}, nil
		}}))
	defer srv.Close()
	big := `<Bundle xmlns="http://hl7.org/fhir"><type value="transaction"/>` + strings.Repeat(`<entry><fullUrl value="urn:uuid:x"/></entry>`, 200) + `</Bundle>`
	for _, ct := range []string{fhirXML, "application/fhir+json"} {
		body := big
		if ct != fhirXML {
			j, err := fhirxml.ToJSON([]byte(big))
			if err != nil {
				t.Fatal(err)
			}
			body = string(j)
		}
		req, _ := http.NewRequest("POST", srv.URL+"/", strings.NewReader(body))
		req.Header.Set("Content-Type", ct)
		req.Header.Set("Accept", fhirXML)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		r := fromXML(t, response{res.StatusCode, res.Header, b})
		if oo := outcome(t, r); r.Status != 413 || oo.Issue[0].Code != "too-costly" {
			t.Errorf("%s body of %d bytes: %d %s, want 413 too-costly", ct, len(body), r.Status, r.Body)
		}
	}
}
