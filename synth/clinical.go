package synth

import "math/rand/v2"

// The clinical catalogue: chronic conditions, the drugs that treat them,
// lab analytes and panels, vaccines and imaging examinations. Codes are
// LOINC, CIM-10 and ATC; units are UCUM.

type condition struct {
	key      string
	icd10    code
	since    int      // the diagnosis dates back up to this many years
	drugs    []*drug  // long-term treatment
	raise    []string // LOINC codes this condition pushes above range
	lower    []string // … and below range
	panels   []string // lab panels it calls for
	sentence string   // how a letter mentions it
	risk     func(age int, female bool) float64
}

func cim10(c, display string) code { return code{c, display, oidCIM10} }

var (
	condHypertension = condition{
		key: "hta", icd10: cim10("I10", "Hypertension essentielle (primitive)"), since: 15,
		drugs:    []*drug{&drugAmlodipine, &drugRamipril},
		panels:   []string{"iono", "renal"},
		sentence: "Hypertension artérielle essentielle, équilibrée sous bithérapie.",
		risk:     byAge(0, 0.01, 0.12, 0.3, 0.5),
	}
	condDiabetes = condition{
		key: "diabete", icd10: cim10("E11.9", "Diabète sucré de type 2, sans complication"), since: 12,
		drugs:    []*drug{&drugMetformin},
		raise:    []string{"2345-7", "4548-4"},
		panels:   []string{"glyc", "renal"},
		sentence: "Diabète de type 2 sous metformine, objectif d'HbA1c inférieur à 7 %.",
		risk:     byAge(0, 0.005, 0.04, 0.12, 0.18),
	}
	condDyslipidemia = condition{
		key: "dyslipidemie", icd10: cim10("E78.0", "Hypercholestérolémie essentielle"), since: 10,
		drugs:    []*drug{&drugAtorvastatin},
		raise:    []string{"2093-3", "13457-7", "2571-8"},
		lower:    []string{"2085-9"},
		panels:   []string{"lipid"},
		sentence: "Hypercholestérolémie traitée par statine.",
		risk:     byAge(0, 0, 0.08, 0.2, 0.2),
	}
	condHeartFailure = condition{
		key: "ic", icd10: cim10("I50.9", "Insuffisance cardiaque, sans précision"), since: 6,
		drugs:    []*drug{&drugFurosemide, &drugBisoprolol, &drugRamipril},
		raise:    []string{"33762-6", "2160-0"},
		panels:   []string{"cardiac", "iono", "renal"},
		sentence: "Insuffisance cardiaque à fraction d'éjection altérée (FEVG 35 %), stade NYHA II.",
		risk:     byAge(0, 0, 0.005, 0.03, 0.1),
	}
	condAtrialFibrillation = condition{
		key: "fa", icd10: cim10("I48.9", "Fibrillation auriculaire et flutter auriculaire, sans précision"), since: 8,
		drugs:    []*drug{&drugApixaban, &drugBisoprolol},
		panels:   []string{"cbc", "renal"},
		sentence: "Fibrillation atriale permanente, anticoagulée par apixaban (CHA2DS2-VASc à 4).",
		risk:     byAge(0, 0, 0.01, 0.05, 0.12),
	}
	condHypothyroidism = condition{
		key: "hypothyroidie", icd10: cim10("E03.9", "Hypothyroïdie, sans précision"), since: 15,
		drugs:    []*drug{&drugLevothyroxine},
		raise:    []string{"3016-3"},
		lower:    []string{"3024-7"},
		panels:   []string{"thyroid"},
		sentence: "Hypothyroïdie substituée par lévothyroxine.",
		risk: func(age int, female bool) float64 {
			if age < 18 {
				return 0.002
			}
			if female {
				return 0.07
			}
			return 0.01
		},
	}
	condKidney = condition{
		key: "irc", icd10: cim10("N18.3", "Maladie rénale chronique, stade 3"), since: 6,
		raise:    []string{"2160-0", "2823-3"},
		panels:   []string{"renal", "iono", "cbc"},
		sentence: "Maladie rénale chronique de stade 3, suivie en néphrologie.",
		risk:     byAge(0, 0, 0.01, 0.05, 0.12),
	}
	condAsthma = condition{
		key: "asthme", icd10: cim10("J45.9", "Asthme, sans précision"), since: 20,
		drugs:    []*drug{&drugSalbutamol},
		sentence: "Asthme intermittent, salbutamol à la demande.",
		risk:     byAge(0.08, 0.07, 0.06, 0.05, 0.04),
	}
	condAnaemia = condition{
		key: "anemie", icd10: cim10("D50.9", "Anémie par carence en fer, sans précision"), since: 2,
		drugs:    []*drug{&drugIron},
		lower:    []string{"718-7", "2276-4", "787-2", "4544-3"},
		panels:   []string{"cbc", "iron"},
		sentence: "Anémie ferriprive en cours de correction par supplémentation martiale.",
		risk: func(age int, female bool) float64 {
			if female && age >= 15 && age < 50 {
				return 0.05
			}
			if age >= 80 {
				return 0.05
			}
			return 0.005
		},
	}
	condCOPD = condition{
		key: "bpco", icd10: cim10("J44.9", "Maladie respiratoire chronique obstructive, sans précision"), since: 10,
		drugs:    []*drug{&drugTiotropium},
		panels:   []string{"cbc", "inflam"},
		sentence: "BPCO de stade GOLD 2, sevrage tabagique encouragé.",
		risk:     byAge(0, 0, 0.02, 0.06, 0.07),
	}
)

var allConditions = []*condition{
	&condHypertension, &condDiabetes, &condDyslipidemia, &condHeartFailure, &condAtrialFibrillation,
	&condHypothyroidism, &condKidney, &condAsthma, &condAnaemia, &condCOPD,
}

// byAge returns a risk by age band: <18, 18–39, 40–64, 65–79, 80+.
func byAge(child, young, middle, old, oldest float64) func(int, bool) float64 {
	return func(age int, _ bool) float64 {
		switch {
		case age < 18:
			return child
		case age < 40:
			return young
		case age < 65:
			return middle
		case age < 80:
			return old
		}
		return oldest
	}
}

func drawConditions(r *rand.Rand, p *person) []*condition {
	var out []*condition
	for _, c := range allConditions {
		if chance(r, c.risk(p.age, p.female)) {
			out = append(out, c)
		}
	}
	return out
}

// drug is a medicine with a usual posology.
type drug struct {
	atc       string
	name      string // as on the box
	substance string
	dose      float64
	unit      string // UCUM annotation for the dose form
	unitFR    string // the dose form in French, singular
	perDay    int    // intakes a day; 0 for "as needed"
	when      string // posology in words
	route     code
	days      int // treatment length for acute treatments; chronic ones are renewed
}

func edqm(c, display string) code { return code{c, display, oidEDQM} }

var (
	routeOral       = edqm("20053000", "Voie orale")
	routeInhalation = edqm("20020000", "Voie inhalée")
	routeIM         = edqm("20035000", "Voie intramusculaire")
)

var (
	drugMetformin      = drug{"A10BA02", "Metformine 1000 mg, comprimé pelliculé", "metformine", 1, "{tablet}", "comprimé", 2, "1 comprimé matin et soir au cours des repas", routeOral, 0}
	drugAmlodipine     = drug{"C08CA01", "Amlodipine 5 mg, gélule", "amlodipine", 1, "{capsule}", "gélule", 1, "1 gélule le matin", routeOral, 0}
	drugRamipril       = drug{"C09AA05", "Ramipril 5 mg, comprimé sécable", "ramipril", 1, "{tablet}", "comprimé", 1, "1 comprimé le matin", routeOral, 0}
	drugFurosemide     = drug{"C03CA01", "Furosémide 40 mg, comprimé sécable", "furosémide", 1, "{tablet}", "comprimé", 1, "1 comprimé le matin", routeOral, 0}
	drugBisoprolol     = drug{"C07AB07", "Bisoprolol 2,5 mg, comprimé pelliculé sécable", "bisoprolol", 1, "{tablet}", "comprimé", 1, "1 comprimé le matin", routeOral, 0}
	drugLevothyroxine  = drug{"H03AA01", "Lévothyroxine sodique 75 microgrammes, comprimé sécable", "lévothyroxine", 1, "{tablet}", "comprimé", 1, "1 comprimé le matin à jeun", routeOral, 0}
	drugAtorvastatin   = drug{"C10AA05", "Atorvastatine 20 mg, comprimé pelliculé", "atorvastatine", 1, "{tablet}", "comprimé", 1, "1 comprimé le soir", routeOral, 0}
	drugApixaban       = drug{"B01AF02", "Apixaban 5 mg, comprimé pelliculé", "apixaban", 1, "{tablet}", "comprimé", 2, "1 comprimé matin et soir", routeOral, 0}
	drugSalbutamol     = drug{"R03AC02", "Salbutamol 100 microgrammes/dose, suspension pour inhalation en flacon pressurisé", "salbutamol", 2, "{puff}", "bouffée", 0, "2 bouffées en cas de gêne respiratoire, jusqu'à 4 fois par jour", routeInhalation, 0}
	drugIron           = drug{"B03AA07", "Sulfate ferreux 80 mg, comprimé pelliculé à libération prolongée", "sulfate ferreux", 1, "{tablet}", "comprimé", 1, "1 comprimé par jour avant le repas", routeOral, 90}
	drugTiotropium     = drug{"R03BB04", "Tiotropium 2,5 microgrammes/dose, solution pour inhalation", "tiotropium", 2, "{puff}", "bouffée", 1, "2 bouffées une fois par jour", routeInhalation, 0}
	drugParacetamol    = drug{"N02BE01", "Paracétamol 1 g, comprimé", "paracétamol", 1, "{tablet}", "comprimé", 3, "1 comprimé jusqu'à 3 fois par jour, en respectant 6 heures entre les prises", routeOral, 5}
	drugAmoxicillin    = drug{"J01CA04", "Amoxicilline 1 g, comprimé dispersible", "amoxicilline", 1, "{tablet}", "comprimé", 2, "1 comprimé matin et soir pendant 6 jours", routeOral, 6}
	drugIbuprofen      = drug{"M01AE01", "Ibuprofène 400 mg, comprimé pelliculé", "ibuprofène", 1, "{tablet}", "comprimé", 3, "1 comprimé 3 fois par jour au cours des repas, pendant 3 jours maximum", routeOral, 3}
	drugOmeprazole     = drug{"A02BC01", "Oméprazole 20 mg, gélule gastro-résistante", "oméprazole", 1, "{capsule}", "gélule", 1, "1 gélule le matin à jeun pendant 4 semaines", routeOral, 28}
	drugVitaminD       = drug{"A11CC05", "Colécalciférol 100 000 UI, solution buvable en ampoule", "colécalciférol", 1, "{ampule}", "ampoule", 0, "1 ampoule à boire, à renouveler dans 3 mois", routeOral, 90}
	drugChlorhexidine  = drug{"A01AB03", "Chlorhexidine 0,12 %, solution pour bain de bouche", "chlorhexidine", 15, "mL", "mL", 2, "bain de bouche de 15 mL matin et soir pendant 7 jours", code{}, 7}
	drugAmoxClavulanic = drug{"J01CR02", "Amoxicilline/acide clavulanique 1 g/125 mg, poudre pour suspension buvable en sachet", "amoxicilline, acide clavulanique", 1, "{sachet}", "sachet", 3, "1 sachet 3 fois par jour pendant 7 jours", routeOral, 7}
)

// acuteDrugs are what a visit for an intercurrent problem brings.
var acuteDrugs = []*drug{&drugParacetamol, &drugAmoxicillin, &drugIbuprofen, &drugOmeprazole, &drugVitaminD, &drugAmoxClavulanic}

var dentalDrugs = []*drug{&drugAmoxicillin, &drugParacetamol, &drugIbuprofen, &drugChlorhexidine}

// analyte is a lab test with its reference range and how values spread.
type analyte struct {
	loinc   string
	display string // LOINC French long name, as ANS examples write it
	label   string // how lab reports print it
	unit    string // UCUM
	unitFR  string // as printed
	dec     int
	low     string // "" when the range has no lower bound
	high    string // "" when the range has no upper bound
	lowF    string // female range, when it differs
	highF   string
	norm    [2]float64 // values drawn for a normal result
	normF   [2]float64
	hi, lo  [2]float64 // values drawn for an abnormal result; zero: never
}

var analytes = map[string]*analyte{}

func init() {
	for i := range analyteList {
		analytes[analyteList[i].loinc] = &analyteList[i]
	}
}

var analyteList = []analyte{
	{loinc: "2951-2", display: "Sodium [Moles/Volume] Sérum/Plasma ; Numérique", label: "Sodium (natrémie)", unit: "mmol/L", unitFR: "mmol/L", dec: 0, low: "136", high: "145", norm: [2]float64{137, 143}, hi: [2]float64{146, 151}, lo: [2]float64{125, 135}},
	{loinc: "2823-3", display: "Potassium [Moles/Volume] Sérum/Plasma ; Numérique", label: "Potassium (kaliémie)", unit: "mmol/L", unitFR: "mmol/L", dec: 1, low: "3.5", high: "5.0", norm: [2]float64{3.7, 4.8}, hi: [2]float64{5.2, 6.4}, lo: [2]float64{2.8, 3.4}},
	{loinc: "2075-0", display: "Chlorure [Moles/Volume] Sérum/Plasma ; Numérique", label: "Chlore", unit: "mmol/L", unitFR: "mmol/L", dec: 0, low: "98", high: "107", norm: [2]float64{99, 105}, hi: [2]float64{108, 113}, lo: [2]float64{90, 97}},
	{loinc: "17861-6", display: "Calcium [Masse/Volume] Sérum/Plasma ; Numérique", label: "Calcium", unit: "mg/L", unitFR: "mg/L", dec: 0, low: "86", high: "102", norm: [2]float64{88, 100}, hi: [2]float64{104, 118}, lo: [2]float64{72, 84}},
	{loinc: "2160-0", display: "Créatinine [Masse/Volume] Sérum/Plasma ; Numérique", label: "Créatinine", unit: "mg/L", unitFR: "mg/L", dec: 1, low: "7.0", high: "12.0", lowF: "5.5", highF: "10.0", norm: [2]float64{7.6, 11.4}, normF: [2]float64{5.9, 9.5}, hi: [2]float64{13.0, 26.0}},
	{loinc: "62238-1", display: "Débit de filtration glomérulaire/1,73 m² prédit [Volume/Temps/Surface] Sérum/Plasma ; Numérique ; Formule CKD-EPI", label: "DFG estimé (CKD-EPI)", unit: "mL/min/{1.73_m2}", unitFR: "mL/min/1,73 m²", dec: 0, low: "60"},
	{loinc: "2345-7", display: "Glucose [Masse/Volume] Sérum/Plasma ; Numérique", label: "Glycémie à jeun", unit: "g/L", unitFR: "g/L", dec: 2, low: "0.70", high: "1.10", norm: [2]float64{0.78, 1.02}, hi: [2]float64{1.15, 2.4}, lo: [2]float64{0.52, 0.68}},
	{loinc: "4548-4", display: "Hémoglobine A1c/hémoglobine totale [Fraction massique] Sang ; Numérique", label: "Hémoglobine glyquée (HbA1c)", unit: "%", unitFR: "%", dec: 1, low: "4.0", high: "6.0", norm: [2]float64{4.8, 5.8}, hi: [2]float64{6.3, 9.8}},
	{loinc: "2093-3", display: "Cholestérol [Masse/Volume] Sérum/Plasma ; Numérique", label: "Cholestérol total", unit: "g/L", unitFR: "g/L", dec: 2, low: "1.50", high: "2.00", norm: [2]float64{1.6, 1.95}, hi: [2]float64{2.1, 3.1}, lo: [2]float64{1.1, 1.45}},
	{loinc: "2085-9", display: "Cholestérol HDL [Masse/Volume] Sérum/Plasma ; Numérique", label: "Cholestérol HDL", unit: "g/L", unitFR: "g/L", dec: 2, low: "0.40", norm: [2]float64{0.45, 0.85}, lo: [2]float64{0.26, 0.38}},
	{loinc: "2571-8", display: "Triglycérides [Masse/Volume] Sérum/Plasma ; Numérique", label: "Triglycérides", unit: "g/L", unitFR: "g/L", dec: 2, low: "0.50", high: "1.50", norm: [2]float64{0.6, 1.4}, hi: [2]float64{1.6, 3.6}},
	{loinc: "13457-7", display: "Cholestérol LDL [Masse/Volume] Sérum/Plasma ; Numérique ; Résultat calculé", label: "Cholestérol LDL (calculé)", unit: "g/L", unitFR: "g/L", dec: 2, high: "1.60", norm: [2]float64{0.8, 1.5}, hi: [2]float64{1.65, 2.5}},
	{loinc: "1920-8", display: "Aspartate aminotransférase [Catalytique/Volume] Sérum/Plasma ; Numérique", label: "ASAT (TGO)", unit: "[IU]/L", unitFR: "UI/L", dec: 0, high: "35", norm: [2]float64{14, 32}, hi: [2]float64{40, 140}},
	{loinc: "1742-6", display: "Alanine aminotransférase [Catalytique/Volume] Sérum/Plasma ; Numérique", label: "ALAT (TGP)", unit: "[IU]/L", unitFR: "UI/L", dec: 0, high: "45", norm: [2]float64{10, 40}, hi: [2]float64{50, 180}},
	{loinc: "2324-2", display: "Gamma glutamyltransférase [Catalytique/Volume] Sérum/Plasma ; Numérique", label: "Gamma-GT", unit: "[IU]/L", unitFR: "UI/L", dec: 0, high: "55", norm: [2]float64{10, 50}, hi: [2]float64{60, 260}},
	{loinc: "6768-6", display: "Phosphatase alcaline [Catalytique/Volume] Sérum/Plasma ; Numérique", label: "Phosphatases alcalines", unit: "[IU]/L", unitFR: "UI/L", dec: 0, low: "40", high: "130", norm: [2]float64{45, 120}, hi: [2]float64{140, 320}},
	{loinc: "3016-3", display: "Thyréostimuline [Arbitraire/Volume] Sérum/Plasma ; Numérique", label: "Thyréostimuline (TSH)", unit: "m[IU]/L", unitFR: "mUI/L", dec: 2, low: "0.27", high: "4.20", norm: [2]float64{0.6, 3.8}, hi: [2]float64{4.6, 14}, lo: [2]float64{0.01, 0.2}},
	{loinc: "3024-7", display: "Thyroxine libre [Masse/Volume] Sérum/Plasma ; Numérique", label: "Thyroxine libre (T4L)", unit: "pg/mL", unitFR: "pg/mL", dec: 2, low: "9.30", high: "17.00", norm: [2]float64{10, 16}, hi: [2]float64{18, 26}, lo: [2]float64{5.5, 9}},
	{loinc: "89579-7", display: "Troponine I cardiaque [Masse/Volume] Sérum/Plasma ; Numérique ; Méthode haute sensibilité", label: "Troponine I ultrasensible", unit: "ng/L", unitFR: "ng/L", dec: 0, high: "34", norm: [2]float64{1, 20}, hi: [2]float64{40, 600}},
	{loinc: "33762-6", display: "Propeptide natriurétique de type B N-terminal [Masse/Volume] Sérum/Plasma ; Numérique", label: "NT-proBNP", unit: "pg/mL", unitFR: "pg/mL", dec: 0, high: "125", norm: [2]float64{20, 110}, hi: [2]float64{300, 6000}},
	{loinc: "1988-5", display: "Protéine C réactive [Masse/Volume] Sérum/Plasma ; Numérique", label: "Protéine C réactive (CRP)", unit: "mg/L", unitFR: "mg/L", dec: 1, high: "5.0", norm: [2]float64{0.5, 4.5}, hi: [2]float64{8, 160}},
	{loinc: "2276-4", display: "Ferritine [Masse/Volume] Sérum/Plasma ; Numérique", label: "Ferritine", unit: "ug/L", unitFR: "µg/L", dec: 0, low: "30", high: "300", lowF: "15", highF: "150", norm: [2]float64{45, 260}, normF: [2]float64{25, 140}, hi: [2]float64{320, 900}, lo: [2]float64{4, 13}},
	{loinc: "6690-2", display: "Leucocytes [Nombre/Volume] Sang ; Numérique ; Comptage automate", label: "Leucocytes", unit: "10*9/L", unitFR: "G/L", dec: 2, low: "4.00", high: "10.00", norm: [2]float64{4.5, 9.5}, hi: [2]float64{10.5, 19}, lo: [2]float64{1.8, 3.8}},
	{loinc: "789-8", display: "Érythrocytes [Nombre/Volume] Sang ; Numérique ; Comptage automate", label: "Hématies", unit: "10*12/L", unitFR: "T/L", dec: 2, low: "4.20", high: "5.70", lowF: "3.80", highF: "5.20", norm: [2]float64{4.4, 5.5}, normF: [2]float64{4.0, 5.0}, lo: [2]float64{2.9, 3.7}},
	{loinc: "718-7", display: "Hémoglobine [Masse/Volume] Sang ; Numérique", label: "Hémoglobine", unit: "g/dL", unitFR: "g/dL", dec: 1, low: "13.0", high: "17.0", lowF: "12.0", highF: "16.0", norm: [2]float64{13.5, 16.5}, normF: [2]float64{12.3, 15.5}, hi: [2]float64{17.5, 19.5}, lo: [2]float64{8.2, 11.8}},
	{loinc: "4544-3", display: "Hématocrite [Fraction volumique] Sang ; Numérique ; Comptage automate", label: "Hématocrite", unit: "%", unitFR: "%", dec: 1, low: "40.0", high: "50.0", lowF: "36.0", highF: "46.0", norm: [2]float64{41, 49}, normF: [2]float64{37, 45}, lo: [2]float64{27, 35}},
	{loinc: "787-2", display: "Volume globulaire moyen [Volume d'entité] Érythrocytes ; Numérique ; Comptage automate", label: "VGM", unit: "fL", unitFR: "fL", dec: 0, low: "80", high: "100", norm: [2]float64{82, 97}, hi: [2]float64{102, 112}, lo: [2]float64{66, 78}},
	{loinc: "777-3", display: "Plaquettes [Nombre/Volume] Sang ; Numérique ; Comptage automate", label: "Plaquettes", unit: "10*9/L", unitFR: "G/L", dec: 0, low: "150", high: "400", norm: [2]float64{170, 380}, hi: [2]float64{420, 640}, lo: [2]float64{55, 140}},
	{loinc: "751-8", display: "Polynucléaires neutrophiles [Nombre/Volume] Sang ; Numérique ; Comptage automate", label: "Polynucléaires neutrophiles", unit: "10*9/L", unitFR: "G/L", dec: 2, low: "1.80", high: "7.50", norm: [2]float64{2, 7}, hi: [2]float64{8, 15}, lo: [2]float64{0.6, 1.6}},
	{loinc: "731-0", display: "Lymphocytes [Nombre/Volume] Sang ; Numérique ; Comptage automate", label: "Lymphocytes", unit: "10*9/L", unitFR: "G/L", dec: 2, low: "1.00", high: "4.00", norm: [2]float64{1.2, 3.6}, hi: [2]float64{4.3, 7}, lo: [2]float64{0.4, 0.9}},
	{loinc: "6301-6", display: "INR Plasma pauvre en plaquettes ; Numérique ; Coagulation", label: "INR", unit: "{INR}", unitFR: "", dec: 2, low: "0.80", high: "1.20", norm: [2]float64{0.9, 1.15}, hi: [2]float64{1.4, 3.8}},
}

// panel is a group of analytes reported together (a sub-chapter).
type panel struct {
	key     string
	title   string
	code    code // panel LOINC, or the chapter when there is none
	chapter code
	loincs  []string
}

var (
	chapterBiochemistry = loinc("18719-5", "Biochimie")
	chapterHaematology  = loinc("18723-7", "Hématologie")
	chapterHaemostasis  = loinc("18720-3", "Hémostase, coagulation")
)

// panels in report order: biochemistry first, then haematology.
var panels = []panel{
	{"iono", "Ionogramme sanguin", loinc("24326-1", "Ionogramme sanguin"), chapterBiochemistry, []string{"2951-2", "2823-3", "2075-0", "17861-6"}},
	{"renal", "Fonction rénale", loinc("24362-6", "Bilan rénal"), chapterBiochemistry, []string{"2160-0", "62238-1"}},
	{"glyc", "Bilan glucidique", chapterBiochemistry, chapterBiochemistry, []string{"2345-7", "4548-4"}},
	{"lipid", "Bilan lipidique", loinc("57698-3", "Bilan lipidique"), chapterBiochemistry, []string{"2093-3", "2085-9", "2571-8", "13457-7"}},
	{"hepatic", "Bilan hépatique", loinc("24325-3", "Bilan hépatique"), chapterBiochemistry, []string{"1920-8", "1742-6", "2324-2", "6768-6"}},
	{"thyroid", "Bilan thyroïdien", chapterBiochemistry, chapterBiochemistry, []string{"3016-3", "3024-7"}},
	{"cardiac", "Marqueurs cardiaques", chapterBiochemistry, chapterBiochemistry, []string{"89579-7", "33762-6"}},
	{"inflam", "Protéines de l'inflammation", chapterBiochemistry, chapterBiochemistry, []string{"1988-5"}},
	{"iron", "Bilan martial", chapterBiochemistry, chapterBiochemistry, []string{"2276-4"}},
	{"cbc", "Hémogramme", loinc("58410-2", "Hémogramme"), chapterHaematology, []string{"6690-2", "789-8", "718-7", "4544-3", "787-2", "777-3", "751-8", "731-0"}},
	{"coag", "Hémostase", chapterHaemostasis, chapterHaemostasis, []string{"6301-6"}},
}

// vaccine is a vaccine given in France, with who receives it.
type vaccine struct {
	atc, name, disease string
	minAge, maxAge     int
	act                code
}

func actCode(c, display string) code { return code{c, display, oidActCode} }

var (
	actImmunization = actCode("IMMUNIZ", "Vaccination")
	actBooster      = actCode("BOOSTER", "Rappel")
	actInitial      = actCode("INITIMMUNIZ", "1ère série vaccinante")
)

var vaccines = []vaccine{
	{"J07BB02", "Vaccin grippal quadrivalent inactivé, suspension injectable en seringue préremplie", "Grippe saisonnière", 0, 120, actImmunization},
	{"J07BN01", "Vaccin à ARNm contre la COVID-19, dispersion injectable", "COVID-19", 5, 120, actBooster},
	{"J07CA02", "Vaccin diphtérique, tétanique, coquelucheux acellulaire et poliomyélitique (dTcaP), suspension injectable", "Diphtérie, tétanos, coqueluche, poliomyélite", 0, 120, actBooster},
	{"J07AL02", "Vaccin pneumococcique polyosidique conjugué 20-valent, suspension injectable", "Infections invasives à pneumocoque", 0, 120, actImmunization},
	{"J07BC01", "Vaccin de l'hépatite B (ADNr), suspension injectable", "Hépatite B", 0, 60, actInitial},
	{"J07BD52", "Vaccin rougeole, oreillons, rubéole vivant atténué, poudre et solvant pour suspension injectable", "Rougeole, oreillons, rubéole", 0, 40, actInitial},
	{"J07BM03", "Vaccin papillomavirus humain 9-valent, suspension injectable", "Infections à papillomavirus humains", 11, 26, actInitial},
	{"J07BK03", "Vaccin du zona recombinant adjuvé, poudre et suspension pour suspension injectable", "Zona", 65, 120, actInitial},
	{"J07AH08", "Vaccin méningococcique conjugué des groupes A, C, W et Y, solution injectable", "Infections invasives à méningocoque", 0, 25, actImmunization},
}

// exam is an imaging examination and what its report says.
type exam struct {
	code       code
	ccam       code
	title      string
	indication []string
	technique  string
	normal     []string
	abnormal   []string
	concNormal string
	concAbnorm string
	minAge     int
	femaleOnly bool
}

var exams = []exam{
	{
		code: loinc("36643-5", "Radiographie du thorax, 2 incidences"), ccam: code{"ZBQK002", "Radiographie du thorax", oidCCAM},
		title: "Radiographie du thorax de face et de profil", minAge: 0,
		indication: []string{"Toux persistante depuis trois semaines.", "Dyspnée d'effort d'aggravation récente.", "Bilan préopératoire.", "Fièvre et douleur basithoracique droite."},
		technique:  "Clichés du thorax de face et de profil, debout, en inspiration profonde.",
		normal:     []string{"Pas de foyer de condensation parenchymateuse.", "Culs-de-sac pleuraux libres.", "Silhouette cardiomédiastinale de taille normale.", "Pas de pneumothorax.", "Coupoles diaphragmatiques en place."},
		abnormal:   []string{"Opacité alvéolaire systématisée du lobe inférieur droit, avec bronchogramme aérique.", "Émoussement du cul-de-sac pleural droit, compatible avec un épanchement de faible abondance.", "Index cardiothoracique à 0,58."},
		concNormal: "Radiographie thoracique sans anomalie significative.",
		concAbnorm: "Aspect de pneumopathie du lobe inférieur droit ; contrôle radiographique conseillé à distance du traitement.",
	},
	{
		code: loinc("24627-2", "Scanner du thorax"), ccam: code{"ZBQH001", "Scanographie du thorax, avec injection intraveineuse de produit de contraste", oidCCAM},
		title: "Scanner thoracique avec injection", minAge: 18,
		indication: []string{"Suspicion d'embolie pulmonaire.", "Surveillance d'un nodule pulmonaire.", "Dyspnée inexpliquée chez un patient fumeur."},
		technique:  "Acquisition hélicoïdale du thorax après injection intraveineuse de 80 mL de produit de contraste iodé, reconstructions en fenêtres médiastinale et parenchymateuse.",
		normal:     []string{"Pas de défect endoluminal des artères pulmonaires.", "Pas d'adénomégalie médiastinale.", "Parenchyme pulmonaire sans nodule suspect.", "Pas d'épanchement pleural ni péricardique."},
		abnormal:   []string{"Nodule pulmonaire solide de 6 mm du lobe supérieur droit.", "Emphysème centrolobulaire prédominant aux sommets.", "Défect endoluminal d'une artère segmentaire du lobe inférieur gauche."},
		concNormal: "Pas d'embolie pulmonaire ni d'anomalie parenchymateuse.",
		concAbnorm: "Anomalie à confronter au contexte clinique ; avis spécialisé recommandé.",
	},
	{
		code:  loinc("24558-9", "Échographie de l'abdomen"),
		title: "Échographie abdominale", minAge: 0,
		indication: []string{"Douleurs de l'hypochondre droit.", "Perturbation du bilan hépatique.", "Bilan d'une insuffisance rénale."},
		technique:  "Examen par voie abdominale, à jeun, sonde convexe.",
		normal:     []string{"Foie de taille normale, d'échostructure homogène.", "Vésicule biliaire alithiasique, à paroi fine.", "Voies biliaires non dilatées.", "Reins de taille normale, sans dilatation des cavités.", "Rate et pancréas sans particularité."},
		abnormal:   []string{"Foie hyperéchogène, évocateur d'une stéatose.", "Vésicule lithiasique, sans signe de cholécystite.", "Reins de taille réduite, à cortex aminci."},
		concNormal: "Échographie abdominale normale.",
		concAbnorm: "Anomalies décrites ci-dessus, à intégrer au suivi.",
	},
	{
		code:  loinc("24606-6", "Mammographie de dépistage"),
		title: "Mammographie bilatérale de dépistage", minAge: 50, femaleOnly: true,
		indication: []string{"Dépistage organisé du cancer du sein.", "Antécédent familial de cancer du sein."},
		technique:  "Mammographie numérique bilatérale, incidences face et oblique externe.",
		normal:     []string{"Seins de densité de type B.", "Pas de masse ni de distorsion architecturale.", "Pas de foyer de microcalcifications suspect.", "Régions axillaires sans particularité."},
		abnormal:   []string{"Foyer de microcalcifications punctiformes du quadrant supéro-externe gauche, de 8 mm.", "Opacité nodulaire à contours flous du sein droit, de 11 mm."},
		concNormal: "Classification ACR 1 bilatérale. Prochain dépistage dans deux ans.",
		concAbnorm: "Classification ACR 4 : une biopsie est recommandée.",
	},
	{
		code:  loinc("24590-2", "IRM du cerveau"),
		title: "IRM cérébrale", minAge: 5,
		indication: []string{"Céphalées inhabituelles persistantes.", "Vertiges récidivants.", "Bilan de troubles cognitifs."},
		technique:  "Séquences T1, T2, FLAIR, diffusion et T1 après injection de gadolinium.",
		normal:     []string{"Pas d'anomalie de signal de la substance blanche.", "Pas de prise de contraste pathologique.", "Système ventriculaire de taille normale.", "Pas de lésion ischémique récente en diffusion."},
		abnormal:   []string{"Hypersignaux FLAIR punctiformes de la substance blanche périventriculaire.", "Atrophie cortico-sous-corticale modérée."},
		concNormal: "IRM cérébrale sans anomalie.",
		concAbnorm: "Leucopathie vasculaire, à mettre en rapport avec les facteurs de risque cardiovasculaire.",
	},
}
