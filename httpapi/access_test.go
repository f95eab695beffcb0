package httpapi_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"

	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	carnet "github.com/carnet-sante/carnet"
	"github.com/carnet-sante/carnet/auth"
	"github.com/carnet-sante/carnet/fhir"
	"github.com/carnet-sante/carnet/internal/testenv"
	"github.com/carnet-sante/carnet/pcf"
	"github.com/carnet-sante/carnet/synth"
)

// record is a patient record set up for the access tests: the demo
// patient0 (so that demo tokens name them), with documents written by the
// demo GP and filed by the demo producing software.
type record struct {
	env     *testenv.Env
	c       client
	ins     carnet.Identifier
	pros    map[string]carnet.Author // demo logins -> their identity
	consult string                   // a consultation report (11488-4) by the GP
	psy     string                   // a psychiatric synthesis (68599-0) by the GP
	minor   string                   // a report hidden from legal representatives
}

// plainDocument is a short text document of LOINC type code, written by a.
func plainDocument(base synth.Document, uid, code, title string, a carnet.Author, labels ...string) carnet.SubmittedDocument {
	meta := base.Meta
	meta.Type = carnet.Coding{System: "http://loinc.org", Code: code, Display: title}
	meta.Title = title
	meta.ContentType = "text/plain"
	meta.Format = carnet.Coding{System: "urn:oid:1.3.6.1.4.1.19376.1.2.3", Code: "urn:ihe:iti:xds-sd:text:2008"}
	meta.Authors = []carnet.Author{a}
	meta.SHA256, meta.Size = nil, 0
	meta.Confidentiality = []carnet.Coding{{System: "urn:oid:2.16.840.1.113883.5.25", Code: "N"}}
	for _, l := range labels {
		meta.Confidentiality = append(meta.Confidentiality, carnet.Coding{System: "urn:oid:" + carnet.OIDVisibility, Code: l})
	}
	return carnet.SubmittedDocument{UniqueID: uid, Meta: meta, Content: []byte(title + " : texte de test.")}
}

func newRecord(t *testing.T, b testenv.Backend) *record {
	t.Helper()
	// The national matrix when ../shared is there (always in CI); without
	// it (a fresh clone) the rules run with no profession restriction and
	// the one check that needs the matrix is skipped.
	env := testenv.New(t, b, testenv.Options{AccessMatrix: testenv.HasShared(t)})
	pats, pros := synth.Options{Patients: 4, Professionals: len(synth.RosterLogins())}.People()
	rec := &record{env: env, c: newClient(t, env), ins: pats[0].INS, pros: map[string]carnet.Author{}}
	for _, p := range pros {
		rec.pros[p.Login] = p.Author
	}
	base := synth.Generate(synth.Options{Seed: 41, Patients: 1, DocsPerPatient: 1}).Documents[0]
	gp := rec.pros["gp"]
	sub := carnet.Submission{Patient: rec.ins, Set: carnet.SubmissionSet{UniqueID: "1.2.250.1.999.41.1", SourceID: "1.2.250.1.999.2", ContentType: base.Meta.Type},
		Documents: []carnet.SubmittedDocument{
			plainDocument(base, "1.2.250.1.999.41.1.1", "11488-4", "Compte rendu de consultation", gp),
			plainDocument(base, "1.2.250.1.999.41.1.2", "68599-0", "Synthèse psychiatrique", gp),
			plainDocument(base, "1.2.250.1.999.41.1.3", "11488-4", "Consultation confidentielle", gp, carnet.LabelInvisibleLegalRep),
		}}
	r := rec.c.asSoftware(sub).provide(sub)
	if r.Status != 200 {
		t.Fatalf("filing: %d %s", r.Status, r.Body)
	}
	docs := documentIDs(t, r)
	rec.consult, rec.psy, rec.minor = docs[0], docs[1], docs[2]
	return rec
}

func (rec *record) search() string {
	return "/DocumentReference?" + insQuery(rec.ins)
}

// visible returns the ids a search by tok finds in the record.
func (rec *record) visible(t *testing.T, tok string, hdr ...string) map[string]bool {
	t.Helper()
	r := rec.c.as(tok).do("GET", rec.search(), "", nil, hdr...)
	if r.Status != 200 {
		t.Fatalf("search: %d %s", r.Status, r.Body)
	}
	out := map[string]bool{}
	for _, e := range decode[fhir.Bundle](t, r).Entry {
		var dr fhir.DocumentReference
		if json.Unmarshal(e.Resource, &dr) == nil && dr.ID != "" {
			out[dr.ID] = true
		}
	}
	return out
}

// notFound is the answer to a read of an id that does not exist, to which
// every denied read must be identical.
func (rec *record) notFound(t *testing.T, tok string) response {
	t.Helper()
	return rec.c.as(tok).get("/DocumentReference/" + carnet.NewID())
}

// sameAsNotFound checks a denied read against the answer for an absent
// id: same status, same body, same headers but the request id and date.
func sameAsNotFound(t *testing.T, what string, denied, absent response) {
	t.Helper()
	if denied.Status != 404 || absent.Status != 404 {
		t.Errorf("%s: status %d (absent: %d), want 404", what, denied.Status, absent.Status)
	}
	if !bytes.Equal(denied.Body, absent.Body) {
		t.Errorf("%s: the denial differs from not-found:\n%s\n%s", what, denied.Body, absent.Body)
	}
	for k := range absent.Header {
		if k == "X-Request-Id" || k == "Date" {
			continue
		}
		if denied.Header.Get(k) != absent.Header.Get(k) {
			t.Errorf("%s: header %s %q, not-found has %q", what, k, denied.Header.Get(k), absent.Header.Get(k))
		}
	}
	if len(denied.Header) != len(absent.Header) {
		t.Errorf("%s: headers %v, not-found has %v", what, denied.Header, absent.Header)
	}
}

// Bad tokens are refused with 401 and no data.
func TestBadTokensRefused(t *testing.T) {
	rec := newRecord(t, testenv.SQLite)
	good := rec.env.Token(t, "gp")
	parts := strings.Split(good, ".")
	sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
	sig[0] ^= 0xff
	forged := parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(sig)
	none := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + parts[1] + "."
	wrongAud, err := rec.env.Issuer.Mint("gp", "another-service", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	past, err := auth.NewDemoIssuer(rec.env.KeyDir, func() time.Time { return time.Now().Add(-3 * time.Hour) })
	if err != nil {
		t.Fatal(err)
	}
	past.SetIssuerURL(rec.env.Issuer.IssuerURL())
	expired, err := past.Mint("gp", testenv.Audience, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	other, err := auth.NewDemoIssuer(t.TempDir(), time.Now) // another key, the same issuer name
	if err != nil {
		t.Fatal(err)
	}
	other.SetIssuerURL(rec.env.Issuer.IssuerURL())
	otherKey, err := other.Mint("gp", testenv.Audience, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, header string }{
		{"no token", ""},
		{"forged signature", "Bearer " + forged},
		{"alg none", "Bearer " + none},
		{"wrong audience", "Bearer " + wrongAud},
		{"expired", "Bearer " + expired},
		{"signed by another key", "Bearer " + otherKey},
		{"not a bearer", "Basic " + base64.StdEncoding.EncodeToString([]byte("gp:gp"))},
	} {
		for _, path := range []string{rec.search(), "/DocumentReference/" + rec.consult} {
			req, _ := http.NewRequest("GET", rec.env.URL+path, nil)
			if tc.header != "" {
				req.Header.Set("Authorization", tc.header)
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			buf.ReadFrom(res.Body)
			res.Body.Close()
			if res.StatusCode != 401 || !strings.HasPrefix(res.Header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("%s on %s: %d (WWW-Authenticate %q), want 401", tc.name, path, res.StatusCode, res.Header.Get("WWW-Authenticate"))
			}
			if bytes.Contains(buf.Bytes(), []byte("DocumentReference")) || bytes.Contains(buf.Bytes(), []byte(rec.consult)) {
				t.Errorf("%s: the refusal carries data: %s", tc.name, buf.Bytes())
			}
		}
	}
	// The good token works: the refusals above are the tokens' fault.
	if got := rec.visible(t, good); !got[rec.consult] {
		t.Errorf("the GP who wrote the report does not find it: %v", got)
	}
}

// The DMP rules over HTTP, on both backends.
func TestAccessRulesOverHTTP(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b testenv.Backend) {
		rec := newRecord(t, b)
		env, c := rec.env, rec.c
		gp, nurse, samu := env.Token(t, "gp"), env.Token(t, "nurse"), env.Token(t, "samu")
		patient, other := env.Token(t, "patient0"), env.Token(t, "patient1")
		representative := env.PatientToken(t, rec.ins, true)

		// The author, a GP, sees all three.
		if got := rec.visible(t, gp); len(got) != 3 {
			t.Fatalf("the GP who wrote them sees %d documents, want 3", len(got))
		}
		// The patient sees all three; their legal representative not the one hidden from them.
		if got := rec.visible(t, patient); len(got) != 3 {
			t.Errorf("the patient sees %d documents, want 3", len(got))
		}
		if got := rec.visible(t, representative); len(got) != 2 || got[rec.minor] {
			t.Errorf("the legal representative sees %v, want the two not hidden from them", got)
		}
		sameAsNotFound(t, "representative reading the hidden report",
			c.as(representative).get("/DocumentReference/"+rec.minor), rec.notFound(t, representative))

		// Another patient: nothing, and a read looks like a missing id.
		if got := rec.visible(t, other); len(got) != 0 {
			t.Errorf("another patient finds %d documents in patient0's record", len(got))
		}
		sameAsNotFound(t, "another patient reading", c.as(other).get("/DocumentReference/"+rec.consult), rec.notFound(t, other))
		if r := c.as(other).get("/Binary/" + contentID(t, c.as(gp), rec.consult)); r.Status != 404 {
			t.Errorf("another patient retrieving the content: %d, want 404", r.Status)
		}

		// A nurse outside the care team sees nothing; once she declares the
		// care relationship, the matrix still hides the psychiatric synthesis.
		if got := rec.visible(t, nurse); len(got) != 0 {
			t.Errorf("a nurse outside the care team sees %d documents", len(got))
		}
		if r := declareCareTeam(t, c.as(nurse), rec.ins, rec.pros["nurse"]); r.Status != 201 {
			t.Fatalf("the nurse declares the care relationship: %d %s", r.Status, r.Body)
		}
		if testenv.HasShared(t) {
			if got := rec.visible(t, nurse); !got[rec.consult] || got[rec.psy] {
				t.Errorf("the nurse in the care team sees %v: want the consultation, not the psychiatric synthesis", got)
			}
			sameAsNotFound(t, "nurse reading a psychiatric synthesis", c.as(nurse).get("/DocumentReference/"+rec.psy), rec.notFound(t, nurse))
		} else {
			t.Log("../shared is absent: the access matrix check (nurse × psychiatric synthesis) is skipped")
			if got := rec.visible(t, nurse); !got[rec.consult] {
				t.Errorf("the nurse in the care team sees %v: want the consultation", got)
			}
		}

		// The patient blocks the GP: the GP, even as author, sees nothing
		// from the very next request; unblocking restores it.
		blockID := postConsent(t, c.as(patient), consentBody(t, carnet.Consent{Kind: carnet.ConsentBlock, Professional: rec.pros["gp"].ID}, carnet.Identifier{}))
		if got := rec.visible(t, gp); len(got) != 0 {
			t.Errorf("a blocked GP sees %d documents", len(got))
		}
		sameAsNotFound(t, "blocked GP reading his own report", c.as(gp).get("/DocumentReference/"+rec.consult), rec.notFound(t, gp))
		if r := c.as(patient).do("DELETE", "/Consent/"+blockID, "", nil); r.Status != 204 {
			t.Fatalf("unblock: %d %s", r.Status, r.Body)
		}
		if got := rec.visible(t, gp); len(got) != 3 {
			t.Errorf("after unblocking, the GP sees %d documents, want 3", len(got))
		}
		// A revoked permission denies the very next request.
		consents := decode[fhir.Bundle](t, c.as(patient).get("/Consent"))
		var nurseConsent string
		for _, e := range consents.Entry {
			var cs fhir.Consent
			json.Unmarshal(e.Resource, &cs)
			if cs.Provision != nil && len(cs.Provision.Actor) == 1 && cs.Provision.Actor[0].Reference.Identifier != nil &&
				cs.Provision.Actor[0].Reference.Identifier.Value == rec.pros["nurse"].ID.Value {
				nurseConsent = cs.ID
			}
		}
		if nurseConsent == "" {
			t.Fatalf("the patient does not see the nurse's care relationship among their consents: %s", c.as(patient).get("/Consent").Body)
		}
		if r := c.as(patient).do("DELETE", "/Consent/"+nurseConsent, "", nil); r.Status != 204 {
			t.Fatalf("revoke: %d", r.Status)
		}
		if got := rec.visible(t, nurse); len(got) != 0 {
			t.Errorf("after revocation the nurse still sees %d documents", len(got))
		}
		// Consents are the patient's: the GP is told of none.
		if r := c.as(gp).get("/Consent?patient.identifier=" + url.QueryEscape(rec.ins.System+"|"+rec.ins.Value)); r.Status != 200 || bytes.Contains(r.Body, []byte(`"Consent"`)) {
			t.Errorf("the GP reads the patient's consents: %d %s", r.Status, r.Body)
		}

		// Emergency: the SAMU physician has no relationship.
		if got := rec.visible(t, samu); len(got) != 0 {
			t.Errorf("SAMU without emergency mode sees %d documents", len(got))
		}
		// Bris de glace without a reason is refused saying a reason is
		// required (it reveals nothing).
		for _, path := range []string{rec.search(), "/DocumentReference/" + rec.consult} {
			if r := c.as(samu).do("GET", path, "", nil, "X-Purpose-Of-Use", "BTG"); r.Status != 400 || !bytes.Contains(r.Body, []byte("needs a reason")) {
				t.Errorf("bris de glace without a reason on %s: %d %s, want 400 saying a reason is required", path, r.Status, r.Body)
			}
		}
		reason := url.PathEscape("patient inconscient aux urgences")
		if got := rec.visible(t, samu, "X-Purpose-Of-Use", "BTG", "X-Access-Reason", reason); !got[rec.consult] {
			t.Errorf("bris de glace with a reason: %v, want the consultation", got)
		}
		if got := rec.visible(t, samu, "X-Purpose-Of-Use", "ETREAT"); !got[rec.consult] {
			t.Errorf("centre 15: %v, want the consultation", got)
		}
		if r := c.as(samu).do("GET", rec.search(), "", nil, "X-Purpose-Of-Use", "GODMODE"); r.Status != 400 {
			t.Errorf("unknown purpose of use: %d, want 400", r.Status)
		}
		// The patient refuses bris de glace: refused from the next request.
		postConsent(t, c.as(patient), consentBody(t, carnet.Consent{Kind: carnet.ConsentBTG, Permit: false}, carnet.Identifier{}))
		if got := rec.visible(t, samu, "X-Purpose-Of-Use", "BTG", "X-Access-Reason", reason); len(got) != 0 {
			t.Errorf("bris de glace refused by the patient: %d documents", len(got))
		}

		// The patient was told: documents filed, first accesses, each emergency access.
		notes := notifications(t, c.as(patient))
		count := map[string]int{}
		for _, n := range notes {
			count[n.kind]++
		}
		if count[string(carnet.NotifyNewDocument)] != 1 || count[string(carnet.NotifyEmergency)] != 2 || count[string(carnet.NotifyFirstAccess)] < 3 {
			t.Errorf("notifications %v, want 1 new-document, 2 emergency-access and a first access each for the GP, the nurse, the SAMU", count)
		}
		found := false
		for _, n := range notes {
			if n.kind == string(carnet.NotifyEmergency) && strings.Contains(n.text, "bris de glace") && strings.Contains(n.text, "patient inconscient") {
				found = true
			}
		}
		if !found {
			t.Errorf("no bris de glace notification with the stated reason: %+v", notes)
		}
		// Nobody else reads them.
		if got := notifications(t, c.as(other)); len(got) != 0 {
			t.Errorf("another patient reads %d of patient0's notifications", len(got))
		}
	})
}

// SMART scopes cap what a token may do, per request and per transaction
// entry.
func TestScopesEnforced(t *testing.T) {
	rec := newRecord(t, testenv.SQLite)
	env, c := rec.env, rec.c
	readOnly := env.ProfessionalToken(t, rec.pros["gp"], "user/DocumentReference.r")
	if r := c.as(readOnly).get(rec.search()); r.Status != 403 {
		t.Errorf("search with a read-only scope (no s): %d, want 403", r.Status)
	}
	if r := c.as(readOnly).get("/DocumentReference/" + rec.consult); r.Status != 200 {
		t.Errorf("read with user/DocumentReference.r: %d, want 200", r.Status)
	}
	if r := c.as(readOnly).get("/Binary/" + contentID(t, c.as(env.Token(t, "gp")), rec.consult)); r.Status != 403 {
		t.Errorf("Binary with a DocumentReference-only scope: %d, want 403", r.Status)
	}
	// A producing system whose scopes do not cover Binary files nothing.
	sys, err := env.Issuer.Issue(carnet.ActorSystem, map[string]any{auth.ClaimClientID: "lgc-2", auth.ClaimScope: "system/DocumentReference.c system/List.c"}, testenv.Audience, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	base := synth.Generate(synth.Options{Seed: 42, Patients: 1, DocsPerPatient: 1}).Documents[0]
	sub := carnet.Submission{Patient: rec.ins, Set: carnet.SubmissionSet{UniqueID: "1.2.250.1.999.42.1", SourceID: "1.2.250.1.999.2", ContentType: base.Meta.Type},
		Documents: []carnet.SubmittedDocument{plainDocument(base, "1.2.250.1.999.42.1.1", "11488-4", "Compte rendu", rec.pros["gp"])}}
	if r := c.as(sys).provide(sub); r.Status != 403 {
		t.Errorf("ITI-65 without Binary.c: %d, want 403", r.Status)
	}
	if got := rec.visible(t, env.Token(t, "patient0")); len(got) != 3 {
		t.Errorf("after the refused submission the record holds %d documents, want 3", len(got))
	}
	// A patient scope grants a professional nothing.
	pro := env.ProfessionalToken(t, rec.pros["gp"], "patient/*.rs")
	if r := c.as(pro).get(rec.search()); r.Status != 403 {
		t.Errorf("a professional with patient/ scopes: %d, want 403", r.Status)
	}
	// Systems file; they do not read.
	if got := rec.visible(t, env.Token(t, "lgc")); len(got) != 0 {
		t.Errorf("the producing system reads %d documents", len(got))
	}
}

// The patient's consent to mask new documents applies to what is filed next.
func TestMaskNewDocuments(t *testing.T) {
	rec := newRecord(t, testenv.SQLite)
	env, c := rec.env, rec.c
	patient := env.Token(t, "patient0")
	postConsent(t, c.as(patient), consentBody(t, carnet.Consent{Kind: carnet.ConsentMaskNew, Permit: false}, carnet.Identifier{}))
	if r := declareCareTeam(t, c.as(env.Token(t, "cardio")), rec.ins, rec.pros["cardio"]); r.Status != 201 {
		t.Fatalf("declare: %d %s", r.Status, r.Body)
	}
	base := synth.Generate(synth.Options{Seed: 43, Patients: 1, DocsPerPatient: 1}).Documents[0]
	sub := carnet.Submission{Patient: rec.ins, Set: carnet.SubmissionSet{UniqueID: "1.2.250.1.999.43.1", SourceID: "1.2.250.1.999.2", ContentType: base.Meta.Type},
		Documents: []carnet.SubmittedDocument{plainDocument(base, "1.2.250.1.999.43.1.1", "11488-4", "Nouveau compte rendu", rec.pros["gp"])}}
	r := c.asSoftware(sub).provide(sub)
	if r.Status != 200 {
		t.Fatalf("%d %s", r.Status, r.Body)
	}
	newID := documentIDs(t, r)[0]
	got := rec.visible(t, env.Token(t, "cardio"))
	if got[newID] || !got[rec.consult] {
		t.Errorf("the cardiologist of the care team sees %v: want the older consultation, not the new masked document", got)
	}
	if got := rec.visible(t, env.Token(t, "gp")); !got[newID] {
		t.Errorf("the author does not see his masked document")
	}
}

// documentIDs returns the DocumentReference ids of an ITI-65 answer, in order.
func documentIDs(t *testing.T, r response) []string {
	t.Helper()
	var out []string
	for _, e := range decode[fhir.Bundle](t, r).Entry {
		if e.Response != nil && strings.Contains(e.Response.Location, "/DocumentReference/") {
			out = append(out, idFromLocation(e.Response.Location))
		}
	}
	return out
}

// An EHDS restriction hides a document from professionals, even its
// author, without a trace; the patient still sees it, and a restriction
// read back can be posted again.
func TestRestriction(t *testing.T) {
	rec := newRecord(t, testenv.SQLite)
	env, c := rec.env, rec.c
	patient, gp := env.Token(t, "patient0"), env.Token(t, "gp")
	id := postConsent(t, c.as(patient), consentBody(t, carnet.Consent{Kind: carnet.ConsentRestrict, Document: rec.consult}, carnet.Identifier{}))
	if got := rec.visible(t, gp); got[rec.consult] || len(got) != 2 {
		t.Errorf("the GP sees %v after the restriction; want the two others", got)
	}
	sameAsNotFound(t, "GP reading a restricted document", c.as(gp).get("/DocumentReference/"+rec.consult), rec.notFound(t, gp))
	// Nor does it show through its submission set (ITI-66).
	if r := c.as(gp).get("/List?" + insQuery(rec.ins)); r.Status != 200 || bytes.Contains(r.Body, []byte(rec.consult)) || !bytes.Contains(r.Body, []byte(rec.psy)) {
		t.Errorf("the GP's ITI-66: %d, restricted document listed: %v\n%s", r.Status, bytes.Contains(r.Body, []byte(rec.consult)), r.Body)
	}
	if got := rec.visible(t, patient); !got[rec.consult] {
		t.Errorf("the patient no longer sees the document they restricted")
	}
	// The Consent as read back names the document by its logicalId.
	var stored fhir.Consent
	for _, e := range decode[fhir.Bundle](t, c.as(patient).get("/Consent")).Entry {
		var cs fhir.Consent
		json.Unmarshal(e.Resource, &cs)
		if cs.ID == id {
			stored = cs
		}
	}
	if stored.ID == "" {
		t.Fatal("the restriction is not among the patient's consents")
	}
	if r := c.as(patient).do("DELETE", "/Consent/"+id, "", nil); r.Status != 204 {
		t.Fatalf("lift: %d", r.Status)
	}
	if got := rec.visible(t, gp); !got[rec.consult] {
		t.Errorf("after lifting the restriction the GP does not see the document")
	}
	stored.ID = ""
	body, _ := json.Marshal(stored)
	postConsent(t, c.as(patient), body)
	if got := rec.visible(t, gp); got[rec.consult] {
		t.Errorf("the restriction posted again as read back does not hold")
	}
}

func contentID(t *testing.T, c client, docID string) string {
	t.Helper()
	r := c.get("/DocumentReference/" + docID)
	if r.Status != 200 {
		t.Fatalf("read %s: %d", docID, r.Status)
	}
	dr := decode[fhir.DocumentReference](t, r)
	return dr.Content[0].Attachment.URL[strings.LastIndex(dr.Content[0].Attachment.URL, "/")+1:]
}

func consentBody(t *testing.T, cs carnet.Consent, patient carnet.Identifier) []byte {
	t.Helper()
	b, err := json.Marshal(pcf.Resource(cs, patient))
	if err != nil {
		t.Fatal(err)
	}
	// A client's Consent has no id yet.
	var m map[string]any
	json.Unmarshal(b, &m)
	delete(m, "id")
	b, _ = json.Marshal(m)
	return b
}

func postConsent(t *testing.T, c client, body []byte) string {
	t.Helper()
	r := c.do("POST", "/Consent", "application/fhir+json", body)
	if r.Status != 201 {
		t.Fatalf("POST /Consent: %d %s", r.Status, r.Body)
	}
	return idFromLocation(r.Header.Get("Location"))
}

func declareCareTeam(t *testing.T, c client, ins carnet.Identifier, a carnet.Author) response {
	t.Helper()
	return c.do("POST", "/Consent", "application/fhir+json", consentBody(t, carnet.Consent{Kind: carnet.ConsentCareTeam, Permit: true, Professional: a.ID}, ins))
}

type note struct{ kind, text string }

func notifications(t *testing.T, c client) []note {
	t.Helper()
	r := c.get("/Communication")
	if r.Status != 200 {
		t.Fatalf("GET /Communication: %d %s", r.Status, r.Body)
	}
	var out []note
	for _, e := range decode[fhir.Bundle](t, r).Entry {
		var cm fhir.Communication
		if err := json.Unmarshal(e.Resource, &cm); err != nil {
			t.Fatal(err)
		}
		n := note{}
		if len(cm.Category) > 0 && len(cm.Category[0].Coding) > 0 {
			n.kind = cm.Category[0].Coding[0].Code
		}
		if len(cm.Payload) > 0 {
			n.text = cm.Payload[0].ContentString
		}
		out = append(out, n)
	}
	return out
}

// Filing, replacing and older metadata versions give no one more than the
// rules do (security review of session 2).
func TestFilingAndVersionsGrantNothing(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b testenv.Backend) {
		rec := newRecord(t, b)
		env, c := rec.env, rec.c
		nurse, dentist, cardio, patient, gp := env.Token(t, "nurse"), env.Token(t, "dentist"), env.Token(t, "cardio"), env.Token(t, "patient0"), env.Token(t, "gp")
		base := synth.Generate(synth.Options{Seed: 45, Patients: 1, DocsPerPatient: 1}).Documents[0]

		// A nurse files a note naming the dentist as author: refused (a
		// professional files what they author), and the dentist gains
		// nothing. Her own note is filed, and she joins the care team.
		forged := plainDocument(base, "1.2.250.1.999.45.1.1", "11488-4", "Note", rec.pros["dentist"])
		sub := carnet.Submission{Patient: rec.ins, Set: carnet.SubmissionSet{UniqueID: "1.2.250.1.999.45.1", SourceID: "1.2.250.1.999.2", ContentType: forged.Meta.Type},
			Documents: []carnet.SubmittedDocument{forged}}
		if r := c.as(nurse).provide(sub); r.Status != 422 {
			t.Errorf("the nurse files a note naming the dentist as author: %d %s, want 422", r.Status, r.Body)
		}
		if got := rec.visible(t, dentist); len(got) != 0 {
			t.Errorf("the dentist named as author by someone else sees %d documents", len(got))
		}
		note := plainDocument(base, "1.2.250.1.999.45.1.2", "11488-4", "Note", rec.pros["nurse"])
		sub = carnet.Submission{Patient: rec.ins, Set: carnet.SubmissionSet{UniqueID: "1.2.250.1.999.45.1", SourceID: "1.2.250.1.999.2", ContentType: note.Meta.Type},
			Documents: []carnet.SubmittedDocument{note}}
		r := c.as(nurse).provide(sub)
		if r.Status != 200 {
			t.Fatalf("the nurse files her note: %d %s", r.Status, r.Body)
		}
		noteID := documentIDs(t, r)[0]
		if got := rec.visible(t, nurse); !got[rec.consult] {
			t.Errorf("the nurse who filed is not in the care team: %v", got)
		}

		// A replacement of a document one may not change is refused as if it
		// were absent, and the document stays current.
		repl := plainDocument(base, "1.2.250.1.999.45.2.1", "68599-0", "Synthèse remplacée", rec.pros["dentist"])
		repl.Meta.RelatesTo = []carnet.Relation{{Code: "replaces", Target: rec.psy}}
		sub2 := carnet.Submission{Patient: rec.ins, Set: carnet.SubmissionSet{UniqueID: "1.2.250.1.999.45.2", SourceID: "1.2.250.1.999.2", ContentType: repl.Meta.Type},
			Documents: []carnet.SubmittedDocument{repl}}
		r = c.as(dentist).provide(sub2)
		if r.Status < 400 || !bytes.Contains(r.Body, []byte("is not in this patient")) {
			t.Errorf("a stranger replacing the GP's synthesis: %d %s", r.Status, r.Body)
		}
		if dr := decode[fhir.DocumentReference](t, c.as(gp).get("/DocumentReference/"+rec.psy)); dr.Status != "current" {
			t.Errorf("the synthesis is %q after the refused replacement", dr.Status)
		}

		// The patient withdraws the GP's care-team presumption: a later
		// filing by the software does not put it back (the GP keeps his own
		// documents by their ids, as their author, and loses the record).
		if got := rec.visible(t, gp); !got[noteID] {
			t.Fatalf("the GP of the care team does not see the nurse's note")
		}
		var gpConsent string
		for _, e := range decode[fhir.Bundle](t, c.as(patient).get("/Consent")).Entry {
			var cs fhir.Consent
			json.Unmarshal(e.Resource, &cs)
			if cs.Provision != nil && len(cs.Provision.Actor) == 1 && cs.Provision.Actor[0].Reference.Identifier != nil &&
				cs.Provision.Actor[0].Reference.Identifier.Value == rec.pros["gp"].ID.Value {
				gpConsent = cs.ID
			}
		}
		if r := c.as(patient).do("DELETE", "/Consent/"+gpConsent, "", nil); r.Status != 204 {
			t.Fatalf("withdraw the GP: %d", r.Status)
		}
		again := plainDocument(base, "1.2.250.1.999.45.3.1", "11488-4", "Nouvelle consultation", rec.pros["gp"])
		sub3 := carnet.Submission{Patient: rec.ins, Set: carnet.SubmissionSet{UniqueID: "1.2.250.1.999.45.3", SourceID: "1.2.250.1.999.2", ContentType: again.Meta.Type},
			Documents: []carnet.SubmittedDocument{again}}
		if r := c.asSoftware(sub3).provide(sub3); r.Status != 200 {
			t.Fatalf("filing: %d", r.Status)
		}
		if got := rec.visible(t, gp); got[noteID] {
			t.Errorf("after the withdrawal and a new filing, the GP still sees the nurse's note")
		}
		if r := c.as(gp).get("/DocumentReference/" + rec.consult); r.Status != 200 {
			t.Errorf("the GP cannot read his own report by its id: %d", r.Status)
		}

		// An older metadata version is read as the document is now: masking
		// v2 hides v1 from the care team; deleting hides it from everyone.
		if r := declareCareTeam(t, c.as(cardio), rec.ins, rec.pros["cardio"]); r.Status != 201 {
			t.Fatalf("declare: %d", r.Status)
		}
		if r := c.as(cardio).get("/DocumentReference/" + rec.consult); r.Status != 200 {
			t.Fatalf("the cardiologist reads the consultation: %d", r.Status)
		}
		r = c.as(patient).do("PATCH", "/DocumentReference/"+rec.consult, "application/fhir+json", []byte(maskFHIRPath))
		if r.Status != 200 {
			t.Fatalf("the patient masks: %d %s", r.Status, r.Body)
		}
		sameAsNotFound(t, "the care team reading v1 of a masked document", c.as(cardio).get("/DocumentReference/"+rec.consult), rec.notFound(t, cardio))
		if lists := c.as(cardio).get("/List?" + insQuery(rec.ins)); bytes.Contains(lists.Body, []byte(rec.consult)) {
			t.Errorf("v1 of the masked document is listed in its submission set")
		}
		// Unmasking is the patient's: the author is refused (and told why).
		v2 := idFromLocation(r.Header.Get("Location"))
		if v2 == "" {
			v2 = decode[fhir.DocumentReference](t, r).ID
		}
		unmask := `{"resourceType":"Parameters","parameter":[{"name":"operation","part":[{"name":"type","valueCode":"delete"},` +
			`{"name":"path","valueString":"DocumentReference.securityLabel.where(coding.code='MASQUE_PS')"}]}]}`
		if r := c.as(gp).do("PATCH", "/DocumentReference/"+v2, "application/fhir+json", []byte(unmask)); r.Status != 403 {
			t.Errorf("the author unmasking: %d %s, want 403", r.Status, r.Body)
		}
		if r := c.as(patient).do("PATCH", "/DocumentReference/"+v2, "application/fhir+json", []byte(unmask)); r.Status != 200 {
			t.Errorf("the patient unmasking: %d %s, want 200", r.Status, r.Body)
		}
	})
}

// Concurrent filings for one record, each by a new author who joins the care
// team, all succeed (the record's care team is changed inside each filing's
// transaction, from the record as it is then).
func TestConcurrentFilingsOneRecord(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b testenv.Backend) {
		rec := newRecord(t, b)
		env, c := rec.env, rec.c
		_, pros := synth.Options{Patients: 1, Professionals: 20}.People()
		base := synth.Generate(synth.Options{Seed: 46, Patients: 1, DocsPerPatient: 1}).Documents[0]
		var wg sync.WaitGroup
		statuses := make([]int, 12)
		for i := range statuses {
			wg.Add(1)
			go func() {
				defer wg.Done()
				author := pros[8+i%len(pros[8:])].Author
				d := plainDocument(base, fmt.Sprintf("1.2.250.1.999.46.%d.1", i), "11488-4", "Consultation", author)
				sub := carnet.Submission{Patient: rec.ins, Set: carnet.SubmissionSet{UniqueID: fmt.Sprintf("1.2.250.1.999.46.%d", i), SourceID: "1.2.250.1.999.2", ContentType: d.Meta.Type},
					Documents: []carnet.SubmittedDocument{d}}
				statuses[i] = c.asSoftware(sub).provide(sub).Status
			}()
		}
		wg.Wait()
		for i, st := range statuses {
			if st != 200 {
				t.Errorf("filing %d: %d", i, st)
			}
		}
		if got := rec.visible(t, env.Token(t, "patient0")); len(got) != 3+len(statuses) {
			t.Errorf("the record holds %d documents, want %d", len(got), 3+len(statuses))
		}
	})
}
