package pastille

import (
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	carnet "github.com/carnet-sante/carnet"
)

// TestSignals: each signal moves a document the way a clinician expects.
// Every case is "first is shown above second" for that caller; the
// documents differ only by what the case is about.
func TestSignals(t *testing.T) {
	troponin := finding("89579-7", "Troponine I ultrasensible", "640 ng/L", "HH")
	ldl := finding("13457-7", "Cholestérol LDL", "1,9 g/L", "H")
	tsh := finding("3016-3", "TSH", "0,1 mUI/L", "L")
	tshHigh := finding("3016-3", "TSH", "9 mUI/L", "H")
	creat := finding("2160-0", "Créatinine", "19 mg/L", "H")

	tests := []struct {
		name          string
		caller        Caller
		lastVisit     time.Time
		query         string
		docs          []Doc
		first, second string
		reason        string // a reason the first one must carry
	}{
		{name: "new since the last visit beats the same kind filed before",
			caller: neutral, lastVisit: lastVisit,
			docs:  []Doc{doc("old", tConsultation, 45), doc("new", tConsultation, 5)},
			first: "new", second: "old", reason: "new"},
		{name: "new beats a slightly more recent clinical act filed before the visit",
			caller: gp, lastVisit: lastVisit,
			docs: []Doc{doc("before", tDischarge, 40),
				with(doc("filed", tDischarge, 60), func(d *Doc) { d.Date = now.Add(-3 * day) })},
			first: "filed", second: "before", reason: "new"},
		{name: "recency: the more recent of two letters",
			caller: neutral, lastVisit: lastVisit,
			docs:  []Doc{doc("a", tConsultation, 400), doc("b", tConsultation, 100)},
			first: "b", second: "a", reason: "recent"},
		{name: "half-life by kind: a 6-month-old letter beats a 6-month-old lab report",
			caller: neutral, lastVisit: lastVisit,
			docs:  []Doc{doc("lab", tLab, 180), doc("letter", tConsultation, 180)},
			first: "letter", second: "lab"},
		{name: "half-life by kind: a 4-month-old letter beats a 4-month-old prescription",
			caller: neutral, lastVisit: lastVisit,
			docs:  []Doc{doc("rx", tPrescription, 120), doc("letter", tConsultation, 120)},
			first: "letter", second: "rx"},
		{name: "vaccinations do not age: a 10-year-old vaccination note beats a 4-year-old letter",
			caller: neutral, lastVisit: lastVisit,
			docs:  []Doc{doc("vacc", tVaccination, 3650), doc("letter", tConsultation, 1460)},
			first: "vacc", second: "letter"},
		{name: "cardiologist: ECG before a consultation note of the same day",
			caller: cardio, lastVisit: lastVisit,
			docs:  []Doc{doc("cs", tConsultation, 100), doc("ecg", tECG, 100)},
			first: "ecg", second: "cs", reason: "affinity"},
		{name: "cardiologist: a cardiologist's letter before a GP's",
			caller: cardio, lastVisit: lastVisit,
			docs: []Doc{
				with(doc("gp-letter", tConsultation, 100), func(d *Doc) { d.AuthorSpecialties = []string{"G15_10/SM54"} }),
				with(doc("cardio-letter", tConsultation, 100), func(d *Doc) { d.AuthorSpecialties = []string{"G15_10/SM73"} })},
			first: "cardio-letter", second: "gp-letter", reason: "affinity"},
		{name: "SM73 (médecine cardiovasculaire) is a cardiologist too",
			caller: Caller{Profession: "G15_10", Specialty: "G15_10/SM73"}, lastVisit: lastVisit,
			docs:  []Doc{doc("cs", tConsultation, 100), doc("ecg", tECG, 100)},
			first: "ecg", second: "cs", reason: "affinity"},
		{name: "pharmacist: a prescription before an imaging report",
			caller: pharmacist, lastVisit: lastVisit,
			docs:  []Doc{doc("img", tImaging, 20), doc("rx", tPrescription, 20)},
			first: "rx", second: "img", reason: "affinity"},
		{name: "pharmacist: a lab report with a high creatinine before one with a low TSH",
			caller: pharmacist, lastVisit: lastVisit,
			docs: []Doc{with(doc("tsh", tLab, 20), func(d *Doc) { d.Findings = []Finding{tsh} }),
				with(doc("creat", tLab, 20), func(d *Doc) { d.Findings = []Finding{creat} })},
			first: "creat", second: "tsh", reason: "affinity"},
		{name: "nurse: a care plan before an imaging report",
			caller: nurse, lastVisit: lastVisit,
			docs:  []Doc{doc("img", tImaging, 20), doc("plan", tCarePlan, 20)},
			first: "plan", second: "img", reason: "affinity"},
		{name: "nurse: a prescription of care before a consultation note",
			caller: nurse, lastVisit: lastVisit,
			docs:  []Doc{doc("cs", tConsultation, 20), doc("soins", tCarePresc, 20)},
			first: "soins", second: "cs", reason: "affinity"},
		{name: "nurse: home care (SAD) before the same type in ambulatory care",
			caller: nurse, lastVisit: lastVisit,
			docs: []Doc{
				with(doc("amb", tConsultation, 20), func(d *Doc) { d.Practice = carnet.Coding{Code: "AMBULATOIRE"} }),
				with(doc("sad", tConsultation, 20), func(d *Doc) { d.Practice = carnet.Coding{Code: "SAD"} })},
			first: "sad", second: "amb", reason: "affinity"},
		{name: "emergency physician: an emergency report before a consultation note",
			caller: emergency, lastVisit: lastVisit,
			docs:  []Doc{doc("cs", tConsultation, 200), doc("urg", tEmergency, 200)},
			first: "urg", second: "cs", reason: "affinity"},
		{name: "emergency physician: a recent lab report before a letter of the same day",
			caller: emergency, lastVisit: lastVisit,
			docs:  []Doc{doc("cs", tConsultation, 15), doc("lab", tLab, 15)},
			first: "lab", second: "cs", reason: "affinity"},
		{name: "GP: a discharge letter before an imaging report",
			caller: gp, lastVisit: lastVisit,
			docs:  []Doc{doc("img", tImaging, 60), doc("ldl", tDischarge, 60)},
			first: "ldl", second: "img", reason: "affinity"},
		{name: "administrative documents sink",
			caller: gp, lastVisit: lastVisit,
			docs:  []Doc{doc("admin", tAdmin, 5), doc("cs", tConsultation, 30)},
			first: "cs", second: "admin"},
		{name: "abnormal results before a normal lab report",
			caller: neutral, lastVisit: lastVisit,
			docs: []Doc{doc("normal", tLab, 30),
				with(doc("abnormal", tLab, 30), func(d *Doc) { d.Findings = []Finding{ldl} })},
			first: "abnormal", second: "normal", reason: "abnormal"},
		{name: "a critical result before an abnormal one",
			caller: neutral, lastVisit: lastVisit,
			docs: []Doc{with(doc("abnormal", tLab, 30), func(d *Doc) { d.Findings = []Finding{ldl} }),
				with(doc("critical", tLab, 30), func(d *Doc) { d.Findings = []Finding{troponin} })},
			first: "critical", second: "abnormal", reason: "critical"},
		{name: "cardiologist: a high LDL before a high TSH",
			caller: cardio, lastVisit: lastVisit,
			docs: []Doc{with(doc("tsh", tLab, 30), func(d *Doc) { d.Findings = []Finding{tshHigh} }),
				with(doc("ldl", tLab, 30), func(d *Doc) { d.Findings = []Finding{ldl} })},
			first: "ldl", second: "tsh", reason: "affinity"},
		{name: "endocrinologist: a high TSH before a high LDL",
			caller: Caller{Profession: "G15_10", Specialty: "G15_10/SM16"}, lastVisit: lastVisit,
			docs: []Doc{with(doc("ldl", tLab, 30), func(d *Doc) { d.Findings = []Finding{ldl} }),
				with(doc("tsh", tLab, 30), func(d *Doc) { d.Findings = []Finding{tshHigh} })},
			first: "tsh", second: "ldl", reason: "affinity"},
		{name: "first visit: the medical summary of the year is pinned above an older letter",
			caller: gp,
			docs:   []Doc{doc("cs", tConsultation, 60), doc("vsm", tVSM, 100)},
			first:  "vsm", second: "cs", reason: "summary"},
		{name: "first visit: yesterday's critical result before the summary of the year (pinned only when it weighs most)",
			caller: gp,
			docs: []Doc{with(doc("crit", tLab, 1), func(d *Doc) { d.Findings = []Finding{troponin} }),
				doc("vsm", tVSM, 300)},
			first: "crit", second: "vsm", reason: "critical"},
		{name: "later visit: a new critical result before the summary already seen",
			caller: gp, lastVisit: lastVisit,
			docs: []Doc{with(doc("crit", tLab, 1), func(d *Doc) { d.Findings = []Finding{troponin} }),
				doc("vsm", tVSM, 300)},
			first: "crit", second: "vsm", reason: "critical"},
		{name: "a hospital report written after the summary comes before it",
			caller: gp,
			docs:   []Doc{doc("stay", tDischarge, 20), doc("vsm", tVSM, 100)},
			first:  "stay", second: "vsm", reason: "affinity"},
		{name: "dentist: a letter naming a bisphosphonate before a more recent letter",
			caller: Caller{Profession: "G15_40"},
			docs: []Doc{with(doc("bisph", tConsultation, 200), func(d *Doc) { d.Concepts = ConceptsOf(Evidence{Text: "Acide zolédronique 5 mg IV annuel"}) }),
				doc("cs", tConsultation, 20)},
			first: "bisph", second: "cs", reason: "concept"},
		{name: "dentist: a prescription coded with an ATC anticoagulant before a more recent letter",
			caller: Caller{Profession: "G15_40"},
			docs: []Doc{with(doc("rx", tPrescription, 90), func(d *Doc) {
				d.Concepts = ConceptsOf(Evidence{Codes: []carnet.Coding{{System: "http://www.whocc.no/atc", Code: "B01AF02"}}})
			}), doc("cs", tConsultation, 20)},
			first: "rx", second: "cs", reason: "concept"},
		{name: "cardiologist: a letter of the pacemaker's implantation before a recent letter",
			caller: cardio, lastVisit: now.AddDate(0, 0, -10),
			docs: []Doc{with(doc("pm", tConsultation, 900), func(d *Doc) {
				d.Concepts = ConceptsOf(Evidence{Text: "Implantation d'un stimulateur cardiaque double chambre"})
			}),
				doc("cs", tConsultation, 20)},
			first: "pm", second: "cs", reason: "concept"},
		{name: "a new dispensation is routine: a letter of last month before it",
			caller: gp, lastVisit: now.AddDate(0, 0, -45),
			docs:  []Doc{doc("disp", loincType("60593-1", "Dispensation"), 2), doc("cs", tConsultation, 30)},
			first: "cs", second: "disp", reason: "new"},
		{name: "the latest of a series of the same analysis before the older ones",
			caller: gp,
			docs: []Doc{with(doc("inr-old", tLab, 10), func(d *Doc) {
				d.Title = "INR"
				d.Findings = []Finding{{Code: carnet.Coding{System: "http://loinc.org", Code: "6301-6"}, Interpretation: "H"}}
			}),
				with(doc("inr-new", tLab, 40), func(d *Doc) { d.Title = "INR" }),
				with(doc("inr-last", tLab, 3), func(d *Doc) { d.Title = "INR" })},
			first: "inr-last", second: "inr-old", reason: "recent"},
		{name: "a report filed late is news of an old act: a letter written since the visit before a 2019 operative report filed today",
			caller: gp, lastVisit: lastVisit,
			docs: []Doc{with(doc("late", tOperative, 2400), func(d *Doc) { d.Date = now.Add(-1 * day) }),
				doc("cs", tConsultation, 60)},
			first: "cs", second: "late", reason: "recent"},
		{name: "first visit: a founding event older than 2 years stays in the window (dentist, head-and-neck radiotherapy)",
			caller: Caller{Profession: "G15_40"},
			docs: []Doc{with(doc("rt", tProcedure, 4*365), func(d *Doc) {
				d.Concepts = ConceptsOf(Evidence{Text: "Fin de radiothérapie de l'oropharynx, 66 Gy, mandibule dans le champ d'irradiation"})
			}), doc("cs", tConsultation, 300)},
			first: "rt", second: "cs", reason: "concept"},
		{name: "first visit: genetics do not age and are not sent out of the window",
			caller: gp,
			docs:   []Doc{doc("brca", tGenetics, 5*365), doc("admin", tAdmin, 600)},
			first:  "brca", second: "admin"},
		{name: "a dispensation echoes its prescription: the prescription first for a dentist",
			caller: Caller{Profession: "G15_40"},
			docs: []Doc{with(doc("disp", tDispensation, 3), func(d *Doc) { d.Concepts = []string{"anticoagulant"} }),
				with(doc("rx", tPrescription, 80), func(d *Doc) { d.Concepts = []string{"anticoagulant"} })},
			first: "rx", second: "disp", reason: "concept"},
		{name: "an order for another profession's care echoes what it orders: any PRESC- type of JDV_J07 (nursing care, for a dentist)",
			caller: Caller{Profession: "G15_40"},
			docs: []Doc{with(doc("order", carnet.Coding{System: "urn:oid:1.2.250.1.213.1.1.4.12", Code: "PRESC-INF", Display: "Prescription de soins infirmiers"}, 3),
				func(d *Doc) { d.Concepts = []string{"anticoagulant"} }),
				with(doc("rx", tPrescription, 80), func(d *Doc) { d.Concepts = []string{"anticoagulant"} })},
			first: "rx", second: "order", reason: "concept"},
		{name: "a result whose analyses were done again since is history, normal or not",
			caller: gp,
			docs: []Doc{with(doc("renal-old", tLab, 30), func(d *Doc) { d.Title = "Bilan rénal"; d.Concepts = []string{"renal-potassium"} }),
				with(doc("panel", tLab, 10), func(d *Doc) { d.Title = "Bilan annuel"; d.Concepts = []string{"diabetes", "renal-potassium"} }),
				doc("cs", tConsultation, 200)},
			first: "cs", second: "renal-old", reason: "recent"},
		{name: "nursing follow-up sheets are a series: the latest before the older ones, even new",
			caller: nurse, lastVisit: lastVisit,
			docs: []Doc{with(doc("sheet-1", tNursing, 20), func(d *Doc) { d.Title = "Fiche de suivi" }),
				with(doc("sheet-2", tNursing, 1), func(d *Doc) { d.Title = "Fiche de suivi" }),
				doc("cs", tConsultation, 10)},
			first: "cs", second: "sheet-1", reason: "new"},
		{name: "nursing sheets of one care are a series whatever each one names: the wound of last week's sheet is history",
			caller: nurse, lastVisit: lastVisit,
			docs: []Doc{with(doc("sheet-1", tNursing, 20), func(d *Doc) { d.Title = "Fiche de suivi"; d.Concepts = []string{"wound-care"} }),
				with(doc("sheet-2", tNursing, 1), func(d *Doc) { d.Title = "Fiche de suivi"; d.Concepts = []string{"diabetes"} }),
				doc("cs", tConsultation, 10)},
			first: "cs", second: "sheet-1", reason: "new"},
		{name: "the report of the act weighs its founding event more than a letter mentioning it (physiotherapist, pacemaker)",
			caller: Caller{Profession: "G15_70"},
			docs: []Doc{with(doc("implant", tProcedure, 500), func(d *Doc) { d.Concepts = []string{"cardiac-device"} }),
				with(doc("cs", tConsultation, 500), func(d *Doc) { d.Concepts = []string{"cardiac-device"} })},
			first: "implant", second: "cs", reason: "concept"},
		{name: "GP: the latest prescription is the treatment in progress, before an older letter",
			caller: gp,
			docs: []Doc{doc("rx-old", tPrescription, 200), doc("rx", tPrescription, 80),
				doc("cs", tConsultation, 150)},
			first: "rx", second: "cs", reason: "current"},
		{name: "the treatment in progress is only the latest prescription",
			caller: gp,
			docs:   []Doc{doc("rx-old", tPrescription, 100), doc("rx", tPrescription, 80), doc("cs", tConsultation, 150)},
			first:  "cs", second: "rx-old"},
		{name: "with a query, the latest prescription gains nothing for being the latest",
			caller: gp, query: "metformine",
			docs: []Doc{with(doc("rx", tPrescription, 80), func(d *Doc) { d.TextScore = 1 }),
				with(doc("cs", tConsultation, 150), func(d *Doc) { d.TextScore = 1 })},
			first: "cs", second: "rx", reason: "text"},
		{name: "emergency physician: an ECG by its title, the reference tracing, before a more recent imaging report",
			caller: emergency,
			docs: []Doc{with(doc("ecg", loincType("70004-7", "CR d'acte diagnostique (autre)"), 200), func(d *Doc) { d.Title = "ECG de repos - référence" }),
				doc("img", tImaging, 150)},
			first: "ecg", second: "img", reason: "affinity"},
		{name: "the last three days are the situation at hand: the patient's account of tonight before last month's letter (emergency physician)",
			caller: emergency,
			docs: []Doc{with(doc("tonight", loincType("DOCPAT02", "Traitement ou document de soins déposé par le patient"), 0.2), func(d *Doc) {
				d.Type.System = "urn:oid:1.2.250.1.213.1.1.4.12"
				d.Class.Code = "90"
			}), doc("cs", tConsultation, 30)},
			first: "tonight", second: "cs", reason: "fresh"},
		{name: "emergency physician: the patient's personalised care plan (their emergency protocol) before a more recent imaging report",
			caller: emergency,
			docs:   []Doc{doc("plan", tCarePlan, 200), doc("img", tImaging, 100)},
			first:  "plan", second: "img", reason: "affinity"},
		{name: "emergency physician, first visit: a multiresistant bacterium is a founding event, its 3-year-old culture stays in the window",
			caller: emergency,
			docs: []Doc{with(doc("culture", tLab, 3*365), func(d *Doc) {
				d.Concepts = ConceptsOf(Evidence{Text: "ECBU : Escherichia coli BLSE"})
			}), doc("cs", tConsultation, 300)},
			first: "culture", second: "cs", reason: "concept"},
		{name: "pharmacist: a new dispensation is routine news (the Dossier Pharmaceutique lists it already): last month's letter before it",
			caller: pharmacist, lastVisit: now.AddDate(0, 0, -45),
			docs:  []Doc{with(doc("disp", tDispensation, 2), func(d *Doc) { d.Title = "Dispensation" }), doc("cs", tConsultation, 30)},
			first: "cs", second: "disp", reason: "new"},
		{name: "physiotherapist: the discharge letter (the surgeon's rehabilitation orders) before a more recent imaging report",
			caller: physio,
			docs:   []Doc{doc("discharge", tDischarge, 200), doc("img", tImaging, 100)},
			first:  "discharge", second: "img", reason: "affinity"},
		{name: "midwife: a hospital discharge letter before a more recent consultation letter",
			caller: midwife,
			docs:   []Doc{doc("discharge", tDischarge, 100), doc("cs", tConsultation, 60)},
			first:  "discharge", second: "cs", reason: "affinity"},
		{name: "yesterday's dispensation is not the situation at hand: an older letter before it",
			caller: gp,
			docs:   []Doc{doc("disp", tDispensation, 1), doc("cs", tConsultation, 25)},
			first:  "cs", second: "disp"},
		{name: "the latest physiotherapy order is the one in force: the older one after a letter",
			caller: physio,
			docs: []Doc{doc("kine-old", tKineOrder, 50), doc("kine", tKineOrder, 5),
				doc("cs", tConsultation, 60)},
			first: "cs", second: "kine-old"},
		{name: "a dental consultation is for the dentist: a letter seen already before the new one (GP)",
			caller: gp, lastVisit: lastVisit,
			docs:  []Doc{doc("dental", loincType("28617-9", "Bilan bucco-dentaire"), 10), doc("cs", tConsultation, 60)},
			first: "cs", second: "dental"},
		{name: "midwife: a pulmonary embolism of 2021 before a recent letter (venous thromboembolism is a founding event of a pregnancy)",
			caller: midwife,
			docs: []Doc{with(doc("pe", tDischarge, 4*365), func(d *Doc) {
				d.Concepts = ConceptsOf(Evidence{Text: "Embolie pulmonaire segmentaire, mutation du facteur V Leiden"})
			}), doc("cs", tConsultation, 60)},
			first: "pe", second: "cs", reason: "concept"},
		{name: "midwife: the antiepileptic's level before a more recent letter",
			caller: midwife,
			docs: []Doc{with(doc("ltg", tLab, 30), func(d *Doc) {
				d.Concepts = ConceptsOf(Evidence{Text: "Dosage de lamotrigine : 2,1 mg/L"})
			}), doc("cs", tConsultation, 10)},
			first: "ltg", second: "cs", reason: "concept"},
		{name: "physiotherapist: an arm's lymphoedema before a more recent letter",
			caller: physio,
			docs: []Doc{with(doc("lymph", tConsultation, 3*365), func(d *Doc) {
				d.Concepts = ConceptsOf(Evidence{Text: "Lymphœdème du membre supérieur gauche après curage axillaire"})
			}), doc("cs", tConsultation, 20)},
			first: "lymph", second: "cs", reason: "concept"},
		{name: "emergency physician: the opioid taken at home before a more recent letter",
			caller: emergency,
			docs: []Doc{with(doc("rx", tPrescription, 60), func(d *Doc) {
				d.Concepts = ConceptsOf(Evidence{Text: "Morphine LI 10 mg si douleur"})
			}), doc("cs", tConsultation, 20)},
			first: "rx", second: "cs", reason: "concept"},
		{name: "confidentiality changed since the last visit",
			caller: neutral, lastVisit: lastVisit,
			docs: []Doc{doc("same", tConsultation, 100),
				with(doc("unmasked", tConsultation, 100), func(d *Doc) { d.LabelsChanged = true })},
			first: "unmasked", second: "same", reason: "labels-changed"},
		{name: "a text match goes above a new document without one",
			caller: gp, lastVisit: lastVisit, query: "insuffisance cardiaque",
			docs: []Doc{with(doc("nomatch", tDischarge, 1), func(d *Doc) { d.Findings = []Finding{troponin} }),
				with(doc("match", tImaging, 900), func(d *Doc) { d.TextScore = 0.4 })},
			first: "match", second: "nomatch", reason: "text"},
		{name: "the better text match first",
			caller: neutral, lastVisit: lastVisit, query: "hémoglobine",
			docs: []Doc{with(doc("weak", tLab, 10), func(d *Doc) { d.TextScore = 1 }),
				with(doc("strong", tLab, 10), func(d *Doc) { d.TextScore = 9 })},
			first: "strong", second: "weak", reason: "text"},
		{name: "first visit: an affine document of 3 years goes after a plain one of the window",
			caller: cardio,
			docs:   []Doc{doc("old-ecg", tECG, 3*365), doc("admin", tAdmin, 500)},
			first:  "admin", second: "old-ecg"},
		{name: "first visit: vaccinations have no window",
			caller: gp,
			docs:   []Doc{doc("old-letter", tConsultation, 3*365), doc("vacc", tVaccination, 15*365)},
			first:  "vacc", second: "old-letter"},
		{name: "first visit: archived documents go after the current ones",
			caller: gp,
			docs: []Doc{with(doc("archived", tDischarge, 30), func(d *Doc) { d.Status = carnet.StatusArchived }),
				doc("current", tImaging, 300)},
			first: "current", second: "archived"},
		{name: "archived below current",
			caller: neutral, lastVisit: lastVisit,
			docs: []Doc{with(doc("archived", tConsultation, 30), func(d *Doc) { d.Status = carnet.StatusArchived }),
				doc("current", tConsultation, 30)},
			first: "current", second: "archived"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := Input{Caller: tt.caller, Now: now, LastVisit: tt.lastVisit, Query: tt.query, Docs: tt.docs}
			got := Rank(in)
			i, j := position(got, tt.first), position(got, tt.second)
			if i < 0 || j < 0 || i > j {
				t.Fatalf("order %v, want %s before %s\n%s", ids(got), tt.first, tt.second, explain(got))
			}
			if tt.reason != "" && !hasReason(got[i], tt.reason) {
				t.Errorf("%s has reasons %v, want one %q", tt.first, got[i].Reasons, tt.reason)
			}
			// Swapping the input order changes nothing.
			rev := slices.Clone(tt.docs)
			slices.Reverse(rev)
			in.Docs = rev
			if again := Rank(in); !slices.Equal(ids(again), ids(got)) {
				t.Errorf("input order changes the ranking: %v then %v", ids(got), ids(again))
			}
		})
	}
}

func explain(rs []Ranked) string {
	var b strings.Builder
	for _, r := range rs {
		b.WriteString("  " + r.Doc.ID + ":")
		for _, x := range r.Reasons {
			b.WriteString(" [" + x.Code + " " + strconvF(x.Gain) + "] " + x.Text)
		}
		b.WriteString("\n")
	}
	return b.String()
}

func strconvF(f float64) string { return strconv.FormatFloat(f, 'f', 2, 64) }

func TestNewFlagAndScoreAreTheReasons(t *testing.T) {
	in := randomInput(rand.New(rand.NewPCG(1, 2)), 300)
	for _, r := range Rank(in) {
		sum := 0.0
		for _, x := range r.Reasons {
			sum += x.Gain
		}
		if diff := sum - r.Score; diff > 1e-9 || diff < -1e-9 {
			t.Errorf("%s: score %v, reasons add up to %v", r.Doc.ID, r.Score, sum)
		}
		if r.New != hasReason(r, "new") {
			t.Errorf("%s: New=%v, reasons %v", r.Doc.ID, r.New, r.Reasons)
		}
		if r.New != (!in.LastVisit.IsZero() && r.Doc.Date.After(in.LastVisit)) {
			t.Errorf("%s: New=%v, filed %v, last visit %v", r.Doc.ID, r.New, r.Doc.Date, in.LastVisit)
		}
	}
}

func TestPatientAuthoredFlagged(t *testing.T) {
	p := with(doc("mine", tPatientDoc, 10), func(d *Doc) { d.Class = carnet.Coding{Code: "90", Display: "Expression personnelle du patient"} })
	got := Rank(Input{Caller: gp, Now: now, LastVisit: lastVisit, Docs: []Doc{p, doc("cs", tConsultation, 10)}})
	r := lineOf(t, got, "mine")
	i := slices.IndexFunc(r.Reasons, func(x Reason) bool { return x.Code == "patient" })
	if i < 0 || r.Reasons[i].Text != "déposé par le patient" {
		t.Fatalf("reasons %v, want patient: déposé par le patient", r.Reasons)
	}
	if hasReason(lineOf(t, got, "cs"), "patient") {
		t.Errorf("a professional's document flagged as the patient's")
	}
}

func TestOnlyTheLatestSummaryIsPinned(t *testing.T) {
	docs := []Doc{
		doc("vsm-2024", tVSM, 400), doc("vsm-2025", tVSM, 100),
		with(doc("vsm-patient", tVSM, 2), func(d *Doc) { d.Class.Code = "90" }),
		doc("lab", tLab, 40),
	}
	got := Rank(Input{Caller: gp, Now: now, Docs: docs})
	if got[0].Doc.ID != "vsm-2025" || !got[0].Pinned {
		t.Fatalf("first line %s pinned=%v, want vsm-2025 pinned\n%s", got[0].Doc.ID, got[0].Pinned, explain(got))
	}
	for _, r := range got[1:] {
		if r.Pinned {
			t.Errorf("%s pinned too", r.Doc.ID)
		}
	}
}

// A summary is pinned when it is recent and says what matters now: not
// when it is over a year old, nor at a later visit when the caller has
// seen it already, nor when a hospital report was written after it.
func TestSummaryPinnedOnlyWhenRecent(t *testing.T) {
	for _, c := range []struct {
		name      string
		lastVisit time.Time
		docs      []Doc
		pinned    bool
	}{
		{"first visit, 3 months old", time.Time{}, []Doc{doc("vsm", tVSM, 100), doc("cs", tConsultation, 10)}, true},
		{"first visit, 16 months old", time.Time{}, []Doc{doc("vsm", tVSM, 500), doc("cs", tConsultation, 10)}, false},
		{"first visit, a stay after it", time.Time{}, []Doc{doc("vsm", tVSM, 100), doc("stay", tDischarge, 20)}, false},
		{"first visit, a stay before it", time.Time{}, []Doc{doc("vsm", tVSM, 100), doc("stay", tDischarge, 200)}, true},
		{"later visit, seen already", lastVisit, []Doc{doc("vsm", tVSM, 300), doc("cs", tConsultation, 10)}, false},
		{"later visit, new", now.AddDate(0, 0, -30), []Doc{doc("vsm", tVSM, 10), doc("cs", tConsultation, 5)}, true},
	} {
		got := Rank(Input{Caller: gp, Now: now, LastVisit: c.lastVisit, Docs: c.docs})
		if p := lineOf(t, got, "vsm").Pinned; p != c.pinned {
			t.Errorf("%s: pinned %v, want %v\n%s", c.name, p, c.pinned, explain(got))
		}
	}
}

func TestFirstVisitWindow(t *testing.T) {
	docs := []Doc{
		doc("recent", tConsultation, 30), doc("ecg-3y", tECG, 3*365), doc("vsm-3y", tVSM, 3*365),
		doc("vacc-12y", tVaccination, 12*365), doc("lab-1y", tLab, 365),
	}
	got := Rank(Input{Caller: cardio, Now: now, Docs: docs})
	if len(got) != len(docs) {
		t.Fatalf("%d lines, want %d: nothing is removed", len(got), len(docs))
	}
	tail := ids(got[3:])
	slices.Sort(tail)
	if !slices.Equal(tail, []string{"ecg-3y", "vsm-3y"}) {
		t.Errorf("order %v, want the documents older than 2 years last\n%s", ids(got), explain(got))
	}
	for _, r := range got {
		if r.New {
			t.Errorf("%s is new at a first visit", r.Doc.ID)
		}
		if r.Pinned {
			t.Errorf("%s pinned: a summary outside the window is not", r.Doc.ID)
		}
	}
	if !hasReason(lineOf(t, got, "ecg-3y"), "window") {
		t.Errorf("ecg-3y: no window reason: %v", lineOf(t, got, "ecg-3y").Reasons)
	}
}

func TestQueryMatchesFirst(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	for range 50 {
		in := randomInput(rng, 80)
		in.Query = "hémoglobine"
		got := Rank(in)
		seenMiss := false
		for _, r := range got {
			match := textScore(r.Doc) > 0
			if match && seenMiss {
				t.Fatalf("a matching document %s after a non-matching one: %v", r.Doc.ID, ids(got))
			}
			seenMiss = seenMiss || !match
		}
	}
}

func TestCollapse(t *testing.T) {
	v1 := with(doc("v1", tLab, 40), func(d *Doc) { d.Status = carnet.StatusSuperseded; d.Superseded = true })
	v2 := with(doc("v2", tLab, 20), func(d *Doc) {
		d.Status = carnet.StatusSuperseded
		d.Superseded = true
		d.Replaces = []string{"v1"}
	})
	v3 := with(doc("v3", tLab, 2), func(d *Doc) { d.Replaces = []string{"v2"} })
	copyOf := func(id string, of Doc, daysAgo float64) Doc {
		return with(doc(id, of.Type, daysAgo), func(d *Doc) { d.SHA256 = of.SHA256 })
	}
	letter := doc("letter", tDischarge, 30)
	tests := []struct {
		name string
		docs []Doc
		want map[string][]string // line → collapsed, every line
	}{
		{"a superseded v1 under its replacement v2",
			[]Doc{v1, with(doc("v2", tLab, 20), func(d *Doc) { d.Replaces = []string{"v1"} })},
			map[string][]string{"v2": {"v1"}}},
		{"the replacement chain v1 → v2 → v3",
			[]Doc{v3, v1, v2},
			map[string][]string{"v3": {"v2", "v1"}}},
		{"replacement named by logical id",
			[]Doc{v1, with(doc("v2", tLab, 20), func(d *Doc) { d.Replaces = []string{"L-v1"} })},
			map[string][]string{"v2": {"v1"}}},
		{"the same content filed twice",
			[]Doc{letter, copyOf("letter-again", letter, 10)},
			map[string][]string{"letter-again": {"letter"}}},
		{"the same uniqueId filed twice",
			[]Doc{letter, with(doc("resent", tDischarge, 5), func(d *Doc) { d.UniqueID = letter.UniqueID })},
			map[string][]string{"resent": {"letter"}}},
		{"a duplicate of a replaced version folds into the head",
			[]Doc{v3, v1, v2, copyOf("v1-copy", v1, 39)},
			map[string][]string{"v3": {"v2", "v1-copy", "v1"}}},
		{"a superseded version whose replacement is not visible stays",
			[]Doc{v2, letter},
			map[string][]string{"v2": nil, "letter": nil}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Rank(Input{Caller: gp, Now: now, LastVisit: lastVisit, Docs: tt.docs})
			if len(got) != len(tt.want) {
				t.Fatalf("%d lines %v, want %d\n%s", len(got), ids(got), len(tt.want), explain(got))
			}
			for id, collapsed := range tt.want {
				r := lineOf(t, got, id)
				if !slices.Equal(r.Collapsed, collapsed) {
					t.Errorf("%s collapses %v, want %v", id, r.Collapsed, collapsed)
				}
			}
			// The baseline collapses nothing.
			if rc := ReverseChronological(Input{Caller: gp, Now: now, LastVisit: lastVisit, Docs: tt.docs}); len(rc) != len(tt.docs) {
				t.Errorf("reverse chronological: %d lines, want %d", len(rc), len(tt.docs))
			}
		})
	}
	got := Rank(Input{Caller: gp, Now: now, LastVisit: lastVisit, Docs: []Doc{v3, v1, v2}})
	if !hasReason(got[0], "replaced") {
		t.Errorf("v3: reasons %v, want replaced", got[0].Reasons)
	}
	got = Rank(Input{Caller: gp, Now: now, LastVisit: lastVisit, Docs: []Doc{v2}})
	if !hasReason(got[0], "superseded") {
		t.Errorf("lone v2: reasons %v, want superseded", got[0].Reasons)
	}
}

func TestDeletedNeverListed(t *testing.T) {
	gone := with(doc("gone", tLab, 1), func(d *Doc) { d.Status = carnet.StatusDeleted })
	in := Input{Caller: gp, Now: now, LastVisit: lastVisit, Docs: []Doc{gone, doc("cs", tConsultation, 3)}}
	for name, got := range map[string][]Ranked{"Rank": Rank(in), "ReverseChronological": ReverseChronological(in)} {
		if position(got, "gone") >= 0 {
			t.Errorf("%s lists a deleted document: %v", name, ids(got))
		}
	}
}

func TestGroupKeepsASubmissionTogether(t *testing.T) {
	// A discharge: the letter (high for a GP), a lab report and a
	// prescription of the same submission; other documents score in
	// between.
	inSet := func(d Doc) Doc { d.SubmissionSet = "S-discharge"; return d }
	docs := []Doc{
		inSet(doc("letter", tDischarge, 20)),
		inSet(doc("rx", tPrescription, 20)),
		inSet(doc("lab", tLab, 20)),
		doc("cs-recent", tConsultation, 5),
		doc("img", tImaging, 8),
		doc("cs-old", tConsultation, 300),
		doc("vsm", tVSM, 10), // written after the stay, new, weighing most: pinned
	}
	docs[6].Concepts = []string{"cancer-treatment", "anticoagulant", "allergy"}
	for _, sub := range []string{"", "S-discharge"} {
		docs[6].SubmissionSet = "S-vsm"
		if sub != "" {
			docs[6].SubmissionSet = sub // a pinned summary stays on top, alone
		}
		got := Rank(Input{Caller: gp, Now: now, LastVisit: lastVisit, Docs: docs})
		if got[0].Doc.ID != "vsm" {
			t.Fatalf("first %s, want the summary", got[0].Doc.ID)
		}
		var at []int
		for i, r := range got {
			if r.Doc.SubmissionSet == "S-discharge" && !r.Pinned {
				at = append(at, i)
				if r.Group != "S-discharge" {
					t.Errorf("%s: group %q", r.Doc.ID, r.Group)
				}
			}
		}
		// The letter and its prescription stay together; the normal lab
		// report, routine news worth less than half the letter, is not
		// pulled up with them.
		if len(at) != 3 || at[1]-at[0] != 1 || got[at[2]].Doc.ID != "lab" || at[2] == at[1]+1 {
			t.Fatalf("submission at %v in %v, want the letter and prescription adjacent, the lab at its own place\n%s", at, ids(got), explain(got))
		}
		// The group ranks at its best member: where the letter alone would be.
		alone := slices.Clone(docs)
		for i := range alone {
			if alone[i].ID != "letter" {
				alone[i].SubmissionSet = "own-" + alone[i].ID
			}
		}
		if want := position(Rank(Input{Caller: gp, Now: now, LastVisit: lastVisit, Docs: alone}), "letter"); at[0] != want {
			t.Errorf("submission starts at %d, the letter alone is at %d", at[0], want)
		}
	}
}

func TestGroupsAdjacentOverRandomRecords(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for range 100 {
		in := randomInput(rng, 1+rng.IntN(120))
		checkInvariants(t, in, Rank(in))
	}
}

// checkInvariants: every document the caller may see is on exactly one
// line or folded into one; lines of a submission in the same tier are
// adjacent; scores are numbers; pinned lines come first.
func checkInvariants(t *testing.T, in Input, got []Ranked) {
	t.Helper()
	want := map[string]int{}
	for _, d := range in.Docs {
		if d.Status != carnet.StatusDeleted {
			want[d.ID]++
		}
	}
	seen := map[string]int{}
	for _, r := range got {
		seen[r.Doc.ID]++
		for _, id := range r.Collapsed {
			seen[id]++
		}
		if r.Score != r.Score {
			t.Fatalf("%s: score NaN", r.Doc.ID)
		}
	}
	for id, n := range want {
		if seen[id] != n {
			t.Fatalf("%s listed %d times, want %d", id, seen[id], n)
		}
	}
	if len(seen) != len(want) {
		t.Fatalf("%d ids listed, want %d", len(seen), len(want))
	}
	first := in.LastVisit.IsZero()
	query := strings.TrimSpace(in.Query) != ""
	type key struct {
		group        string
		nomatch, old bool
	}
	// A submission's lines that weigh at least groupShare of its best
	// line follow it; the others keep their own place.
	type block struct {
		last int
		best float64
	}
	last := map[key]block{}
	pinnedDone := false
	for i, r := range got {
		if r.Pinned && pinnedDone {
			t.Fatalf("pinned %s at %d after unpinned lines", r.Doc.ID, i)
		}
		pinnedDone = !r.Pinned
		if r.Pinned || r.Group == "" {
			continue
		}
		k := key{r.Group, query && textScore(r.Doc) <= 0, first && outsideWindow(r)}
		b, ok := last[k]
		switch {
		case !ok:
			last[k] = block{last: i, best: r.Score}
		case r.Score < groupShare*b.best:
		case b.last != i-1:
			t.Fatalf("submission %s split: lines %d and %d in %v", r.Group, b.last, i, ids(got))
		default:
			last[k] = block{last: i, best: b.best}
		}
	}
}

func TestDeterministic(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for range 30 {
		in := randomInput(rng, 200)
		want := Rank(in)
		for range 3 {
			shuffled := slices.Clone(in.Docs)
			rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
			in2 := in
			in2.Docs = shuffled
			got := Rank(in2)
			if !slices.Equal(ids(got), ids(want)) {
				t.Fatalf("shuffled input, other order:\n%v\n%v", ids(want), ids(got))
			}
			for i := range got {
				if !slices.Equal(got[i].Collapsed, want[i].Collapsed) || got[i].Score != want[i].Score {
					t.Fatalf("%s: collapsed %v score %v, then %v %v", got[i].Doc.ID, want[i].Collapsed, want[i].Score, got[i].Collapsed, got[i].Score)
				}
			}
		}
	}
}

func TestTiesByDateThenID(t *testing.T) {
	a := doc("a", tConsultation, 10)
	b := doc("b", tConsultation, 10)
	c := with(doc("c", tConsultation, 10), func(d *Doc) { d.Date = d.Date.Add(time.Hour) })
	got := Rank(Input{Caller: neutral, Now: now, LastVisit: lastVisit, Docs: []Doc{b, a, c}})
	// Same clinical date and type: equal scores; c was filed last.
	if !slices.Equal(ids(got), []string{"c", "a", "b"}) {
		t.Errorf("order %v, want [c a b]\n%s", ids(got), explain(got))
	}
}

func TestReverseChronological(t *testing.T) {
	docs := []Doc{doc("vsm", tVSM, 300), doc("b", tLab, 3), doc("a", tLab, 3), doc("c", tECG, 1),
		with(doc("old-copy", tLab, 50), func(d *Doc) { d.SHA256 = []byte("sha-b") })}
	got := ReverseChronological(Input{Caller: cardio, Now: now, LastVisit: lastVisit, Docs: docs})
	if want := []string{"c", "a", "b", "old-copy", "vsm"}; !slices.Equal(ids(got), want) {
		t.Fatalf("order %v, want %v", ids(got), want)
	}
	for _, r := range got {
		if r.Pinned || len(r.Collapsed) > 0 {
			t.Errorf("%s pinned or collapsing in the baseline", r.Doc.ID)
		}
		if r.New != r.Doc.Date.After(lastVisit) {
			t.Errorf("%s: New=%v", r.Doc.ID, r.New)
		}
	}
}

func TestRankEmpty(t *testing.T) {
	if got := Rank(Input{Caller: gp, Now: now}); len(got) != 0 {
		t.Errorf("Rank of nothing: %v", got)
	}
	card := Summarize(Input{Caller: gp, Now: now, LastVisit: lastVisit}, nil, "")
	if card.Summary != "Aucun nouveau document depuis le 12/10" || card.Indicator != "info" {
		t.Errorf("empty card %+v", card)
	}
}

// outsideWindow: the line is in a first visit's tier of old documents (its
// reason says so, or it is not current).
func outsideWindow(r Ranked) bool {
	if r.Doc.Status != carnet.StatusCurrent || r.Doc.Superseded {
		return true
	}
	for _, x := range r.Reasons {
		if x.Code == "window" {
			return true
		}
	}
	return false
}

// New is not relevant by itself: a structured result with nothing out of
// range is routine news, whatever it measures, unless it names a lasting
// treatment the caller weighs (the panel before starting an
// anticoagulant); a PDF result, whose values are not read, is not.
func TestNormalResultIsRoutineNews(t *testing.T) {
	lab := func(id string, format string, concepts ...string) Doc {
		return with(doc(id, tLab, 10), func(d *Doc) { d.Format = carnet.Coding{Code: format}; d.Concepts = concepts })
	}
	for _, c := range []struct {
		caller Caller
		doc    Doc
		gain   float64
	}{
		{midwife, lab("normal", formatXDLab, "diabetes", "renal-potassium"), weightNewRoutine},
		{cardio, lab("before-doac", formatXDLab, "anticoagulant", "renal-potassium"), weightNew},
		{midwife, lab("pdf", "urn:ihe:iti:xds-sd:pdf:2008", "diabetes"), weightNew},
		{midwife, with(lab("abnormal", formatXDLab, "diabetes"), func(d *Doc) { d.Findings = []Finding{finding("2345-7", "Glycémie", "1,10 g/L", "H")} }), weightNew},
	} {
		got := Rank(Input{Caller: c.caller, Now: now, LastVisit: now.AddDate(0, 0, -20), Docs: []Doc{c.doc}})
		i := slices.IndexFunc(got[0].Reasons, func(r Reason) bool { return r.Code == "new" })
		if i < 0 || got[0].Reasons[i].Gain != c.gain {
			t.Errorf("%s: reasons %v, want new %v", c.doc.ID, got[0].Reasons, c.gain)
		}
	}
}

// A summary is pinned only when it weighs at least as much as every other
// line: the same summary is first beside an older letter, second after
// yesterday's critical troponin, and never pinned below a line.
func TestSummaryPinnedOnlyWhenItWeighsMost(t *testing.T) {
	vsm := doc("vsm", tVSM, 100)
	for _, c := range []struct {
		other  Doc
		pinned bool
	}{
		{doc("cs", tConsultation, 200), true},
		{with(doc("crit", tLab, 1), func(d *Doc) {
			d.Findings = []Finding{finding("89579-7", "Troponine I ultrasensible", "640 ng/L", "HH")}
		}), false},
	} {
		got := Rank(Input{Caller: gp, Now: now, Docs: []Doc{vsm, c.other}})
		if p := lineOf(t, got, "vsm").Pinned; p != c.pinned {
			t.Errorf("beside %s: pinned %v, want %v\n%s", c.other.ID, p, c.pinned, explain(got))
		}
		for i, r := range got {
			if r.Pinned && i > 0 {
				t.Errorf("%s pinned at line %d", r.Doc.ID, i+1)
			}
		}
	}
}

// A result that establishes a founding event of the caller (an
// alloimmunisation for the emergency physician) keeps the recency of a
// document that never ages; a routine result of the same age fades.
func TestFoundingResultDoesNotAge(t *testing.T) {
	rai := with(doc("rai", tLab, 400), func(d *Doc) {
		d.Concepts = ConceptsOf(Evidence{Text: "Recherche d'agglutinines irrégulières positive : allo-immunisation anti-Kell"})
	})
	crp := with(doc("crp", tLab, 400), func(d *Doc) { d.Concepts = []string{"renal-potassium"} })
	got := Rank(Input{Caller: emergency, Now: now, Docs: []Doc{rai, crp}})
	gain := func(id string) float64 {
		for _, r := range lineOf(t, got, id).Reasons {
			if r.Code == "recent" {
				return r.Gain
			}
		}
		return -1
	}
	if g := gain("rai"); g != weightRecency*agingNone.Constant {
		t.Errorf("alloimmunisation: recency %v, want %v\n%s", g, weightRecency*agingNone.Constant, explain(got))
	}
	if g := gain("crp"); g >= 0.5 {
		t.Errorf("routine result of 400 days: recency %v, want it faded\n%s", g, explain(got))
	}
}

// Echoes are routine news: an order for someone else's care or tests, and
// the medical profile the patient fills in (DOCPAT08, which restates what
// professionals wrote), filed since the last visit, gain the routine
// novelty and carry their concepts at a quarter; an order addressed to the
// caller (the physiotherapist's, the nurse's blood draw) stays news.
func TestEchoesAreRoutineNews(t *testing.T) {
	order := func(code string) Doc {
		return with(doc(code, carnet.Coding{System: "urn:oid:1.2.250.1.213.1.1.4.12", Code: code}, 5), func(d *Doc) {
			d.Concepts = []string{"cardiac-device", "cancer-treatment"}
		})
	}
	profile := with(doc("profile", carnet.Coding{System: "urn:oid:1.2.250.1.213.1.1.4.12", Code: "DOCPAT08"}, 5), func(d *Doc) {
		d.Class.Code = "90"
		d.Concepts = ConceptsOf(Evidence{Text: "Antécédents : cancer du sein 2021"})
	})
	for _, c := range []struct {
		caller  Caller
		doc     Doc
		gain    float64
		concept float64 // the concept's gain, 0 when not checked
	}{
		{cardio, order("PRESC-KINE"), weightNewRoutine, 0},
		{gp, order("PRESC-AAT"), weightNewRoutine, 0},
		{physio, order("PRESC-KINE"), weightNew, 0},
		{nurse, order("PRESC-BIO"), weightNew, 0},
		{gp, profile, weightNewRoutine, 2 * historyFactor},
	} {
		got := Rank(Input{Caller: c.caller, Now: now, LastVisit: now.AddDate(0, 0, -20), Docs: []Doc{c.doc}})
		gain := func(code string) float64 {
			for _, r := range got[0].Reasons {
				if r.Code == code {
					return r.Gain
				}
			}
			return -1
		}
		if g := gain("new"); g != c.gain {
			t.Errorf("%s for %v: new %v, want %v\n%s", c.doc.ID, c.caller, g, c.gain, explain(got))
		}
		if c.concept > 0 && math.Abs(gain("concept")-c.concept) > 1e-9 {
			t.Errorf("%s for %v: concept %v, want %v\n%s", c.doc.ID, c.caller, gain("concept"), c.concept, explain(got))
		}
	}
}

// A summary not renewed within the year restates its sources: its
// concepts count as an echo's (a quarter), so that a letter naming one of
// them comes first; a summary of the year keeps them whole.
func TestOutdatedSummaryConceptsAreEchoes(t *testing.T) {
	cs := with(doc("cs", tConsultation, 200), func(d *Doc) { d.Concepts = []string{"diabetes"} })
	for _, c := range []struct {
		age   float64
		first string
		text  string
	}{
		{500, "cs", "synthèse de plus d'un an, à savoir avant d'agir : "},
		{300, "vsm", "à savoir avant d'agir : "},
	} {
		vsm := with(doc("vsm", tVSM, c.age), func(d *Doc) { d.Concepts = []string{"anticoagulant", "allergy"} })
		got := Rank(Input{Caller: gp, Now: now, Docs: []Doc{vsm, cs}})
		if got[0].Doc.ID != c.first {
			t.Errorf("summary of %v days: %s first, want %s\n%s", c.age, got[0].Doc.ID, c.first, explain(got))
		}
		found := false
		for _, r := range lineOf(t, got, "vsm").Reasons {
			if r.Code == "concept" {
				found = strings.HasPrefix(r.Text, c.text) && (c.age > 365) == strings.HasPrefix(r.Text, "synthèse")
			}
		}
		if !found {
			t.Errorf("summary of %v days: no concept reason starting %q\n%s", c.age, c.text, explain(got))
		}
	}
}
