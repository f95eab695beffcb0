package httpapi_test

import (
	"fmt"
	"testing"

	carnet "github.com/carnet-sante/carnet"
	"github.com/carnet-sante/carnet/internal/testenv"
	"github.com/carnet-sante/carnet/synth"
)

// TestAdversarialCases runs, through the same checks as the generated
// sequences, a curated sequence: after the prelude, one short case per
// write the trust issue (issue 10) and the generator found granting or
// revealing what the rules forbid, each step naming its case. A failure
// names its case; the steps of a case, after the prelude, reproduce it.
func TestAdversarialCases(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b testenv.Backend) {
		r := newAdvRun(t, b, 1)
		r.cases, r.lean = true, advRaceBuild
		r.prelude()
		for _, s := range advCases(r) {
			r.run(s)
		}
		r.sweep()
		r.report(fmt.Sprintf("go test ./httpapi -run 'TestAdversarialCases/%s' -v", b.Name))
	})
}

// advCases is the curated sequence. The prelude filed D1 (a lab report by
// Dr PERRIN, "bio", filed by his laboratory's software), D2 and D3 (the
// GP's consultation and psychiatric synthesis), D4 (the cardiologist's
// discharge letter, INVISIBLE_PATIENT, filed by the hospital's software),
// D5 (the GP's consultation, INVISIBLE_REPRESENTANTS_LEGAUX) and D6 (a
// document of the patient); the prelude alone shows what the patient side
// is told of D4.
func advCases(r *advRun) []*advStep {
	var steps []*advStep
	add := func(note string, ss ...*advStep) {
		for _, s := range ss {
			s.Note = note
			steps = append(steps, s)
		}
	}

	forged := r.plain("11502-2", "10", []string{"bio"})
	forged.Replaces = "D1"
	add("forged author replacing a lab report (issue 10, 1)",
		&advStep{Actor: "patient", Kind: advPublish, Docs: one(forged)})
	add("a nurse files the GP's CDA by ITI-106 (issue 10, 1)",
		&advStep{Actor: "nurse", Kind: advGenerate, Docs: one(r.cda("gp", synth.KindConsultation))})
	add("a professional files a document naming another author",
		&advStep{Actor: "samu", Kind: advFile, Docs: one(r.plain("11488-4", "10", []string{"cardio"}))})
	add("software files for an author of another organisation",
		&advStep{Actor: "logiciel-cabinet", Kind: advFile, Docs: one(r.plain("11488-4", "10", []string{"dentist"}))})
	add("software without organisation files",
		&advStep{Actor: "logiciel-sans-finess", Kind: advFile, Docs: one(r.cda("bio", synth.KindLabN3))})
	add("the patient files a document in a professional's class",
		&advStep{Actor: "patient", Kind: advPublish, Docs: one(r.plain("11488-4", "10", []string{"patient"}))})
	stranger := r.plain("68599-0", "10", []string{"dentist"})
	stranger.Replaces = "D3"
	add("a stranger replacing the GP's synthesis is told it is not there (control)",
		&advStep{Actor: "dentist", Kind: advFile, Docs: one(stranger)})

	wrongOrg := r.plain("11488-4", "10", []string{"cardio"})
	wrongOrg.Replaces = "D1"
	add("software replacing another organisation's document is told it is not there, whatever its status",
		&advStep{Actor: "logiciel-hôpital", Kind: advFile, Docs: one(wrongOrg)})

	add("a withdrawn professional declares again (issue 10, 3)",
		&advStep{Actor: "pharma", Kind: advConsent, Consent: &advConsentSpec{Kind: carnet.ConsentCareTeam, Permit: true, Pro: "pharma"}},
		&advStep{Actor: "patient", Kind: advRevoke, Revoke: &advConsentSpec{Kind: carnet.ConsentCareTeam, Pro: "pharma"}},
		&advStep{Actor: "pharma", Kind: advConsent, Consent: &advConsentSpec{Kind: carnet.ConsentCareTeam, Permit: true, Pro: "pharma"}})
	add("the patient's new grant lets a withdrawn professional back",
		&advStep{Actor: "patient", Kind: advConsent, Consent: &advConsentSpec{Kind: carnet.ConsentAccess, Permit: true, Pro: "pharma"}},
		&advStep{Actor: "pharma", Kind: advConsent, Consent: &advConsentSpec{Kind: carnet.ConsentCareTeam, Permit: true, Pro: "pharma"}})
	add("a blocked professional declares",
		&advStep{Actor: "patient", Kind: advConsent, Consent: &advConsentSpec{Kind: carnet.ConsentBlock, Pro: "nurse"}},
		&advStep{Actor: "nurse", Kind: advConsent, Consent: &advConsentSpec{Kind: carnet.ConsentCareTeam, Permit: true, Pro: "nurse"}},
		&advStep{Actor: "patient", Kind: advRevoke, Revoke: &advConsentSpec{Kind: carnet.ConsentBlock, Pro: "nurse"}})

	add("centre 15 by a dentist (issue 10, 4)",
		&advStep{Actor: "dentist", Kind: advEmergency, Mode: carnet.ModeCentre15})
	add("centre 15 by the regulator after the patient refused it (issue 10, 4)",
		&advStep{Actor: "patient", Kind: advConsent, Consent: &advConsentSpec{Kind: carnet.ConsentCentre15, Permit: false}},
		&advStep{Actor: "régulateur", Kind: advEmergency, Mode: carnet.ModeCentre15},
		&advStep{Actor: "patient", Kind: advConsent, Consent: &advConsentSpec{Kind: carnet.ConsentCentre15, Permit: true}})
	add("a reason with control characters (issue 10, 13)",
		&advStep{Actor: "nurse", Kind: advEmergency, Mode: carnet.ModeBreakGlass, Reason: "malaise\r\nX-Injected: 1"})

	add("the patient archives the GP's consultation (issue 10, 5)",
		&advStep{Actor: "patient", Kind: advPatch, Target: "D2", Change: advChange{Status: "archive"}})
	lab := r.cda("bio", synth.KindLabN3)
	add("a status round trip keeps the items and the words (issue 10, 5)",
		&advStep{Actor: "logiciel-labo", Kind: advFile, Docs: one(lab)},
		&advStep{Actor: "logiciel-labo", Kind: advPatch, Target: lab.Handle, Change: advChange{Status: "superseded"}, JSON: true},
		&advStep{Actor: "logiciel-labo", Kind: advPatch, Target: lab.Handle, Change: advChange{Status: "current"}})
	add("software changes a document it did not file (issue 10, 6)",
		&advStep{Actor: "logiciel-sans-finess", Kind: advPatch, Target: "D3", Change: advChange{Add: []string{carnet.LabelMasquePS}}})
	add("software's own change is answered without the document (issue 10, 6)",
		&advStep{Actor: "logiciel-labo", Kind: advPatch, Target: lab.Handle, Change: advChange{Add: []string{carnet.LabelMasquePS}}})
	replacement := r.plain("11488-4", "10", []string{"gp"})
	replacement.Replaces = "D5"
	add("the patient's mask is lost on replacement (issue 10, 7)",
		&advStep{Actor: "patient", Kind: advPatch, Target: "D5", Change: advChange{Add: []string{carnet.LabelMasquePS}}},
		&advStep{Actor: "gp", Kind: advFile, Docs: one(replacement)})
	corrected := r.cda("bio", synth.KindLabN3)
	corrected.Replaces = lab.Handle
	add("the patient's restriction is lost on replacement (issue 10, 7)",
		&advStep{Actor: "patient", Kind: advConsent, Consent: &advConsentSpec{Kind: carnet.ConsentRestrict, Doc: lab.Handle}},
		&advStep{Actor: "logiciel-labo", Kind: advFile, Docs: one(corrected)})
	add("the patient hides a document from themself (issue 10, 14)",
		&advStep{Actor: "patient", Kind: advPatch, Target: "D6", Change: advChange{Add: []string{carnet.LabelInvisiblePatient}}})
	add("a representative hides a document from the representatives",
		&advStep{Actor: "représentant", Kind: advPatch, Target: "D2", Change: advChange{Add: []string{carnet.LabelInvisibleLegalRep}}})
	add("a representative unmasks (control)",
		&advStep{Actor: "représentant", Kind: advPatch, Target: replacement.Handle, Change: advChange{Remove: []string{carnet.LabelMasquePS}}, JSON: true})
	add("a representative restricts a document hidden from them",
		&advStep{Actor: "représentant", Kind: advConsent, Consent: &advConsentSpec{Kind: carnet.ConsentRestrict, Doc: "D4"}})

	reused := r.plain("11488-4", "10", []string{"dentist"})
	reused.UniqueID, reused.Reuses = r.specs["D2"].UniqueID, "D2"
	add("a uniqueId another filer used (issue 10, 10)",
		&advStep{Actor: "dentist", Kind: advFile, Docs: one(reused)})
	published := r.plain("11488-4", "10", []string{"nurse"})
	published.UniqueID, published.Reuses = r.specs["D2"].UniqueID, "D2"
	add("a uniqueId another filer used, by ITI-105 (its derived submission set) (issue 10, 10)",
		&advStep{Actor: "nurse", Kind: advPublish, Docs: one(published)})
	again := r.plain("11488-4", "10", []string{"gp"})
	again.UniqueID, again.Reuses = r.specs["D3"].UniqueID, "D3"
	add("a uniqueId the same filer used is refused and recorded",
		&advStep{Actor: "gp", Kind: advFile, Docs: one(again)})
	add("a replayed filing grants nothing (issue 10, 15)",
		&advStep{Actor: "dentist", Kind: advReplay, ReplayOf: 1})
	add("an author's identical filing of what his software filed is his own filing",
		&advStep{Actor: "bio", Kind: advReplay, ReplayOf: 1})
	add("an identity feed by a professional (issue 10, 11)",
		&advStep{Actor: "gp", Kind: advFeed, Unknown: true},
		&advStep{Actor: "gp", Kind: advFeed})
	return steps
}
