package synth

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// labResult is a result with the analyte it measures.
type labResult struct {
	LabResult
	a   *analyte
	val float64
}

type panelResults struct {
	p       *panel
	results []labResult
}

// choosePanels decides what the lab measured: what the patient's
// conditions call for, then the usual check-up tests, as many as the
// document's size allows (a few panels, or with LargeDocs enough to fill
// most of the target size while leaving room for the PDF copy).
func (b *builder) choosePanels() []*panel {
	r, per := b.r, b.per
	var order []string
	add := func(k string) {
		if !slices.Contains(order, k) && (per.age >= 18 || k != "lipid" && k != "cardiac") {
			order = append(order, k)
		}
	}
	for _, c := range per.conditions {
		for _, k := range c.panels {
			if chance(r, 0.6) {
				add(k)
			}
		}
	}
	common := []struct {
		key string
		p   float64
	}{
		{"cbc", 0.5}, {"iono", 0.35}, {"renal", 0.35}, {"glyc", 0.25}, {"lipid", 0.2},
		{"hepatic", 0.15}, {"inflam", 0.2}, {"thyroid", 0.1}, {"iron", 0.05}, {"cardiac", 0.03}, {"coag", 0.04},
	}
	for _, c := range common {
		if chance(r, c.p) {
			add(c.key)
		}
	}
	maxPanels, budget := 3, 0
	if b.target > 0 {
		maxPanels = len(panels)
		budget = b.target - 17000 // header and the PDF copy's minimum
		for _, k := range []string{"cbc", "iono", "renal", "hepatic", "glyc", "lipid", "inflam", "thyroid"} {
			add(k)
		}
	}
	if len(order) == 0 {
		order = append(order, "cbc")
	}
	chosen := map[string]bool{}
	for _, k := range order {
		if len(chosen) >= maxPanels {
			break
		}
		p := panelByKey(k)
		cost := 1200 + 2400*len(p.loincs)
		if b.target > 0 && len(chosen) > 0 && cost > budget {
			continue
		}
		chosen[k] = true
		budget -= cost
	}
	var out []*panel
	for i := range panels {
		if chosen[panels[i].key] {
			out = append(out, &panels[i])
		}
	}
	return out
}

func panelByKey(k string) *panel {
	for i := range panels {
		if panels[i].key == k {
			return &panels[i]
		}
	}
	panic("synth: unknown panel " + k)
}

// rangeFor returns the reference range the lab prints for a, for this
// patient.
func (b *builder) rangeFor(a *analyte) (low, high string) {
	low, high = a.low, a.high
	if b.per.female && (a.lowF != "" || a.highF != "") {
		low, high = a.lowF, a.highF
	}
	if a.loinc == "33762-6" && b.per.age >= 75 {
		high = "450"
	}
	return low, high
}

// measure draws the value of a for this patient: abnormal in the direction
// the patient's conditions push it, now and then abnormal by chance.
func (b *builder) measure(a *analyte) float64 {
	r := b.r
	dir := 0
	for _, c := range b.per.conditions {
		for _, l := range c.raise {
			if l == a.loinc && chance(r, 0.65) {
				dir = 1
			}
		}
		for _, l := range c.lower {
			if l == a.loinc && chance(r, 0.65) {
				dir = -1
			}
		}
	}
	if dir == 0 && chance(r, 0.07) {
		dir = 1
		if chance(r, 0.5) {
			dir = -1
		}
	}
	if dir > 0 && a.hi == [2]float64{} || dir < 0 && a.lo == [2]float64{} {
		dir = 0
	}
	switch dir {
	case 1:
		return uniform(r, a.hi[0], a.hi[1])
	case -1:
		return uniform(r, a.lo[0], a.lo[1])
	}
	n := a.norm
	if b.per.female && a.normF != [2]float64{} {
		n = a.normF
	}
	return uniform(r, n[0], n[1])
}

// ckdEPI returns the estimated GFR (CKD-EPI 2021, mL/min/1.73 m²) from
// creatinine in mg/L.
func ckdEPI(creatMgL float64, age int, female bool) float64 {
	scr := creatMgL / 10 // mg/dL
	k, alpha, f := 0.9, -0.302, 1.0
	if female {
		k, alpha, f = 0.7, -0.241, 1.012
	}
	return 142 * math.Pow(math.Min(scr/k, 1), alpha) * math.Pow(math.Max(scr/k, 1), -1.2) * math.Pow(0.9938, float64(age)) * f
}

func interpretation(value float64, low, high string) string {
	if low != "" {
		if l, err := strconv.ParseFloat(low, 64); err == nil && value < l {
			return "L"
		}
	}
	if high != "" {
		if h, err := strconv.ParseFloat(high, 64); err == nil && value > h {
			return "H"
		}
	}
	return "N"
}

func interpretationDisplay(i string) string {
	switch i {
	case "H":
		return "Anormalement haut"
	case "L":
		return "Anormalement bas"
	}
	return "Normal"
}

// labResults measures every analyte of the panels.
func (b *builder) labResults(ps []*panel) []panelResults {
	out := make([]panelResults, 0, len(ps))
	var creat float64
	for _, p := range ps {
		pr := panelResults{p: p}
		for _, l := range p.loincs {
			a := analytes[l]
			var v float64
			if l == "62238-1" {
				if creat == 0 || b.per.age < 18 {
					continue // CKD-EPI is for adults, and needs the creatinine
				}
				v = ckdEPI(creat, b.per.age, b.per.female)
			} else {
				v = b.measure(a)
			}
			s := strconv.FormatFloat(v, 'f', a.dec, 64)
			v, _ = strconv.ParseFloat(s, 64)
			if l == "2160-0" {
				creat = v
			}
			low, high := b.rangeFor(a)
			pr.results = append(pr.results, labResult{
				LabResult: LabResult{
					LOINC: a.loinc, Display: a.display, Value: s, Unit: a.unit,
					Low: low, High: high, Interpretation: interpretation(v, low, high),
				},
				a: a, val: v,
			})
		}
		if len(pr.results) > 0 {
			out = append(out, pr)
		}
	}
	return out
}

func rangeText(low, high, unit string) string {
	u := ""
	if unit != "" {
		u = " " + unit
	}
	switch {
	case low != "" && high != "":
		return low + " – " + high + u
	case low != "":
		return "> " + low + u
	case high != "":
		return "< " + high + u
	}
	return ""
}

// labReport writes a lab report: N3 (XD-LAB with LOINC-coded results) or
// N1 (the same report as a PDF).
func (b *builder) labReport(structured bool) {
	r, per := b.r, b.per
	ps := b.choosePanels()
	results := b.labResults(ps)
	sampled := b.created.Add(-time.Duration(between(r, 120, 600)) * time.Minute)
	received := sampled.Add(time.Duration(between(r, 20, 90)) * time.Minute)
	validated := b.created.Add(-time.Duration(between(r, 2, 30)) * time.Minute)
	prescriber := b.pros[per.GP]

	h := &header{
		typ: typeLab, class: classReport,
		title:      "Compte rendu d'examens de biologie médicale",
		encounter:  encounterAmbulatory,
		encLow:     sampled,
		prescriber: prescriber,
		orderTime:  sampled.Add(-time.Duration(between(r, 1, 20)*24) * time.Hour),
	}
	if structured {
		h.templates = [][2]string{tmplHL7France, tmplCISIS, {"1.3.6.1.4.1.19376.1.3.3", ""}, {"1.2.250.1.213.1.1.1.55", ""}}
		h.format = formatLab
		h.labNS = true
	} else {
		h.templates = [][2]string{tmplHL7France, tmplCISIS, tmplPDF}
		h.format = formatPDF
	}
	var chapters []code
	for _, pr := range results {
		if len(chapters) == 0 || chapters[len(chapters)-1] != pr.p.chapter {
			chapters = append(chapters, pr.p.chapter)
		}
	}
	for i, c := range chapters {
		ev := serviceEvent{code: c}
		if i == 0 {
			ev.id = fmt.Sprintf("%d%06d", b.created.Year(), r.IntN(1000000))
			ev.low, ev.high = received, validated
			ev.performer = b.author
			ev.labStatus = structured
		}
		h.events = append(h.events, ev)
	}
	if chance(r, 0.01) {
		b.labels = append(b.labels, labelHiddenPatient)
	}
	b.writeHeader(h)
	b.lines = append(b.lines,
		"Prescripteur : "+prescriber.title(),
		"Prélèvement du "+frDateTime(sampled)+", reçu au laboratoire le "+frDateTime(received),
		"Compte rendu validé le "+frDateTime(validated)+" par "+b.author.title(),
		"")

	if structured {
		b.openBody()
		for _, c := range chapters {
			b.openChapter(c)
			for _, pr := range results {
				if pr.p.chapter == c {
					b.labSubsection(pr, sampled)
				}
			}
			b.closeSection()
		}
		for _, pr := range results {
			for _, res := range pr.results {
				b.doc.Results = append(b.doc.Results, res.LabResult)
			}
		}
	} else {
		for _, pr := range results {
			b.lines = append(b.lines, strings.ToUpper(pr.p.title))
			for _, res := range pr.results {
				b.lines = append(b.lines, resultLine(res))
			}
			b.lines = append(b.lines, "")
		}
	}
	b.lines = append(b.lines, labConclusion(results)...)
	b.signature()
	if b.target > 0 {
		b.lines = append(b.lines, "", "ANTÉRIORITÉS")
		b.lines = append(b.lines, b.previousResults(results)...)
	}
	if !structured {
		b.nonXMLBody()
	}
	b.closeDocument(structured)
}

func resultLine(res labResult) string {
	flag := ""
	switch res.Interpretation {
	case "H":
		flag = "  (H)"
	case "L":
		flag = "  (L)"
	}
	return fmt.Sprintf("%s : %s %s%s   [réf. %s]", res.a.label, res.Value, res.a.unitFR, flag, rangeText(res.Low, res.High, res.a.unitFR))
}

// labConclusion is the biologist's comment on abnormal results.
func labConclusion(results []panelResults) []string {
	var abn []string
	for _, pr := range results {
		for _, res := range pr.results {
			switch res.Interpretation {
			case "H":
				abn = append(abn, res.a.label+" augmenté(e)")
			case "L":
				abn = append(abn, res.a.label+" diminué(e)")
			}
		}
	}
	if len(abn) == 0 {
		return []string{"Commentaire du biologiste : ensemble des résultats dans les valeurs de référence."}
	}
	return []string{"Commentaire du biologiste : " + strings.Join(abn, ", ") + ". Résultats à interpréter en fonction du contexte clinique et des traitements en cours."}
}

// previousResults are the "antériorités" real reports print: the same
// tests at earlier dates.
func (b *builder) previousResults(results []panelResults) []string {
	var out []string
	for _, pr := range results {
		for _, res := range pr.results {
			var parts []string
			t := b.created
			for range between(b.r, 2, 4) {
				t = t.AddDate(0, -between(b.r, 2, 9), -b.r.IntN(28))
				v := res.val * uniform(b.r, 0.85, 1.15)
				parts = append(parts, fmt.Sprintf("%s %s le %s", strconv.FormatFloat(v, 'f', res.a.dec, 64), res.a.unitFR, frDate(t)))
			}
			out = append(out, res.a.label+" : "+strings.Join(parts, " ; "))
		}
	}
	return out
}

func (b *builder) openChapter(c code) {
	b.openSection([]string{"1.3.6.1.4.1.19376.1.3.3.2.1", "1.2.250.1.213.1.1.2.70"}, c, strings.ToUpper(c.display))
}

// labSubsection writes a FR-CR-BIO-Sous-Chapitre: the narrative table and
// one FR-Resultats-examens-de-biologie-medicale entry with its
// observations.
func (b *builder) labSubsection(pr panelResults, sampled time.Time) {
	w := &b.w
	b.openSection([]string{"1.3.6.1.4.1.19376.1.3.3.2.2", "1.2.250.1.213.1.1.2.71"}, pr.p.code, pr.p.title)
	ids := make([]string, len(pr.results))
	w.open("text")
	w.open("table", "border", "0")
	w.open("thead")
	w.open("tr")
	for _, th := range []string{"Examen", "Résultat", "Unité", "Valeurs de référence"} {
		w.elem("th", th)
	}
	w.close("tr")
	w.close("thead")
	w.open("tbody")
	for i, res := range pr.results {
		ids[i] = b.nextID("res")
		w.open("tr")
		w.newline()
		w.b = append(w.b, "<td>"...)
		w.inline("content", res.a.label, "ID", ids[i])
		w.b = append(w.b, "</td>"...)
		w.newline()
		w.b = append(w.b, "<td>"...)
		if res.Interpretation != "N" {
			w.inline("content", res.Value, "styleCode", "Bold")
		} else {
			w.text(res.Value)
		}
		w.b = append(w.b, "</td>"...)
		w.elem("td", res.a.unitFR)
		w.elem("td", rangeText(res.Low, res.High, ""))
		w.close("tr")
		b.lines = append(b.lines, resultLine(res))
	}
	w.close("tbody")
	w.close("table")
	w.close("text")

	w.open("entry", "typeCode", "DRIV")
	w.empty("templateId", "root", "1.3.6.1.4.1.19376.1.3.1")
	w.empty("templateId", "root", "1.2.250.1.213.1.1.3.21")
	w.open("act", "classCode", "ACT", "moodCode", "EVN")
	w.code("code", pr.p.code)
	w.empty("statusCode", "code", "completed")
	for i, res := range pr.results {
		w.open("entryRelationship", "typeCode", "COMP")
		w.open("observation", "classCode", "OBS", "moodCode", "EVN")
		w.empty("templateId", "root", "1.3.6.1.4.1.19376.1.3.1.6")
		w.empty("templateId", "root", "1.2.250.1.213.1.1.3.80")
		w.open("code", "code", res.LOINC, "displayName", res.Display, "codeSystem", oidLOINC, "codeSystemName", "LOINC")
		w.open("originalText")
		w.empty("reference", "value", "#"+ids[i])
		w.close("originalText")
		w.close("code")
		w.empty("statusCode", "code", "completed")
		w.empty("effectiveTime", "value", ts(sampled))
		w.empty("value", "xsi:type", "PQ", "value", res.Value, "unit", res.Unit)
		w.empty("interpretationCode", "code", res.Interpretation, "displayName", interpretationDisplay(res.Interpretation), "codeSystem", oidInterpretation)
		if res.Low != "" || res.High != "" {
			w.open("referenceRange", "typeCode", "REFV")
			w.open("observationRange", "classCode", "OBS", "moodCode", "EVN.CRT")
			w.open("value", "xsi:type", "IVL_PQ")
			if res.Low != "" {
				w.empty("low", "value", res.Low, "unit", res.Unit)
			}
			if res.High != "" {
				w.empty("high", "value", res.High, "unit", res.Unit)
			}
			w.close("value")
			w.empty("interpretationCode", "code", "N", "displayName", "Normal", "codeSystem", oidInterpretation)
			w.close("observationRange")
			w.close("referenceRange")
		}
		w.close("observation")
		w.close("entryRelationship")
	}
	w.close("act")
	w.close("entry")
	b.closeSection()
}
