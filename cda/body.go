package cda

import (
	"encoding/base64"
	"strings"

	carnet "github.com/carnet-sante/carnet"
)

// Entry templates recognised: IHE PaLM and PCC, as the CI-SIS reuses
// them, and their HL7 C-CDA counterparts (US documents, and the IPS).
const (
	tmplLabObservation = "1.3.6.1.4.1.19376.1.3.1.6"
	tmplImmunization   = "1.3.6.1.4.1.19376.1.5.3.1.4.12"
	tmplAllergy        = "1.3.6.1.4.1.19376.1.5.3.1.4.6"
	tmplProblem        = "1.3.6.1.4.1.19376.1.5.3.1.4.5"
	tmplVitalSign      = "1.3.6.1.4.1.19376.1.5.3.1.4.13.2"
	tmplProcedure      = "1.3.6.1.4.1.19376.1.5.3.1.4.19"
	// tmplFRSimpleObservation is the CI-SIS FR-Simple-Observation (an IHE
	// PCC Simple Observation): certificates, discharge letters, EHPAD
	// liaison documents state their coded findings with it.
	tmplFRSimpleObservation = "1.2.250.1.213.1.1.3.48"

	tmplCCDAResult       = "2.16.840.1.113883.10.20.22.4.2"
	tmplCCDAVitalSign    = "2.16.840.1.113883.10.20.22.4.27"
	tmplCCDAImmunization = "2.16.840.1.113883.10.20.22.4.52"
	tmplCCDAAllergy      = "2.16.840.1.113883.10.20.22.4.7"
	tmplCCDAProblem      = "2.16.840.1.113883.10.20.22.4.4"
	tmplCCDAProcedure    = "2.16.840.1.113883.10.20.22.4.14"

	// oidCNAMATC is the CNAM's ATC group list (JDV_BDM_ATC_CNAM-HR_CISIS):
	// a reimbursement history states a medication's class with it, as a
	// translation of the product code.
	oidCNAMATC = "1.2.250.1.215.200.1.2.1"

	loincDoseNumber = "30973-2"
)

func build(cd *node, lim Limits) (*Document, error) {
	d := &Document{root: cd}
	readHeader(d, cd)
	if d.UniqueID == "" {
		return nil, carnet.Errorf(carnet.KindInvalid, "ClinicalDocument has no id (the document's uniqueId)")
	}
	comp := cd.child("component")
	switch {
	case comp.child("nonXMLBody") != nil:
		d.Level = LevelN1
		att, err := attachment(comp.path("nonXMLBody", "text"), lim)
		if err != nil {
			return nil, err
		}
		d.Attachment = att
	case comp.child("structuredBody") != nil:
		d.Level = LevelN3
		x := &extractor{d: d, lim: lim}
		for _, c := range comp.child("structuredBody").children("component") {
			if s := c.child("section"); s != nil {
				if err := x.section(s, 0); err != nil {
					return nil, err
				}
			}
		}
	default:
		return nil, carnet.Errorf(carnet.KindInvalid, "ClinicalDocument has neither a nonXMLBody nor a structuredBody")
	}
	return d, nil
}

// attachment decodes an ED element (B64 or TXT), bounded.
func attachment(n *node, lim Limits) (*Attachment, error) {
	if n == nil {
		return nil, nil
	}
	a := &Attachment{MediaType: n.attr("mediaType")}
	raw := n.rawText()
	if n.attr("representation") != "B64" {
		if len(raw) > lim.MaxAttachment {
			return nil, carnet.Errorf(carnet.KindTooLarge, "embedded document exceeds %d bytes", lim.MaxAttachment)
		}
		a.Data = []byte(raw)
		return a, nil
	}
	clean := strings.Map(func(r rune) rune {
		switch r {
		case ' ', '\t', '\n', '\r':
			return -1
		}
		return r
	}, raw)
	// DecodedLen bounds the allocation before decoding (it counts the
	// padding as data); the decoded length is the exact limit.
	if base64.StdEncoding.DecodedLen(len(clean)) > lim.MaxAttachment+3 {
		return nil, carnet.Errorf(carnet.KindTooLarge, "embedded document exceeds %d bytes", lim.MaxAttachment)
	}
	data, err := base64.StdEncoding.DecodeString(clean)
	if err != nil {
		return nil, carnet.Errorf(carnet.KindInvalid, "embedded document is not valid base64")
	}
	if len(data) > lim.MaxAttachment {
		return nil, carnet.Errorf(carnet.KindTooLarge, "embedded document exceeds %d bytes", lim.MaxAttachment)
	}
	a.Data = data
	return a, nil
}

type extractor struct {
	d   *Document
	lim Limits
	ids map[string]*node // narrative elements by ID, built on first use
}

func (x *extractor) section(s *node, depth int) error {
	idx := len(x.d.Sections)
	x.d.Sections = append(x.d.Sections, Section{
		Depth:       depth,
		TemplateIDs: s.templateIDs(),
		Code:        coding(s.child("code")),
		Title:       s.child("title").textContent(),
		narrative:   s.child("text"),
	})
	for _, e := range s.children("entry") {
		for _, k := range e.kids {
			if k.hl7 {
				if err := x.statement(k, idx, context{}); err != nil {
					return err
				}
			}
		}
	}
	for _, c := range s.children("component") {
		if sub := c.child("section"); sub != nil {
			if err := x.section(sub, depth+1); err != nil {
				return err
			}
		}
	}
	return nil
}

// context is what a nested statement inherits from its containers.
type context struct {
	effective Time
	specimen  carnet.Coding
	// nested is set below an entryRelationship: the statement qualifies
	// another one (a medication's "déconditionné", a problem's certainty)
	// rather than standing as an entry of its own.
	nested bool
}

// statement visits a clinical statement and what it contains.
func (x *extractor) statement(n *node, sec int, ctx context) error {
	if t := nodeTime(n.child("effectiveTime")); !t.IsZero() {
		ctx.effective = t
	}
	if sp := coding(n.path("specimen", "specimenRole", "specimenPlayingEntity", "code")); sp.Code != "" {
		ctx.specimen = sp
	}
	switch n.name {
	case "observation":
		switch {
		case n.hasTemplate(tmplLabObservation, tmplCCDAResult):
			x.d.LabResults = append(x.d.LabResults, x.labResult(n, sec, ctx))
			return nil
		case n.hasTemplate(tmplVitalSign, tmplCCDAVitalSign):
			x.d.VitalSigns = append(x.d.VitalSigns, x.labResult(n, sec, ctx))
			return nil
		case n.hasTemplate(tmplAllergy, tmplCCDAAllergy):
			x.d.Allergies = append(x.d.Allergies, x.allergy(n, sec))
			return nil
		case n.hasTemplate(tmplProblem, tmplCCDAProblem):
			x.d.Problems = append(x.d.Problems, x.problem(n, sec))
			return nil
		case n.hasTemplate(tmplFRSimpleObservation) && !ctx.nested:
			x.d.Observations = append(x.d.Observations, x.labResult(n, sec, ctx))
			// What it contains is walked below, as before.
		}
	case "procedure":
		if n.hasTemplate(tmplProcedure, tmplCCDAProcedure) {
			x.d.Procedures = append(x.d.Procedures, x.procedure(n, sec))
		}
	case "supply":
		// A dispensation document's entries: what was handed over, with
		// the prescription and dosage it refers to (read by dispensation,
		// not walked). Supplies of devices (no product) are not read.
		if n.attr("moodCode") == "EVN" && product(n) != nil {
			x.d.Medications = append(x.d.Medications, x.dispensation(n, sec))
			return nil
		}
	case "substanceAdministration":
		if n.hasTemplate(tmplImmunization, tmplCCDAImmunization) {
			x.d.Immunizations = append(x.d.Immunizations, x.immunization(n, sec))
		} else {
			x.d.Medications = append(x.d.Medications, x.medication(n, sec))
		}
		return nil
	case "observationMedia":
		if x.d.Attachment == nil && n.child("value").attr("mediaType") == "application/pdf" {
			a, err := attachment(n.child("value"), x.lim)
			if err != nil {
				return err
			}
			x.d.Attachment = a
		}
		return nil
	}
	// Containers: organizer components, act and observation relationships.
	for _, k := range n.kids {
		if !k.hl7 {
			continue
		}
		switch k.name {
		case "component", "entryRelationship":
			kctx := ctx
			kctx.nested = ctx.nested || k.name == "entryRelationship"
			for _, s := range k.kids {
				if s.hl7 && s.name != "" && s.name != "sequenceNumber" && s.name != "seperatableInd" {
					if err := x.statement(s, sec, kctx); err != nil {
						return err
					}
				}
			}
		}
	}
	return nil
}

func source(n *node, sec int) Source {
	return Source{ID: identifier(n.child("id")), TemplateIDs: n.templateIDs(), Section: sec}
}

func quantity(n *node) *Quantity {
	if n == nil || n.attr("value") == "" {
		return nil
	}
	return &Quantity{Value: n.attr("value"), Unit: n.attr("unit")}
}

func (x *extractor) labResult(n *node, sec int, ctx context) LabResult {
	r := LabResult{
		Code:      coding(n.child("code")),
		Effective: ctx.effective,
		Specimen:  ctx.specimen,
		Status:    n.child("statusCode").attr("code"),
		Source:    source(n, sec),
	}
	if ic := n.child("interpretationCode"); ic != nil {
		r.Interpretation = ic.attr("code")
	}
	if v := n.child("value"); v != nil {
		r.ValueType = v.xsiType()
		switch r.ValueType {
		case "PQ", "INT", "REAL":
			r.Quantity = quantity(v)
		case "CD", "CE", "CV", "CO", "CS":
			if c := coding(v); c.Code != "" {
				r.Coded = &c
			} else {
				r.Text = x.text(v.child("originalText"))
			}
		case "BL":
			switch v.attr("value") {
			case "true", "false":
				b := v.attr("value") == "true"
				r.Boolean = &b
			}
		case "IVL_PQ":
			r.Text = rangeString(quantity(v.child("low")), quantity(v.child("high")))
		case "RTO", "RTO_PQ_PQ", "RTO_INT_INT":
			num, den := v.child("numerator").attr("value"), v.child("denominator").attr("value")
			if num != "" && den != "" {
				r.Text = num + "/" + den
			}
		default:
			r.Text = x.text(v)
		}
	}
	for _, rr := range n.children("referenceRange") {
		or := rr.child("observationRange")
		if ic := or.child("interpretationCode").attr("code"); ic != "" && ic != "N" {
			continue // a range for another interpretation (e.g. the HH threshold)
		}
		if v := or.child("value"); v != nil {
			r.RangeLow, r.RangeHigh = quantity(v.child("low")), quantity(v.child("high"))
		}
		r.RangeText = x.text(or.child("text"))
		break
	}
	return r
}

func rangeString(low, high *Quantity) string {
	switch {
	case low != nil && high != nil:
		return low.Value + "-" + high.Value + " " + high.Unit
	case low != nil:
		return ">=" + low.Value + " " + low.Unit
	case high != nil:
		return "<=" + high.Value + " " + high.Unit
	}
	return ""
}

// text returns the text of an element, following a <reference
// value="#id"/> into the section narrative when that is all it has.
func (x *extractor) text(n *node) string {
	if n == nil {
		return ""
	}
	if t := strings.TrimSpace(n.textContent()); t != "" {
		return t
	}
	ref := n.child("reference").attr("value")
	if id, ok := strings.CutPrefix(ref, "#"); ok && id != "" {
		if target := x.byID(id); target != nil {
			return target.textContent()
		}
	}
	return ""
}

func (x *extractor) byID(id string) *node {
	if x.ids == nil {
		x.ids = map[string]*node{}
		var walk func(n *node)
		walk = func(n *node) {
			if v := n.attr("ID"); v != "" {
				if _, dup := x.ids[v]; !dup {
					x.ids[v] = n
				}
			}
			for _, k := range n.kids {
				if k.name != "" {
					walk(k)
				}
			}
		}
		for _, s := range x.d.Sections {
			if s.narrative != nil {
				walk(s.narrative)
			}
		}
	}
	return x.ids[id]
}

func material(n *node) *node {
	return n.path("consumable", "manufacturedProduct", "manufacturedMaterial")
}

// materialCode is the product code, or its first translation when the
// producer coded it only there.
func materialCode(m *node) carnet.Coding {
	c := m.child("code")
	if cc := coding(c); cc.Code != "" {
		return cc
	}
	for _, t := range c.children("translation") {
		if cc := coding(t); cc.Code != "" {
			return cc
		}
	}
	return carnet.Coding{}
}

// materialClass is the generic class a product states: the IHE pharmacy
// pharm:generalizedMedicineClass (ATC in the ANS volets), else the CNAM's
// ATC group given as a translation of the product code (CNAM-HR).
func materialClass(m *node) carnet.Coding {
	if c := coding(m.other("asSpecializedKind").other("generalizedMedicineClass").other("code")); c.Code != "" {
		return c
	}
	for _, t := range m.child("code").children("translation") {
		if t.attr("codeSystem") == oidCNAMATC {
			return coding(t)
		}
	}
	return carnet.Coding{}
}

// productName is the product's name, else its code's display, else the
// narrative its code's originalText points to.
func (x *extractor) productName(m *node, code carnet.Coding) string {
	if name := m.child("name").textContent(); name != "" {
		return name
	}
	if code.Display != "" {
		return code.Display
	}
	return x.text(m.path("code", "originalText"))
}

func product(supply *node) *node {
	return supply.path("product", "manufacturedProduct", "manufacturedMaterial")
}

// dispensation reads a dispensation document's supply (IHE PHARM DIS
// Dispense Item): the product handed over, how much and when, and the
// dosage the pharmacist restates (its COMP substanceAdministration).
func (x *extractor) dispensation(n *node, sec int) Medication {
	m := product(n)
	med := Medication{
		Mood:    "EVN",
		Product: materialCode(m),
		Class:   materialClass(m),
		Status:  n.child("statusCode").attr("code"),
		Supply:  x.supply(n, m),
		Source:  source(n, sec),
	}
	med.Name = x.productName(m, med.Product)
	for _, er := range n.children("entryRelationship") {
		sub := er.child("substanceAdministration")
		if sub == nil || er.attr("typeCode") != "COMP" {
			continue
		}
		d := x.medication(sub, sec)
		med.Dose, med.Route, med.Frequency, med.Start, med.End, med.Timing, med.Steps = d.Dose, d.Route, d.Frequency, d.Start, d.End, d.Timing, d.Steps
		break
	}
	return med
}

// supply reads a supply in moodCode EVN: its quantity (with the unit's
// name when the product's container states the same EDQM code), when it
// was handed over and by which organisation.
func (x *extractor) supply(n, m *node) *Supply {
	s := &Supply{Quantity: quantity(n.child("quantity")), Lot: m.child("lotNumberText").textContent()}
	if s.Quantity != nil && s.Quantity.Unit != "" {
		if fc := m.other("asContent").other("containerPackagedMedicine").other("formCode"); fc.attr("code") == s.Quantity.Unit {
			s.UnitName = fc.attr("displayName")
		}
	}
	s.Time = nodeTime(n.child("effectiveTime"))
	if s.Time.IsZero() {
		s.Time = nodeTime(n.path("performer", "time"))
	}
	if s.Time.IsZero() {
		s.Time = nodeTime(n.path("author", "time"))
	}
	s.Dispenser = n.path("performer", "assignedEntity", "representedOrganization", "name").textContent()
	return s
}

func (x *extractor) medication(n *node, sec int) Medication {
	m := material(n)
	med := Medication{
		Mood:    n.attr("moodCode"),
		Product: materialCode(m),
		Class:   materialClass(m),
		Route:   coding(n.child("routeCode")),
		Status:  n.child("statusCode").attr("code"),
		Source:  source(n, sec),
	}
	med.Name = x.productName(m, med.Product)
	med.Dose = doseQuantity(n)
	med.Frequency = x.text(n.child("text"))
	validity := false
	for _, et := range n.children("effectiveTime") {
		switch t := et.xsiType(); t {
		case "IVL_TS", "":
			if !validity {
				med.Start, med.End = nodePeriod(et)
				validity = true
			}
		default:
			readTiming(et, &med.Timing)
		}
	}
	for _, er := range n.children("entryRelationship") {
		if sup := er.child("supply"); sup != nil && sup.attr("moodCode") == "EVN" && med.Supply == nil {
			// The dispensation a reimbursement history nests (CNAM-HR).
			med.Supply = x.supply(sup, m)
			continue
		}
		sub := er.child("substanceAdministration")
		if sub == nil || sub.hasTemplate(tmplImmunization, tmplCCDAImmunization) {
			continue
		}
		step := Dosage{Text: x.text(sub.child("text")), Dose: doseQuantity(sub)}
		for _, et := range sub.children("effectiveTime") {
			readTiming(et, &step.Timing)
		}
		if !step.Timing.IsZero() || step.Dose != nil || step.Text != "" {
			med.Steps = append(med.Steps, step)
		}
	}
	return med
}

func doseQuantity(n *node) *Quantity {
	dq := n.child("doseQuantity")
	if dq == nil {
		return nil
	}
	if q := quantity(dq); q != nil {
		return q
	}
	return quantity(dq.child("low"))
}

// readTiming adds what a GTS effectiveTime says to t: PIVL_TS (period),
// EIVL_TS (event), IVL_TS (bounds), SXPR_TS (each component).
func readTiming(et *node, t *Timing) {
	t.readDepth(et, 0)
}

func (t *Timing) readDepth(et *node, depth int) {
	if et == nil || depth > 4 {
		return
	}
	switch et.xsiType() {
	case "PIVL_TS":
		if q := quantity(et.child("period")); q != nil {
			t.Period = q
		}
	case "EIVL_TS":
		if ev := et.child("event").attr("code"); ev != "" {
			t.Event = ev
		}
	case "IVL_TS":
		t.Start, t.End = nodePeriod(et)
		if q := quantity(et.child("width")); q != nil {
			t.Duration = q
		}
	case "SXPR_TS":
		for _, c := range et.children("comp") {
			t.readDepth(c, depth+1)
		}
	}
}

func (x *extractor) immunization(n *node, sec int) Immunization {
	m := material(n)
	im := Immunization{
		Vaccine: materialCode(m),
		Name:    m.child("name").textContent(),
		Lot:     m.child("lotNumberText").textContent(),
		Date:    nodeTime(n.child("effectiveTime")),
		Refused: n.attr("negationInd") == "true",
		Status:  n.child("statusCode").attr("code"),
		Source:  source(n, sec),
	}
	if im.Name == "" {
		im.Name = im.Vaccine.Display
	}
	for _, er := range n.children("entryRelationship") {
		o := er.child("observation")
		if o.child("code").attr("code") == loincDoseNumber {
			im.Dose = o.child("value").attr("value")
		}
	}
	return im
}

func (x *extractor) allergy(n *node, sec int) Allergy {
	a := Allergy{
		Type:   coding(n.child("code")),
		Status: n.child("statusCode").attr("code"),
		Source: source(n, sec),
	}
	a.Start, a.End = nodePeriod(n.child("effectiveTime"))
	for _, p := range n.children("participant") {
		pe := p.path("participantRole", "playingEntity")
		if pe == nil {
			continue
		}
		a.Agent = coding(pe.child("code"))
		a.Name = pe.child("name").textContent()
		if a.Name == "" {
			a.Name = a.Agent.Display
		}
		if a.Name == "" {
			a.Name = x.text(pe.path("code", "originalText"))
		}
		break
	}
	if v := n.child("value"); a.Name == "" && v != nil {
		a.Name = v.attr("displayName")
	}
	for _, er := range n.children("entryRelationship") {
		if o := er.child("observation"); o != nil && er.attr("typeCode") == "MFST" {
			if r := o.child("value").attr("displayName"); r != "" {
				a.Reaction = r
			} else {
				a.Reaction = x.text(o.child("text"))
			}
			break
		}
	}
	return a
}

func (x *extractor) problem(n *node, sec int) Problem {
	v := n.child("value")
	p := Problem{
		Code:   coding(v),
		Kind:   coding(n.child("code")),
		Status: n.child("statusCode").attr("code"),
		Source: source(n, sec),
	}
	p.Start, p.End = nodePeriod(n.child("effectiveTime"))
	p.Name = x.entryName(p.Code.Display, v, n)
	return p
}

func (x *extractor) procedure(n *node, sec int) Procedure {
	c := n.child("code")
	p := Procedure{
		Mood:   n.attr("moodCode"),
		Code:   coding(c),
		Status: n.child("statusCode").attr("code"),
		Source: source(n, sec),
	}
	if p.Code.Code == "" {
		for _, t := range c.children("translation") {
			if p.Code = coding(t); p.Code.Code != "" {
				break
			}
		}
	}
	p.Start, p.End = nodePeriod(n.child("effectiveTime"))
	p.Name = x.entryName(p.Code.Display, c, n)
	return p
}

// entryName is what an entry is called: its code's display, else the
// code's original text, else the entry's own text.
func (x *extractor) entryName(display string, code, entry *node) string {
	if display != "" {
		return display
	}
	if t := x.text(code.child("originalText")); t != "" {
		return t
	}
	return x.text(entry.child("text"))
}
