package policy

import (
	"maps"
	"strings"
	"testing"

	"github.com/carnet-sante/carnet"
)

var sweepFlags = []string{"careteam", "consent", "blocked", "closed", "designated", "refusebtg", "refusec15", "maskedemergency", "restricted", "author", "closedrow"}

// TestSweepInvariants decides every combination of actor, action, record
// settings, labels, status and mode, and checks the rules that must hold
// whatever the matrix says.
func TestSweepInvariants(t *testing.T) {
	m, err := LoadMatrix(strings.NewReader("profession,document,label,effect,source\nG15_40,68599-0,Synthèse psychiatrique,deny,test\n"))
	if err != nil {
		t.Fatal(err)
	}
	e := &Engine{Matrix: m}
	actors := []struct{ actor, profession string }{
		// Professions differ only through the matrix: one it denies, one it
		// does not, one by specialty.
		{"pro", "G15_10/SM04"}, {"pro", "G15_40"}, {"pro", "DAC"},
		{"patient", ""}, {"rep", ""}, {"stranger", ""}, {"system", ""},
	}
	labelSets := [][]string{nil, {"N"}, {"MASQUE_PS"}, {"INVISIBLE_PATIENT"}, {"INVISIBLE_REPRESENTANTS_LEGAUX"}, {"MASQUE_PS", "INVISIBLE_PATIENT"}}
	statuses := []string{"current", "archived", "deleted"} // superseded is read as archived
	type modeReason struct {
		mode, reason string
		regulator    bool // a SAMU – centre 15 regulator
	}
	modes := []modeReason{{"normal", "", false}, {"btg", "malaise", false}, {"btg", "", false}, {"btg", " \t", false}, {"etreat", "", false}, {"etreat", "", true}}
	// Updates are swept over the changes a PATCH or a replacement makes.
	changes := []string{"", "+MASQUE_PS", "-MASQUE_PS", "+INVISIBLE_PATIENT", "-INVISIBLE_PATIENT", "+INVISIBLE_REPRESENTANTS_LEGAUX", "status:archived", "status:superseded", "replace"}
	actions := []string{"create", "read", "search", "update", "delete", "consent"}
	type docCase struct {
		doctype string
		labels  []string
		status  string
	}
	docs := []docCase{{}} // a record-level request
	for _, ls := range labelSets {
		for _, st := range statuses {
			docs = append(docs, docCase{"68599-0", ls, st})
		}
	}
	proFlags := sweepFlags
	if testing.Short() {
		proFlags = proFlags[:8] // not restricted, author, closedrow
	}
	// Patients, representatives and systems are swept over the settings
	// that concern them; the others are professionals' lists.
	patientFlags := []string{"closed", "closedrow", "restricted", "refusebtg", "author", "patientdoc"}
	systemFlags := []string{"closed", "closedrow", "restricted", "author", "filer", "orgauthor"}
	n := 0
	for _, a := range actors {
		fl := proFlags
		switch a.actor {
		case "system":
			fl = systemFlags
		case "patient", "rep", "stranger":
			fl = patientFlags
		}
		for _, act := range actions {
			for bits := 0; bits < 1<<len(fl); bits++ {
				flags := map[string]bool{}
				for i, f := range fl {
					flags[f] = bits&(1<<i) != 0
				}
				for _, dc := range docs {
					for _, mr := range modes {
						cs := []string{""}
						if act == "update" && (mr.mode == "normal" || mr.regulator) {
							// Emergency modes change nothing: one change is enough there.
							cs = changes
						}
						for _, ch := range cs {
							fl := flags
							if mr.regulator {
								fl = maps.Clone(flags)
								fl["regulator"] = true
							}
							sc := scenario{actor: a.actor, profession: a.profession, action: act, flags: fl,
								labels: dc.labels, status: dc.status, mode: mr.mode, reason: mr.reason, doctype: dc.doctype, change: ch}
							req, s := sc.request()
							req.Settings = s
							got := e.Decide(req)
							if e.Permits(req) != got.Permit {
								t.Fatalf("Permits and Decide disagree on %+v", sc)
							}
							n++
							if msg := violation(sc, got); msg != "" {
								t.Fatalf("%s: %+v decided %v %q", msg, sc, got.Permit, got.Reasons)
							}
						}
					}
				}
			}
		}
	}
	t.Logf("%d decisions swept", n)
}

// violation returns the first invariant d breaks, or "".
func violation(sc scenario, d carnet.Decision) string {
	f := sc.flags
	pro := sc.actor == "pro"
	doc := sc.doctype != ""
	reads := sc.action == "read" || sc.action == "search"
	emergency := sc.mode != "normal"
	has := func(l string) bool {
		for _, x := range sc.labels {
			if x == l {
				return true
			}
		}
		return false
	}
	switch {
	case len(d.Reasons) == 0:
		return "a decision without a reason"
	case !d.Permit && len(d.Warnings) > 0:
		return "warnings on a denial"
	}
	if !d.Permit {
		return ""
	}
	switch {
	case pro && f["blocked"]:
		return "a blocked professional was permitted"
	case pro && (f["closed"] || f["closedrow"]):
		return "a professional was permitted into a closed record"
	case doc && sc.status == "deleted" && sc.action != "create":
		return "a deleted document was permitted"
	case pro && doc && reads && has("MASQUE_PS") && !f["author"] && !f["designated"] && !(emergency && f["maskedemergency"]):
		return "a masked document reached a professional who is neither author nor designated, outside a MASKED emergency"
	case sc.mode == "btg" && strings.TrimSpace(sc.reason) == "":
		return "bris de glace without a reason was permitted"
	case sc.mode == "btg" && f["refusebtg"]:
		return "bris de glace permitted although the patient refused it"
	case sc.mode == "etreat" && f["refusec15"]:
		return "centre 15 permitted although the patient refused it"
	case sc.mode == "etreat" && !f["regulator"]:
		return "centre 15 permitted to a professional who does not regulate a SAMU"
	case emergency && (sc.action == "update" || sc.action == "delete"):
		return "an emergency mode changed a document"
	case doc && sc.action == "update" && strings.Contains(sc.change, "-MASQUE_PS") && sc.actor != "patient" && sc.actor != "rep":
		return "someone other than the patient side unmasked a document"
	case doc && sc.action == "update" && (sc.actor == "patient" || sc.actor == "rep") &&
		(strings.Contains(sc.change, "status:") || strings.Contains(sc.change, "INVISIBLE_PATIENT")):
		return "the patient side changed a status or what is hidden from the patient"
	case doc && sc.action == "update" && sc.actor == "rep" && strings.Contains(sc.change, "INVISIBLE_REPRESENTANTS_LEGAUX"):
		return "a legal representative changed what is hidden from representatives"
	case doc && sc.action == "update" && sc.change == "replace" && (sc.actor == "patient" || sc.actor == "rep") && !f["patientdoc"] && !f["filer"]:
		return "the patient side replaced a document that is not the patient's"
	case sc.actor == "system" && doc && (sc.action == "update" || sc.action == "delete") && !f["filer"] && !f["orgauthor"]:
		return "software changed a document it neither filed nor files for"
	case emergency && !pro:
		return "an emergency mode permitted to a non-professional"
	case pro && doc && sc.action != "create" && f["restricted"]:
		return "a restricted document reached a professional"
	case pro && reads && !emergency && !f["careteam"] && !f["consent"] && !(doc && f["author"]):
		return "a professional read outside care team and consent, in normal mode"
	case pro && doc && (sc.action == "update" || sc.action == "delete") && !f["author"]:
		return "a non-author professional changed a document"
	case (sc.actor == "patient" || sc.actor == "rep") && doc && sc.action != "create" && has("INVISIBLE_PATIENT"):
		return "a document invisible to the patient reached the patient side"
	case sc.actor == "rep" && doc && sc.action != "create" && has("INVISIBLE_REPRESENTANTS_LEGAUX"):
		return "a document invisible to legal representatives reached one"
	case sc.actor == "stranger":
		return "a patient actor of another record was permitted"
	case sc.actor == "system" && reads:
		return "a system read a record"
	case pro && sc.profession == "G15_40" && doc && reads && !f["author"]:
		return "the matrix denial of 68599-0 to dentists did not hold"
	case NotifyPatient(d) != (pro && emergency):
		return "patient notification does not match the emergency mode"
	case pro && doc && sc.action != "create" && has("INVISIBLE_PATIENT") && !strings.Contains(strings.Join(d.Warnings, "\n"), "invisible to the patient"):
		return "a professional was not warned of a document invisible to the patient"
	}
	return ""
}

// TestDecideEdges covers inputs the table cannot spell.
func TestDecideEdges(t *testing.T) {
	m, err := LoadMatrix(strings.NewReader("profession,document,label,effect,source\nG15_10,11488-4,,allow,test\n"))
	if err != nil {
		t.Fatal(err)
	}
	base := func() (carnet.AccessRequest, Settings) {
		return scenario{actor: "pro", profession: "G15_10", action: "read", flags: map[string]bool{"careteam": true},
			labels: []string{"N"}, status: "current", mode: "normal", doctype: "11488-4"}.request()
	}
	tests := []struct {
		name   string
		engine *Engine
		edit   func(*carnet.AccessRequest, *Settings)
		permit bool
		reason string
	}{
		{"baseline: explicit allow", &Engine{Matrix: m}, func(*carnet.AccessRequest, *Settings) {}, true, ReasonMatrixAllow},
		{"empty mode is normal", &Engine{Matrix: m}, func(r *carnet.AccessRequest, _ *Settings) { r.Mode = "" }, true, ReasonCareTeam},
		{"unknown mode", &Engine{Matrix: m}, func(r *carnet.AccessRequest, _ *Settings) { r.Mode = "god" }, false, ReasonUnknownMode},
		{"unknown action", &Engine{Matrix: m}, func(r *carnet.AccessRequest, _ *Settings) { r.Action = "export" }, false, ReasonUnknownAction},
		{"unknown actor kind", &Engine{Matrix: m}, func(r *carnet.AccessRequest, _ *Settings) { r.Actor.Kind = "robot" }, false, ReasonUnknownActor},
		{"professional without id", &Engine{Matrix: m}, func(r *carnet.AccessRequest, s *Settings) { r.Actor.ID.Value = ""; s.CareTeam = append(s.CareTeam, "") }, false, ReasonNoActorID},
		{"professional without profession", &Engine{Matrix: m}, func(r *carnet.AccessRequest, _ *Settings) { r.Actor.Profession = "" }, false, ReasonNoProfession},
		{"no matrix fails closed", &Engine{}, func(*carnet.AccessRequest, *Settings) {}, false, ReasonMatrixMissing},
		{"deny by default", &Engine{Matrix: &Matrix{DenyByDefault: true}}, func(*carnet.AccessRequest, *Settings) {}, false, ReasonMatrixDefaultDeny},
		{"deny by default, listed allow", &Engine{Matrix: func() *Matrix { c := *m; c.DenyByDefault = true; return &c }()}, func(*carnet.AccessRequest, *Settings) {}, true, ReasonMatrixAllow},
		{"deny by default, other type", &Engine{Matrix: func() *Matrix { c := *m; c.DenyByDefault = true; return &c }()},
			func(r *carnet.AccessRequest, _ *Settings) {
				r.Document.Tokens = []carnet.Token{{Kind: carnet.TokType, Value: "11502-2"}}
			}, false, ReasonMatrixDefaultDeny},
		{"label in system|code form only", &Engine{Matrix: m}, func(r *carnet.AccessRequest, _ *Settings) {
			r.Document.Tokens = append(r.Document.Tokens, carnet.Token{Kind: carnet.TokLabel, Value: "urn:oid:1.2.250.1.213.1.1.4.13|MASQUE_PS"})
		}, false, ReasonMasquePS},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, s := base()
			tt.edit(&req, &s)
			req.Settings = s
			got := tt.engine.Decide(req)
			if got.Permit != tt.permit || !hasReason(got, tt.reason) {
				t.Errorf("got permit=%v %q, want permit=%v with %s", got.Permit, got.Reasons, tt.permit, tt.reason)
			}
		})
	}
}

// TestDecidePure: the same input gives the same decision, and deciding does
// not change the settings it was given.
func TestDecidePure(t *testing.T) {
	e := &Engine{Matrix: &Matrix{}}
	req, s := scenario{actor: "pro", profession: "G15_10", action: "read", flags: map[string]bool{"maskedemergency": true},
		labels: []string{"MASQUE_PS", "INVISIBLE_PATIENT"}, status: "current", mode: "btg", reason: "coma", doctype: "11488-4"}.request()
	in := Input{Request: req, Settings: s}
	first := e.Evaluate(in)
	for range 3 {
		again := e.Evaluate(in)
		if strings.Join(again.Reasons, "|") != strings.Join(first.Reasons, "|") || again.Permit != first.Permit ||
			strings.Join(again.Warnings, "|") != strings.Join(first.Warnings, "|") {
			t.Fatalf("decisions differ: %+v then %+v", first, again)
		}
	}
	if !first.Permit || !NotifyPatient(first) {
		t.Errorf("MASKED bris de glace: %+v, want a permit that notifies the patient", first)
	}
}
