package policy

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/carnet-sante/carnet"
)

// visibilityMatrix has a rule of every kind: profession and specialty,
// allow and deny, and a specialty that overrides its profession.
const visibilityMatrix = `profession,document,label,effect,source
G15_40,68599-0,,deny,test
G15_40,11488-4,,allow,test
G15_10,68599-0,,allow,test
G15_10,34133-9,,deny,test
G15_10/SM04,34133-9,,allow,test
G15_10/SM04,11502-2,,deny,test
G15_10,http://loinc.org|60591-5,,deny,test
G15_60,11502-2,,allow,test
`

// visibilityDocs are document rows with what the policy reads varied:
// status, restriction, authorship, types (bare, system|code, several,
// none), labels in either form or both.
func visibilityDocs(r *rand.Rand, n int) []carnet.DocumentRow {
	types := [][]carnet.Token{
		nil,
		carnet.CodingTokens(carnet.TokType, carnet.Coding{System: "http://loinc.org", Code: "68599-0"}),
		carnet.CodingTokens(carnet.TokType, carnet.Coding{System: "http://loinc.org", Code: "11488-4"}),
		carnet.CodingTokens(carnet.TokType, carnet.Coding{System: "http://loinc.org", Code: "34133-9"}),
		carnet.CodingTokens(carnet.TokType, carnet.Coding{System: "http://loinc.org", Code: "11502-2"}),
		carnet.CodingTokens(carnet.TokType, carnet.Coding{System: "http://loinc.org", Code: "60591-5"}),
		carnet.CodingTokens(carnet.TokType, carnet.Coding{System: "http://loinc.org", Code: "18842-5"}),
		{{Kind: carnet.TokType, Value: "http://loinc.org|60591-5"}},
		{{Kind: carnet.TokType, Value: "11502-2"}},
		append(carnet.CodingTokens(carnet.TokType, carnet.Coding{System: "http://loinc.org", Code: "11488-4"}),
			carnet.CodingTokens(carnet.TokType, carnet.Coding{System: "http://loinc.org", Code: "68599-0"})...),
		append(carnet.CodingTokens(carnet.TokType, carnet.Coding{System: "http://loinc.org", Code: "34133-9"}),
			carnet.CodingTokens(carnet.TokType, carnet.Coding{System: "http://loinc.org", Code: "11502-2"})...),
	}
	labels := []string{"N", carnet.LabelMasquePS, carnet.LabelInvisiblePatient, carnet.LabelInvisibleLegalRep, "R"}
	statuses := []carnet.DocumentStatus{carnet.StatusCurrent, carnet.StatusSuperseded, carnet.StatusArchived, carnet.StatusDeleted}
	docs := make([]carnet.DocumentRow, n)
	for i := range docs {
		d := carnet.DocumentRow{Patient: "p1", ID: "e-1", LogicalID: docLogical, Latest: true, Status: statuses[r.IntN(len(statuses))]}
		if r.IntN(3) == 0 {
			d.LogicalID = "doc-restricted"
		}
		d.Tokens = append(d.Tokens, types[r.IntN(len(types))]...)
		for _, l := range labels {
			switch r.IntN(6) {
			case 0: // both forms, as DocumentTokens writes them
				d.Tokens = append(d.Tokens, carnet.CodingTokens(carnet.TokLabel, carnet.Coding{System: "urn:oid:" + carnet.OIDVisibility, Code: l})...)
			case 1: // system|code only
				d.Tokens = append(d.Tokens, carnet.Token{Kind: carnet.TokLabel, Value: "urn:oid:2.16.840.1.113883.5.25|" + l})
			case 2: // bare only
				d.Tokens = append(d.Tokens, carnet.Token{Kind: carnet.TokLabel, Value: l})
			case 3: // look-alikes that are not the label
				d.Tokens = append(d.Tokens, carnet.Token{Kind: carnet.TokLabel, Value: l + "X"}, carnet.Token{Kind: carnet.TokLabel, Value: "x" + l})
			}
		}
		switch r.IntN(4) {
		case 0:
			d.Tokens = append(d.Tokens, carnet.Token{Kind: carnet.TokAuthor, Value: proID})
		case 1:
			d.Tokens = append(d.Tokens, carnet.Token{Kind: carnet.TokAuthor, Value: otherPro})
		case 2: // the RPPS under another kind is not authorship
			d.Tokens = append(d.Tokens, carnet.Token{Kind: carnet.TokFiler, Value: proID}, carnet.Token{Kind: carnet.TokAuthorOrg, Value: proID})
		}
		docs[i] = d
	}
	return docs
}

// TestVisibilityAgrees: the compiled condition (Visibility) matches a
// document exactly when the full decision permits reading it, for every
// actor, every combination of the record's settings, every mode, and
// generated documents; with the matrix allowing or denying by default,
// with the national partial matrix when ../shared is there, and with none.
func TestVisibilityAgrees(t *testing.T) {
	m, err := LoadMatrix(strings.NewReader(visibilityMatrix))
	if err != nil {
		t.Fatal(err)
	}
	strict := *m
	strict.DenyByDefault = true
	engines := map[string]*Engine{"matrix": {Matrix: m}, "deny-by-default": {Matrix: &strict}, "no-matrix": {}, "empty-matrix": {Matrix: &Matrix{}}}
	if f, err := os.Open(filepath.Join("..", "..", "shared", "reference", "access-matrix-partial.csv")); err == nil {
		national, err := LoadMatrix(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		engines["national"] = &Engine{Matrix: national}
	}
	actors := []struct{ actor, profession string }{
		{"pro", "G15_10"}, {"pro", "G15_10/SM04"}, {"pro", "G15_40"}, {"pro", "G15_60"}, {"pro", "DAC"}, {"pro", ""},
		{"patient", ""}, {"rep", ""}, {"stranger", ""}, {"system", ""}, {"robot", ""},
	}
	type modeReason struct {
		mode, reason string
		regulator    bool
	}
	modes := []modeReason{{"normal", "", false}, {"", "", false}, {"btg", "malaise", false}, {"btg", " ", false}, {"etreat", "", false}, {"etreat", "", true}, {"god", "", false}}
	r := rand.New(rand.NewPCG(15, 67))
	docs := visibilityDocs(r, 400)
	// Every actor, mode and action; random combinations of the settings,
	// each against random documents.
	combos, perRequest := 48, 8
	if testing.Short() {
		combos = 16
	}
	n := 0
	for name, e := range engines {
		for _, a := range actors {
			for range combos {
				bits := r.IntN(1 << len(sweepFlags))
				flags := map[string]bool{}
				for i, f := range sweepFlags {
					flags[f] = bits&(1<<i) != 0
				}
				for _, mr := range modes {
					if mr.regulator {
						flags["regulator"] = true
					} else {
						delete(flags, "regulator")
					}
					for _, act := range []carnet.Action{carnet.ActionRead, carnet.ActionSearch} {
						sc := scenario{actor: a.actor, profession: a.profession, action: string(act), flags: flags, mode: mr.mode, reason: mr.reason}
						req, s := sc.request()
						req.Settings = s
						if flags["restricted"] {
							req.Settings.Restricted = append(req.Settings.Restricted, "doc-restricted")
						}
						if sc.actor == "pro" && sc.profession == "" {
							req.Actor.Profession = ""
						}
						cond, ok := e.Visibility(req)
						if !ok {
							t.Fatalf("%s: no condition for %+v", name, sc)
						}
						for range perRequest {
							d := docs[r.IntN(len(docs))]
							dreq := req
							dreq.Document = &d
							n++
							if got, want := cond.Match(&d), e.Permits(dreq); got != want {
								t.Fatalf("%s: %+v on %+v: the condition says %v, the decision %v (%q)\ncondition: %s",
									name, sc, d, got, want, e.Decide(dreq).Reasons, cond)
							}
						}
					}
				}
			}
		}
	}
	t.Logf("%d documents decided both ways", n)
}

// TestVisibilityNotCompiled: what is not a read or search of documents is
// left to the full decision.
func TestVisibilityNotCompiled(t *testing.T) {
	e := &Engine{Matrix: &Matrix{}}
	req, s := scenario{actor: "pro", profession: "G15_10", action: "read", flags: map[string]bool{"careteam": true}, labels: []string{"N"}, status: "current", mode: "normal", doctype: "11488-4"}.request()
	req.Settings = s
	if _, ok := e.Visibility(req); ok {
		t.Error("a request about one document was compiled")
	}
	req.Document = nil
	for _, act := range []carnet.Action{carnet.ActionCreate, carnet.ActionUpdate, carnet.ActionDelete, carnet.ActionConsent} {
		req.Action = act
		if _, ok := e.Visibility(req); ok {
			t.Errorf("%s was compiled", act)
		}
	}
}
