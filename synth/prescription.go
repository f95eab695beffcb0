package synth

import (
	"fmt"
	"slices"
	"strconv"
	"time"
)

// medLine is one medicine on an ordonnance or in a treatment list.
type medLine struct {
	d          *drug
	start, end time.Time
	renewals   int
}

func (m medLine) duration() string {
	for k := 1; k <= 12; k++ {
		if m.start.AddDate(0, k, 0).Equal(m.end) {
			return fmt.Sprintf("%d mois", k)
		}
	}
	days := int(m.end.Sub(m.start).Hours()/24 + 0.5)
	if days%7 == 0 && days >= 14 {
		return fmt.Sprintf("%d semaines", days/7)
	}
	return fmt.Sprintf("%d jours", days)
}

// longTermDrugs returns the drugs of the patient's conditions; only those
// of conds when conds is not empty.
func (b *builder) longTermDrugs(conds []*condition) []*drug {
	var out []*drug
	for _, c := range b.per.conditions {
		if len(conds) > 0 && !slices.Contains(conds, c) {
			continue
		}
		for _, d := range c.drugs {
			if !slices.Contains(out, d) {
				out = append(out, d)
			}
		}
	}
	return out
}

// chooseMeds decides what the author prescribes.
func (b *builder) chooseMeds(start time.Time) []medLine {
	r, a := b.r, b.author
	var chronic, acute []*drug
	childSafe := []*drug{&drugParacetamol, &drugAmoxicillin, &drugIbuprofen}
	switch {
	case a.profession == profDentist:
		for _, i := range sample(r, len(dentalDrugs), between(r, 1, 2)) {
			acute = append(acute, dentalDrugs[i])
		}
	case a.caps&capEmergency != 0:
		acute = append(acute, &drugParacetamol)
		if chance(r, 0.5) {
			acute = append(acute, pick(r, []*drug{&drugIbuprofen, &drugAmoxicillin, &drugOmeprazole}))
		}
	case a.specialty == specGP || a.specialty == specPaediatrics:
		chronic = b.longTermDrugs(nil)
		if len(chronic) == 0 || chance(r, 0.3) {
			pool := acuteDrugs
			if b.per.age < 12 {
				pool = childSafe
			}
			acute = append(acute, pick(r, pool))
		}
	default:
		chronic = b.longTermDrugs(relevant[a.specialty.code])
		if len(chronic) == 0 {
			acute = append(acute, pick(r, acuteDrugs))
		}
	}
	if b.per.age < 12 {
		acute = slices.DeleteFunc(acute, func(d *drug) bool { return !slices.Contains(childSafe, d) && d != &drugChlorhexidine })
		if len(acute) == 0 && len(chronic) == 0 {
			acute = append(acute, &drugParacetamol)
		}
	}
	var out []medLine
	for _, d := range chronic {
		out = append(out, medLine{d: d, start: start, end: start.AddDate(0, 1, 0), renewals: 2})
	}
	for _, d := range acute {
		if slices.ContainsFunc(out, func(m medLine) bool { return m.d == d }) {
			continue
		}
		out = append(out, medLine{d: d, start: start, end: start.AddDate(0, 0, d.days)})
	}
	return out
}

// treatmentEnd is when the last medicine, renewals included, ends.
func treatmentEnd(meds []medLine) time.Time {
	var end time.Time
	for _, m := range meds {
		e := m.end
		if m.renewals > 0 {
			e = m.start.Add(time.Duration(m.renewals+1) * m.end.Sub(m.start))
		}
		if e.After(end) {
			end = e
		}
	}
	return end
}

// prescription writes an ordonnance (IHE PRE, CI-SIS eP-MED).
func (b *builder) prescription() {
	day := dayStart(b.created)
	meds := b.chooseMeds(day)
	h := &header{
		templates: [][2]string{tmplHL7France, tmplCISIS, {"1.3.6.1.4.1.19376.1.9.1.1.1", ""}, {"1.3.6.1.4.1.19376.1.5.3.1.1.1", ""}, {"1.2.250.1.213.1.1.1.39", "2024.01"}},
		typ:       typePrescription, class: classPrescription, format: formatPrescription,
		title:     "Ordonnance",
		encounter: encounterAmbulatory,
		encLow:    b.created.Add(-20 * time.Minute),
		events: []serviceEvent{{
			classCode: "ACT", code: typePrescription,
			low: b.created, high: treatmentEnd(meds),
			performer: b.author,
		}},
	}
	if b.author.org.setting == settingHospital {
		h.title = "Ordonnance de sortie"
		h.encounter = encounterInpatient
		h.encLow = b.created.AddDate(0, 0, -between(b.r, 1, 6))
		h.encHigh = b.created
	}
	b.writeHeader(h)
	b.openBody()
	b.medSection([]string{"1.3.6.1.4.1.19376.1.9.1.2.1", "1.2.250.1.213.1.1.2.171"},
		loinc("57828-6", "Prescriptions"), "Prescription de médicaments", meds, "INT")
	if b.per.allergy != "" {
		b.openSection([]string{"1.3.6.1.4.1.19376.1.5.3.1.3.1", "1.2.250.1.213.1.1.2.127"}, loinc("42349-1", "Raison de la recommandation"), "Informations complémentaires")
		b.paragraphs("Allergie connue : " + b.per.allergy + ". Poids : " + strconv.Itoa(b.per.weightKg) + " kg.")
		b.closeSection()
	}
	b.signature()
	b.closeDocument(true)
}

// medSection writes a section of medicines: a table and one
// substanceAdministration entry per medicine.
func (b *builder) medSection(templates []string, c code, title string, meds []medLine, mood string) {
	w := &b.w
	b.openSection(templates, c, title)
	ids := make([]string, len(meds))
	w.open("text")
	w.open("table", "border", "0")
	w.open("thead")
	w.open("tr")
	for _, th := range []string{"Médicament", "Posologie", "Durée", "Voie", "Renouvellement"} {
		w.elem("th", th)
	}
	w.close("tr")
	w.close("thead")
	w.open("tbody")
	for i, m := range meds {
		ids[i] = b.nextID("med")
		w.open("tr")
		w.newline()
		w.b = append(w.b, "<td>"...)
		w.inline("content", m.d.name, "ID", ids[i])
		w.b = append(w.b, "</td>"...)
		w.elem("td", m.d.when)
		w.elem("td", m.duration())
		route := m.d.route.display
		if route == "" {
			route = "Locale"
		}
		w.elem("td", route)
		renew := "Non"
		if m.renewals > 0 {
			renew = fmt.Sprintf("%d fois", m.renewals)
		}
		w.elem("td", renew)
		w.close("tr")
		line := fmt.Sprintf("%s — %s, pendant %s", m.d.name, m.d.when, m.duration())
		if m.renewals > 0 {
			line += fmt.Sprintf(", à renouveler %d fois", m.renewals)
		}
		b.lines = append(b.lines, line)
	}
	w.close("tbody")
	w.close("table")
	w.close("text")
	for i, m := range meds {
		b.medEntry(m, ids[i], mood)
	}
	b.closeSection()
}

// medEntry writes an FR-Traitement-prescrit (mood INT) or FR-Traitement
// (mood EVN) entry.
func (b *builder) medEntry(m medLine, textID, mood string) {
	w := &b.w
	w.open("entry")
	w.open("substanceAdministration", "classCode", "SBADM", "moodCode", mood)
	w.empty("templateId", "root", "2.16.840.1.113883.10.20.1.24")
	w.empty("templateId", "root", "1.3.6.1.4.1.19376.1.5.3.1.4.7")
	if mood == "INT" {
		w.empty("templateId", "root", "1.3.6.1.4.1.19376.1.9.1.3.2")
		w.empty("templateId", "root", "1.2.250.1.213.1.1.3.83")
	} else {
		w.empty("templateId", "root", "1.2.250.1.213.1.1.3.42")
	}
	w.empty("templateId", "root", "1.3.6.1.4.1.19376.1.5.3.1.4.7.1")
	w.empty("id", "root", b.uuid())
	w.empty("code", "code", "DRUG", "displayName", "Médicament", "codeSystem", oidActCode)
	w.open("text")
	w.empty("reference", "value", "#"+textID)
	w.close("text")
	w.empty("statusCode", "code", "completed")
	w.open("effectiveTime", "xsi:type", "IVL_TS")
	w.empty("low", "value", dayTS(local(m.start)))
	w.empty("high", "value", dayTS(local(m.end)))
	w.close("effectiveTime")
	if m.d.perDay > 0 {
		w.open("effectiveTime", "xsi:type", "PIVL_TS", "operator", "A", "institutionSpecified", "true")
		w.empty("period", "value", strconv.Itoa(24/m.d.perDay), "unit", "h")
		w.close("effectiveTime")
	}
	if m.renewals > 0 {
		w.empty("repeatNumber", "value", strconv.Itoa(m.renewals))
	}
	if m.d.route.code != "" {
		w.code("routeCode", m.d.route)
	}
	w.empty("doseQuantity", "value", strconv.FormatFloat(m.d.dose, 'f', -1, 64), "unit", m.d.unit)
	w.open("consumable")
	w.open("manufacturedProduct", "classCode", "MANU")
	w.empty("templateId", "root", "2.16.840.1.113883.10.20.1.53")
	w.empty("templateId", "root", "1.3.6.1.4.1.19376.1.5.3.1.4.7.2")
	w.empty("templateId", "root", "1.2.250.1.213.1.1.3.43")
	w.open("manufacturedMaterial", "classCode", "MMAT", "determinerCode", "KIND")
	w.empty("templateId", "root", "1.3.6.1.4.1.19376.1.9.1.3.1")
	w.open("code", "code", m.d.atc, "displayName", m.d.substance, "codeSystem", oidATC, "codeSystemName", "ATC")
	w.open("originalText")
	w.empty("reference", "value", "#"+textID)
	w.close("originalText")
	w.close("code")
	w.elem("name", m.d.name)
	w.close("manufacturedMaterial")
	w.close("manufacturedProduct")
	w.close("consumable")
	w.close("substanceAdministration")
	w.close("entry")
}

// dayStart is the start of t's day, French local time.
func dayStart(t time.Time) time.Time { return dayAt(local(t), 0, 0) }
