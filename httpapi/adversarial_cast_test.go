package httpapi_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	carnet "github.com/carnet-sante/carnet"
	"github.com/carnet-sante/carnet/auth"
	"github.com/carnet-sante/carnet/internal/testenv"
	"github.com/carnet-sante/carnet/synth"
)

// The cast of the adversarial suite: every kind of actor docs/ACCESS.md
// names, each with a real signed token and the carnet.Actor the server's
// verifier makes of it (what the policy oracle decides on).

// advMember is one person or program acting on the record.
type advMember struct {
	Name string // how steps and reports name them
	Kind carnet.ActorKind
	// Author is a professional's identity as documents name it (RPPS,
	// profession, specialty, organisation).
	Author carnet.Author
	// FINESS is the token's finess claim ("" none): a professional's
	// organisation, or the organisation software files for.
	FINESS string
	// Centre15 is the claim of a regulating physician of a SAMU – centre 15.
	Centre15 bool
	INS      carnet.Identifier // patient side: whose record they act on
	Rep      bool              // a legal representative of INS
	ClientID string            // software
	Token    string
	Actor    carnet.Actor // as the server's verifier reads Token
}

func (m *advMember) professional() bool { return m.Kind == carnet.ActorProfessional }
func (m *advMember) software() bool     { return m.Kind == carnet.ActorSystem }
func (m *advMember) patientSide() bool  { return m.Kind == carnet.ActorPatient }

// rpps is a professional's RPPS ("" for others).
func (m *advMember) rpps() string {
	if m.professional() {
		return m.Author.ID.Value
	}
	return ""
}

// filerKey is who filed, as uniqueIds are unique per filer (ACCESS.md,
// "Identical retries and uniqueIds"): the professional, the software, or
// the patient side (the patient and their representatives file as one).
func (m *advMember) filerKey() string {
	switch m.Kind {
	case carnet.ActorProfessional:
		return "professional|" + m.rpps()
	case carnet.ActorSystem:
		return "system|" + m.ClientID
	}
	return "patient"
}

// advObserver is a member reading the record in one access mode.
type advObserver struct {
	Who    *advMember
	Mode   carnet.Mode
	Reason string // X-Access-Reason, as sent (not yet percent-encoded)
}

func (o advObserver) String() string {
	switch o.Mode {
	case carnet.ModeBreakGlass:
		if o.Reason == "" {
			return o.Who.Name + " (bris de glace, sans motif)"
		}
		return o.Who.Name + " (bris de glace)"
	case carnet.ModeCentre15:
		return o.Who.Name + " (centre 15)"
	}
	return o.Who.Name
}

// headers are the emergency headers of the observer's mode.
func (o advObserver) headers() []string {
	switch o.Mode {
	case carnet.ModeBreakGlass:
		return []string{"X-Purpose-Of-Use", "BTG", "X-Access-Reason", percentEncode(o.Reason)}
	case carnet.ModeCentre15:
		return []string{"X-Purpose-Of-Use", "ETREAT"}
	}
	return nil
}

// percentEncode encodes every byte outside unreserved ASCII, so that
// control characters reach the server as the client typed them.
func percentEncode(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-._~ ", c) >= 0 {
			if c == ' ' {
				b.WriteString("%20")
			} else {
				b.WriteByte(c)
			}
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}

// advCast is everyone of the suite, with the patient whose record they
// act on (P), another patient with a record of their own (Q) and a person
// with no record yet (U).
type advCast struct {
	P, Q, U  carnet.Identifier
	members  map[string]*advMember
	order    []string // members in a fixed order: generation never ranges over a map
	observer []advObserver
}

func (c *advCast) get(name string) *advMember {
	m, ok := c.members[name]
	if !ok {
		panic("adversarial: no cast member " + name)
	}
	return m
}

// named returns the members of kind k, in cast order.
func (c *advCast) named(k carnet.ActorKind) []*advMember {
	var out []*advMember
	for _, n := range c.order {
		if c.members[n].Kind == k {
			out = append(out, c.members[n])
		}
	}
	return out
}

// FINESS of the organisations of synth's fixed roster (Struct_IdNat "1" +
// FINESS): the laboratory of Dr PERRIN, the GP's practice, the hospital of
// the cardiologist and of the SAMU.
const (
	finessLab      = "750204108"
	finessCabinet  = "750200122"
	finessHospital = "750199985"
)

// newAdvCast mints a token for every member and reads it back through a
// verifier configured like the server's.
func newAdvCast(t *testing.T, env *testenv.Env) *advCast {
	t.Helper()
	pats, pros := synth.Options{Patients: 3, Professionals: len(synth.RosterLogins())}.People()
	c := &advCast{P: pats[0].INS, Q: pats[1].INS, U: pats[2].INS, members: map[string]*advMember{}}
	add := func(m *advMember) {
		c.members[m.Name] = m
		c.order = append(c.order, m.Name)
	}
	add(&advMember{Name: "patient", Kind: carnet.ActorPatient, INS: c.P})
	add(&advMember{Name: "représentant", Kind: carnet.ActorPatient, INS: c.P, Rep: true})
	add(&advMember{Name: "autre-patient", Kind: carnet.ActorPatient, INS: c.Q})
	byLogin := map[string]carnet.Author{}
	for _, p := range pros {
		byLogin[p.Login] = p.Author
	}
	// The roster's professionals: GP, cardiologist, nurse, dentist, SAMU
	// physician, pharmacist, and the biologist whose lab reports are filed
	// by his laboratory's software.
	for _, login := range []string{"gp", "cardio", "nurse", "dentist", "samu", "pharma", "bio"} {
		a := byLogin[login]
		add(&advMember{Name: login, Kind: carnet.ActorProfessional, Author: a, FINESS: strings.TrimPrefix(a.OrgID.Value, "1")})
	}
	// The regulating physician of the centre 15 is the SAMU physician with
	// the régulation's claim.
	samu := byLogin["samu"]
	add(&advMember{Name: "régulateur", Kind: carnet.ActorProfessional, Author: samu, FINESS: finessHospital, Centre15: true})
	add(&advMember{Name: "logiciel-labo", Kind: carnet.ActorSystem, ClientID: "sil-bio-seine", FINESS: finessLab})
	add(&advMember{Name: "logiciel-cabinet", Kind: carnet.ActorSystem, ClientID: "lgc-cabinet-lefevre", FINESS: finessCabinet})
	add(&advMember{Name: "logiciel-hôpital", Kind: carnet.ActorSystem, ClientID: "dpi-deux-rives", FINESS: finessHospital})
	add(&advMember{Name: "logiciel-sans-finess", Kind: carnet.ActorSystem, ClientID: "lgc-anonyme"})

	verifier, err := auth.NewVerifier(auth.Config{Issuers: []auth.Issuer{{URL: env.Issuer.IssuerURL(), Audience: testenv.Audience}},
		AllowTestINS: true, HTTPClient: env.Issuer.Client()})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range c.order {
		m := c.members[n]
		claims := map[string]any{}
		switch m.Kind {
		case carnet.ActorPatient:
			claims = map[string]any{auth.ClaimINS: m.INS.Value, auth.ClaimINSSystem: m.INS.System, auth.ClaimName: m.Name, auth.ClaimScope: "patient/*.cruds"}
			if m.Rep {
				claims[auth.ClaimRepresentative] = true
			}
		case carnet.ActorProfessional:
			a := m.Author
			claims = map[string]any{auth.ClaimRPPS: a.ID.Value, auth.ClaimProfession: a.Profession.Code,
				auth.ClaimName: strings.TrimSpace(strings.Join(a.Given, " ") + " " + a.Family), auth.ClaimScope: "user/*.cruds"}
			if a.Specialty.Code != "" {
				claims[auth.ClaimSpecialty] = a.Specialty.Code
			}
			if m.Centre15 {
				claims["centre15"] = true
			}
		case carnet.ActorSystem:
			claims = map[string]any{auth.ClaimClientID: m.ClientID, auth.ClaimName: m.Name, auth.ClaimScope: "system/*.cruds"}
		}
		if m.FINESS != "" {
			claims[auth.ClaimFINESS] = m.FINESS
		}
		if m.Token, err = env.Issuer.Issue(m.Kind, claims, testenv.Audience, 2*time.Hour); err != nil {
			t.Fatal(err)
		}
		p, err := verifier.Verify(context.Background(), m.Token)
		if err != nil {
			t.Fatalf("the server's verifier refuses the token of %s: %v", m.Name, err)
		}
		m.Actor = p.Actor
	}

	// Who looks after each write: everyone in normal mode, and the
	// emergency modes docs/ACCESS.md distinguishes.
	for _, n := range c.order {
		if n != "régulateur" { // the SAMU physician, already there
			c.observer = append(c.observer, advObserver{Who: c.members[n], Mode: carnet.ModeNormal})
		}
	}
	c.observer = append(c.observer,
		advObserver{Who: c.get("régulateur"), Mode: carnet.ModeCentre15},
		advObserver{Who: c.get("dentist"), Mode: carnet.ModeCentre15},
		advObserver{Who: c.get("nurse"), Mode: carnet.ModeBreakGlass, Reason: "patient inconscient"},
		advObserver{Who: c.get("pharma"), Mode: carnet.ModeBreakGlass},
	)
	return c
}

// emergency reports whether o reads in an emergency mode.
func (o advObserver) emergency() bool { return o.Mode != carnet.ModeNormal && o.Mode != "" }
