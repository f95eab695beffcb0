package xds

import (
	"fmt"
	"strings"
	"time"

	carnet "github.com/carnet-sante/carnet"
)

// Classification schemes, identification schemes and nodes of XDS.b
// (ITI TF-3 4.2.5).
const (
	objectTypeStable   = "urn:uuid:7edca82f-054d-47f2-a032-9b2a5b5186c1"
	objectTypeOnDemand = "urn:uuid:34268e47-fdf5-41a6-ba33-82133c465248"

	schemeClass           = "urn:uuid:41a5887f-8865-4c09-adf7-e362475b143a"
	schemeConfidentiality = "urn:uuid:f4f85eac-e6cb-4883-b524-f2705394840f"
	schemeFormat          = "urn:uuid:a09d5840-386c-46f2-b5ad-9c3699a4309d"
	schemeFacility        = "urn:uuid:f33fb8ac-18af-42cc-ae0e-ed0b0bdb91e1"
	schemePractice        = "urn:uuid:cccf5598-8b07-4b77-a05e-ae952c785ead"
	schemeType            = "urn:uuid:f0306f51-975f-434e-a61c-c59651d33983"
	schemeEvent           = "urn:uuid:2c6b8cb7-8b2a-4051-b291-b1ae6a575ef4"
	schemeDocAuthor       = "urn:uuid:93606bcf-9494-43ec-9b4e-a7748d1a838d"
	idDocUniqueID         = "urn:uuid:2e82c1f6-a085-4c72-9da3-8640a32e42ab"
	idDocPatientID        = "urn:uuid:58a6f841-87b3-4a3e-92fd-a8ffeff98427"

	nodeSubmissionSet  = "urn:uuid:a54d6aa5-d40d-43f9-88c5-b4633d873bdd"
	nodeFolder         = "urn:uuid:d9d542f3-6cc4-48b6-8870-ea235fbc94c2"
	schemeSetAuthor    = "urn:uuid:a7058bb9-b4e4-4307-ba5b-e3f0ab85e12d"
	schemeContentType  = "urn:uuid:aa543740-bdda-424e-8c96-df4873be8500"
	idSetUniqueID      = "urn:uuid:96fdda7c-d067-4183-912e-bf5ee74998a8"
	idSetSourceID      = "urn:uuid:554ac39e-e3fe-47fe-b233-965d2a147832"
	idSetPatientID     = "urn:uuid:6b5aea1a-874d-4603-a4bc-96a0a7b38446"
	objectTypeRegistry = "urn:oasis:names:tc:ebxml-regrep:ObjectType:RegistryObject:RegistryPackage"

	assocHasMember = "urn:oasis:names:tc:ebxml-regrep:AssociationType:HasMember"
	assocRPLC      = "urn:ihe:iti:2007:AssociationType:RPLC"
	assocAPND      = "urn:ihe:iti:2007:AssociationType:APND"
	assocXFRM      = "urn:ihe:iti:2007:AssociationType:XFRM"
	assocXFRMRPLC  = "urn:ihe:iti:2007:AssociationType:XFRM_RPLC"
	assocSigns     = "urn:ihe:iti:2007:AssociationType:signs"
	assocUpdateAS  = "urn:ihe:iti:2010:AssociationType:UpdateAvailabilityStatus"

	statusApproved   = "urn:oasis:names:tc:ebxml-regrep:StatusType:Approved"
	statusDeprecated = "urn:oasis:names:tc:ebxml-regrep:StatusType:Deprecated"
	statusDeleted    = "urn:oasis:names:tc:ebxml-regrep:StatusType:Deleted"
	statusArchived   = "urn:asip:ci-sis:2010:StatusType:Archived"
)

// relationOf maps association types to domain relations.
var relationOf = map[string][]string{
	assocRPLC:     {"replaces"},
	assocAPND:     {"appends"},
	assocXFRM:     {"transforms"},
	assocXFRMRPLC: {"transforms", "replaces"},
	assocSigns:    {"signs"},
}

// xdsStatus and domainStatus translate availability statuses.
func xdsStatus(s carnet.DocumentStatus) string {
	switch s {
	case carnet.StatusSuperseded:
		return statusDeprecated
	case carnet.StatusArchived:
		return statusArchived
	case carnet.StatusDeleted:
		return statusDeleted
	}
	return statusApproved
}

func domainStatus(s string) (carnet.DocumentStatus, bool) {
	switch s {
	case statusApproved, "Approved":
		return carnet.StatusCurrent, true
	case statusDeprecated, "Deprecated":
		return carnet.StatusSuperseded, true
	case statusArchived:
		return carnet.StatusArchived, true
	case statusDeleted, "Deleted":
		return carnet.StatusDeleted, true
	}
	return "", false
}

// slot is a named list of values.
type slot struct {
	Name   string
	Values []string
}

// object is any ebRIM RegistryObject read: ExtrinsicObject,
// RegistryPackage, Association or Classification.
type object struct {
	Kind            string // ExtrinsicObject, RegistryPackage, Association, Classification, ObjectRef
	ID, LID, Status string
	MimeType        string
	ObjectType      string
	Name, Desc      string
	VersionName     string
	Slots           []slot
	Classifications []*object
	ExtIDs          []extID
	// Classification
	Scheme, Node, ClassifiedObject, ClassificationNode string
	// Association
	AssocType, Source, Target string
}

type extID struct{ Scheme, Value string }

func (o *object) slot(name string) []string {
	for _, s := range o.Slots {
		if s.Name == name {
			return s.Values
		}
	}
	return nil
}

func (o *object) slot1(name string) string {
	if v := o.slot(name); len(v) > 0 {
		return v[0]
	}
	return ""
}

func (o *object) extID(scheme string) (string, bool) {
	for _, e := range o.ExtIDs {
		if e.Scheme == scheme {
			return e.Value, true
		}
	}
	return "", false
}

func (o *object) classified(scheme string) []*object {
	var out []*object
	for _, c := range o.Classifications {
		if c.Scheme == scheme {
			out = append(out, c)
		}
	}
	return out
}

// localized returns the first LocalizedString value of a Name or
// Description element.
func localized(n *node) string {
	if n == nil {
		return ""
	}
	if ls := n.child(nsRIM, "LocalizedString"); ls != nil {
		return ls.attr("value")
	}
	return ""
}

// readObject reads one RegistryObject element, bounded.
func readObject(n *node, lim Limits) (*object, error) {
	o := &object{Kind: n.Local, ID: n.attr("id"), LID: n.attr("lid"), Status: n.attr("status"),
		MimeType: n.attr("mimeType"), ObjectType: n.attr("objectType"),
		Scheme: n.attr("classificationScheme"), Node: n.attr("nodeRepresentation"),
		ClassifiedObject: n.attr("classifiedObject"), ClassificationNode: n.attr("classificationNode"),
		AssocType: n.attr("associationType"), Source: n.attr("sourceObject"), Target: n.attr("targetObject")}
	count := 0
	for _, c := range n.Children {
		if c.Space != nsRIM {
			continue
		}
		count++
		if count > lim.MaxSlots {
			return nil, fmt.Errorf("%s %s has more than %d slots, classifications and identifiers", o.Kind, o.ID, lim.MaxSlots)
		}
		switch c.Local {
		case "Slot":
			var vals []string
			for _, v := range c.child(nsRIM, "ValueList").all(nsRIM, "Value") {
				vals = append(vals, strings.TrimSpace(v.Text))
			}
			if len(vals) > lim.MaxValues {
				return nil, fmt.Errorf("slot %s of %s has more than %d values", c.attr("name"), o.ID, lim.MaxValues)
			}
			o.Slots = append(o.Slots, slot{Name: c.attr("name"), Values: vals})
		case "Name":
			o.Name = localized(c)
		case "Description":
			o.Desc = localized(c)
		case "VersionInfo":
			o.VersionName = c.attr("versionName")
		case "Classification":
			cl, err := readObject(c, lim)
			if err != nil {
				return nil, err
			}
			if cl.ClassifiedObject == "" {
				cl.ClassifiedObject = o.ID
			}
			o.Classifications = append(o.Classifications, cl)
		case "ExternalIdentifier":
			o.ExtIDs = append(o.ExtIDs, extID{Scheme: c.attr("identificationScheme"), Value: strings.TrimSpace(c.attr("value"))})
		}
	}
	return o, nil
}

// coded reads a coded classification: nodeRepresentation, the
// codingScheme slot (an OID kept as urn:oid:), the Name.
func coded(c *object) carnet.Coding {
	return carnet.Coding{System: codeSystem(c.slot1("codingScheme")), Code: c.Node, Display: c.Name}
}

// codeSystem writes a codingScheme the way Carnet keeps systems.
func codeSystem(s string) string {
	s = strings.TrimSpace(s)
	if carnet.IsOID(s) {
		return "urn:oid:" + s
	}
	return s
}

// schemeOf writes a system back as an XDS codingScheme.
func schemeOf(system string) string { return carnet.NormalizeIdentifier(system) }

// HL7 v2 data types, as XDS writes them in slots.

// cxIdentifier reads a CX (value^^^&OID&ISO[^type]).
func cxIdentifier(s string) (carnet.Identifier, bool) {
	f := strings.Split(s, "^")
	if len(f) < 4 || f[0] == "" {
		return carnet.Identifier{}, false
	}
	sub := strings.Split(f[3], "&")
	if len(sub) < 2 || !carnet.IsOID(sub[1]) {
		return carnet.Identifier{}, false
	}
	return carnet.Identifier{System: "urn:oid:" + sub[1], Value: f[0]}, true
}

// cx writes an identifier as CX; INS get the NH type, as the DMP asks.
func cx(id carnet.Identifier) string {
	oid := carnet.NormalizeIdentifier(id.System)
	s := id.Value + "^^^&" + oid + "&ISO"
	if ins, _ := id.IsINS(); ins {
		s += "^NH"
	}
	return s
}

// xcnAuthor reads an XCN into an author's person fields.
func xcnAuthor(s string, a *carnet.Author) {
	f := strings.Split(s, "^")
	get := func(i int) string {
		if i < len(f) {
			return f[i]
		}
		return ""
	}
	a.Family = get(1)
	for _, g := range []string{get(2), get(3)} {
		if g != "" {
			a.Given = append(a.Given, g)
		}
	}
	if get(0) != "" {
		sys := ""
		if sub := strings.Split(get(8), "&"); len(sub) >= 2 && carnet.IsOID(sub[1]) {
			sys = "urn:oid:" + sub[1]
		}
		a.ID = carnet.Identifier{System: sys, Value: get(0)}
	}
}

// xcn writes an author's person as XCN (the DMP's form for RPPS: type D,
// IDNPS).
func xcn(a carnet.Author) string {
	given := ""
	if len(a.Given) > 0 {
		given = a.Given[0]
	}
	second := ""
	if len(a.Given) > 1 {
		second = a.Given[1]
	}
	s := a.ID.Value + "^" + a.Family + "^" + given + "^" + second + "^^^^^"
	if oid := carnet.NormalizeIdentifier(a.ID.System); a.ID.Value != "" && carnet.IsOID(oid) {
		s += "&" + oid + "&ISO^D^^^IDNPS"
	}
	return strings.TrimRight(s, "^")
}

// xonOrg reads an XON (Name^^^^^&OID&ISO^IDNST^^^id).
func xonOrg(s string, a *carnet.Author) {
	f := strings.Split(s, "^")
	a.Org = f[0]
	if len(f) >= 10 && f[9] != "" {
		sys := ""
		if sub := strings.Split(f[5], "&"); len(sub) >= 2 && carnet.IsOID(sub[1]) {
			sys = "urn:oid:" + sub[1]
		}
		a.OrgID = carnet.Identifier{System: sys, Value: f[9]}
	}
}

func xon(a carnet.Author) string {
	if a.OrgID.Value == "" {
		return a.Org
	}
	return a.Org + "^^^^^&" + carnet.NormalizeIdentifier(a.OrgID.System) + "&ISO^IDNST^^^" + a.OrgID.Value
}

// ce reads a CE (code^display^OID), or a bare code.
func ce(s string) carnet.Coding {
	f := strings.Split(s, "^")
	c := carnet.Coding{Code: f[0]}
	if len(f) > 1 {
		c.Display = f[1]
	}
	if len(f) > 2 {
		c.System = codeSystem(f[2])
	}
	return c
}

func ceString(c carnet.Coding) string {
	if c.System == "" && c.Display == "" {
		return c.Code
	}
	return c.Code + "^" + c.Display + "^" + schemeOf(c.System)
}

// authorOf reads an author classification.
func authorOf(c *object) carnet.Author {
	var a carnet.Author
	if p := c.slot1("authorPerson"); p != "" {
		xcnAuthor(p, &a)
	}
	if i := c.slot1("authorInstitution"); i != "" {
		xonOrg(i, &a)
	}
	if r := c.slot1("authorRole"); r != "" {
		a.Role = ce(r)
	}
	for _, sp := range c.slot("authorSpecialty") {
		code := ce(sp)
		switch prof, _, hasSlash := strings.Cut(code.Code, "/"); {
		case hasSlash && prof != "":
			a.Specialty = code
			if a.Profession.Code == "" {
				a.Profession = carnet.Coding{System: code.System, Code: prof}
			}
		case strings.HasPrefix(code.Code, "G15_"):
			a.Profession = code
		default:
			a.Specialty = code
		}
	}
	return a
}

// authorSlots writes an author's slots.
func authorSlots(a carnet.Author) []slot {
	var out []slot
	if a.ID.Value != "" || a.Family != "" || len(a.Given) > 0 {
		out = append(out, slot{"authorPerson", []string{xcn(a)}})
	}
	if a.Org != "" || a.OrgID.Value != "" {
		out = append(out, slot{"authorInstitution", []string{xon(a)}})
	}
	if a.Role.Code != "" {
		out = append(out, slot{"authorRole", []string{ceString(a.Role)}})
	}
	var spec []string
	if a.Specialty.Code != "" {
		spec = append(spec, ceString(a.Specialty))
	}
	if a.Profession.Code != "" && !strings.HasPrefix(a.Specialty.Code, a.Profession.Code+"/") {
		spec = append(spec, ceString(a.Profession))
	}
	if len(spec) > 0 {
		out = append(out, slot{"authorSpecialty", spec})
	}
	return out
}

// dtm reads an HL7 DTM in UTC: YYYY[MM[DD[hh[mm[ss]]]]].
func dtm(s string) (time.Time, bool) {
	layouts := map[int]string{4: "2006", 6: "200601", 8: "20060102", 10: "2006010215", 12: "200601021504", 14: "20060102150405"}
	l, ok := layouts[len(s)]
	if !ok {
		return time.Time{}, false
	}
	t, err := time.Parse(l, s)
	if err != nil {
		return time.Time{}, false
	}
	return t.UTC(), true
}

func dtmString(t time.Time) string { return t.UTC().Format("20060102150405") }
