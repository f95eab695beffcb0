package httpapi_test

import (
	"encoding/json"
	"strings"
	"testing"

	carnet "github.com/carnet-sante/carnet"
	"github.com/carnet-sante/carnet/fhir"
	"github.com/carnet-sante/carnet/internal/testenv"
	"github.com/carnet-sante/carnet/synth"
)

// The second hostile review (after issue 10) tried the demo server again as
// an attacker would. Each TestReview2… reproduces one of its findings as
// reported: it fails on the code the review was run on (main at 9786dd2).

// review2Base is a synthetic document the review's documents are built on.
func review2Base() synth.Document {
	return synth.Generate(synth.Options{Seed: 91, Patients: 1, DocsPerPatient: 1}).Documents[0]
}

// review2Doc is plainDocument for ITI-105, whose hash is computed.
func review2Doc(uid, title string, a carnet.Author, labels ...string) carnet.SubmittedDocument {
	d := plainDocument(review2Base(), uid, "11488-4", title, a, labels...)
	d.Meta.SHA1 = nil
	return d
}

// Finding 1 (high): a professional who files a document hidden from the
// patient side joins the care team, and the care-team notification —
// "X a rejoint votre équipe de soins en déposant un document", at the
// filing's time — is shown to the patient (INVISIBLE_PATIENT: a diagnosis
// not yet announced) and to a legal representative
// (INVISIBLE_REPRESENTANTS_LEGAUX: the minor's secret). ACCESS.md: a
// notification names only what its reader may see; nobody on the patient
// side is told of a document invisible to them, a representative never of
// one hidden from representatives.
func TestReview2CareTeamNoticeRevealsHiddenFiling(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b testenv.Backend) {
		rec := newRecord(t, b)
		env, c := rec.env, rec.c
		patient := c.as(env.Token(t, "patient0"))
		representative := c.as(env.PatientToken(t, rec.ins, true))

		// The minor's secret: a nurse (no relationship yet) files a
		// consultation hidden from the legal representatives.
		nurse := rec.pros["nurse"]
		secret := review2Doc("1.2.250.1.999.91.1.1", "Consultation contraception", nurse, carnet.LabelInvisibleLegalRep)
		r := c.as(env.Token(t, "nurse")).do("POST", "/DocumentReference", "application/fhir+json",
			publishBody(t, rec.ins, secret.UniqueID, secret.Meta, secret.Content))
		if r.Status != 201 {
			t.Fatalf("the nurse files her own document: %d %s", r.Status, r.Body)
		}
		for _, n := range communications(t, representative) {
			if strings.Contains(n.text, nurse.Family) {
				t.Errorf("the legal representative is told of the nurse's filing hidden from representatives: %s %q", n.kind, n.text)
			}
		}

		// A diagnosis not yet announced: a dentist (no relationship yet)
		// files a document invisible to the patient.
		dentist := rec.pros["dentist"]
		pending := review2Doc("1.2.250.1.999.91.2.1", "Compte rendu à annoncer", dentist, carnet.LabelInvisiblePatient)
		r = c.as(env.Token(t, "dentist")).do("POST", "/DocumentReference", "application/fhir+json",
			publishBody(t, rec.ins, pending.UniqueID, pending.Meta, pending.Content))
		if r.Status != 201 {
			t.Fatalf("the dentist files his own document: %d %s", r.Status, r.Body)
		}
		for _, reader := range []struct {
			who string
			c   client
		}{{"patient", patient}, {"legal representative", representative}} {
			for _, n := range communications(t, reader.c) {
				if strings.Contains(n.text, dentist.Family) {
					t.Errorf("the %s is told of the dentist's filing invisible to the patient: %s %q", reader.who, n.kind, n.text)
				}
			}
		}
	})
}

// Finding 2 (high): a professional files a document that names them by
// their RPPS, but with another professional's name and profession (the
// dentist as "Dr Hélène LEFEVRE, médecin généraliste"): 201. The patient is
// told "Un nouveau document a été ajouté … par Dr Hélène LEFEVRE" and every
// reader sees the GP as its author; the token's own name and profession
// are not compared. Expected: the filer's author entry is the token's
// identity (refused, or written from the token), so that no reader is shown
// another professional as author.
func TestReview2AuthorNameIsTheFilers(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b testenv.Backend) {
		rec := newRecord(t, b)
		env, c := rec.env, rec.c
		gp, dentist := rec.pros["gp"], rec.pros["dentist"]
		disguised := dentist
		disguised.Family, disguised.Given = gp.Family, gp.Given
		disguised.Profession, disguised.Specialty = gp.Profession, gp.Specialty
		d := review2Doc("1.2.250.1.999.91.3.1", "Compte rendu de consultation", disguised)
		r := c.as(env.Token(t, "dentist")).do("POST", "/DocumentReference", "application/fhir+json",
			publishBody(t, rec.ins, d.UniqueID, d.Meta, d.Content))
		if r.Status >= 400 {
			return // refused: nobody is misled
		}
		if r.Status != 201 {
			t.Fatalf("filing: %d %s", r.Status, r.Body)
		}
		id := idFromLocation(r.Header.Get("Location"))
		for _, n := range communications(t, c.as(env.Token(t, "patient0"))) {
			if n.kind == string(carnet.NotifyNewDocument) && strings.Contains(n.text, gp.Family) && mentions([]communication{n}, id) {
				t.Errorf("the patient is told Dr %s filed the dentist's document: %q", gp.Family, n.text)
			}
		}
		read := c.as(env.Token(t, "gp")).get("/DocumentReference/" + id)
		if read.Status != 200 {
			t.Fatalf("the GP (care team) reads the document: %d", read.Status)
		}
		dr := decode[fhir.DocumentReference](t, read)
		for _, raw := range dr.Contained {
			var p struct {
				ResourceType string `json:"resourceType"`
				Name         []struct {
					Family string `json:"family"`
				} `json:"name"`
			}
			if json.Unmarshal(raw, &p) == nil && p.ResourceType == "Practitioner" && len(p.Name) > 0 && p.Name[0].Family == gp.Family {
				t.Errorf("the dentist's document (RPPS %s) is shown to the GP as written by herself, %s %s", dentist.ID.Value, strings.Join(gp.Given, " "), gp.Family)
			}
		}
	})
}

// Finding 5 (low): issue 10 item 14 closed the PATCH, not the filing: the
// patient files their own document labelled INVISIBLE_PATIENT (201) and
// then can neither read it nor lift the label, while professionals read
// it. Only professionals set that label (ACCESS.md).
func TestReview2PatientCannotFileHiddenFromThemself(t *testing.T) {
	rec := newRecord(t, testenv.SQLite)
	env, c := rec.env, rec.c
	patient := c.as(env.Token(t, "patient0"))
	own := review2Doc("1.2.250.1.999.91.4.1", "Mes mesures", carnet.Author{}, carnet.LabelInvisiblePatient)
	own.Meta.Authors = nil
	own.Meta.Class = carnet.Coding{System: carnet.ClassSystem, Code: carnet.ClassPatientDocument, Display: "Document du patient"}
	r := patient.do("POST", "/DocumentReference", "application/fhir+json", publishBody(t, rec.ins, own.UniqueID, own.Meta, own.Content))
	if r.Status >= 400 {
		return
	}
	id := idFromLocation(r.Header.Get("Location"))
	if got := patient.get("/DocumentReference/" + id); got.Status != 200 {
		t.Errorf("the patient filed a document hidden from themself (%d) and cannot read it (%d)", r.Status, got.Status)
	}
}

// Finding 6 (low): a patient document (class 90, "no professional
// author") may name a Practitioner with a profession (médecin) and a
// doctor's name, as long as it carries no RPPS: 201, and the patient's
// own notification and every reader show "Dr Hélène LEFEVRE" as author.
func TestReview2PatientDocumentNamesNoProfessional(t *testing.T) {
	rec := newRecord(t, testenv.SQLite)
	env, c := rec.env, rec.c
	gp := rec.pros["gp"]
	pretend := gp
	pretend.ID = carnet.Identifier{}
	pretend.OrgID, pretend.Org = carnet.Identifier{}, ""
	own := review2Doc("1.2.250.1.999.91.5.1", "Compte rendu", pretend)
	own.Meta.Class = carnet.Coding{System: carnet.ClassSystem, Code: carnet.ClassPatientDocument, Display: "Document du patient"}
	r := c.as(env.Token(t, "patient0")).do("POST", "/DocumentReference", "application/fhir+json", publishBody(t, rec.ins, own.UniqueID, own.Meta, own.Content))
	if r.Status < 400 {
		t.Errorf("a patient document authored by a médecin named %s %s (no RPPS): %d, want 422", strings.Join(gp.Given, " "), gp.Family, r.Status)
	}
}

// Finding 7 (low): relatesTo appends, transforms and signs are not looked
// at: a nurse files documents "appending" a document of another patient's
// record, or an id that exists nowhere (201). Replaces is checked (422
// "not in this patient's record"); the other relations should be too, so
// that no document of a record points into another one.
func TestReview2RelationsStayInTheRecord(t *testing.T) {
	rec := newRecord(t, testenv.SQLite)
	env, c := rec.env, rec.c
	// A document of another patient's record.
	other := synth.Generate(synth.Options{Seed: 92, Patients: 2, DocsPerPatient: 1})
	od := other.Documents[1]
	sub := carnet.Submission{Patient: other.Patients[1].INS, Set: carnet.SubmissionSet{UniqueID: "1.2.250.1.999.91.6", SourceID: "1.2.250.1.999.2", ContentType: od.Meta.Type},
		Documents: []carnet.SubmittedDocument{{UniqueID: od.UniqueID, Meta: od.Meta, Content: od.Content}}}
	r := c.asSoftware(sub).provide(sub)
	if r.Status != 200 {
		t.Fatalf("filing the other record: %d %s", r.Status, r.Body)
	}
	elsewhere := documentIDs(t, r)[0]
	nurse := c.as(env.Token(t, "nurse"))
	for i, target := range []string{elsewhere, carnet.NewID()} {
		for j, code := range []string{"appends", "transforms", "signs"} {
			d := review2Doc("1.2.250.1.999.91.7."+string(rune('1'+i))+string(rune('1'+j)), "Complément", rec.pros["nurse"])
			d.Meta.RelatesTo = []carnet.Relation{{Code: code, Target: target}}
			r := nurse.do("POST", "/DocumentReference", "application/fhir+json", publishBody(t, rec.ins, d.UniqueID, d.Meta, d.Content))
			if r.Status < 400 {
				t.Errorf("relatesTo %s a document not in this record (%s): %d, want 422 like replaces", code, []string{"another record's", "nonexistent"}[i], r.Status)
			}
		}
	}
}
