package xua

import (
	"strings"
	"time"

	carnet "github.com/carnet-sante/carnet"
	"github.com/carnet-sante/carnet/auth"
)

// read maps a verified assertion to what it says: the professional (NameID,
// subject-id, roles, structure), the patient (resource-id), the purpose of
// use, within its validity.
func (v *Verifier) read(a *elem, is Issuer) (*Assertion, error) {
	id, _ := a.attr("ID")
	if ver, _ := a.attr("Version"); ver != "2.0" {
		return nil, refuse("SAML version %q, want 2.0", clip(ver))
	}
	for _, one := range []string{"Issuer", "Subject", "Conditions"} {
		if n := len(a.all(nsSAML, one)); n != 1 {
			return nil, refuse("%d %s elements, want one", n, one)
		}
	}
	if n := len(a.child(nsSAML, "Subject").all(nsSAML, "NameID")); n != 1 {
		return nil, refuse("%d NameID, want one", n)
	}
	out := &Assertion{ID: id, Issuer: strings.TrimSpace(a.child(nsSAML, "Issuer").textOr())}
	if err := v.checkTimes(a, out); err != nil {
		return nil, err
	}
	subj := a.child(nsSAML, "Subject")
	nameID := strings.TrimSpace(subj.child(nsSAML, "NameID").textOr())
	attrs := map[string][]*elem{}
	n := 0
	for _, st := range a.all(nsSAML, "AttributeStatement") {
		for _, at := range st.all(nsSAML, "Attribute") {
			name, _ := at.attr("Name")
			vals := at.all(nsSAML, "AttributeValue")
			if n += len(vals); n > 256 {
				return nil, refuse("too many attribute values")
			}
			if _, dup := attrs[name]; dup {
				return nil, refuse("attribute %q given twice", clip(name))
			}
			attrs[name] = vals
		}
	}
	p := auth.Professional{RPPS: nameID, Scopes: []string{"user/*.cruds"}, Centre15: is.Centre15}
	if vs := attrs[AttrSubjectID]; len(vs) == 1 {
		p.Name = strings.TrimSpace(vs[0].text())
	}
	// The first role is the profession (TRE_G15); a physician's or a
	// pharmacist's second is their specialty (savoir-faire).
	for i, rv := range attrs[AttrRole] {
		code, system := coded(rv)
		switch {
		case i == 0 && system == OIDProfession && len(code) == 2:
			p.Profession = "G15_" + code
		case i == 0:
			return nil, refuse("the first subject:role is not a TRE_G15 profession")
		case i == 1 && code != "" && len(code) <= 16 && !strings.ContainsAny(code, " /"):
			p.Specialty = p.Profession + "/" + code
		}
	}
	if vs := attrs[AttrStructure]; len(vs) == 1 {
		p.Orgs = []string{strings.TrimSpace(vs[0].text())}
	}
	actor, err := auth.ProfessionalActor(p)
	if err != nil {
		return nil, refuse("professional: %v", err)
	}
	out.Actor = actor
	// Purpose of use: the DMP's access modes, or HL7 v3 PurposeOfUse.
	out.Mode = carnet.ModeNormal
	if vs := attrs[AttrPurposeOfUse]; len(vs) > 1 {
		return nil, refuse("several purposes of use")
	} else if len(vs) == 1 {
		code, _ := coded(vs[0])
		switch code {
		case "normal", "TREAT":
			out.Mode = carnet.ModeNormal
		case "bris_de_glace", "BTG":
			out.Mode = carnet.ModeBreakGlass
		case "centre_15", "ETREAT":
			out.Mode = carnet.ModeCentre15
		default:
			return nil, refuse("purpose of use %q: normal, bris_de_glace or centre_15", clip(code))
		}
	}
	if vs := attrs[AttrAccessReason]; len(vs) == 1 {
		out.Reason = strings.TrimSpace(vs[0].text())
		if !carnet.ValidReason(out.Reason) {
			return nil, refuse("bad access reason")
		}
	}
	if out.Mode == carnet.ModeBreakGlass && out.Reason == "" {
		return nil, refuse("bris de glace needs a reason (%s)", AttrAccessReason)
	}
	if vs := attrs[AttrResourceID]; len(vs) > 1 {
		return nil, refuse("several resource-id")
	} else if len(vs) == 1 {
		pid, err := patientCX(strings.TrimSpace(vs[0].text()), v.cfg.AllowTestINS)
		if err != nil {
			return nil, err
		}
		out.Patient = pid
	}
	return out, nil
}

// checkTimes applies IssueInstant, NotBefore, NotOnOrAfter (each with the
// skew, the lifetime capped at MaxLifetime) and the audience.
func (v *Verifier) checkTimes(a *elem, out *Assertion) error {
	now := v.cfg.Now()
	skew := v.cfg.Skew
	ii, err := xsTime(a.attrOr("IssueInstant"))
	if err != nil {
		return refuse("IssueInstant: %v", err)
	}
	if ii.After(now.Add(skew)) {
		return refuse("issued in the future")
	}
	end := ii.Add(v.cfg.MaxLifetime)
	c := a.child(nsSAML, "Conditions")
	if c == nil {
		return refuse("one Conditions element is required (the audience)")
	}
	if s := c.attrOr("NotBefore"); s != "" {
		nb, err := xsTime(s)
		if err != nil {
			return refuse("NotBefore: %v", err)
		}
		if nb.After(now.Add(skew)) {
			return refuse("not valid yet")
		}
	}
	if s := c.attrOr("NotOnOrAfter"); s != "" {
		na, err := xsTime(s)
		if err != nil {
			return refuse("NotOnOrAfter: %v", err)
		}
		if na.Before(end) {
			end = na
		}
	}
	if !now.Before(end.Add(skew)) {
		return refuse("expired")
	}
	out.Expires = end
	// Every AudienceRestriction must name this deployment (SAML core
	// 2.5.1.4), and there must be one; a condition Carnet does not know
	// makes the assertion invalid (2.5.1.2).
	restrictions := 0
	for _, k := range c.kids() {
		switch {
		case k.is(nsSAML, "AudienceRestriction"):
			restrictions++
			found := false
			for _, au := range k.all(nsSAML, "Audience") {
				if strings.TrimSpace(au.text()) == v.cfg.Audience {
					found = true
				}
			}
			if !found {
				return refuse("the audience is not this deployment's")
			}
		case k.is(nsSAML, "OneTimeUse"), k.is(nsSAML, "ProxyRestriction"):
		default:
			return refuse("unknown condition %s", clip(k.Local))
		}
	}
	if restrictions == 0 && !v.cfg.AllowNoAudience {
		return refuse("no AudienceRestriction")
	}
	return nil
}

func xsTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(s))
	if err != nil {
		return time.Time{}, err
	}
	return t, nil
}

// coded reads an AttributeValue holding an HL7 v3 coded element (Role,
// PurposeOfUse: code, codeSystem), else its text as the code.
func coded(av *elem) (code, system string) {
	if ks := av.kids(); len(ks) == 1 {
		code, _ = ks[0].attr("code")
		system, _ = ks[0].attr("codeSystem")
		return strings.TrimSpace(code), strings.TrimSpace(system)
	}
	return strings.TrimSpace(av.text()), ""
}

// patientCX reads the resource-id: the INS as a CX,
// INS^^^&1.2.250.1.213.1.4.8&ISO^NH (the test OIDs only when allowed).
func patientCX(cx string, allowTest bool) (carnet.Identifier, error) {
	value, rest, ok := strings.Cut(cx, "^^^&")
	oid, _, ok2 := strings.Cut(rest, "&")
	if !ok || !ok2 || len(cx) > 128 {
		return carnet.Identifier{}, refuse("resource-id is not an INS in CX form")
	}
	id := carnet.Identifier{System: "urn:oid:" + oid, Value: value}
	isINS, test := id.IsINS()
	if !isINS {
		return carnet.Identifier{}, refuse("resource-id is not an INS")
	}
	if test && !allowTest {
		return carnet.Identifier{}, refuse("test INS outside demo or test mode")
	}
	return id, nil
}

func (e *elem) textOr() string {
	if e == nil {
		return ""
	}
	return e.text()
}

func (e *elem) attrOr(local string) string {
	s, _ := e.attrOf(local)
	return s
}
