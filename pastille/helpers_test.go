package pastille

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	carnet "github.com/carnet-sante/carnet"
)

// now is the fixed "today" of the tests; lastVisit the caller's previous
// opening of the record, 12 October.
var (
	now       = time.Date(2025, 11, 20, 9, 30, 0, 0, time.UTC)
	lastVisit = time.Date(2025, 10, 12, 16, 0, 0, 0, time.UTC)
)

// Callers of the tests.
var (
	gp         = Caller{Profession: "G15_10", Specialty: "G15_10/SM54"}
	cardio     = Caller{Profession: "G15_10", Specialty: "G15_10/SM04"}
	nurse      = Caller{Profession: "G15_60"}
	pharmacist = Caller{Profession: "G15_21"}
	emergency  = Caller{Profession: "G15_10", Specialty: "G15_10/SM59"}
	midwife    = Caller{Profession: "G15_50"}
	physio     = Caller{Profession: "G15_70"}
	// neutral has no row of its own in the affinity table.
	neutral = Caller{Profession: "G15_26"}
)

// Document types used in the tests.
var (
	tLab          = loincType("11502-2", "CR d'examens biologiques")
	tPrescription = loincType("57833-6", "Prescription de produits de santé")
	tCarePresc    = loincType("57832-8", "Prescription de soins")
	tCarePlan     = loincType("18776-5", "Plan personnalisé de soins")
	tDischarge    = loincType("11490-0", "Lettre de liaison à la sortie d'un établissement de soins")
	tImaging      = loincType("18748-4", "CR d'imagerie médicale")
	tVaccination  = loincType("87273-9", "Note de vaccination")
	tVSM          = loincType("60591-5", "Synthèse médicale")
	tConsultation = loincType("11488-4", "CR ou fiche de consultation ou de visite")
	tEmergency    = loincType("15507-7", "CR de passage aux urgences")
	tECG          = loincType("11524-6", "ECG")
	tAdmin        = loincType("51851-4", "Document administratif")
	tOperative    = loincType("34874-8", "CR opératoire")
	tProcedure    = loincType("11505-5", "CR d'acte thérapeutique (autre)")
	tGenetics     = loincType("51969-4", "CR d'examen de génétique moléculaire")
	tDispensation = loincType("60593-1", "Dispensation médicamenteuse")
	tNursing      = loincType("11506-3", "Suivi de soins infirmiers")
	tKineOrder    = carnet.Coding{System: "urn:oid:1.2.250.1.213.1.1.4.12", Code: "PRESC-KINE", Display: "Prescription de kinésithérapie"}
	tPatientDoc   = carnet.Coding{System: "urn:oid:1.2.250.1.213.1.1.4.12", Code: "DOCPAT03", Display: "CR déposé par le patient"}
)

func loincType(code, display string) carnet.Coding {
	return carnet.Coding{System: "http://loinc.org", Code: code, Display: display}
}

// doc is a current document of type t filed daysAgo days before now.
func doc(id string, t carnet.Coding, daysAgo float64) Doc {
	date := now.Add(-time.Duration(daysAgo * float64(day)))
	return Doc{
		ID: id, LogicalID: "L-" + id, UniqueID: "1.2.250.1.999." + id,
		SubmissionSet: "S-" + id,
		Status:        carnet.StatusCurrent,
		Type:          t,
		Class:         carnet.Coding{Code: "10"},
		Title:         t.Display,
		Created:       date, Date: date,
		SHA256: []byte("sha-" + id),
	}
}

func finding(code, display, value, interp string) Finding {
	return Finding{Code: carnet.Coding{System: "http://loinc.org", Code: code}, Display: display, Value: value, Interpretation: interp}
}

// with returns d changed by f, for one-line fixtures.
func with(d Doc, f func(*Doc)) Doc { f(&d); return d }

func ids(rs []Ranked) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.Doc.ID
	}
	return out
}

func position(rs []Ranked, id string) int {
	for i, r := range rs {
		if r.Doc.ID == id {
			return i
		}
	}
	return -1
}

func lineOf(t *testing.T, rs []Ranked, id string) Ranked {
	t.Helper()
	i := position(rs, id)
	if i < 0 {
		t.Fatalf("%s not in the ranked list %v", id, ids(rs))
	}
	return rs[i]
}

func hasReason(r Ranked, code string) bool {
	return slices.ContainsFunc(r.Reasons, func(x Reason) bool { return x.Code == code })
}

var (
	randomTypes = []carnet.Coding{tLab, tPrescription, tCarePresc, tCarePlan, tDischarge, tImaging, tVaccination,
		tVSM, tConsultation, tEmergency, tECG, tAdmin, tPatientDoc, loincType("99999-9", "inconnu"), {}}
	randomCallers = []Caller{gp, cardio, nurse, pharmacist, emergency, neutral,
		{Specialty: "G15_10/SM73"}, {}, {Profession: "G15_60", Specialty: "G15_60/SI05"}}
	randomFindings = []Finding{
		finding("89579-7", "Troponine I ultrasensible", "640 ng/L", "HH"),
		finding("13457-7", "Cholestérol LDL", "1,9 g/L", "H"),
		finding("2160-0", "Créatinine", "19 mg/L", "H"),
		finding("718-7", "Hémoglobine", "7,1 g/dL", "LL"),
		finding("3016-3", "TSH", "0,1 mUI/L", "L"),
		finding("6301-6", "INR", "4,8", "A"),
	}
	randomStatuses = []carnet.DocumentStatus{carnet.StatusCurrent, carnet.StatusCurrent, carnet.StatusCurrent,
		carnet.StatusSuperseded, carnet.StatusArchived, carnet.StatusDeleted}
)

// randomInput is a record of n documents with every feature the ranking
// looks at, some ids, uniqueIds, hashes and submissions shared.
func randomInput(rng *rand.Rand, n int) Input {
	in := Input{Caller: randomCallers[rng.IntN(len(randomCallers))], Now: now}
	if rng.IntN(4) > 0 {
		in.LastVisit = now.Add(-time.Duration(rng.IntN(400)) * day)
	}
	if rng.IntN(3) == 0 {
		in.Query = "insuffisance cardiaque"
	}
	for i := range n {
		d := doc(fmt.Sprintf("d%04d", i), randomTypes[rng.IntN(len(randomTypes))], rng.Float64()*2500)
		d.Status = randomStatuses[rng.IntN(len(randomStatuses))]
		d.Superseded = d.Status == carnet.StatusSuperseded
		d.SubmissionSet = fmt.Sprintf("S%d", rng.IntN(max(1, n/3)))
		if rng.IntN(20) == 0 {
			d.UniqueID = fmt.Sprintf("dup-u%d", rng.IntN(5))
		}
		if rng.IntN(20) == 0 {
			d.SHA256 = []byte{byte(rng.IntN(5))}
		}
		if i > 0 && rng.IntN(10) == 0 {
			d.Replaces = []string{fmt.Sprintf("d%04d", rng.IntN(i))}
		}
		if rng.IntN(10) == 0 {
			d.Class.Code = classPatient
		}
		if rng.IntN(8) == 0 {
			d.LabelsChanged = true
		}
		if rng.IntN(4) == 0 {
			for range 1 + rng.IntN(4) {
				d.Findings = append(d.Findings, randomFindings[rng.IntN(len(randomFindings))])
			}
		}
		if in.Query != "" && rng.IntN(3) == 0 {
			d.TextScore = rng.Float64() * 12
		}
		if rng.IntN(5) == 0 {
			d.Practice = carnet.Coding{Code: []string{"SAD", "SAMU_SMUR", "AMBULATOIRE"}[rng.IntN(3)]}
		}
		if rng.IntN(5) == 0 {
			d.AuthorSpecialties = []string{[]string{"G15_10/SM04", "G15_10/SM73", "G15_10/SM54"}[rng.IntN(3)]}
		}
		in.Docs = append(in.Docs, d)
	}
	return in
}

// docsOf is an input's documents, by value, whichever way they are held.
func docsOf(in Input) []Doc {
	if in.shared == nil {
		return in.Docs
	}
	out := make([]Doc, len(in.shared))
	for i, d := range in.shared {
		out[i] = *d
	}
	return out
}
