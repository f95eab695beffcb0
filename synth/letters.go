package synth

import (
	"fmt"
	"strings"
	"time"
)

// stayReason is why a patient was hospitalised, and what the letter says.
type stayReason struct {
	cond      *condition // the condition it complicates; nil for any patient
	motif     string
	synthesis []string
	followUp  []string
}

var stayReasons = []stayReason{
	{&condHeartFailure, "Décompensation cardiaque globale",
		[]string{"Admission pour dyspnée de repos avec œdèmes des membres inférieurs et prise de poids de 4 kg.", "Amélioration sous diurétiques intraveineux, perte de 5 kg au cours du séjour.", "Échocardiographie : FEVG estimée à 35 %, sans valvulopathie significative.", "Titration des bêtabloquants poursuivie, bonne tolérance tensionnelle."},
		[]string{"Surveillance du poids quotidienne, consulter si prise de plus de 2 kg en 3 jours.", "Ionogramme sanguin et créatinine dans 7 jours.", "Consultation de cardiologie dans un mois.", "Réadaptation cardiaque proposée."}},
	{&condAtrialFibrillation, "Fibrillation atriale à réponse ventriculaire rapide",
		[]string{"Palpitations depuis 48 heures, fréquence cardiaque à 145/min à l'admission.", "Ralentissement sous bêtabloquant, retour en rythme sinusal spontané au deuxième jour.", "Anticoagulation poursuivie, pas d'événement hémorragique."},
		[]string{"Poursuite de l'anticoagulation au long cours.", "Holter ECG de contrôle dans trois mois.", "Consultation de cardiologie dans six semaines."}},
	{&condCOPD, "Exacerbation de BPCO",
		[]string{"Majoration de la dyspnée et des expectorations purulentes depuis cinq jours.", "Gazométrie à l'admission : hypoxémie modérée sans hypercapnie.", "Évolution favorable sous aérosols, corticothérapie courte et antibiothérapie."},
		[]string{"Sevrage tabagique : consultation de tabacologie programmée.", "Réhabilitation respiratoire à organiser.", "Consultation de pneumologie dans deux mois."}},
	{&condDiabetes, "Déséquilibre glycémique",
		[]string{"Glycémies capillaires supérieures à 3 g/L depuis une semaine dans un contexte infectieux.", "Insulinothérapie transitoire, puis reprise du traitement oral.", "Éducation thérapeutique réalisée par l'infirmière de diabétologie."},
		[]string{"Autosurveillance glycémique deux fois par jour pendant un mois.", "HbA1c dans trois mois.", "Consultation de diabétologie dans deux mois."}},
	{nil, "Pneumopathie aiguë communautaire",
		[]string{"Fièvre à 39 °C, toux productive et douleur basithoracique droite.", "Radiographie : opacité alvéolaire du lobe inférieur droit.", "Apyrexie obtenue en 48 heures sous amoxicilline-acide clavulanique."},
		[]string{"Poursuite de l'antibiothérapie pour une durée totale de 7 jours.", "Radiographie thoracique de contrôle dans six semaines.", "Consultation chez le médecin traitant dans une semaine."}},
	{nil, "Chute à domicile avec fracture du poignet droit",
		[]string{"Chute mécanique sans perte de connaissance.", "Fracture de l'extrémité distale du radius droit, ostéosynthèse par plaque le lendemain de l'admission.", "Bilan de chute sans cause cardiaque ni neurologique retrouvée."},
		[]string{"Ablation des fils à J15 par l'infirmière à domicile.", "Rééducation par kinésithérapie à débuter à 6 semaines.", "Ostéodensitométrie à programmer."}},
	{nil, "Douleur thoracique atypique",
		[]string{"Douleur thoracique de repos, non rythmée par l'effort.", "Troponine ultrasensible négative à deux reprises, ECG sans anomalie.", "Coroscanner sans sténose significative."},
		[]string{"Pas de traitement spécifique.", "Consultation chez le médecin traitant dans quinze jours."}},
	{nil, "Pyélonéphrite aiguë simple",
		[]string{"Fièvre, lombalgie droite et signes urinaires depuis trois jours.", "ECBU : Escherichia coli sensible aux céphalosporines.", "Échographie rénale sans obstacle."},
		[]string{"Poursuite de l'antibiothérapie orale pour une durée totale de 10 jours.", "ECBU de contrôle non nécessaire en l'absence de symptômes."}},
}

// dischargeLetter writes a lettre de liaison à la sortie (LDL-SES).
func (b *builder) dischargeLetter() {
	r, per := b.r, b.per
	var candidates []stayReason
	for _, s := range stayReasons {
		if s.cond == nil || per.has(s.cond) {
			candidates = append(candidates, s)
		}
	}
	reason := pick(r, candidates)
	admitted := b.created.AddDate(0, 0, -between(r, 2, 12)).Add(-time.Duration(r.IntN(600)) * time.Minute)
	h := &header{
		templates: [][2]string{tmplHL7France, tmplCISIS, {"1.2.250.1.213.1.1.1.29", "2022.01"}},
		typ:       typeDischarge, class: classReport, format: formatDischarge,
		title:     "Lettre de liaison à la sortie — " + reason.motif,
		encounter: encounterInpatient,
		encLow:    admitted, encHigh: b.created,
		events: []serviceEvent{{low: admitted, high: b.created, performer: b.author}},
	}
	b.writeHeader(h)
	b.openBody()
	b.openSection([]string{"1.3.6.1.4.1.19376.1.5.3.1.3.1", "1.2.250.1.213.1.1.2.127"}, loinc("42349-1", "Raison de la recommandation"), "Motif de l'hospitalisation")
	b.paragraphs(fmt.Sprintf("%s, hospitalisé%s du %s au %s pour %s.", per.displayName(), feminine(per), frDate(admitted), frDate(b.created), strings.ToLower(reason.motif[:1])+reason.motif[1:]))
	b.closeSection()

	b.openSection([]string{"1.3.6.1.4.1.19376.1.5.3.1.1.21.2.9", "1.3.6.1.4.1.19376.1.7.3.1.1.13.7", "1.2.250.1.213.1.1.2.163", "1.2.250.1.213.1.1.2.163.1"},
		loinc("42545-4", "Evènements observés"), "Synthèse médicale du séjour")
	var ps []string
	if len(per.conditions) > 0 {
		var ant []string
		for _, c := range per.conditions {
			ant = append(ant, c.sentence)
		}
		ps = append(ps, "Antécédents : "+strings.Join(ant, " "))
	}
	ps = append(ps, reason.synthesis...)
	if b.target > 0 {
		ps = append(ps, b.clinicalSentences(between(r, 4, 8))...)
	}
	b.paragraphs(ps...)
	b.closeSection()

	// The letter lists the whole treatment at discharge.
	var meds []medLine
	start := dayStart(b.created)
	for _, d := range b.longTermDrugs(nil) {
		meds = append(meds, medLine{d: d, start: start, end: start.AddDate(0, 1, 0), renewals: 2})
	}
	if reason.cond == nil {
		d := pick(r, acuteDrugs)
		meds = append(meds, medLine{d: d, start: start, end: start.AddDate(0, 0, d.days)})
	}
	if len(meds) > 0 {
		b.medSection([]string{"1.3.6.1.4.1.19376.1.5.3.1.3.22", "1.2.250.1.213.1.1.2.146"}, loinc("10183-2", "Traitements à la sortie"), "Traitements à la sortie", meds, "INT")
	}
	b.openSection([]string{"2.16.840.1.113883.10.20.1.10", "1.3.6.1.4.1.19376.1.5.3.1.3.36", "1.2.250.1.213.1.1.2.158"}, loinc("18776-5", "Plan de soins"), "Suites à donner")
	b.list(reason.followUp...)
	b.closeSection()
	b.signature()
	b.closeDocument(true)
}

// summary writes a synthèse médicale (VSM) by the médecin traitant.
func (b *builder) summary() {
	r, per := b.r, b.per
	h := &header{
		templates: [][2]string{tmplHL7France, tmplCISIS, {"1.2.250.1.213.1.1.1.13", "201310"}},
		typ:       typeSummary, class: classSummary, format: formatSummary,
		title:     "Synthèse médicale",
		encounter: encounterAmbulatory,
		encLow:    b.created.Add(-30 * time.Minute),
		events:    []serviceEvent{{code: loinc("34117-2", "Historique et clinique"), low: b.created, performer: b.author}},
	}
	b.writeHeader(h)
	b.openBody()

	w := &b.w
	b.openSection([]string{"2.16.840.1.113883.10.20.1.11", "1.3.6.1.4.1.19376.1.5.3.1.3.6", "1.2.250.1.213.1.1.2.132"}, loinc("11450-4", "Liste des problèmes actifs"), "Pathologies en cours")
	if len(per.conditions) == 0 {
		b.paragraphs("Pas de pathologie chronique connue.")
	} else {
		type problem struct {
			c     *condition
			since time.Time
			id    string
		}
		var probs []problem
		for _, c := range per.conditions {
			since := b.created.AddDate(-between(r, 1, c.since), -r.IntN(12), 0)
			if since.Before(per.birth) {
				since = per.birth.AddDate(1, 0, 0)
			}
			probs = append(probs, problem{c, since, b.nextID("pb")})
		}
		w.open("text")
		w.open("table", "border", "0")
		w.open("thead")
		w.open("tr")
		w.elem("th", "Depuis")
		w.elem("th", "Pathologie")
		w.close("tr")
		w.close("thead")
		w.open("tbody")
		for _, p := range probs {
			w.open("tr")
			w.elem("td", frDate(p.since))
			w.newline()
			w.b = append(w.b, "<td>"...)
			w.inline("content", p.c.icd10.display, "ID", p.id)
			w.b = append(w.b, "</td>"...)
			w.close("tr")
			b.lines = append(b.lines, "Depuis le "+frDate(p.since)+" : "+p.c.icd10.display+" ("+p.c.icd10.code+")")
		}
		w.close("tbody")
		w.close("table")
		w.close("text")
		for _, p := range probs {
			w.open("entry")
			w.open("act", "classCode", "ACT", "moodCode", "EVN")
			for _, t := range []string{"2.16.840.1.113883.10.20.1.27", "1.3.6.1.4.1.19376.1.5.3.1.4.5.1", "1.3.6.1.4.1.19376.1.5.3.1.4.5.2", "1.2.250.1.213.1.1.3.39"} {
				w.empty("templateId", "root", t)
			}
			w.empty("id", "root", b.uuid())
			w.empty("code", "nullFlavor", "NA")
			w.empty("statusCode", "code", "active")
			w.open("effectiveTime")
			w.empty("low", "value", dayTS(p.since))
			w.close("effectiveTime")
			w.open("entryRelationship", "typeCode", "SUBJ", "inversionInd", "false")
			w.open("observation", "classCode", "OBS", "moodCode", "EVN", "negationInd", "false")
			for _, t := range []string{"2.16.840.1.113883.10.20.1.28", "1.3.6.1.4.1.19376.1.5.3.1.4.5", "1.2.250.1.213.1.1.3.37"} {
				w.empty("templateId", "root", t)
			}
			w.empty("id", "root", b.uuid())
			w.code("code", code{"282291009", "interprétation diagnostique", oidSNOMED})
			w.open("text")
			w.empty("reference", "value", "#"+p.id)
			w.close("text")
			w.empty("statusCode", "code", "completed")
			w.open("effectiveTime")
			w.empty("low", "value", dayTS(p.since))
			w.close("effectiveTime")
			c := p.c.icd10
			w.open("value", "xsi:type", "CD", "code", c.code, "displayName", c.display, "codeSystem", c.system, "codeSystemName", c.systemName())
			w.open("originalText")
			w.empty("reference", "value", "#"+p.id)
			w.close("originalText")
			w.close("value")
			w.close("observation")
			w.close("entryRelationship")
			w.close("act")
			w.close("entry")
		}
	}
	b.closeSection()

	b.openSection([]string{"2.16.840.1.113883.10.20.1.2", "1.3.6.1.4.1.19376.1.5.3.1.3.13", "1.2.250.1.213.1.1.2.137"}, loinc("48765-2", "Allergies et hypersensibilités"), "Allergies et hypersensibilités")
	if per.allergy == "" {
		b.paragraphs("Pas d'allergie connue.")
	} else {
		b.paragraphs("Allergie : " + per.allergy + ".")
	}
	b.closeSection()

	b.openSection([]string{"2.16.840.1.113883.10.20.1.15", "1.3.6.1.4.1.19376.1.5.3.1.3.16", "1.3.6.1.4.1.19376.1.5.3.1.3.16.1", "1.2.250.1.213.1.1.2.141"}, loinc("29762-2", "Habitus, Mode de vie"), "Mode de vie")
	habits := []string{fmt.Sprintf("Poids %d kg, taille %d cm.", per.weightKg, per.heightCm)}
	if per.smoker {
		habits = append(habits, fmt.Sprintf("Tabagisme actif, environ %d paquets-années.", between(r, 5, 40)))
	} else if per.age >= 16 {
		habits = append(habits, "Non fumeur.")
	}
	b.paragraphs(habits...)
	b.closeSection()

	if meds := b.longTermDrugs(nil); len(meds) > 0 {
		var lines []medLine
		start := dayStart(b.created)
		for _, d := range meds {
			lines = append(lines, medLine{d: d, start: start, end: start.AddDate(0, 3, 0)})
		}
		b.medSection([]string{"2.16.840.1.113883.10.20.1.8", "1.3.6.1.4.1.19376.1.5.3.1.3.19", "1.2.250.1.213.1.1.2.143"}, loinc("10160-0", "Traitements"), "Traitements au long cours", lines, "EVN")
	}

	b.openSection([]string{"1.3.6.1.4.1.19376.1.5.3.1.3.27", "1.2.250.1.213.1.1.2.150"}, loinc("30954-2", "Résultats d'examens"), "Points de vigilance")
	var vig []string
	for _, c := range per.conditions {
		vig = append(vig, c.sentence)
	}
	if per.allergy != "" {
		vig = append(vig, "Ne pas prescrire : "+strings.ToLower(per.allergy)+".")
	}
	if len(vig) == 0 {
		vig = []string{"Pas de point de vigilance particulier."}
	}
	if b.target > 0 {
		vig = append(vig, b.clinicalSentences(between(r, 3, 6))...)
	}
	b.list(vig...)
	b.closeSection()
	b.signature()
	b.closeDocument(true)
}

// vaccinationNote writes a note de vaccination (VAC-NOTE).
func (b *builder) vaccinationNote() {
	r, per := b.r, b.per
	month := local(b.created).Month()
	var eligible []vaccine
	for _, v := range vaccines {
		if per.age < v.minAge || per.age > v.maxAge {
			continue
		}
		if v.atc == "J07BB02" && month >= time.March && month <= time.September {
			continue // influenza vaccination runs from October to February
		}
		eligible = append(eligible, v)
	}
	given := []vaccine{pick(r, eligible)}
	if given[0].atc == "J07BB02" && per.age >= 65 && chance(r, 0.3) {
		given = append(given, vaccines[1]) // COVID-19 booster given with the flu shot
	}
	h := &header{
		templates: [][2]string{tmplHL7France, tmplCISIS, {"1.3.6.1.4.1.19376.1.5.3.1.1.18.1.2", ""}, {"1.2.250.1.213.1.1.1.46", "2023.01"}},
		typ:       typeVaccination, class: classTreatment, format: formatVaccination,
		title:     "Note de vaccination — " + given[0].disease,
		encounter: encounterAmbulatory,
		encLow:    b.created.Add(-15 * time.Minute),
		events:    []serviceEvent{{classCode: "ACT", code: typeVaccination, low: b.created, performer: b.author}},
	}
	b.writeHeader(h)
	b.openBody()
	b.openSection([]string{"2.16.840.1.113883.10.20.1.6", "1.3.6.1.4.1.19376.1.5.3.1.3.23", "1.2.250.1.213.1.1.2.147"}, loinc("11369-6", "Historique des vaccinations"), "Note de vaccination")
	w := &b.w
	type shot struct {
		v    vaccine
		id   string
		lot  string
		rank int
	}
	var shots []shot
	for _, v := range given {
		shots = append(shots, shot{v, b.nextID("vac"), fmt.Sprintf("%c%c%06d", 'A'+r.IntN(26), 'A'+r.IntN(26), r.IntN(1000000)), between(r, 1, 3)})
	}
	w.open("text")
	w.open("table", "border", "0")
	w.open("thead")
	w.open("tr")
	for _, th := range []string{"Date", "Vaccin", "Lot n°", "Rang", "Voie d'administration", "Vaccinateur"} {
		w.elem("th", th)
	}
	w.close("tr")
	w.close("thead")
	w.open("tbody")
	for _, s := range shots {
		w.open("tr")
		w.elem("td", frDate(b.created))
		w.newline()
		w.b = append(w.b, "<td>"...)
		w.inline("content", s.v.name, "ID", s.id)
		w.b = append(w.b, "</td>"...)
		w.elem("td", s.lot)
		w.elem("td", fmt.Sprint(s.rank))
		w.elem("td", routeIM.display)
		w.elem("td", b.author.title())
		w.close("tr")
		b.lines = append(b.lines, fmt.Sprintf("%s — %s, lot %s, injection n° %d, %s", frDate(b.created), s.v.name, s.lot, s.rank, strings.ToLower(routeIM.display)))
	}
	w.close("tbody")
	w.close("table")
	w.close("text")
	for _, s := range shots {
		w.open("entry")
		w.open("substanceAdministration", "classCode", "SBADM", "moodCode", "EVN", "negationInd", "false")
		for _, t := range []string{"2.16.840.1.113883.10.20.1.24", "1.3.6.1.4.1.19376.1.5.3.1.4.12", "1.2.250.1.213.1.1.3.45"} {
			w.empty("templateId", "root", t)
		}
		w.empty("id", "root", b.uuid())
		w.code("code", s.v.act)
		w.open("text")
		w.empty("reference", "value", "#"+s.id)
		w.close("text")
		w.empty("statusCode", "code", "completed")
		w.empty("effectiveTime", "value", ts(b.created))
		w.code("routeCode", routeIM)
		w.code("approachSiteCode", code{"16217701000119102", "deltoïde gauche", oidSNOMED})
		w.open("consumable", "typeCode", "CSM")
		w.open("manufacturedProduct")
		for _, t := range []string{"2.16.840.1.113883.10.20.1.53", "1.3.6.1.4.1.19376.1.5.3.1.4.7.2", "1.2.250.1.213.1.1.3.43"} {
			w.empty("templateId", "root", t)
		}
		w.open("manufacturedMaterial")
		w.open("code", "code", s.v.atc, "displayName", s.v.disease, "codeSystem", oidATC, "codeSystemName", "ATC")
		w.open("originalText")
		w.empty("reference", "value", "#"+s.id)
		w.close("originalText")
		w.close("code")
		w.elem("name", s.v.name)
		w.elem("lotNumberText", s.lot)
		w.close("manufacturedMaterial")
		w.close("manufacturedProduct")
		w.close("consumable")
		w.open("performer", "typeCode", "PRF")
		w.open("assignedEntity", "classCode", "ASSIGNED")
		b.professional(b.author, "assignedPerson")
		w.close("assignedEntity")
		w.close("performer")
		w.open("entryRelationship", "typeCode", "SUBJ")
		w.open("observation", "classCode", "OBS", "moodCode", "EVN")
		w.empty("templateId", "root", "2.16.840.1.113883.10.20.1.46")
		w.empty("templateId", "root", "1.2.250.1.213.1.1.3.82")
		w.code("code", loinc("30973-2", "Rang de la vaccination"))
		w.empty("statusCode", "code", "completed")
		w.empty("value", "xsi:type", "INT", "value", fmt.Sprint(s.rank))
		w.close("observation")
		w.close("entryRelationship")
		w.close("substanceAdministration")
		w.close("entry")
	}
	b.closeSection()
	if b.target > 0 {
		b.lines = append(b.lines, "", "INFORMATIONS REMISES AU PATIENT", pick(r, vaccinationNotes))
	}
	b.signature()
	b.closeDocument(true)
}
