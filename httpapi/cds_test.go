package httpapi_test

import (
	"bytes"
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	carnet "github.com/carnet-sante/carnet"
	"github.com/carnet-sante/carnet/fhir"
	"github.com/carnet-sante/carnet/httpapi"
	"github.com/carnet-sante/carnet/internal/testenv"
	"github.com/carnet-sante/carnet/synth"
)

type cdsCard struct {
	UUID      string `json:"uuid"`
	Summary   string `json:"summary"`
	Detail    string `json:"detail"`
	Indicator string `json:"indicator"`
	Source    struct {
		Label string `json:"label"`
	} `json:"source"`
	Links []struct {
		Label, URL, Type string
	} `json:"links"`
}

// clientJWT is what the clinician's software signs to call the pastille.
func clientJWT(t *testing.T, env *testenv.Env) string {
	t.Helper()
	tok, err := env.Issuer.Issue("", map[string]any{"sub": "lgc", "jti": carnet.NewID()}, env.URL+"/cds-services/"+httpapi.PastilleService, 4*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func hookBody(t *testing.T, userID, patientID, accessToken string) []byte {
	t.Helper()
	b, _ := json.Marshal(map[string]any{
		"hook": "patient-view", "hookInstance": carnet.NewID(), "fhirServer": "https://lgc.example.test/fhir",
		"fhirAuthorization": map[string]any{"access_token": accessToken, "token_type": "Bearer", "expires_in": 300, "scope": "user/*.rs", "subject": "lgc"},
		"context":           map[string]any{"userId": userID, "patientId": patientID},
	})
	return b
}

func callPastille(t *testing.T, rec *record, client string, body []byte) (response, []cdsCard) {
	t.Helper()
	r := rec.c.as(client).do("POST", "/cds-services/"+httpapi.PastilleService, "application/json", body)
	if r.Status != 200 {
		return r, nil
	}
	var out struct {
		Cards []cdsCard `json:"cards"`
	}
	if err := json.Unmarshal(r.Body, &out); err != nil {
		t.Fatalf("card: %v\n%s", err, r.Body)
	}
	return r, out.Cards
}

// labWithAbnormal returns a synthetic N3 lab report of patient 0 with at
// least one out-of-range result.
func labWithAbnormal(t *testing.T) synth.Document {
	t.Helper()
	ds := synth.Generate(synth.Options{Seed: 61, Patients: 1, DocsPerPatient: 60})
	for _, d := range ds.Documents {
		if d.Meta.Type.Code == "11502-2" && (bytes.Contains(d.Content, []byte(`interpretationCode code="H"`)) || bytes.Contains(d.Content, []byte(`interpretationCode code="L"`)) ||
			bytes.Contains(d.Content, []byte(`interpretationCode code="HH"`))) {
			return d
		}
	}
	t.Fatal("no synthetic lab report with an abnormal result")
	return synth.Document{}
}

// The pastille over CDS Hooks: the card tells the GP what is new since
// their last visit, warns of new abnormal results, and links to the ranked
// list; callers are authenticated as the spec requires.
func TestPastilleCard(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b testenv.Backend) {
		rec := newRecord(t, b)
		env, c := rec.env, rec.c
		disc := c.get("/cds-services")
		if disc.Status != 200 || !bytes.Contains(disc.Body, []byte(`"hook":"patient-view"`)) || !bytes.Contains(disc.Body, []byte(httpapi.PastilleService)) {
			t.Fatalf("discovery: %d %s", disc.Status, disc.Body)
		}
		gp := env.Token(t, "gp")
		gpID := rec.pros["gp"].ID.Value
		patientID := rec.ins.System + "|" + rec.ins.Value
		r, cards := callPastille(t, rec, clientJWT(t, env), hookBody(t, "Practitioner/"+gpID, patientID, gp))
		if r.Status != 200 || len(cards) != 1 {
			t.Fatalf("first visit: %d %s", r.Status, r.Body)
		}
		first := cards[0]
		if utf8.RuneCountInString(first.Summary) >= 140 || first.Summary == "" || first.Indicator == "" || len(first.Links) != 1 || first.Links[0].Type != "absolute" {
			t.Errorf("first card: %+v", first)
		}

		// Two documents filed since: one lab report with an abnormal result.
		lab := labWithAbnormal(t)
		base := synth.Generate(synth.Options{Seed: 62, Patients: 1, DocsPerPatient: 1}).Documents[0]
		sub := carnet.Submission{Patient: rec.ins, Set: carnet.SubmissionSet{UniqueID: "1.2.250.1.999.62.1", SourceID: "1.2.250.1.999.2", ContentType: lab.Meta.Type},
			Documents: []carnet.SubmittedDocument{{UniqueID: lab.UniqueID, Meta: lab.Meta, Content: lab.Content},
				plainDocument(base, "1.2.250.1.999.62.1.2", "11488-4", "Consultation de suivi", rec.pros["gp"])}}
		if r := c.asSoftware(sub).provide(sub); r.Status != 200 {
			t.Fatalf("filing: %d %s", r.Status, r.Body)
		}
		_, cards = callPastille(t, rec, clientJWT(t, env), hookBody(t, "Practitioner/"+gpID, patientID, gp))
		if len(cards) != 1 {
			t.Fatal("no card on the second visit")
		}
		card := cards[0]
		if !strings.Contains(card.Summary, "2 nouveaux documents depuis le") || !strings.Contains(card.Summary, "anorma") || card.Indicator != "warning" {
			t.Errorf("second visit: %q (%s), want 2 new documents and the abnormal result, warning", card.Summary, card.Indicator)
		}
		if !strings.Contains(card.Detail, "Consultation de suivi") {
			t.Errorf("the card's detail does not list the new documents:\n%s", card.Detail)
		}
		// The link keeps this visit: the ranked list still shows what was new.
		list := c.as(gp).get(strings.TrimPrefix(card.Links[0].URL, env.URL))
		if list.Status != 200 {
			t.Fatalf("ranked list: %d %s", list.Status, list.Body)
		}
		bundle := decode[fhir.Bundle](t, list)
		if len(bundle.Entry) < 2 || !bytes.Contains(list.Body, []byte(`"new"`)) || !bytes.Contains(list.Body, []byte(httpapi.RelevanceURL)) {
			t.Errorf("the ranked list: %d entries\n%s", len(bundle.Entry), list.Body)
		}
		// Nothing new on the next opening.
		_, cards = callPastille(t, rec, clientJWT(t, env), hookBody(t, "Practitioner/"+gpID, patientID, gp))
		if len(cards) != 1 || !strings.HasPrefix(cards[0].Summary, "Aucun nouveau document") || cards[0].Indicator != "info" {
			t.Errorf("third visit: %+v", cards)
		}
		// Another patient's record for a GP outside its care team: no card.
		other := synth.Options{Patients: 4}
		pats, _ := other.People()
		_, cards = callPastille(t, rec, clientJWT(t, env), hookBody(t, "Practitioner/"+gpID, pats[3].INS.System+"|"+pats[3].INS.Value, gp))
		if len(cards) != 0 {
			t.Errorf("a card for a record the GP has nothing in: %+v", cards)
		}
		// The card is recorded in the patient's access history.
		hist := auditEvents(t, c.as(env.Token(t, "patient0")).get("/AuditEvent?agent.identifier="+rec.pros["gp"].ID.System+"%7C"+gpID))
		if len(hist) < 3 {
			t.Errorf("the GP's card requests are not in the history: %d events", len(hist))
		}
	})
}

// Callers are authenticated as CDS Hooks requires, and the service
// answers the specification's own examples per the specification.
func TestPastilleRefusals(t *testing.T) {
	rec := newRecord(t, testenv.SQLite)
	env := rec.env
	gp := env.Token(t, "gp")
	gpID := rec.pros["gp"].ID.Value
	patientID := rec.ins.System + "|" + rec.ins.Value
	good := hookBody(t, "Practitioner/"+gpID, patientID, gp)
	if r, _ := callPastille(t, rec, "", good); r.Status != 401 {
		t.Errorf("no client JWT: %d", r.Status)
	}
	if r, _ := callPastille(t, rec, gp, good); r.Status != 401 {
		t.Errorf("an access token instead of the client's JWT: %d", r.Status)
	}
	jwt := clientJWT(t, env)
	if r, _ := callPastille(t, rec, jwt, good); r.Status != 200 {
		t.Errorf("a good call: %d", r.Status)
	}
	if r, _ := callPastille(t, rec, jwt, good); r.Status != 401 {
		t.Errorf("a replayed client JWT: %d", r.Status)
	}
	if r, _ := callPastille(t, rec, clientJWT(t, env), hookBody(t, "Practitioner/"+gpID, patientID, env.Token(t, "patient0"))); r.Status != 412 {
		t.Errorf("a patient's token as the clinician's: %d", r.Status)
	}
	if r, _ := callPastille(t, rec, clientJWT(t, env), hookBody(t, "Practitioner/"+rec.pros["cardio"].ID.Value, patientID, gp)); r.Status != 403 {
		t.Errorf("userId of another professional than the token's: %d", r.Status)
	}
	// userId forms: a PractitionerRole is the client's own id (accepted,
	// the card is the token's professional's); a patient or a malformed
	// id names no professional.
	for userID, want := range map[string]int{
		"PractitionerRole/role-42": 200, "Patient/" + rec.ins.Value: 403, "RelatedPerson/7": 403,
		gpID: 400, "Practitioner/": 403, "Device/lgc": 400, "PractitionerRole/": 400,
	} {
		if r, _ := callPastille(t, rec, clientJWT(t, env), hookBody(t, userID, patientID, gp)); r.Status != want {
			t.Errorf("userId %q: %d, want %d", userID, r.Status, want)
		}
	}
	// A prefetched Patient that is not context.patientId: refused, lest a
	// card show in another patient's chart.
	var mixed map[string]any
	json.Unmarshal(good, &mixed)
	mixed["context"].(map[string]any)["patientId"] = "ehr-42"
	mixed["prefetch"] = map[string]any{"patient": map[string]any{"resourceType": "Patient", "id": "ehr-7",
		"identifier": []map[string]string{{"system": rec.ins.System, "value": rec.ins.Value}}}}
	body, _ := json.Marshal(mixed)
	if r, _ := callPastille(t, rec, clientJWT(t, env), body); r.Status != 400 {
		t.Errorf("prefetch of another patient than context.patientId: %d", r.Status)
	}

	dir := testenv.Shared(t, "corpus", "cds-hooks")
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for _, tc := range []struct {
		file, path string
		status     int
	}{
		{"ex01.json", "", 412}, // patient-view with another server's opaque token: no data can be fetched
		{"ex28.json", "", 400}, // patient-view without a patient
		{"ex03.json", "", 400}, // order-sign: not this service's hook
		{"ex21.json", "/feedback", 200},
		{"ex22.json", "/feedback", 200},
		{"ex23.json", "/feedback", 200},
	} {
		r := rec.c.as(clientJWT(t, env)).do("POST", "/cds-services/"+httpapi.PastilleService+tc.path, "application/json", read(tc.file))
		if r.Status != tc.status {
			t.Errorf("%s: %d, want %d\n%s", tc.file, r.Status, tc.status, r.Body)
		}
		if r.Status >= 400 && !bytes.Contains(r.Body, []byte("OperationOutcome")) {
			t.Errorf("%s: an error without an OperationOutcome: %s", tc.file, r.Body)
		}
	}
	// Our discovery has the shape of the specification's example.
	var want, got map[string][]map[string]any
	json.Unmarshal(read("ex00.json"), &want)
	json.Unmarshal(rec.c.get("/cds-services").Body, &got)
	if len(got["services"]) != 1 {
		t.Fatalf("discovery: %v", got)
	}
	for k := range want["services"][0] {
		if _, ok := got["services"][0][k]; !ok && k != "title" {
			t.Errorf("discovery lacks %q", k)
		}
	}
}

// French full-text search over the record, within the ranking: plural and
// accents do not matter, and only the caller's visible documents are found.
func TestRelevantSearch(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b testenv.Backend) {
		rec := newRecord(t, b)
		env, c := rec.env, rec.c
		base := synth.Generate(synth.Options{Seed: 63, Patients: 1, DocsPerPatient: 1}).Documents[0]
		heart := plainDocument(base, "1.2.250.1.999.63.1.1", "11488-4", "Consultation de cardiologie", rec.pros["gp"])
		heart.Content = []byte("Patient suivi pour des insuffisances cardiaques à fraction d'éjection altérée. Pas d'œdème ce jour.")
		blood := plainDocument(base, "1.2.250.1.999.63.1.2", "11502-2", "Numération", rec.pros["gp"])
		blood.Content = []byte("Hémoglobine à 9,8 g/dL, en baisse. Ferritine basse.")
		sub := carnet.Submission{Patient: rec.ins, Set: carnet.SubmissionSet{UniqueID: "1.2.250.1.999.63.1", SourceID: "1.2.250.1.999.2", ContentType: heart.Meta.Type},
			Documents: []carnet.SubmittedDocument{heart, blood}}
		r := c.asSoftware(sub).provide(sub)
		if r.Status != 200 {
			t.Fatalf("filing: %d %s", r.Status, r.Body)
		}
		ids := documentIDs(t, r)
		top := func(tok, q string) (string, int) {
			t.Helper()
			resp := c.as(tok).get("/DocumentReference/$relevant?patient.identifier=" + url.QueryEscape(rec.ins.System+"|"+rec.ins.Value) + "&q=" + url.QueryEscape(q))
			if resp.Status != 200 {
				t.Fatalf("$relevant q=%s: %d %s", q, resp.Status, resp.Body)
			}
			bundle := decode[fhir.Bundle](t, resp)
			if len(bundle.Entry) == 0 {
				return "", 0
			}
			var dr fhir.DocumentReference
			json.Unmarshal(bundle.Entry[0].Resource, &dr)
			return dr.ID, len(bundle.Entry)
		}
		gp := env.Token(t, "gp")
		if got, _ := top(gp, "insuffisance cardiaque"); got != ids[0] {
			t.Errorf("\"insuffisance cardiaque\" ranks %s first, want the document saying \"insuffisances cardiaques\" (%s)", got, ids[0])
		}
		if got, _ := top(gp, "hemoglobine"); got != ids[1] {
			t.Errorf("\"hemoglobine\" ranks %s first, want the document saying \"Hémoglobine\" (%s)", got, ids[1])
		}
		// The patient restricts the blood count: the GP's search no longer finds it.
		postConsent(t, c.as(env.Token(t, "patient0")), consentBody(t, carnet.Consent{Kind: carnet.ConsentRestrict, Document: ids[1]}, carnet.Identifier{}))
		if got, _ := top(gp, "hemoglobine"); got == ids[1] {
			t.Errorf("a restricted document is found by the GP's search")
		}
	})
}

// A confidentiality change since the last visit is told in the card.
func TestPastilleConfidentialityChange(t *testing.T) {
	rec := newRecord(t, testenv.SQLite)
	env, c := rec.env, rec.c
	gp := env.Token(t, "gp")
	gpID, patientID := rec.pros["gp"].ID.Value, rec.ins.System+"|"+rec.ins.Value
	if _, cards := callPastille(t, rec, clientJWT(t, env), hookBody(t, "Practitioner/"+gpID, patientID, gp)); len(cards) != 1 {
		t.Fatal("no first card")
	}
	hide := `{"resourceType":"Parameters","parameter":[{"name":"operation","part":[{"name":"type","valueCode":"add"},` +
		`{"name":"path","valueString":"DocumentReference"},{"name":"name","valueString":"securityLabel"},` +
		`{"name":"value","valueCodeableConcept":{"coding":[{"system":"urn:oid:1.2.250.1.213.1.1.4.13","code":"INVISIBLE_PATIENT"}]}}]}]}`
	if r := c.as(gp).do("PATCH", "/DocumentReference/"+rec.consult, "application/fhir+json", []byte(hide)); r.Status != 200 {
		t.Fatalf("the author hides his report from the patient: %d %s", r.Status, r.Body)
	}
	_, cards := callPastille(t, rec, clientJWT(t, env), hookBody(t, "Practitioner/"+gpID, patientID, gp))
	if len(cards) != 1 || !strings.Contains(cards[0].Summary, "changement de confidentialité") {
		t.Errorf("the card after a confidentiality change: %+v", cards)
	}
}

// What a document carries that the caller must know before acting is read
// at filing (its text and items), kept blind-indexed with the record, and
// shown on its line of $relevant with its reason; a later metadata version
// keeps it.
func TestRelevantReadsConcepts(t *testing.T) {
	rec := newRecord(t, testenv.SQLite)
	env, c := rec.env, rec.c
	base := synth.Generate(synth.Options{Seed: 64, Patients: 1, DocsPerPatient: 1}).Documents[0]
	avk := plainDocument(base, "1.2.250.1.999.64.1.1", "11488-4", "Consultation", rec.pros["gp"])
	avk.Content = []byte("Fibrillation atriale. Traitement : warfarine 5 mg le soir, INR cible 2,5.")
	sprain := plainDocument(base, "1.2.250.1.999.64.1.2", "11488-4", "Consultation", rec.pros["gp"])
	sprain.Content = []byte("Entorse de la cheville droite. Pas d'anticoagulant.")
	sub := carnet.Submission{Patient: rec.ins, Set: carnet.SubmissionSet{UniqueID: "1.2.250.1.999.64.1", SourceID: "1.2.250.1.999.2", ContentType: avk.Meta.Type},
		Documents: []carnet.SubmittedDocument{avk, sprain}}
	r := c.asSoftware(sub).provide(sub)
	if r.Status != 200 {
		t.Fatalf("filing: %d %s", r.Status, r.Body)
	}
	ids := documentIDs(t, r)
	gp := env.Token(t, "gp")
	reasons := func() map[string][]string {
		t.Helper()
		resp := c.as(gp).get("/DocumentReference/$relevant?_count=200&patient.identifier=" + url.QueryEscape(rec.ins.System+"|"+rec.ins.Value))
		if resp.Status != 200 {
			t.Fatalf("$relevant: %d %s", resp.Status, resp.Body)
		}
		out := map[string][]string{}
		for _, e := range decode[fhir.Bundle](t, resp).Entry {
			var dr fhir.DocumentReference
			json.Unmarshal(e.Resource, &dr)
			for _, ext := range dr.Extension {
				for _, x := range ext.Extension {
					if x.URL == "reason" && x.ValueCoding != nil && x.ValueCoding.Code == "concept" {
						out[dr.ID] = append(out[dr.ID], x.ValueCoding.Display)
					}
				}
			}
		}
		return out
	}
	got := reasons()
	if len(got[ids[0]]) != 1 || !strings.Contains(got[ids[0]][0], "anticoagulant") {
		t.Errorf("the warfarin letter's concept reasons: %q, want one naming the anticoagulant", got[ids[0]])
	}
	if len(got[ids[1]]) != 0 {
		t.Errorf("\"Pas d'anticoagulant\" gives %q", got[ids[1]])
	}
	// A new metadata version (the author masks it from the patient) keeps
	// what the document says.
	hide := `{"resourceType":"Parameters","parameter":[{"name":"operation","part":[{"name":"type","valueCode":"add"},` +
		`{"name":"path","valueString":"DocumentReference"},{"name":"name","valueString":"securityLabel"},` +
		`{"name":"value","valueCodeableConcept":{"coding":[{"system":"urn:oid:1.2.250.1.213.1.1.4.13","code":"INVISIBLE_PATIENT"}]}}]}]}`
	if r := c.as(gp).do("PATCH", "/DocumentReference/"+ids[0], "application/fhir+json", []byte(hide)); r.Status != 200 {
		t.Fatalf("the author hides the letter from the patient: %d %s", r.Status, r.Body)
	}
	if got := reasons(); len(got[ids[0]]) != 1 {
		t.Errorf("after a metadata change, the letter's concept reasons: %q", got[ids[0]])
	}
}
