package pastille

import (
	"math"
	"time"
)

const day = 24 * time.Hour

// aging is how fast a kind of document loses its interest: its recency
// factor is 2^(-age/HalfLife), or Constant when HalfLife is zero (a
// vaccination does not age, but is not news either).
type aging struct {
	Kind     string // for the documentation and the tests
	HalfLife time.Duration
	Constant float64
}

var (
	agingLab          = aging{Kind: "biologie", HalfLife: 90 * day}
	agingPrescription = aging{Kind: "prescription", HalfLife: 60 * day}
	agingVitals       = aging{Kind: "signes vitaux", HalfLife: 30 * day}
	agingEmergency    = aging{Kind: "urgences", HalfLife: 180 * day}
	agingLetter       = aging{Kind: "courrier, imagerie, compte rendu", HalfLife: 365 * day}
	agingSummary      = aging{Kind: "synthèse", HalfLife: 730 * day}
	agingLasting      = aging{Kind: "durable", HalfLife: 730 * day}
	agingNone         = aging{Kind: "sans vieillissement", Constant: 0.5}
)

// agingByType is the half-life table, by typeCode (JDV_J07; 11524-6 ECG
// and 60592-3 patient summary are LOINC codes outside the 2024 value set,
// accepted when they come). Other types age like letters.
var agingByType = map[string]aging{
	// Laboratory: a result of three months ago is half as telling.
	"11502-2":  agingLab,
	"DOCPAT05": agingLab,
	"96173-0":  agingLab, // TROD
	// Treatments change: what was prescribed two months ago may be over.
	"57833-6":         agingPrescription,
	"57828-6":         agingPrescription,
	"57832-8":         agingPrescription,
	"PRESC-BIO":       agingPrescription,
	"PRESC-INF":       agingPrescription,
	"PRESC-KINE":      agingPrescription,
	"PRESC-PEDI":      agingPrescription,
	"PRESC-ORTHOPHO":  agingPrescription,
	"PRESC-ORTHOPTIE": agingPrescription,
	"PRESC-AAT":       agingPrescription,
	"60593-1":         agingPrescription, // dispensation
	"DISP_AUT":        agingPrescription,
	"75468-9":         agingPrescription, // renouvellement
	"56445-0":         agingPrescription, // bilan médicamenteux
	"80820-4":         agingPrescription, // conciliation
	"80565-5":         agingPrescription, // administration
	"29274-8":         agingVitals,
	// Emergencies: what happened last winter, less so two years later.
	"15507-7": agingEmergency,
	"60280-5": agingEmergency,
	"74207-2": agingEmergency,
	"78341-5": agingEmergency,
	// Letters, imaging, reports: a year.
	"11488-4": agingLetter,
	"11490-0": agingLetter,
	"34112-3": agingLetter,
	"18748-4": agingLetter,
	"11524-6": agingLetter, // ECG
	// Summaries and long-lived reports: two years.
	// The medical summary (VSM) is renewed every year (the médecin
	// traitant's yearly VSM): a summary's interest halves each year, like
	// a letter's.
	"60591-5":  agingLetter,
	"60592-3":  agingLetter,
	"SYNTH":    agingLetter,
	"34133-9":  agingSummary,
	"68599-0":  agingSummary,
	"DOCPAT01": agingSummary,
	"DOCPAT08": agingSummary,
	"34874-8":  agingLasting, // CR opératoire
	"60568-3":  agingLasting, // anatomopathologie
	"PROT_ALD": agingLasting,
	// Never stale: vaccinations, genetics, implants, advance directives.
	"87273-9":  agingNone,
	"11369-6":  agingNone,
	"96874-3":  agingNone,
	"51969-4":  agingNone,
	"101881-1": agingNone,
	"EXPPAT_1": agingNone,
	"EXPPAT_3": agingNone,
}

func agingOf(typeCode string) aging {
	if a, ok := agingByType[typeCode]; ok {
		return a
	}
	return agingLetter
}

// factor is the recency factor in (0, 1] of a document of this kind and age.
func (a aging) factor(age time.Duration) float64 {
	if a.HalfLife == 0 {
		return a.Constant
	}
	if age < 0 {
		age = 0
	}
	return math.Exp2(-float64(age) / float64(a.HalfLife))
}

// summaryTypes are pinned on top: the patient's medical summary (VSM),
// the patient summary (IPS) and the ANS "Synthèse".
var summaryTypes = map[string]string{
	"60591-5": "synthèse médicale (VSM)",
	"60592-3": "synthèse patient (IPS)",
	"SYNTH":   "synthèse",
}

// vaccinationTypes have no window at a first visit: the ANS guidance shows
// the whole vaccination history.
var vaccinationTypes = map[string]bool{
	"87273-9": true, // Note de vaccination
	"11369-6": true, // Historique des vaccinations
	"96874-3": true, // COVID-19 Attestation de vaccination
}

// classPatient is the classCode of a document filed by the patient.
const classPatient = "90"
