package policy

import (
	"encoding/csv"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/carnet-sante/carnet"
)

const (
	proID      = "810000000001" // the acting professional's RPPS
	otherPro   = "810000000099" // someone else, so that no list is empty
	patientINS = "1850775123456"
	repINS     = "1620775654321"
	docLogical = "doc-1"
	orgF1      = "750000001" // the system's organisation (FINESS)
	orgF2      = "750000002" // another organisation
)

var testNow = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)

// scenario is one oracle row, or one point of the sweep.
type scenario struct {
	actor, profession, action string
	flags                     map[string]bool
	labels                    []string
	status, mode, reason      string
	doctype                   string // "" for a record-level request
	change                    string // oracle column change, "" for none
	filing                    string // oracle column filing, "" for none
}

// request builds the request and the settings lookup a scenario describes.
func (sc scenario) request() (carnet.AccessRequest, Settings) {
	pick := func(flag string) []string {
		if sc.flags[flag] {
			return []string{otherPro, proID}
		}
		return []string{otherPro}
	}
	s := Settings{
		Closed:            sc.flags["closed"],
		Blocked:           pick("blocked"),
		CareTeam:          pick("careteam"),
		Consented:         pick("consent"),
		Designated:        pick("designated"),
		RefuseBTG:         sc.flags["refusebtg"],
		RefuseCentre15:    sc.flags["refusec15"],
		MaskedInEmergency: sc.flags["maskedemergency"],
		Restricted:        []string{"doc-other"},
	}
	if sc.flags["restricted"] {
		s.Restricted = append(s.Restricted, docLogical)
	}
	req := carnet.AccessRequest{
		Action:  carnet.Action(sc.action),
		Mode:    carnet.Mode(sc.mode),
		Reason:  sc.reason,
		Patient: &carnet.PatientRow{Key: "p1", State: carnet.RecordOpen},
		Now:     testNow,
	}
	if sc.flags["closedrow"] {
		req.Patient.State = carnet.RecordClosed
	}
	switch sc.actor {
	case "pro":
		req.Actor = carnet.Actor{Kind: carnet.ActorProfessional, ID: carnet.Identifier{System: "urn:oid:" + carnet.OIDRPPS, Value: proID},
			Centre15: sc.flags["regulator"]}
		req.Actor.Profession, _, _ = strings.Cut(sc.profession, "/")
		if strings.Contains(sc.profession, "/") {
			req.Actor.Specialty = sc.profession
		}
	case "patient":
		req.Actor = carnet.Actor{Kind: carnet.ActorPatient, ID: carnet.Identifier{System: "urn:oid:" + carnet.OIDInsNIR, Value: patientINS}}
		req.Relation = carnet.RelationSelf
	case "rep":
		req.Actor = carnet.Actor{Kind: carnet.ActorPatient, ID: carnet.Identifier{System: "urn:oid:" + carnet.OIDInsNIR, Value: patientINS}, LegalRepresentative: true}
		req.Relation = carnet.RelationLegalRep
	case "stranger":
		req.Actor = carnet.Actor{Kind: carnet.ActorPatient, ID: carnet.Identifier{System: "urn:oid:" + carnet.OIDInsNIR, Value: "2991299999999"}}
	case "system":
		req.Actor = carnet.Actor{Kind: carnet.ActorSystem, ID: carnet.Identifier{System: "urn:carnet:actor", Value: "lgc-1"}}
		if !sc.flags["noorg"] {
			req.Actor.Orgs = []carnet.Identifier{{System: "urn:oid:" + carnet.OIDStructure, Value: orgF1}}
		}
	default:
		req.Actor = carnet.Actor{Kind: carnet.ActorKind(sc.actor)}
	}
	if sc.doctype != "" {
		author := otherPro
		if sc.flags["author"] {
			author = proID
		}
		doc := &carnet.DocumentRow{Patient: "p1", ID: "e-1", LogicalID: docLogical, Status: carnet.DocumentStatus(sc.status), Latest: true}
		doc.Tokens = append(doc.Tokens, carnet.CodingTokens(carnet.TokType, carnet.Coding{System: "http://loinc.org", Code: sc.doctype})...)
		for _, l := range sc.labels {
			doc.Tokens = append(doc.Tokens, carnet.CodingTokens(carnet.TokLabel, carnet.Coding{System: "urn:oid:" + carnet.OIDVisibility, Code: l})...)
		}
		doc.Tokens = append(doc.Tokens, carnet.Token{Kind: carnet.TokAuthor, Value: author})
		org := orgF2
		if sc.flags["orgauthor"] {
			org = orgF1
		}
		doc.Tokens = append(doc.Tokens, carnet.Token{Kind: carnet.TokAuthorOrg, Value: org})
		switch {
		case sc.flags["filer"]:
			doc.Tokens = append(doc.Tokens, carnet.Token{Kind: carnet.TokFiler, Value: carnet.FilerOf(req.Actor)})
		case sc.flags["patientdoc"]:
			doc.Tokens = append(doc.Tokens, carnet.Token{Kind: carnet.TokFiler, Value: carnet.FilerOf(carnet.Actor{Kind: carnet.ActorPatient})})
		default:
			doc.Tokens = append(doc.Tokens, carnet.Token{Kind: carnet.TokFiler, Value: "system|urn:carnet:actor|another"})
		}
		req.Document = doc
	}
	req.Change = parseChange(sc.change)
	if sc.filing != "" {
		req.Filing = parseFiling(sc.filing)
	}
	return req, s
}

// parseChange reads the change column: +LABEL, -LABEL, status:STATUS, replace.
func parseChange(s string) *carnet.Change {
	if s == "" {
		return nil
	}
	c := &carnet.Change{}
	for _, f := range strings.Fields(s) {
		switch {
		case f == "replace":
			c.Replace = true
		case strings.HasPrefix(f, "status:"):
			c.Status = carnet.DocumentStatus(strings.TrimPrefix(f, "status:"))
		case strings.HasPrefix(f, "+"):
			c.AddLabels = append(c.AddLabels, f[1:])
		case strings.HasPrefix(f, "-"):
			c.RemoveLabels = append(c.RemoveLabels, f[1:])
		}
	}
	return c
}

// parseFiling reads the filing column: meta:WHO header:WHO class:CODE.
func parseFiling(s string) *carnet.Filing {
	f := &carnet.Filing{Class: carnet.Coding{System: carnet.ClassSystem, Code: "10"}}
	who := func(w string) []carnet.Author {
		rpps := func(v string) carnet.Identifier {
			return carnet.Identifier{System: "urn:oid:" + carnet.OIDRPPS, Value: v}
		}
		org := func(v string) carnet.Identifier {
			return carnet.Identifier{System: "urn:oid:" + carnet.OIDStructure, Value: "1" + v}
		}
		switch w {
		case "self":
			return []carnet.Author{{ID: rpps(proID), OrgID: org(orgF1)}}
		case "selfandother":
			return []carnet.Author{{ID: rpps(proID), OrgID: org(orgF1)}, {ID: rpps(otherPro), OrgID: org(orgF1)}}
		case "selfandorg":
			return []carnet.Author{{ID: rpps(proID), OrgID: org(orgF1)}, {Org: "Structure", OrgID: org(orgF1)}}
		case "selfforged":
			// the filer's RPPS under another profession than the token's
			return []carnet.Author{{ID: rpps(proID), OrgID: org(orgF1), Profession: carnet.Coding{Code: "G15_40"}}}
		case "proname":
			// a médecin named, without an RPPS
			return []carnet.Author{{Family: "LEFEVRE", Given: []string{"Hélène"}, Profession: carnet.Coding{Code: "G15_10"}}}
		case "other":
			return []carnet.Author{{ID: rpps(otherPro), OrgID: org(orgF1)}}
		case "orgother":
			return []carnet.Author{{ID: rpps(otherPro), OrgID: org(orgF2)}}
		case "noorgauthor":
			return []carnet.Author{{ID: rpps(otherPro)}}
		case "org":
			return []carnet.Author{{Org: "Structure", OrgID: org(orgF1)}}
		case "patient":
			return []carnet.Author{{ID: carnet.Identifier{System: "urn:oid:" + carnet.OIDInsNIR, Value: patientINS}, Family: "Patient"}}
		case "none":
			return []carnet.Author{}
		}
		panic("filing: unknown author kind " + w)
	}
	for _, part := range strings.Fields(s) {
		k, v, _ := strings.Cut(part, ":")
		switch k {
		case "meta":
			f.Authors = who(v)
		case "header":
			f.HeaderAuthors = who(v)
		case "class":
			f.Class.Code = v
		case "label":
			f.Labels = append(f.Labels, v)
		}
	}
	return f
}

func TestDecisionsOracle(t *testing.T) {
	e := &Engine{Matrix: sharedMatrix(t)}
	f, err := os.Open(filepath.Join("testdata", "decisions.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cr := csv.NewReader(f)
	cr.Comment = '#'
	recs, err := cr.ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) < 2 || recs[0][0] != "actor" {
		t.Fatalf("decisions.csv: no header or no rows")
	}
	dash := func(s string) string {
		if s == "-" {
			return ""
		}
		return s
	}
	wrong := 0
	for i, r := range recs[1:] {
		sc := scenario{
			actor: r[0], profession: dash(r[1]), action: r[2], flags: map[string]bool{},
			labels: strings.Fields(dash(r[4])), status: r[5], mode: r[6], reason: dash(r[7]), doctype: dash(r[8]),
			change: dash(r[12]), filing: dash(r[13]),
		}
		for _, fl := range strings.Fields(dash(r[3])) {
			sc.flags[fl] = true
		}
		req, s := sc.request()
		req.Settings = s
		got := e.Decide(req)
		var problems []string
		if want := r[9] == "permit"; got.Permit != want {
			problems = append(problems, "permit = "+map[bool]string{true: "permit", false: "deny"}[got.Permit])
		}
		for _, kw := range strings.Fields(dash(r[10])) {
			if !hasReason(got, kw) {
				problems = append(problems, "no reason "+kw)
			}
		}
		switch w := dash(r[11]); {
		case w == "" && len(got.Warnings) > 0:
			problems = append(problems, "unexpected warnings")
		case w != "" && !strings.Contains(strings.Join(got.Warnings, "\n"), w):
			problems = append(problems, "no warning "+w)
		}
		if len(problems) > 0 {
			wrong++
			t.Errorf("row %d %v: %s (reasons %q, warnings %q)", i+1, r, strings.Join(problems, "; "), got.Reasons, got.Warnings)
		}
	}
	t.Logf("%d oracle rows, %d wrong decisions", len(recs)-1, wrong)
}

// hasReason reports whether one of d's reasons is code (or "code: …").
func hasReason(d carnet.Decision, code string) bool {
	for _, r := range d.Reasons {
		if r == code || strings.HasPrefix(r, code+":") {
			return true
		}
	}
	return false
}
