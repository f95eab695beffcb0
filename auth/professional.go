package auth

import (
	"errors"
	"strings"

	carnet "github.com/carnet-sante/carnet"
)

// Professional is a professional as another credential names them (an
// XUA SAML assertion, docs/XDS.md): the same fields as the OIDC claims.
type Professional struct {
	RPPS       string   // 11–12 digits (e.g. "8" + RPPS), as the rpps claim
	Profession string   // TRE_G15 code, e.g. G15_10
	Specialty  string   // optional, e.g. G15_10/SM54
	Name       string   // display name, for the audit trail
	Orgs       []string // FINESS or structure ids (9 to 16 digits)
	Centre15   bool     // a regulating physician of a SAMU – centre 15
	Scopes     []string
}

// ProfessionalActor returns the Actor of p with the checks an OIDC token's
// claims get (principal): a credential other than a bearer token maps to
// the same actors.
func ProfessionalActor(p Professional) (carnet.Actor, error) {
	if !digits(p.RPPS, 11, 12) {
		return carnet.Actor{}, errors.New("professional without a valid national id (11 or 12 digits)")
	}
	if !validProfession(p.Profession) {
		return carnet.Actor{}, errors.New("professional without a valid TRE_G15 profession")
	}
	if p.Specialty != "" && (len(p.Specialty) > 32 || !printable(p.Specialty) || strings.ContainsRune(p.Specialty, ' ')) {
		return carnet.Actor{}, errors.New("bad specialty")
	}
	if len(p.Name) > 200 || !printable(p.Name) {
		return carnet.Actor{}, errors.New("bad name")
	}
	if len(p.Orgs) > 64 {
		return carnet.Actor{}, errors.New("too many organisations")
	}
	a := carnet.Actor{Kind: carnet.ActorProfessional, ID: carnet.Identifier{System: "urn:oid:" + carnet.OIDRPPS, Value: p.RPPS},
		Name: p.Name, Profession: p.Profession, Specialty: p.Specialty, Centre15: p.Centre15, Scopes: p.Scopes}
	for _, f := range p.Orgs {
		if !digits(f, 9, 16) {
			return carnet.Actor{}, errors.New("bad organisation id (9 to 16 digits)")
		}
		a.Orgs = append(a.Orgs, carnet.Identifier{System: "urn:oid:" + oidFINESS, Value: f})
	}
	if len(a.Orgs) > 0 {
		a.Org = a.Orgs[0]
	}
	return a, nil
}

// DemoProfessional returns what a demo professional's token says (gp,
// cardio, nurse, dentist, samu, pharma), for demo credentials of another
// kind (the demo XUA assertion); false for any other user.
func (d *DemoIssuer) DemoProfessional(user string) (Professional, bool) {
	u, ok := d.users[user]
	if !ok || u.kind != carnet.ActorProfessional {
		return Professional{}, false
	}
	str := func(k string) string { s, _ := u.claims[k].(string); return s }
	p := Professional{RPPS: str(ClaimRPPS), Profession: str(ClaimProfession), Specialty: str(ClaimSpecialty), Name: str(ClaimName)}
	if f := str(ClaimFINESS); f != "" {
		p.Orgs = []string{f}
	}
	p.Centre15, _ = u.claims[ClaimCentre15].(bool)
	return p, true
}
