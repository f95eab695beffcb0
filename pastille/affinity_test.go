package pastille

import (
	"encoding/xml"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	carnet "github.com/carnet-sante/carnet"
	"github.com/carnet-sante/carnet/internal/ci"
)

// outsideJ07 are the type codes the tables use that the 2024 JDV_J07 does
// not list: the LOINC of the ECG and of the patient summary (IPS).
var outsideJ07 = map[string]bool{"11524-6": true, "60592-3": true}

// valueSet reads the codes of one ANS value set of ../shared, skipping
// when the shared data is absent (failing under CI=true).
func valueSet(t *testing.T, name string) map[string]bool {
	t.Helper()
	p := filepath.Join("..", "..", "shared", "reference", "ci-sis-jdv", name+".xml")
	b, err := os.ReadFile(p)
	if err != nil {
		if ci.Enforced() {
			t.Fatalf("value set %s missing (CI=true): %v", p, err)
		}
		t.Skipf("value set %s not found (the shared data is not checked out next to the repository): %v", p, err)
	}
	var svs struct {
		Concepts []struct {
			Code string `xml:"code,attr"`
		} `xml:"ValueSet>ConceptList>Concept"`
	}
	if err := xml.Unmarshal(b, &svs); err != nil {
		t.Fatalf("%s: %v", p, err)
	}
	out := map[string]bool{}
	for _, c := range svs.Concepts {
		out[c.Code] = true
	}
	if len(out) == 0 {
		t.Fatalf("%s: no concept", p)
	}
	return out
}

// validLOINC checks the LOINC mod-10 check digit: a typo in a finding code
// would silently never match.
func validLOINC(code string) bool {
	base, check, ok := strings.Cut(code, "-")
	if !ok || len(check) != 1 || base == "" || len(base) > 7 {
		return false
	}
	sum := 0
	for i := range len(base) {
		c := base[len(base)-1-i]
		if c < '0' || c > '9' {
			return false
		}
		d := int(c - '0')
		if i%2 == 0 {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return int(check[0]-'0') == (10-sum%10)%10
}

func TestValidLOINC(t *testing.T) {
	for code, want := range map[string]bool{"2093-3": true, "10839-9": true, "33762-6": true, "62238-1": true,
		"2093-4": false, "10839-8": false, "abc-1": false, "2093": false, "": false} {
		if got := validLOINC(code); got != want {
			t.Errorf("validLOINC(%q) = %v, want %v", code, got, want)
		}
	}
}

// TestAffinityTableEveryRow checks every row of affinity.csv against the
// national value sets: who and author codes in JDV_J01, types in JDV_J07,
// practice settings in JDV_J04, findings valid LOINC.
func TestAffinityTableEveryRow(t *testing.T) {
	table, err := parseAffinities(affinityCSV)
	if err != nil {
		t.Fatal(err)
	}
	professions := valueSet(t, "JDV_J01_XdsAuthorSpecialty_CISIS")
	types := valueSet(t, "JDV_J07_XdsTypeCode_CISIS")
	settings := valueSet(t, "JDV_J04_XdsPracticeSettingCode_CISIS")
	whoCount := map[string]int{}
	for _, r := range table.rows {
		whoCount[r.Who]++
		if r.Who != "*" && !professions[r.Who] {
			t.Errorf("%s %s: who is not in JDV_J01", r.Who, r.What)
		}
		kind, code := r.Kind, r.Code
		switch kind {
		case whatType:
			if !types[code] && !outsideJ07[code] {
				t.Errorf("%s %s: type not in JDV_J07", r.Who, r.What)
			}
		case whatPractice:
			if !settings[code] {
				t.Errorf("%s %s: practice setting not in JDV_J04", r.Who, r.What)
			}
		case whatAuthor, whatAs:
			if !professions[code] {
				t.Errorf("%s %s: not in JDV_J01", r.Who, r.What)
			}
		case whatFinding:
			if !validLOINC(code) {
				t.Errorf("%s %s: not a valid LOINC code", r.Who, r.What)
			}
		case whatTitle:
			if fold(code) != code {
				t.Errorf("%s %s: title word not folded", r.Who, r.What)
			}
		case whatConcept:
			if !concepts.names[code] {
				t.Errorf("%s %s: not a concept of concepts.csv", r.Who, r.What)
			}
		case whatRule:
			if !ruleCodes[code] {
				t.Errorf("%s %s: not a rule of the ranking", r.Who, r.What)
			}
		default:
			t.Errorf("%s %s: kind %q", r.Who, r.What, kind)
		}
		if strings.TrimSpace(r.Note) == "" {
			t.Errorf("%s %s: empty note", r.Who, r.What)
		}
	}
	// The professionals of the issue each have rows.
	for _, who := range []string{"G15_10/SM54", "G15_10/SM04", "G15_60", "G15_21", "G15_10/SM59"} {
		if len(table.byWho[who]) < 10 {
			t.Errorf("%s has %d rows, want a real profile", who, len(table.byWho[who]))
		}
	}
	if len(table.rows) != len(affinities.rows) {
		t.Errorf("the table parsed at init has %d rows, %d now", len(affinities.rows), len(table.rows))
	}
}

func TestAgingAndSummaryCodesAreTypes(t *testing.T) {
	types := valueSet(t, "JDV_J07_XdsTypeCode_CISIS")
	for _, m := range []map[string]bool{keys(agingByType), keys(summaryTypes), vaccinationTypes} {
		for code := range m {
			if !types[code] && !outsideJ07[code] {
				t.Errorf("%s: not in JDV_J07", code)
			}
		}
	}
}

func keys[V any](m map[string]V) map[string]bool {
	out := map[string]bool{}
	for k := range m {
		out[k] = true
	}
	return out
}

func TestParseAffinitiesRejects(t *testing.T) {
	const header = "who,what,weight,note\n"
	tests := map[string]string{
		"no header":           "G15_60,type:57832-8,3,soins\n",
		"wrong header":        "who,what,poids,note\nG15_60,type:57832-8,3,soins\n",
		"empty":               header,
		"three columns":       header + "G15_60,type:57832-8,3\n",
		"bad who":             header + "infirmier,type:57832-8,3,soins\n",
		"bad what":            header + "G15_60,57832-8,3,soins\n",
		"unknown kind":        header + "G15_60,format:pdf,3,soins\n",
		"weight not a number": header + "G15_60,type:57832-8,trois,soins\n",
		"weight NaN":          header + "G15_60,type:57832-8,NaN,soins\n",
		"weight too big":      header + "G15_60,type:57832-8,12,soins\n",
		"weight zero":         header + "G15_60,type:57832-8,0,soins\n",
		"empty note":          header + "G15_60,type:57832-8,3, \n",
		"duplicate row":       header + "G15_60,type:57832-8,3,soins\nG15_60,type:57832-8,2,encore\n",
		"title with accents":  header + "G15_60,title:plaie à,2,plaies\n",
		"author not a code":   header + "G15_60,author:infirmier,2,x\n",
		"alias factor":        header + "G15_60,type:57832-8,3,soins\nG15_69,as:G15_60,2,psy\n",
		"alias of *":          header + "G15_60,type:57832-8,3,soins\n*,as:G15_60,1,tous\n",
		"alias to itself":     header + "G15_60,as:G15_60,1,x\n",
		"alias without rows":  header + "G15_60,type:57832-8,3,soins\nG15_69,as:G15_21,1,x\n",
		"alias of an alias":   header + "G15_60,type:57832-8,3,soins\nG15_69,as:G15_60,1,x\nG15_70,as:G15_69,1,y\n",
		"alias with rows":     header + "G15_60,type:57832-8,3,soins\nG15_69,as:G15_60,1,x\nG15_69,type:57832-8,1,y\n",
		"two aliases":         header + "G15_60,type:57832-8,3,soins\nG15_21,type:57833-6,3,rx\nG15_69,as:G15_60,1,x\nG15_69,as:G15_21,1,y\n",
		"bare quote":          header + "G15_60,type:57832-8,3,so\"ins\n",
		"unknown rule":        header + "G15_60,rule:latest-anything,2,x\n",
		"unknown concept":     header + "G15_60,concept:no-such-concept,2,x\n",
	}
	for name, csv := range tests {
		if _, err := parseAffinities([]byte(csv)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := parseAffinities([]byte(header + "G15_60,type:57832-8,3,soins\nG15_69,as:G15_60,0.5,psy\n")); err != nil {
		t.Errorf("a good table refused: %v", err)
	}
}

func TestAffinityView(t *testing.T) {
	ecg := func(c Caller) float64 {
		e, _ := affinities.view(c).get(whatType, "11524-6")
		return e.Weight
	}
	if got, want := ecg(Caller{Specialty: "G15_10/SM73"}), ecg(cardio); got != want || want <= 0 {
		t.Errorf("ECG for SM73 %v, for SM04 %v: want the same, positive", got, want)
	}
	if got := ecg(Caller{Specialty: "G15_10/SM61"}); got <= 0 || got >= ecg(cardio) {
		t.Errorf("ECG for vascular medicine %v: want a fraction of cardiology's %v", got, ecg(cardio))
	}
	// The profession is taken from the specialty when missing.
	rx := func(c Caller) float64 {
		e, _ := affinities.view(c).get(whatType, "57833-6")
		return e.Weight
	}
	if rx(Caller{Specialty: "G15_21/A"}) != rx(pharmacist) {
		t.Errorf("G15_21/A is a pharmacist")
	}
	v := affinities.view(cardio)
	for title, want := range map[string]bool{
		"Compte rendu de consultation de cardiologie":            true,
		"Lettre de liaison à la sortie — Insuffisance CARDIAQUE": true,
		"Échocardiographie":   false, // not at a word start
		"ÉLECTROCARDIOGRAMME": true,
		"Compte rendu de consultation de médecine générale": false,
	} {
		if _, got := v.title(foldAppend(nil, title)); got != want {
			t.Errorf("title %q matches %v, want %v", title, got, want)
		}
	}
}

// A malformed concept table is refused, row by row.
func TestParseConceptsRefuses(t *testing.T) {
	head := "concept,match,lasting,note\n"
	for _, row := range []string{
		"anticoagulant,atc:b01aa,yes,minuscules",                 // not an ATC code
		"haemostasis,loinc:6301-5,no,INR",                        // wrong check digit
		"allergy,term:Allergie,yes,allergie",                     // not folded
		"allergy,item:Allergy,yes,allergie",                      // not an item kind
		"allergy,term:allergi,maybe,allergie",                    // lasting neither yes nor no
		"allergy,term:allergi,yes,",                              // no note
		"Allergy,term:allergi,yes,allergie",                      // concept name
		"allergy,snomed:1234,yes,allergie",                       // unknown match
		"allergy,term:allergi,yes,a\nallergy,term:allergi,yes,b", // twice
	} {
		if _, err := parseConcepts([]byte(head + row + "\n")); err == nil {
			t.Errorf("accepted %q", row)
		}
	}
	if _, err := parseConcepts([]byte(head + "anticoagulant,atc:B01AF,yes,AOD\nhaemostasis,loinc:6301-6,no,INR\n")); err != nil {
		t.Errorf("refused a valid table: %v", err)
	}
}

// The server knows an author by the specialties the table weighs, read at
// filing (a cardiologist's, an SM73's through its alias), not the others:
// the served input keeps those, and ranks the cardiologist's letter for a
// cardiologist as with every field in hand.
func TestAuthorSpecialtiesServed(t *testing.T) {
	au := func(prof, spec string) carnet.Author {
		return carnet.Author{Profession: carnet.Coding{Code: prof}, Specialty: carnet.Coding{Code: spec}}
	}
	got := AuthorSpecialtiesOf([]carnet.Author{au("G15_10", "G15_10/SM73"), au("G15_10", "G15_10/SM54"),
		au("10", "SM04"), au("G15_10", "G15_10/SM04"), au("G15_60", ""), {Family: "Martin"}})
	if want := []string{"G15_10/SM04", "G15_10/SM73"}; !slices.Equal(got, want) {
		t.Errorf("AuthorSpecialtiesOf = %v, want %v (weighed, distinct, sorted; a GP's weighs nothing)", got, want)
	}
	for _, c := range got {
		if _, ok := slices.BinarySearch(ConceptReader{}.AuthorSpecialtyNames(), c); !ok {
			t.Errorf("%s is not among the names the view reads back", c)
		}
	}
	in := Input{Caller: cardio, Now: now, LastVisit: lastVisit, Docs: []Doc{
		with(doc("cardio-letter", tConsultation, 100), func(d *Doc) { d.AuthorSpecialties = []string{"G15_10/SM54", "G15_10/SM73"} }),
		doc("other", tConsultation, 90)}}
	served := ServedInput(in)
	if got := served.Docs[0].AuthorSpecialties; !slices.Equal(got, []string{"G15_10/SM73"}) {
		t.Errorf("served author specialties %v, want [G15_10/SM73]", got)
	}
	affinity := func(rs []Ranked) string {
		for _, r := range rs {
			if r.Doc.ID == "cardio-letter" {
				for _, rr := range r.Reasons {
					if rr.Code == "affinity" {
						return rr.Text
					}
				}
			}
		}
		return ""
	}
	full, srv := affinity(Rank(in)), affinity(Rank(served))
	if !strings.Contains(full, "courrier de cardiologue") || srv != full {
		t.Errorf("the cardiologist's letter: affinity %q served, %q with every field; want the same, the author's", srv, full)
	}
}

// The professions other than physicians weigh the letters of the
// specialists they work beside: the midwife the obstetrician's, the
// physiotherapist the rehabilitation physician's and the orthopaedic
// surgeon's, the dentist the oral and maxillofacial surgeon's and the
// radiotherapist's. Through the server too (the specialties are read at
// filing); a GP's letter gives none of them that reason.
func TestAuthorSpecialtiesOfOtherProfessions(t *testing.T) {
	for _, c := range []struct {
		caller Caller
		author string
		note   string
	}{
		{midwife, "G15_10/SM20", "gynécologue-obstétricien"},
		{physio, "G15_10/SM29", "médecine physique et de réadaptation"},
		{physio, "G15_10/SM08", "chirurgien orthopédiste"},
		{Caller{Profession: "G15_40"}, "G15_10/SM07", "chirurgie maxillo-faciale"},
		{Caller{Profession: "G15_40"}, "G15_40/SCD02", "chirurgie orale"},
		{Caller{Profession: "G15_40"}, "G15_10/SM37", "radiothérapeute"},
	} {
		for _, author := range []string{c.author, "G15_10/SM54"} {
			in := Input{Caller: c.caller, Now: now, LastVisit: lastVisit, Docs: []Doc{
				with(doc("letter", tConsultation, 100), func(d *Doc) { d.AuthorSpecialties = []string{author} })}}
			got := ""
			for _, r := range Rank(ServedInput(in))[0].Reasons {
				if r.Code == "affinity" {
					got = r.Text
				}
			}
			if want := author == c.author; strings.Contains(got, c.note) != want {
				t.Errorf("%s reading a letter by %s: affinity %q, want the note %q: %v", c.caller.Profession, author, got, c.note, want)
			}
		}
	}
}
