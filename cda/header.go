package cda

import (
	"strconv"
	"strings"

	carnet "github.com/carnet-sante/carnet"
)

// SystemLOINC is the FHIR system of LOINC codes; every other code system
// OID becomes "urn:oid:<oid>".
const SystemLOINC = "http://loinc.org"

const (
	oidLOINC      = "2.16.840.1.113883.6.1"
	oidJ01        = "1.2.250.1.213.1.1.4.5" // JDV_J01 professions and specialties (TRE_G15 / TRE_R38)
	oidFormatIHE  = "1.3.6.1.4.1.19376.1.2.3"
	oidFormatANS  = "1.2.250.1.213.1.1.4.2.282"
	templatePDF   = "1.3.6.1.4.1.19376.1.2.20"
	oidConfidCode = "2.16.840.1.113883.5.25"
)

func systemURI(oid string) string {
	switch {
	case oid == "":
		return ""
	case oid == oidLOINC:
		return SystemLOINC
	case strings.Contains(oid, ":"):
		return oid // already a URI
	}
	return "urn:oid:" + oid
}

// coding reads a CD/CE element; a nullFlavor or absent code gives the zero Coding.
func coding(n *node) carnet.Coding {
	if n == nil || n.attr("code") == "" {
		return carnet.Coding{}
	}
	return carnet.Coding{System: systemURI(n.attr("codeSystem")), Code: n.attr("code"), Display: n.attr("displayName")}
}

// identifier reads an II element: root as an OID system and extension as
// the value; an id with a root only (a UUID or OID naming the thing
// itself) gives System "urn:ietf:rfc:3986" and the root as "urn:oid:…" or
// "urn:uuid:…".
func identifier(n *node) carnet.Identifier {
	if n == nil {
		return carnet.Identifier{}
	}
	root, ext := n.attr("root"), n.attr("extension")
	switch {
	case root == "":
		return carnet.Identifier{}
	case ext != "":
		return carnet.Identifier{System: systemURI(root), Value: ext}
	case isUUID(root):
		return carnet.Identifier{System: "urn:ietf:rfc:3986", Value: "urn:uuid:" + strings.ToLower(root)}
	}
	return carnet.Identifier{System: "urn:ietf:rfc:3986", Value: "urn:oid:" + root}
}

// idString is the XDS form of an II: root, or root^extension.
func idString(n *node) string {
	if n == nil || n.attr("root") == "" {
		return ""
	}
	if ext := n.attr("extension"); ext != "" {
		return n.attr("root") + "^" + ext
	}
	return n.attr("root")
}

func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
				return false
			}
		}
	}
	return true
}

func readHeader(d *Document, cd *node) {
	d.TemplateIDs = cd.templateIDs()
	for _, t := range cd.children("templateId") {
		if r := t.attr("root"); r != "" {
			d.Templates = append(d.Templates, TemplateID{Root: r, Extension: t.attr("extension")})
		}
	}
	d.UniqueID = idString(cd.child("id"))
	d.Type = coding(cd.child("code"))
	d.Title = cd.child("title").textContent()
	d.Effective = nodeTime(cd.child("effectiveTime"))
	d.Confidentiality = coding(cd.child("confidentialityCode"))
	d.Language = cd.child("languageCode").attr("code")
	d.SetID = idString(cd.child("setId"))
	if v, err := strconv.Atoi(cd.child("versionNumber").attr("value")); err == nil && v >= 0 {
		d.Version = v
	}
	for _, rd := range cd.children("relatedDocument") {
		if rd.attr("typeCode") == "RPLC" {
			if id := idString(rd.path("parentDocument", "id")); id != "" {
				d.Replaces = append(d.Replaces, id)
			}
		}
	}

	if pr := cd.path("recordTarget", "patientRole"); pr != nil {
		for _, id := range pr.children("id") {
			if v := identifier(id); v.Value != "" {
				d.Patient.IDs = append(d.Patient.IDs, v)
			}
		}
		p := pr.child("patient")
		d.Patient.Family, d.Patient.Given = personName(p.child("name"))
		d.Patient.Gender = p.child("administrativeGenderCode").attr("code")
		d.Patient.BirthDate = nodeTime(p.child("birthTime"))
		if a := pr.child("addr"); a != nil {
			d.Patient.PostalCode = strings.TrimSpace(a.child("postalCode").textContent())
			d.Patient.City = strings.TrimSpace(a.child("city").textContent())
			for _, name := range []string{"streetAddressLine", "houseNumber", "streetName"} {
				for _, l := range a.children(name) {
					if v := strings.TrimSpace(l.textContent()); v != "" {
						d.Patient.Street = append(d.Patient.Street, v)
					}
				}
			}
		}
		for _, tc := range pr.children("telecom") {
			if v := tc.attr("value"); v != "" {
				d.Patient.Telecom = append(d.Patient.Telecom, v)
			}
		}
	}

	for _, an := range cd.children("author") {
		aa := an.child("assignedAuthor")
		a := Author{Time: nodeTime(an.child("time")), ID: identifier(aa.child("id"))}
		a.Profession, a.Specialty = professionSpecialty(coding(aa.child("code")))
		if pn := aa.child("assignedPerson"); pn != nil {
			a.Family, a.Given = personName(pn.child("name"))
		}
		if dev := aa.child("assignedAuthoringDevice"); dev != nil {
			a.Device = dev.child("softwareName").textContent()
			if a.Device == "" {
				a.Device = dev.child("manufacturerModelName").textContent()
			}
		}
		a.Role = coding(an.child("functionCode"))
		a.Org = organization(aa.child("representedOrganization"))
		d.Authors = append(d.Authors, a)
	}

	d.Custodian = organization(cd.path("custodian", "assignedCustodian", "representedCustodianOrganization"))

	if la := cd.child("legalAuthenticator"); la != nil {
		ae := la.child("assignedEntity")
		p := &Participant{Time: nodeTime(la.child("time")), ID: identifier(ae.child("id")), Org: organization(ae.child("representedOrganization"))}
		p.Family, p.Given = personName(ae.path("assignedPerson", "name"))
		p.Profession, p.Specialty = professionSpecialty(coding(ae.child("code")))
		d.LegalAuthenticator = p
	}

	for _, doc := range cd.children("documentationOf") {
		se := doc.child("serviceEvent")
		if se == nil {
			continue
		}
		ev := ServiceEvent{Code: coding(se.child("code")), IDs: identifiers(se.children("id"))}
		ev.Start, ev.End = nodePeriod(se.child("effectiveTime"))
		for _, pf := range se.children("performer") {
			if c := coding(pf.path("assignedEntity", "representedOrganization", "standardIndustryClassCode")); c.Code != "" {
				ev.PracticeSetting = c
				break
			}
		}
		d.ServiceEvents = append(d.ServiceEvents, ev)
	}
	for _, f := range cd.children("inFulfillmentOf") {
		d.Orders = append(d.Orders, identifiers(f.child("order").children("id"))...)
	}

	if enc := cd.path("componentOf", "encompassingEncounter"); enc != nil {
		d.Encounter.IDs = identifiers(enc.children("id"))
		d.Encounter.Code = coding(enc.child("code"))
		d.Encounter.Start, d.Encounter.End = nodePeriod(enc.child("effectiveTime"))
		d.Encounter.Facility = coding(enc.path("location", "healthCareFacility", "code"))
	}
}

func identifiers(ns []*node) []carnet.Identifier {
	var out []carnet.Identifier
	for _, n := range ns {
		if id := identifier(n); id.Value != "" {
			out = append(out, id)
		}
	}
	return out
}

// professionSpecialty splits a JDV_J01 code: "G15_10/SM04" is the
// specialty SM04 of profession G15_10 (médecin).
func professionSpecialty(c carnet.Coding) (profession, specialty carnet.Coding) {
	if c.Code == "" {
		return
	}
	if prof, _, ok := strings.Cut(c.Code, "/"); ok && prof != "" {
		return carnet.Coding{System: c.System, Code: prof}, c
	}
	return c, carnet.Coding{}
}

func organization(n *node) Organization {
	if n == nil {
		return Organization{}
	}
	return Organization{
		ID:              identifier(n.child("id")),
		Name:            n.child("name").textContent(),
		PracticeSetting: coding(n.child("standardIndustryClassCode")),
	}
}

// personName returns the birth family name (qualifier BR) when there is
// one, else the first family name, and the given names of the same kind.
func personName(n *node) (family string, given []string) {
	if n == nil {
		return "", nil
	}
	fams := n.children("family")
	var chosen *node
	for _, f := range fams {
		if f.attr("qualifier") == "BR" {
			chosen = f
			break
		}
	}
	if chosen == nil && len(fams) > 0 {
		chosen = fams[0]
	}
	family = chosen.textContent()
	gs := n.children("given")
	for _, g := range gs {
		q := g.attr("qualifier")
		if chosen != nil && chosen.attr("qualifier") == "BR" && q == "CL" {
			continue // the name in use, when the birth name was chosen
		}
		if q == "BR" {
			continue // the first given name of the INS traits, a duplicate
		}
		if t := g.textContent(); t != "" {
			given = append(given, t)
		}
	}
	if len(given) == 0 {
		for _, g := range gs {
			if t := g.textContent(); t != "" {
				given = append(given, t)
				break
			}
		}
	}
	return family, given
}
