package synth

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	carnet "github.com/carnet-sante/carnet"
)

// slot is a planned document: its kind and when it was written.
type slot struct {
	kind Kind
	at   time.Time
}

var kindOrder = []Kind{
	KindLabN3, KindLabN1, KindPrescription, KindConsultation, KindImaging,
	KindDischarge, KindVaccination, KindSummary, KindEmergency,
}

// Relative frequencies, in the order of kindOrder. Lab reports and
// prescriptions dominate what French software sends to the DMP.
var (
	kindWeightsAdult = []int{28, 10, 20, 10, 9, 7, 8, 4, 4}
	kindWeightsChild = []int{12, 4, 18, 12, 4, 2, 32, 4, 12}
)

// history is how far back documents go: about six years, denser recently.
const historyDays = 6 * 365

// planDocuments draws the kinds and dates of a patient's documents, in
// chronological order.
func planDocuments(o Options, per *person) []slot {
	r := newRand(o.Seed, streamPlan, uint64(per.Index), 0)
	weights := kindWeightsAdult
	if per.age < 18 {
		weights = kindWeightsChild
	}
	earliest := per.birth.Add(36 * time.Hour)
	slots := make([]slot, o.DocsPerPatient)
	for j := range slots {
		kind := kindOrder[weighted(r, weights)]
		days := int(historyDays * math.Pow(r.Float64(), 1.7))
		t := dayAt(o.Base.AddDate(0, 0, -days), between(r, 8*60, 19*60-1), r.IntN(60))
		if t.Before(earliest) {
			t = earliest.Add(time.Duration(r.IntN(30*24*60)) * time.Minute)
		}
		if !t.Before(o.Base) {
			t = o.Base.Add(-time.Duration(1+r.IntN(600)) * time.Minute).Truncate(time.Second)
		}
		slots[j] = slot{kind, t}
	}
	slices.SortStableFunc(slots, func(a, b slot) int { return a.at.Compare(b.at) })
	return slots
}

// dayAt returns the instant of day d at minute m and second s, French
// local time.
func dayAt(d time.Time, m, s int) time.Time {
	midnight := time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, time.UTC)
	off := parisOffset(midnight.Add(12 * time.Hour))
	return midnight.Add(-off + time.Duration(m)*time.Minute + time.Duration(s)*time.Second)
}

// builder writes one document.
type builder struct {
	o       Options
	r       *rand.Rand
	per     *person
	author  *pro
	pros    []*pro
	created time.Time
	w       xw
	doc     Document
	labels  []code
	target  int      // wanted size in bytes with LargeDocs, else 0
	lines   []string // the document as text, for its PDF rendering
	ids     int
}

func makeDocument(o Options, pros []*pro, per *person, j int, s slot) Document {
	r := newRand(o.Seed, streamDocument, uint64(per.Index), uint64(j))
	b := &builder{o: o, r: r, per: per, pros: pros, created: s.at}
	b.author = chooseAuthor(r, pros, per, s.kind)
	b.doc = Document{
		Patient:  per.Index,
		Author:   b.author.index,
		Kind:     s.kind,
		UniqueID: fmt.Sprintf("1.2.250.1.999.1.%d.%d.%d", o.Seed, per.Index+1, j+1),
	}
	if o.LargeDocs {
		b.target = between(r, 22000, 46000)
		b.w.b = make([]byte, 0, b.target+4096)
	} else {
		b.w.b = make([]byte, 0, 16384)
	}
	switch {
	case chance(r, 0.02):
		b.labels = append(b.labels, labelMasked)
	case per.age >= 12 && per.age < 18 && chance(r, 0.05):
		b.labels = append(b.labels, labelHiddenGuardians)
	}
	switch s.kind {
	case KindLabN3:
		b.labReport(true)
	case KindLabN1:
		b.labReport(false)
	case KindPrescription:
		b.prescription()
	case KindDischarge:
		b.dischargeLetter()
	case KindImaging:
		b.imagingReport()
	case KindVaccination:
		b.vaccinationNote()
	case KindSummary:
		b.summary()
	case KindConsultation:
		b.consultationReport()
	case KindEmergency:
		b.emergencyReport()
	}
	b.doc.Content = b.w.b
	b.doc.Meta.Confidentiality = []carnet.Coding{confNormal.coding()}
	for _, l := range b.labels {
		b.doc.Meta.Confidentiality = append(b.doc.Meta.Confidentiality, l.coding())
	}
	finish(&b.doc)
	return b.doc
}

func capabilityOf(k Kind) capability {
	switch k {
	case KindLabN3, KindLabN1:
		return capLab
	case KindImaging:
		return capImaging
	case KindPrescription:
		return capPrescription
	case KindDischarge:
		return capDischarge
	case KindVaccination:
		return capVaccination
	case KindSummary:
		return capSummary
	case KindConsultation:
		return capConsultation
	case KindEmergency:
		return capEmergency
	}
	return 0
}

// relevant says which specialties follow which conditions, so that a
// cardiologist writes about the heart failure and not about the asthma.
var relevant = map[string][]*condition{
	specCardiology.code: {&condHeartFailure, &condAtrialFibrillation, &condHypertension, &condDyslipidemia},
	specPneumology.code: {&condAsthma, &condCOPD},
	specEndocrino.code:  {&condDiabetes, &condHypothyroidism, &condDyslipidemia},
	specNephrology.code: {&condKidney, &condHypertension},
	specGastro.code:     {&condAnaemia},
	specGeriatrics.code: {&condHeartFailure, &condKidney},
}

// chooseAuthor picks who wrote a document of kind k for patient per.
func chooseAuthor(r *rand.Rand, pros []*pro, per *person, k Kind) *pro {
	gp := pros[per.GP]
	switch k {
	case KindSummary:
		return gp
	case KindPrescription, KindVaccination, KindConsultation:
		if chance(r, 0.55) {
			return gp
		}
	}
	want := capabilityOf(k)
	weights := make([]int, len(pros))
	total := 0
	for i, p := range pros {
		if p.caps&want == 0 {
			continue
		}
		if k == KindDischarge && p.org.setting != settingHospital {
			continue
		}
		w := 2
		if p.demo {
			w = 8
		}
		if cs := relevant[p.specialty.code]; len(cs) > 0 {
			for _, c := range per.conditions {
				if slices.Contains(cs, c) {
					w *= 4
					break
				}
			}
		}
		switch p.specialty {
		case specPaediatrics:
			if per.age >= 18 {
				w = 0
			} else {
				w *= 6
			}
		case specGeriatrics:
			if per.age < 70 {
				w = 0
			}
		}
		if p.profession == profDentist && per.age < 3 {
			w = 0
		}
		weights[i] = w
		total += w
	}
	if total == 0 {
		if k == KindDischarge {
			return pros[1] // the roster cardiologist works in a hospital
		}
		return gp
	}
	return pros[weighted(r, weights)]
}

// uuid returns a deterministic UUID-shaped id for CDA elements. Synthetic
// data must be reproducible, so these come from the document's generator,
// not from crypto/rand.
func (b *builder) uuid() string {
	hi, lo := b.r.Uint64(), b.r.Uint64()
	return strings.ToUpper(fmt.Sprintf("%08x-%04x-4%03x-%04x-%012x",
		hi>>32, (hi>>16)&0xffff, hi&0xfff, (lo>>48)&0x3fff|0x8000, lo&0xffffffffffff))
}

// nextID returns a fresh narrative anchor id with the given prefix.
func (b *builder) nextID(prefix string) string {
	b.ids++
	return fmt.Sprintf("%s-%d", prefix, b.ids)
}

// serviceEvent is a documentationOf/serviceEvent.
type serviceEvent struct {
	classCode    string
	code         code
	translations []code
	id           string
	low, high    time.Time
	performer    *pro
	labStatus    bool
}

// header is what the CDA header carries beyond patient and author.
type header struct {
	templates  [][2]string
	typ        code
	class      code
	format     code
	title      string
	labNS      bool
	events     []serviceEvent
	encounter  code
	encLow     time.Time
	encHigh    time.Time
	prescriber *pro      // lab reports: who ordered the tests
	orderTime  time.Time // … and when
}

var (
	tmplHL7France = [2]string{"2.16.840.1.113883.2.8.2.1", ""}
	tmplCISIS     = [2]string{"1.2.250.1.213.1.1.1.1", ""}
	tmplPDF       = [2]string{"1.3.6.1.4.1.19376.1.2.20", ""}
)

// writeHeader writes the XML declaration, the ClinicalDocument start and
// the header, and fills the metadata that comes from it.
func (b *builder) writeHeader(h *header) {
	w := &b.w
	per, a := b.per, b.author
	w.b = append(w.b, `<?xml version="1.0" encoding="UTF-8"?>`...)
	ns := []string{"xmlns", "urn:hl7-org:v3", "xmlns:xsi", "http://www.w3.org/2001/XMLSchema-instance"}
	if h.labNS {
		ns = append(ns, "xmlns:lab", "urn:oid:1.3.6.1.4.1.19376.1.3.2")
	}
	w.open("ClinicalDocument", ns...)
	w.empty("realmCode", "code", "FR")
	w.empty("typeId", "root", "2.16.840.1.113883.1.3", "extension", "POCD_HD000040")
	for _, t := range h.templates {
		w.empty("templateId", "root", t[0], "extension", t[1])
	}
	w.empty("id", "root", b.doc.UniqueID)
	w.code("code", h.typ)
	w.elem("title", h.title)
	w.empty("effectiveTime", "value", ts(b.created))
	w.code("confidentialityCode", confNormal)
	w.empty("languageCode", "code", "fr-FR")
	w.empty("setId", "root", strings.Replace(b.doc.UniqueID, ".999.1.", ".999.2.", 1))
	w.empty("versionNumber", "value", "1")

	// Patient, with the INS and the INS traits (qualifier BR) beside the
	// names in use (CL).
	w.open("recordTarget")
	w.open("patientRole")
	w.empty("id", "root", carnet.OIDInsTestNIR, "extension", per.INS.Value)
	w.addr(per.addr, "H")
	w.empty("telecom", "value", per.phone, "use", "MC")
	w.open("patient", "classCode", "PSN")
	w.open("name")
	w.elem("family", per.Identity.Family, "qualifier", "BR")
	w.elem("given", strings.Join(per.Identity.Given, " "))
	w.elem("given", per.Identity.Given[0], "qualifier", "BR")
	w.elem("family", strings.ToUpper(per.family), "qualifier", "CL")
	w.elem("given", per.given, "qualifier", "CL")
	w.close("name")
	if per.female {
		w.empty("administrativeGenderCode", "code", "F", "displayName", "Féminin", "codeSystem", oidGender)
	} else {
		w.empty("administrativeGenderCode", "code", "M", "displayName", "Masculin", "codeSystem", oidGender)
	}
	w.empty("birthTime", "value", dayTS(per.birth))
	w.open("birthplace")
	w.open("place")
	w.open("addr")
	w.elem("county", per.birthPlace.insee)
	w.elem("city", insForm(per.birthPlace.name))
	w.close("addr")
	w.close("place")
	w.close("birthplace")
	w.close("patient")
	w.close("patientRole")
	w.close("recordTarget")

	w.open("author")
	if per.GP == a.index {
		w.empty("functionCode", "code", "PCP", "displayName", "Médecin traitant", "codeSystem", oidParticipation)
	}
	w.empty("time", "value", ts(b.created))
	w.open("assignedAuthor")
	b.professional(a, "assignedPerson")
	b.organisation("representedOrganization", a.org, true)
	w.close("assignedAuthor")
	w.close("author")

	w.open("custodian")
	w.open("assignedCustodian")
	b.organisation("representedCustodianOrganization", a.org, false)
	w.close("assignedCustodian")
	w.close("custodian")

	w.open("legalAuthenticator")
	w.empty("time", "value", ts(b.created))
	w.empty("signatureCode", "code", "S")
	w.open("assignedEntity")
	b.professional(a, "assignedPerson")
	b.organisation("representedOrganization", a.org, true)
	w.close("assignedEntity")
	w.close("legalAuthenticator")

	if h.prescriber != nil {
		w.open("participant", "typeCode", "REF")
		w.empty("templateId", "root", "1.3.6.1.4.1.19376.1.3.3.1.6")
		w.open("time", "xsi:type", "IVL_TS")
		w.empty("high", "value", ts(h.orderTime))
		w.close("time")
		w.open("associatedEntity", "classCode", "PROV")
		b.professional(h.prescriber, "associatedPerson")
		w.close("associatedEntity")
		w.close("participant")
	}
	if gp := b.pros[per.GP]; gp != a {
		w.open("participant", "typeCode", "INF")
		w.empty("functionCode", "code", "PCP", "displayName", "Médecin traitant", "codeSystem", oidParticipation)
		w.empty("time", "nullFlavor", "NA")
		w.open("associatedEntity", "classCode", "PROV")
		b.professional(gp, "associatedPerson")
		b.organisation("scopingOrganization", gp.org, true)
		w.close("associatedEntity")
		w.close("participant")
	}

	for i, ev := range h.events {
		w.open("documentationOf")
		w.open("serviceEvent", "classCode", ev.classCode)
		if ev.id != "" {
			w.empty("id", "root", oidOrderID, "extension", ev.id)
		}
		if ev.code.code != "" {
			if len(ev.translations) == 0 {
				w.code("code", ev.code)
			} else {
				c := ev.code
				w.open("code", "code", c.code, "displayName", c.display, "codeSystem", c.system, "codeSystemName", c.systemName())
				for _, t := range ev.translations {
					w.code("translation", t)
				}
				w.close("code")
			}
		}
		if ev.labStatus {
			w.empty("lab:statusCode", "code", "completed")
		}
		if !ev.low.IsZero() || !ev.high.IsZero() {
			w.open("effectiveTime")
			if !ev.low.IsZero() {
				w.empty("low", "value", ts(ev.low))
			}
			if !ev.high.IsZero() {
				w.empty("high", "value", ts(ev.high))
			}
			w.close("effectiveTime")
		}
		if ev.performer != nil {
			w.open("performer", "typeCode", "PRF")
			if h.labNS {
				w.empty("templateId", "root", "1.3.6.1.4.1.19376.1.3.3.1.7")
			}
			w.open("assignedEntity")
			b.professional(ev.performer, "assignedPerson")
			b.organisation("representedOrganization", ev.performer.org, true)
			w.close("assignedEntity")
			w.close("performer")
		}
		w.close("serviceEvent")
		w.close("documentationOf")
		if i == 0 {
			b.doc.Meta.ServicePeriod = carnet.Period{Start: ev.low, End: ev.high}
		}
		if ev.code.code != "" {
			b.doc.Meta.Events = append(b.doc.Meta.Events, ev.code.coding())
		}
	}

	w.open("componentOf")
	w.open("encompassingEncounter")
	w.code("code", h.encounter)
	w.open("effectiveTime")
	w.empty("low", "value", ts(h.encLow))
	if !h.encHigh.IsZero() {
		w.empty("high", "value", ts(h.encHigh))
	}
	w.close("effectiveTime")
	w.open("location")
	w.open("healthCareFacility")
	w.code("code", a.org.facility)
	w.open("location")
	w.elem("name", a.org.name)
	w.addr(a.org.addr, "")
	w.close("location")
	w.close("healthCareFacility")
	w.close("location")
	w.close("encompassingEncounter")
	w.close("componentOf")

	m := &b.doc.Meta
	m.Title = h.title
	m.Class = h.class.coding()
	m.Type = h.typ.coding()
	m.Format = h.format.coding()
	m.Facility = a.org.facility.coding()
	m.PracticeSetting = a.org.setting.coding()
	m.Created = b.created
	m.Authors = []carnet.Author{a.Author}
	m.SourcePatientID = per.INS

	b.lines = append(b.lines,
		strings.ToUpper(a.org.name),
		a.org.addr.line()+" — Tél. "+strings.TrimPrefix(a.org.phone, "tel:"),
		"",
		strings.ToUpper(h.title),
		"",
		"Patient : "+per.displayName()+", né"+feminine(per)+" le "+frDate(per.birth)+" — INS "+per.INS.Value,
		"Rédigé par "+a.title()+" ("+a.roleCode().display+") le "+frDateTime(b.created),
		"",
	)
}

func feminine(p *person) string {
	if p.female {
		return "e"
	}
	return ""
}

// professional writes id, code, addr, telecom and the person's name.
func (b *builder) professional(p *pro, personElem string) {
	w := &b.w
	w.empty("id", "root", carnet.OIDRPPS, "extension", p.Author.ID.Value)
	w.code("code", p.roleCode())
	w.addr(p.org.addr, "")
	w.empty("telecom", "value", p.phone, "use", "WP")
	w.open(personElem)
	w.open("name")
	if p.female {
		w.elem("prefix", "MME")
	} else {
		w.elem("prefix", "M")
	}
	w.elem("given", p.given)
	w.elem("family", p.Author.Family)
	if p.profession == profPhysician || p.profession == profDentist {
		w.elem("suffix", "DR")
	}
	w.close("name")
	w.close(personElem)
}

func (b *builder) organisation(elem string, o organisation, setting bool) {
	w := &b.w
	w.open(elem)
	w.empty("id", "root", oidStructure, "extension", o.id)
	w.elem("name", o.name)
	w.empty("telecom", "value", o.phone, "use", "WP")
	w.addr(o.addr, "")
	if setting {
		w.code("standardIndustryClassCode", o.setting)
	}
	w.close(elem)
}

func (w *xw) addr(a address, use string) {
	w.open("addr", "use", use)
	w.elem("houseNumber", fmt.Sprint(a.number))
	w.elem("streetName", a.street)
	w.elem("postalCode", a.place.postal)
	w.elem("city", a.place.name)
	w.elem("country", "FRANCE")
	w.close("addr")
}

// Section helpers.

func (b *builder) openSection(templates []string, c code, title string) {
	w := &b.w
	w.open("component")
	w.open("section")
	for _, t := range templates {
		w.empty("templateId", "root", t)
	}
	w.empty("id", "root", b.uuid())
	w.code("code", c)
	w.elem("title", title)
	b.lines = append(b.lines, strings.ToUpper(title))
}

func (b *builder) closeSection() {
	b.w.close("section")
	b.w.close("component")
	b.lines = append(b.lines, "")
}

// paragraphs writes a section text made of paragraphs.
func (b *builder) paragraphs(ps ...string) {
	w := &b.w
	w.open("text")
	for _, p := range ps {
		w.elem("paragraph", p)
	}
	w.close("text")
	b.lines = append(b.lines, ps...)
}

// list writes a section text made of a list.
func (b *builder) list(items ...string) {
	w := &b.w
	w.open("text")
	w.open("list")
	for _, it := range items {
		w.elem("item", it)
	}
	w.close("list")
	w.close("text")
	for _, it := range items {
		b.lines = append(b.lines, "– "+it)
	}
}

func (b *builder) openBody() {
	b.w.open("component")
	b.w.open("structuredBody")
}

// closeDocument ends the body (adding, with LargeDocs, a PDF copy that
// brings the document to its target size) and the document.
func (b *builder) closeDocument(structured bool) {
	w := &b.w
	if structured {
		if b.target > 0 {
			b.pdfCopy()
		}
		w.close("structuredBody")
		w.close("component")
	}
	w.close("ClinicalDocument")
	w.b = append(w.b, '\n')
}

// signature closes the text rendering the way letters end.
func (b *builder) signature() {
	b.lines = append(b.lines, "", "Fait le "+frDate(b.created)+", "+b.author.title(), "Document signé électroniquement.")
}
