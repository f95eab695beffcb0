package httpapi_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"
	"time"

	carnet "github.com/carnet-sante/carnet"
	"github.com/carnet-sante/carnet/edge"
	"github.com/carnet-sante/carnet/fhir"
	"github.com/carnet-sante/carnet/internal/testenv"
	"github.com/carnet-sante/carnet/synth"
)

// The trust review (issue 10) tried the demo server as an attacker would
// and found write paths that granted or revealed what reads refuse. Each
// TestTrustNN is the regression test of its item NN, as reported: it fails
// on the code the review was run on. The rules are docs/ACCESS.md's
// "Writes" section; the generated suite (adversarial_test.go) checks them
// over many more writes.

// fileLab files an N3 lab report with an abnormal result into the record,
// as the software of its biologist's laboratory, and returns its id, its
// author and its content.
func fileLab(t *testing.T, rec *record, setUID string) (string, carnet.Author, synth.Document) {
	t.Helper()
	lab := labWithAbnormal(t)
	sub := carnet.Submission{Patient: rec.ins, Set: carnet.SubmissionSet{UniqueID: setUID, SourceID: "1.2.250.1.999.2", ContentType: lab.Meta.Type},
		Documents: []carnet.SubmittedDocument{{UniqueID: lab.UniqueID, Meta: lab.Meta, Content: lab.Content}}}
	r := rec.c.asSoftware(sub).provide(sub)
	if r.Status != 200 {
		t.Fatalf("filing the lab report: %d %s", r.Status, r.Body)
	}
	return documentIDs(t, r)[0], lab.Meta.Authors[0], lab
}

// documentStatus is a document's status as a reader who may read it sees it.
func documentStatus(t *testing.T, c client, id string) string {
	t.Helper()
	r := c.get("/DocumentReference/" + id)
	if r.Status != 200 {
		t.Fatalf("read %s: %d %s", id, r.Status, r.Body)
	}
	return decode[fhir.DocumentReference](t, r).Status
}

func observations(t *testing.T, c client, ins carnet.Identifier) int {
	t.Helper()
	obs, _ := c.searchItems("/Observation?" + insQuery(ins))
	return len(obs)
}

// Item 1: a patient filed a document naming a professional as author,
// replacing his real lab report; a nurse filed through $generate-metadata a
// CDA naming the GP as author. Now: a professional files what they author,
// software for its organisations' authors, the patient side patient
// documents only, and nobody replaces what they may not change.
func TestTrust01ForgedAuthorship(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b testenv.Backend) {
		rec := newRecord(t, b)
		env, c := rec.env, rec.c
		patient, gp := c.as(env.Token(t, "patient0")), c.as(env.Token(t, "gp"))
		labID, bio, lab := fileLab(t, rec, "1.2.250.1.999.71.1")
		before := observations(t, patient, rec.ins)
		if before == 0 {
			t.Fatal("the lab report's results are not served")
		}

		// The patient's forgery: the biologist as author, replacing his report.
		forged := lab.Meta
		forged.RelatesTo = []carnet.Relation{{Code: "replaces", Target: labID}}
		forged.ContentType = "text/plain"
		forged.SHA1, forged.SHA256, forged.Size = nil, nil, 0
		r := patient.do("POST", "/DocumentReference", "application/fhir+json",
			publishBody(t, rec.ins, "1.2.250.1.999.71.2.1", forged, []byte("Résultats normaux, aucun traitement nécessaire.")))
		if r.Status != 422 {
			t.Errorf("the patient files a document naming Dr %s as author, replacing his report: %d %s, want 422", bio.Family, r.Status, r.Body)
		}
		if st := documentStatus(t, gp, labID); st != "current" {
			t.Errorf("the biologist's report is %q after the forgery", st)
		}
		if after := observations(t, patient, rec.ins); after != before {
			t.Errorf("the report's results went from %d to %d", before, after)
		}

		// The patient's own document is filed as theirs; it replaces nothing
		// of a professional's.
		own := plainDocument(lab, "1.2.250.1.999.71.3.1", "11488-4", "Mes mesures de tension", carnet.Author{Family: "Patient"})
		own.Meta.Authors = nil
		own.Meta.Class = carnet.Coding{System: carnet.ClassSystem, Code: carnet.ClassPatientDocument, Display: "Document du patient"}
		sub := carnet.Submission{Patient: rec.ins, Set: carnet.SubmissionSet{UniqueID: "1.2.250.1.999.71.3", SourceID: "1.2.250.1.999.3", ContentType: own.Meta.Type},
			Documents: []carnet.SubmittedDocument{own}}
		r = patient.provide(sub)
		if r.Status != 200 {
			t.Fatalf("the patient files their own document: %d %s", r.Status, r.Body)
		}
		ownID := documentIDs(t, r)[0]
		own.UniqueID = "1.2.250.1.999.71.4.1"
		own.Meta.RelatesTo = []carnet.Relation{{Code: "replaces", Target: labID}}
		sub.Set.UniqueID, sub.Documents = "1.2.250.1.999.71.4", []carnet.SubmittedDocument{own}
		if r := patient.provide(sub); r.Status < 400 || !bytes.Contains(r.Body, []byte("is not in this patient")) {
			t.Errorf("the patient's document replacing the biologist's: %d %s", r.Status, r.Body)
		}
		if st := documentStatus(t, gp, labID); st != "current" {
			t.Errorf("the biologist's report is %q after a patient document replaced it", st)
		}

		// A nurse files a CDA whose header names the GP as author.
		var byGP synth.Document
		for _, d := range synth.Generate(synth.Options{Seed: 72, Patients: 1, DocsPerPatient: 40}).Documents {
			if d.Meta.Authors[0].ID.Value == rec.pros["gp"].ID.Value && strings.HasPrefix(d.Meta.ContentType, "text/xml") {
				byGP = d
				break
			}
		}
		if byGP.UniqueID == "" {
			t.Fatal("no synthetic CDA by the demo GP")
		}
		body, _ := json.Marshal(map[string]any{"resourceType": "Parameters", "parameter": []any{map[string]any{"name": "document",
			"resource": map[string]any{"resourceType": "Binary", "contentType": "text/xml", "data": byGP.Content}}}})
		if r := c.as(env.Token(t, "nurse")).do("POST", "/DocumentReference/$generate-metadata", "application/fhir+json", body); r.Status != 422 {
			t.Errorf("a nurse files a CDA naming the GP as author: %d %s, want 422", r.Status, r.Body)
		}
		// Nor may software of another organisation file for the GP.
		gpDoc := plainDocument(lab, "1.2.250.1.999.71.5.1", "11488-4", "Consultation", rec.pros["gp"])
		sub = carnet.Submission{Patient: rec.ins, Set: carnet.SubmissionSet{UniqueID: "1.2.250.1.999.71.5", SourceID: "1.2.250.1.999.2", ContentType: gpDoc.Meta.Type},
			Documents: []carnet.SubmittedDocument{gpDoc}}
		if r := c.as(env.SoftwareToken(t, "dentist-software", rec.pros["dentist"])).provide(sub); r.Status != 422 {
			t.Errorf("the dentist's software files for the GP: %d %s, want 422", r.Status, r.Body)
		}
		want := map[string]bool{rec.consult: true, rec.psy: true, rec.minor: true, labID: true, ownID: true}
		if got := rec.visible(t, env.Token(t, "gp")); len(got) != len(want) {
			t.Errorf("the GP finds %v, want the 3 documents filed for him, the lab report and the patient's own document (nothing forged)", got)
		} else {
			for id := range want {
				if !got[id] {
					t.Errorf("the GP does not find %s", id)
				}
			}
		}
	})
}

// communication is a notification as its reader is shown it.
type communication struct {
	kind, text string
	about      []string // document ids
}

func communications(t *testing.T, c client) []communication {
	t.Helper()
	r := c.get("/Communication?_count=500")
	if r.Status != 200 {
		t.Fatalf("GET /Communication: %d %s", r.Status, r.Body)
	}
	var out []communication
	for _, e := range decode[fhir.Bundle](t, r).Entry {
		var cm fhir.Communication
		if err := json.Unmarshal(e.Resource, &cm); err != nil {
			t.Fatal(err)
		}
		n := communication{kind: cm.Category[0].Coding[0].Code}
		if len(cm.Payload) > 0 {
			n.text = cm.Payload[0].ContentString
		}
		for _, a := range cm.About {
			n.about = append(n.about, strings.TrimPrefix(a.Reference, "DocumentReference/"))
		}
		out = append(out, n)
	}
	return out
}

func mentions(ns []communication, id string) bool {
	for _, n := range ns {
		for _, a := range n.about {
			if a == id {
				return true
			}
		}
	}
	return false
}

// Item 2: a document hidden from the patient was announced to them (its id
// and author), and named in their access history when a professional read
// it; the same for a legal representative and a minor's secret.
func TestTrust02NotificationsHideWhatIsHidden(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b testenv.Backend) {
		rec := newRecord(t, b)
		env, c := rec.env, rec.c
		patient, gp := c.as(env.Token(t, "patient0")), c.as(env.Token(t, "gp"))
		representative := c.as(env.PatientToken(t, rec.ins, true))
		base := synth.Generate(synth.Options{Seed: 73, Patients: 1, DocsPerPatient: 1}).Documents[0]
		hidden := plainDocument(base, "1.2.250.1.999.73.1.1", "11488-4", "Annonce à préparer", rec.pros["gp"], carnet.LabelInvisiblePatient)
		sub := carnet.Submission{Patient: rec.ins, Set: carnet.SubmissionSet{UniqueID: "1.2.250.1.999.73.1", SourceID: "1.2.250.1.999.2", ContentType: hidden.Meta.Type},
			Documents: []carnet.SubmittedDocument{hidden}}
		r := c.asSoftware(sub).provide(sub)
		if r.Status != 200 {
			t.Fatalf("filing: %d %s", r.Status, r.Body)
		}
		hiddenID := documentIDs(t, r)[0]
		if r := gp.get("/DocumentReference/" + hiddenID); r.Status != 200 {
			t.Fatalf("the GP reads the hidden document: %d", r.Status)
		}

		notes := communications(t, patient)
		if mentions(notes, hiddenID) {
			t.Errorf("the patient is told of a document hidden from them: %+v", notes)
		}
		for _, n := range notes {
			if n.kind == string(carnet.NotifyNewDocument) && len(n.about) == 0 {
				t.Errorf("a notification about documents names none the patient may see: %+v", n)
			}
		}
		if h := patient.get("/AuditEvent?_count=500"); h.Status != 200 || bytes.Contains(h.Body, []byte(hiddenID)) {
			t.Errorf("the patient's history names the document hidden from them (status %d)", h.Status)
		}
		// The setup filed three documents, one hidden from representatives:
		// the representative is told of two.
		repNotes := communications(t, representative)
		if mentions(repNotes, rec.minor) || mentions(repNotes, hiddenID) {
			t.Errorf("a legal representative is told of what is hidden from them: %+v", repNotes)
		}
		found := false
		for _, n := range repNotes {
			if n.kind == string(carnet.NotifyNewDocument) && len(n.about) == 2 && strings.Contains(n.text, "2 nouveaux documents") {
				found = true
			}
		}
		if !found {
			t.Errorf("the representative's notification of the first filing does not count the two documents they may see: %+v", repNotes)
		}
		if h := representative.get("/AuditEvent?_count=500"); bytes.Contains(h.Body, []byte(rec.minor)) || bytes.Contains(h.Body, []byte(hiddenID)) {
			t.Errorf("a legal representative's history names a document hidden from them")
		}
		// The webhook cannot tell who reads: it names only what both may see.
		pending, err := env.Service.PendingNotifications(testenv.Context(t, time.Minute), 100)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range pending {
			for _, id := range p.Documents {
				if id == hiddenID || id == rec.minor {
					t.Errorf("a webhook payload names a document hidden from the patient side: %+v", p)
				}
			}
			if p.Kind == carnet.NotifyNewDocument && strings.Contains(p.Text, "3 nouveaux documents") {
				t.Errorf("a webhook payload counts a document hidden from representatives: %q", p.Text)
			}
		}

		// The author lifts the label: the patient is told now.
		lift := `{"resourceType":"Parameters","parameter":[{"name":"operation","part":[{"name":"type","valueCode":"delete"},` +
			`{"name":"path","valueString":"DocumentReference.securityLabel.where(coding.code='INVISIBLE_PATIENT')"}]}]}`
		r = gp.do("PATCH", "/DocumentReference/"+hiddenID, "application/fhir+json", []byte(lift))
		if r.Status != 200 {
			t.Fatalf("the GP lifts INVISIBLE_PATIENT: %d %s", r.Status, r.Body)
		}
		visible := decode[fhir.DocumentReference](t, r).ID
		if notes := communications(t, patient); !mentions(notes, visible) && !mentions(notes, hiddenID) {
			t.Errorf("the patient is not told of the document made visible to them: %+v", notes)
		}
	})
}

// Item 3: the patient withdrew a pharmacist from the care team; he
// declared himself back and read the record again, and the patient was not
// told. Now a withdrawn or blocked professional needs a new grant from the
// patient, and every declaration is told to the patient.
func TestTrust03WithdrawnProfessionalCannotReenter(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b testenv.Backend) {
		rec := newRecord(t, b)
		env, c := rec.env, rec.c
		patient, pharma := c.as(env.Token(t, "patient0")), c.as(env.Token(t, "pharma"))
		if r := declareCareTeam(t, pharma, rec.ins, rec.pros["pharma"]); r.Status != 201 {
			t.Fatalf("the pharmacist declares: %d %s", r.Status, r.Body)
		}
		told := 0
		for _, n := range communications(t, patient) {
			if n.kind == string(carnet.NotifyCareTeam) && strings.Contains(n.text, rec.pros["pharma"].Family) {
				told++
			}
		}
		if told != 1 {
			t.Errorf("the patient is told %d times of the pharmacist's declaration, want once", told)
		}
		if got := rec.visible(t, env.Token(t, "pharma")); len(got) == 0 {
			t.Fatal("the declared pharmacist sees nothing")
		}
		var consent string
		for _, e := range decode[fhir.Bundle](t, patient.get("/Consent")).Entry {
			var cs fhir.Consent
			json.Unmarshal(e.Resource, &cs)
			if cs.Provision != nil && len(cs.Provision.Actor) == 1 && cs.Provision.Actor[0].Reference.Identifier != nil &&
				cs.Provision.Actor[0].Reference.Identifier.Value == rec.pros["pharma"].ID.Value {
				consent = cs.ID
			}
		}
		if r := patient.do("DELETE", "/Consent/"+consent, "", nil); r.Status != 204 {
			t.Fatalf("the patient withdraws the pharmacist: %d", r.Status)
		}
		if r := declareCareTeam(t, pharma, rec.ins, rec.pros["pharma"]); r.Status != 403 {
			t.Errorf("the withdrawn pharmacist declares himself back: %d %s, want 403", r.Status, r.Body)
		}
		if got := rec.visible(t, env.Token(t, "pharma")); len(got) != 0 {
			t.Errorf("the withdrawn pharmacist sees %d documents", len(got))
		}
		// Blocked: refused too, told like every request of a blocked
		// professional that there is nothing.
		postConsent(t, patient, consentBody(t, carnet.Consent{Kind: carnet.ConsentBlock, Professional: rec.pros["cardio"].ID}, carnet.Identifier{}))
		if r := declareCareTeam(t, c.as(env.Token(t, "cardio")), rec.ins, rec.pros["cardio"]); r.Status != 404 {
			t.Errorf("a blocked cardiologist declares himself: %d %s, want 404", r.Status, r.Body)
		}
		if got := rec.visible(t, env.Token(t, "cardio")); len(got) != 0 {
			t.Errorf("the blocked cardiologist sees %d documents", len(got))
		}
		// The patient's new grant lets the pharmacist back.
		postConsent(t, patient, consentBody(t, carnet.Consent{Kind: carnet.ConsentAccess, Permit: true, Professional: rec.pros["pharma"].ID}, carnet.Identifier{}))
		if got := rec.visible(t, env.Token(t, "pharma")); len(got) == 0 {
			t.Error("the pharmacist the patient granted access again sees nothing")
		}
	})
}

// Item 4: a dentist in centre 15 mode, with no reason, read documents and
// their content, even after the patient refused emergency access. Centre 15
// is the SAMU regulators' (token claim centre15); the patient's refusal and
// the matrix still apply.
func TestTrust04Centre15IsTheRegulators(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b testenv.Backend) {
		rec := newRecord(t, b)
		env, c := rec.env, rec.c
		dentist, samu, patient := env.Token(t, "dentist"), env.Token(t, "samu"), c.as(env.Token(t, "patient0"))
		if got := rec.visible(t, dentist, "X-Purpose-Of-Use", "ETREAT"); len(got) != 0 {
			t.Errorf("a dentist in centre 15 mode sees %d documents", len(got))
		}
		sameAsNotFound(t, "a dentist reading in centre 15 mode",
			c.as(dentist).do("GET", "/DocumentReference/"+rec.consult, "", nil, "X-Purpose-Of-Use", "ETREAT"), rec.notFound(t, dentist))
		postConsent(t, patient, consentBody(t, carnet.Consent{Kind: carnet.ConsentBTG, Permit: false}, carnet.Identifier{}))
		if got := rec.visible(t, dentist, "X-Purpose-Of-Use", "ETREAT"); len(got) != 0 {
			t.Errorf("after the patient refused emergency access, a dentist in centre 15 mode sees %d documents", len(got))
		}
		if got := rec.visible(t, samu, "X-Purpose-Of-Use", "ETREAT"); !got[rec.consult] {
			t.Errorf("the SAMU regulator in centre 15 mode sees %v, want the consultation", got)
		}
		postConsent(t, patient, consentBody(t, carnet.Consent{Kind: carnet.ConsentCentre15, Permit: false}, carnet.Identifier{}))
		if got := rec.visible(t, samu, "X-Purpose-Of-Use", "ETREAT"); len(got) != 0 {
			t.Errorf("after the patient refused centre 15, the regulator sees %d documents", len(got))
		}
	})
}

// jsonPatch sends a JSON Patch.
func jsonPatch(c client, id, patch string) response {
	return c.do("PATCH", "/DocumentReference/"+id, "application/json-patch+json", []byte(patch))
}

// Item 5: a patient set a document's status and archived it, and a status
// round trip destroyed its extracted results and full-text terms for good.
func TestTrust05PatientChangesOnlyWhatIsTheirs(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b testenv.Backend) {
		rec := newRecord(t, b)
		env, c := rec.env, rec.c
		patient := c.as(env.Token(t, "patient0"))
		labID, bio, _ := fileLab(t, rec, "1.2.250.1.999.75.1")
		results := observations(t, patient, rec.ins)
		for name, patch := range map[string]string{
			"superseded": `[{"op":"replace","path":"/status","value":"superseded"}]`,
			"archived":   archiveJSONPatch,
		} {
			if r := jsonPatch(patient, labID, patch); r.Status != 403 {
				t.Errorf("the patient sets the status %s: %d %s, want 403", name, r.Status, r.Body)
			}
		}
		if st := documentStatus(t, patient, labID); st != "current" {
			t.Errorf("the report is %q after the patient's attempts", st)
		}
		// Its author's round trip keeps what was derived from it.
		author := c.as(env.ProfessionalToken(t, bio, ""))
		r := jsonPatch(author, labID, `[{"op":"replace","path":"/status","value":"superseded"}]`)
		if r.Status != 200 {
			t.Fatalf("the biologist marks it superseded: %d %s", r.Status, r.Body)
		}
		if n := observations(t, patient, rec.ins); n != 0 {
			t.Errorf("a superseded report's %d results are served", n)
		}
		v2 := idFromLocation(r.Header.Get("Location"))
		if v2 == "" || strings.Contains(v2, "_history") {
			v2 = decode[fhir.DocumentReference](t, r).ID
		}
		if r := jsonPatch(author, v2, `[{"op":"replace","path":"/status","value":"current"}]`); r.Status != 200 {
			t.Fatalf("the biologist makes it current again: %d %s", r.Status, r.Body)
		}
		if n := observations(t, patient, rec.ins); n != results {
			t.Errorf("after a status round trip the report has %d results, want %d", n, results)
		}
		rel := patient.get("/DocumentReference/$relevant?" + insQuery(rec.ins) + "&q=" + url.QueryEscape("résultats biologie"))
		if rel.Status != 200 || !bytes.Contains(rel.Body, []byte(`"DocumentReference"`)) {
			t.Errorf("after a status round trip the report is not found by its text: %d", rel.Status)
		}
	})
}

// Item 6: software changed a label of a document it did not file, of
// another patient, and was answered with the whole DocumentReference.
func TestTrust06SoftwareChangesOnlyItsOwn(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b testenv.Backend) {
		rec := newRecord(t, b)
		env, c := rec.env, rec.c
		other := c.as(env.SoftwareToken(t, "dentist-software", rec.pros["dentist"]))
		denied := other.do("PATCH", "/DocumentReference/"+rec.consult, "application/fhir+json", []byte(maskFHIRPath))
		absent := other.do("PATCH", "/DocumentReference/"+carnet.NewID(), "application/fhir+json", []byte(maskFHIRPath))
		if denied.Status != 404 || !bytes.Equal(denied.Body, absent.Body) {
			t.Errorf("software masking a document it neither filed nor files for: %d %s, want what an absent id gets (%d %s)", denied.Status, denied.Body, absent.Status, absent.Body)
		}
		if got := rec.visible(t, env.Token(t, "cardio")); len(got) != 0 {
			t.Fatal("the cardiologist has access before declaring")
		}
		// The GP's software may; it is told where the new version is, not what it holds.
		own := c.as(env.SoftwareToken(t, "gp-software", rec.pros["gp"]))
		r := own.do("PATCH", "/DocumentReference/"+rec.consult, "application/fhir+json", []byte(maskFHIRPath))
		if r.Status != 200 || bytes.Contains(r.Body, []byte("Compte rendu")) || bytes.Contains(r.Body, []byte(rec.pros["gp"].Family)) {
			t.Errorf("the GP's software masks his report: %d %s, want 200 without the document", r.Status, r.Body)
		}
		if oo := outcome(t, r); oo.Issue[0].Severity != "information" || r.Header.Get("Location") == "" {
			t.Errorf("the answer to software: %+v (Location %q)", oo, r.Header.Get("Location"))
		}
	})
}

// Item 7: the patient masked a document; its author filed a replacement,
// which a cardiologist of the care team then read. The patient's choices on
// a document carry over to its replacements (masking, restriction).
func TestTrust07ChoicesCarryOverToReplacements(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b testenv.Backend) {
		rec := newRecord(t, b)
		env, c := rec.env, rec.c
		patient := c.as(env.Token(t, "patient0"))
		if r := declareCareTeam(t, c.as(env.Token(t, "cardio")), rec.ins, rec.pros["cardio"]); r.Status != 201 {
			t.Fatalf("declare: %d", r.Status)
		}
		r := patient.do("PATCH", "/DocumentReference/"+rec.consult, "application/fhir+json", []byte(maskFHIRPath))
		if r.Status != 200 {
			t.Fatalf("mask: %d %s", r.Status, r.Body)
		}
		masked := decode[fhir.DocumentReference](t, r).ID
		postConsent(t, patient, consentBody(t, carnet.Consent{Kind: carnet.ConsentRestrict, Document: rec.psy}, carnet.Identifier{}))

		base := synth.Generate(synth.Options{Seed: 77, Patients: 1, DocsPerPatient: 1}).Documents[0]
		v2 := plainDocument(base, "1.2.250.1.999.77.1.1", "11488-4", "Compte rendu de consultation (corrigé)", rec.pros["gp"])
		v2.Meta.RelatesTo = []carnet.Relation{{Code: "replaces", Target: masked}}
		psy2 := plainDocument(base, "1.2.250.1.999.77.1.2", "68599-0", "Synthèse psychiatrique (corrigée)", rec.pros["gp"])
		psy2.Meta.RelatesTo = []carnet.Relation{{Code: "replaces", Target: rec.psy}}
		sub := carnet.Submission{Patient: rec.ins, Set: carnet.SubmissionSet{UniqueID: "1.2.250.1.999.77.1", SourceID: "1.2.250.1.999.2", ContentType: v2.Meta.Type},
			Documents: []carnet.SubmittedDocument{v2}}
		r = c.asSoftware(sub).provide(sub)
		if r.Status != 200 {
			t.Fatalf("the GP's software files the replacement: %d %s", r.Status, r.Body)
		}
		newID := documentIDs(t, r)[0]
		sameAsNotFound(t, "the cardiologist reading the replacement of a masked document",
			c.as(env.Token(t, "cardio")).get("/DocumentReference/"+newID), rec.notFound(t, env.Token(t, "cardio")))
		// The GP can no longer replace the psychiatric synthesis he cannot see
		// (restricted); before the restriction, a replacement carries it.
		sub = carnet.Submission{Patient: rec.ins, Set: carnet.SubmissionSet{UniqueID: "1.2.250.1.999.77.2", SourceID: "1.2.250.1.999.2", ContentType: psy2.Meta.Type},
			Documents: []carnet.SubmittedDocument{psy2}}
		if r := c.as(env.Token(t, "gp")).provide(sub); r.Status < 400 {
			t.Errorf("the GP replaces a document restricted from him: %d", r.Status)
		}
	})
}

// Item 9 (the SQL side): clinical codes stood in clear in item_tokens (the
// analytes with abnormal flags, drugs, vaccines). Every item token is now a
// blind token of its record.
func TestTrust09NoClinicalCodeInClear(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b testenv.Backend) {
		rec := newRecord(t, b)
		_, _, lab := fileLab(t, rec, "1.2.250.1.999.79.1")
		var clear []string
		for _, res := range lab.Results {
			clear = append(clear, res.LOINC)
		}
		if len(clear) == 0 {
			t.Fatal("the lab report has no result")
		}
		rows, err := rec.env.DB.Query("SELECT kind, value FROM item_tokens")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		n := 0
		for rows.Next() {
			var kind string
			var value []byte
			if err := rows.Scan(&kind, &value); err != nil {
				t.Fatal(err)
			}
			n++
			v := string(value)
			for _, code := range clear {
				if strings.Contains(v, code) {
					t.Errorf("item token %s = %q carries the code %s in clear", kind, v, code)
				}
			}
			if v == "true" || v == "H" || v == "L" || v == "HH" || v == "LL" || strings.Contains(v, "laboratory") {
				t.Errorf("item token %s = %q is a clinical flag in clear", kind, v)
			}
		}
		if n == 0 {
			t.Fatal("no item token stored: nothing checked")
		}
	})
}

// Item 8: the log's proofs needed no token, and cost what the log's size
// did. They need a token now, each client has a budget (edge.Limiter, a
// proof costing four requests), and a proof reads O(log n) stored nodes
// (auditlog.TestProofsReadLogarithmically).
func TestTrust08LogProofsNeedATokenAndABudget(t *testing.T) {
	rec := newRecord(t, testenv.SQLite)
	c := rec.c
	for _, path := range []string{"/log/proof/inclusion?index=0&size=1", "/log/proof/consistency?from=1&to=1"} {
		if r := c.as("").do("GET", rec.env.URL+path, "", nil, "Authorization", ""); r.Status != 401 {
			t.Errorf("%s without a token: %d, want 401", path, r.Status)
		}
	}
	// Checkpoints stay public, for monitors.
	cp, err := http.Get(rec.env.URL + "/log/checkpoint")
	if err != nil {
		t.Fatal(err)
	}
	cp.Body.Close()
	if cp.StatusCode != 200 {
		t.Errorf("/log/checkpoint: %d", cp.StatusCode)
	}
	// Each client has a budget, and a proof costs more than a read: the
	// server's own limiter (edge), as `carnet serve` wraps the API.
	lim := edge.NewLimiter(edge.Limits{Rate: 5, Burst: 20, Cost: edge.ProofCost})
	front := httptest.NewServer(lim.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		proxy := httputil.NewSingleHostReverseProxy(mustURL(t, rec.env.URL))
		proxy.ServeHTTP(w, r)
	})))
	defer front.Close()
	patient := newClient(t, rec.env)
	patient.base = front.URL
	patient = patient.as(rec.env.Token(t, "patient0"))
	served, limited := 0, false
	for range 20 {
		r := patient.get("/log/proof/inclusion?index=0&size=1")
		if r.Status == 429 {
			limited = true
			if r.Header.Get("Retry-After") == "" {
				t.Fatal("429 without Retry-After")
			}
			break
		}
		if r.Status != 200 {
			t.Fatalf("proof: %d %s", r.Status, r.Body)
		}
		served++
	}
	if !limited || served != 5 {
		t.Errorf("%d proofs served before the budget of 20 (4 a proof) ran out, limited %v; want 5, then 429", served, limited)
	}
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// Item 10: filing with a uniqueId already in the record told a
// professional with no relationship that the document existed, and nothing
// was audited. A uniqueId is now unique per filer: the answer never depends
// on another filer's documents; a filer's own duplicate is refused and
// recorded in the patient's history.
func TestTrust10DuplicateUniqueIDSaysNothing(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b testenv.Backend) {
		rec := newRecord(t, b)
		env, c := rec.env, rec.c
		dentist := c.as(env.Token(t, "dentist"))
		base := synth.Generate(synth.Options{Seed: 80, Patients: 1, DocsPerPatient: 1}).Documents[0]
		file := func(uid, title string) response {
			d := plainDocument(base, uid, "11488-4", title, rec.pros["dentist"])
			sub := carnet.Submission{Patient: rec.ins, Set: carnet.SubmissionSet{UniqueID: uid + ".set", SourceID: "1.2.250.1.999.4", ContentType: d.Meta.Type},
				Documents: []carnet.SubmittedDocument{d}}
			return dentist.provide(sub)
		}
		// The uniqueId of a document the dentist may not see, and a fresh one:
		// the same answer.
		taken := file("1.2.250.1.999.41.1.2", "Soins dentaires")
		fresh := file("1.2.250.1.999.80.9.9", "Soins dentaires")
		if taken.Status != 200 || fresh.Status != 200 {
			t.Fatalf("the dentist files with another filer's uniqueId: %d; with a fresh one: %d", taken.Status, fresh.Status)
		}
		// His own uniqueId again, for another document: refused, recorded.
		dup := file("1.2.250.1.999.80.9.9", "Autre chose")
		if dup.Status != 422 || !bytes.Contains(dup.Body, []byte("duplicate")) {
			t.Errorf("the dentist reuses his own uniqueId: %d %s", dup.Status, dup.Body)
		}
		history := c.as(env.Token(t, "patient0")).get("/AuditEvent?_count=500")
		if !bytes.Contains(history.Body, []byte(`"outcome":"4"`)) || !bytes.Contains(history.Body, []byte(rec.pros["dentist"].ID.Value)) {
			t.Errorf("the refused duplicate is not in the patient's history")
		}
	})
}

// Item 11: a professional's PUT /Patient created a record for an unknown
// INS (201) and said 404 for a known one; a denied read and an absent one
// took different paths. Only identity-feed software feeds identities, and
// an absent id is audited like a denied one.
func TestTrust11NoExistenceOracle(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b testenv.Backend) {
		rec := newRecord(t, b)
		env, c := rec.env, rec.c
		gp := c.as(env.Token(t, "gp"))
		put := func(ins carnet.Identifier) response {
			body := `{"resourceType":"Patient","identifier":[{"system":"` + ins.System + `","value":"` + ins.Value + `"}],"name":[{"family":"DURAND"}]}`
			return gp.do("PUT", "/Patient?identifier="+url.QueryEscape(ins.System+"|"+ins.Value), "application/fhir+json", []byte(body))
		}
		pats, _ := synth.Options{Patients: 8}.People()
		known, unknown := put(rec.ins), put(pats[7].INS)
		if known.Status != 403 || unknown.Status != 403 || !bytes.Equal(known.Body, unknown.Body) {
			t.Errorf("a professional feeds an identity: known INS %d %s, unknown %d %s; want the same 403", known.Status, known.Body, unknown.Status, unknown.Body)
		}
		if got := c.as(env.PatientToken(t, pats[7].INS, false)).get("/DocumentReference?" + insQuery(pats[7].INS)); bytes.Contains(got.Body, []byte(`"total":1`)) {
			t.Error("the professional created a record")
		}
		size := func() uint64 {
			n, err := env.Store.AuditSize(testenv.Context(t, time.Minute))
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
		dentist := c.as(env.Token(t, "dentist"))
		before := size()
		dentist.get("/DocumentReference/" + rec.consult) // denied
		mid := size()
		dentist.get("/DocumentReference/" + carnet.NewID()) // absent
		if after := size(); mid-before != 1 || after-mid != 1 {
			t.Errorf("a denied read added %d audit events, an absent one %d: want one each", mid-before, after-mid)
		}
	})
}

// Item 13: X-Access-Reason took line breaks, NUL and any length, stored as
// is in notifications and the history.
func TestTrust13AccessReasonValidated(t *testing.T) {
	rec := newRecord(t, testenv.SQLite)
	samu := rec.c.as(rec.env.Token(t, "samu"))
	for _, reason := range []string{"coma%0D%0AFaux%20motif", "coma%00", "coma%E2%80%A8ligne", strings.Repeat("a", 501)} {
		if r := samu.do("GET", rec.search(), "", nil, "X-Purpose-Of-Use", "BTG", "X-Access-Reason", reason); r.Status != 400 {
			t.Errorf("reason %.40q: %d, want 400", reason, r.Status)
		}
	}
	r := samu.do("GET", rec.search(), "", nil, "X-Purpose-Of-Use", "BTG", "X-Access-Reason", url.PathEscape("patient inconscient <b>urgent</b>"))
	if r.Status != 200 {
		t.Fatalf("a printable reason: %d %s", r.Status, r.Body)
	}
	for _, n := range communications(t, rec.c.as(rec.env.Token(t, "patient0"))) {
		if n.kind == string(carnet.NotifyEmergency) && !strings.Contains(n.text, "Motif déclaré : patient inconscient <b>urgent</b>.") {
			t.Errorf("the reason is not told as written (text, escaped where shown): %q", n.text)
		}
	}
}

// Item 14: a patient who added INVISIBLE_PATIENT to her own document lost
// it for good. Only professionals set that label.
func TestTrust14PatientCannotHideFromThemself(t *testing.T) {
	rec := newRecord(t, testenv.SQLite)
	patient := rec.c.as(rec.env.Token(t, "patient0"))
	hide := `[{"op":"add","path":"/securityLabel/-","value":{"coding":[{"system":"urn:oid:1.2.250.1.213.1.1.4.13","code":"INVISIBLE_PATIENT"}]}}]`
	if r := jsonPatch(patient, rec.consult, hide); r.Status != 403 {
		t.Errorf("the patient hides a document from themself: %d %s, want 403", r.Status, r.Body)
	}
	if r := patient.get("/DocumentReference/" + rec.consult); r.Status != 200 {
		t.Errorf("the patient no longer reads their document: %d", r.Status)
	}
}

// Item 15: a dentist with no access re-posted a filing the software had
// made, got 200 and joined the care team.
func TestTrust15ReplayGrantsNothing(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b testenv.Backend) {
		rec := newRecord(t, b)
		env, c := rec.env, rec.c
		base := synth.Generate(synth.Options{Seed: 85, Patients: 1, DocsPerPatient: 1}).Documents[0]
		d := plainDocument(base, "1.2.250.1.999.85.1.1", "11488-4", "Consultation", rec.pros["gp"])
		sub := carnet.Submission{Patient: rec.ins, Set: carnet.SubmissionSet{UniqueID: "1.2.250.1.999.85.1", SourceID: "1.2.250.1.999.2", ContentType: d.Meta.Type},
			Documents: []carnet.SubmittedDocument{d}}
		software := c.asSoftware(sub)
		if r := software.provide(sub); r.Status != 200 {
			t.Fatalf("filing: %d", r.Status)
		}
		patient := c.as(env.Token(t, "patient0"))
		notes := len(communications(t, patient))
		if r := c.as(env.Token(t, "dentist")).provide(sub); r.Status != 422 {
			t.Errorf("the dentist re-posts the software's filing: %d %s, want 422", r.Status, r.Body)
		}
		if got := rec.visible(t, env.Token(t, "dentist")); len(got) != 0 {
			t.Errorf("the dentist who replayed a filing sees %d documents", len(got))
		}
		// The software's own retry is answered as the first time, and
		// changes nothing.
		if r := software.provide(sub); r.Status != 200 || !bytes.Contains(r.Body, []byte("200 OK")) {
			t.Errorf("the software's identical retry: %d %s", r.Status, r.Body)
		}
		if now := len(communications(t, patient)); now != notes {
			t.Errorf("a replay told the patient %d new things", now-notes)
		}
	})
}

// Item 16: ITI-105 answered a Location (…/_history/1) that was not routed.
func TestTrust16LocationResolves(t *testing.T) {
	rec := newRecord(t, testenv.SQLite)
	gpAuthor := rec.pros["gp"]
	base := synth.Generate(synth.Options{Seed: 86, Patients: 1, DocsPerPatient: 1}).Documents[0]
	d := plainDocument(base, "1.2.250.1.999.86.1.1", "11488-4", "Consultation", gpAuthor)
	d.Meta.SHA1 = nil
	gp := rec.c.as(rec.env.Token(t, "gp"))
	r := gp.do("POST", "/DocumentReference", "application/fhir+json", publishBody(t, rec.ins, d.UniqueID, d.Meta, d.Content))
	if r.Status != 201 {
		t.Fatalf("ITI-105: %d %s", r.Status, r.Body)
	}
	loc := r.Header.Get("Location")
	got := gp.get(loc)
	if got.Status != 200 || decode[fhir.DocumentReference](t, got).ID != decode[fhir.DocumentReference](t, r).ID {
		t.Errorf("GET %s: %d %s", loc, got.Status, got.Body)
	}
	if r := gp.get(strings.TrimSuffix(loc, "/1") + "/2"); r.Status != 404 {
		t.Errorf("a version that does not exist: %d, want 404", r.Status)
	}
}
