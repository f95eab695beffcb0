package secondary

import (
	"math"
	"strings"
	"testing"
	"time"

	carnet "github.com/carnet-sante/carnet"
)

func TestPseudonymsStableWithinUnlinkableAcross(t *testing.T) {
	a := NewPseudonyms([]byte("secret of permit A, 32 bytes...."))
	a2 := NewPseudonyms([]byte("secret of permit A, 32 bytes...."))
	b := NewPseudonyms([]byte("secret of permit B, 32 bytes...."))
	if a.Of("patient", "k1") != a2.Of("patient", "k1") {
		t.Error("the same patient has two pseudonyms under one permit")
	}
	if a.Of("patient", "k1") == b.Of("patient", "k1") {
		t.Error("the same patient has the same pseudonym under two permits")
	}
	if a.Of("patient", "k1") == a.Of("practitioner", "k1") {
		t.Error("kinds share pseudonyms")
	}
	if p := a.Of("patient", "k1"); len(p) != 26 || strings.ToLower(p) != p {
		t.Errorf("pseudonym %q: want 26 lower-case characters", p)
	}
	for _, k := range []carnet.PatientKey{"k1", "k2", "k3", "k4"} {
		d := a.Shift(k, 30)
		if d == 0 || d < -30 || d > 30 || d != a2.Shift(k, 30) {
			t.Errorf("shift of %s: %d", k, d)
		}
	}
}

func TestDater(t *testing.T) {
	shift := dater{shift: -10}
	month := dater{month: true}
	for _, tc := range []struct {
		d       dater
		in, out string
	}{
		{shift, "2024-03-15", "2024-03-05"},
		{shift, "2024-03-15T10:20:00+01:00", "2024-03-05"},
		{shift, "2024", "2024"},
		{month, "2024-03-15T10:20:00Z", "2024-03"},
		{month, "2024-03-15", "2024-03"},
		{shift, "not a date", ""},
	} {
		if got := tc.d.str(tc.in); got != tc.out {
			t.Errorf("%+v.str(%q) = %q, want %q", tc.d, tc.in, got, tc.out)
		}
	}
}

func TestDepartement(t *testing.T) {
	for in, want := range map[string]string{"75011": "75", "69003": "69", "20000": "2A", "20200": "2B", "97400": "974",
		"98800": "988", "1234": "", "ABCDE": "", "00000": "", " 48000 ": "48"} {
		if got := Departement(in); got != want {
			t.Errorf("Departement(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestKReport(t *testing.T) {
	g := Groups{}
	for range 6 {
		g.Add(QI{"1970", "female", "75"})
	}
	g.Add(QI{"1931", "female", "48"})
	g.Add(QI{"1931", "female", "48"})
	g.Add(QI{"1980", "male", "69"})
	r := g.Report(5)
	if r.RecordsReleased != 6 || r.RecordsSuppressed != 3 || r.GroupsReleased != 1 || r.GroupsSuppressed != 2 || r.SmallestGroupShown != 6 {
		t.Errorf("report %+v", r)
	}
	if g.Released(QI{"1931", "female", "48"}, 5) || !g.Released(QI{"1970", "female", "75"}, 5) {
		t.Error("Released disagrees with the counts")
	}
}

// The noise has the Laplace distribution's mean (0) and mean absolute
// deviation (the scale b); 20,000 draws put both within a few percent.
func TestLaplace(t *testing.T) {
	const n, b = 20000, 4.0
	var sum, abs float64
	for range n {
		x := laplace(b)
		sum += x
		abs += math.Abs(x)
	}
	if mean := sum / n; math.Abs(mean) > 0.2 {
		t.Errorf("mean %.3f, want about 0", mean)
	}
	if mad := abs / n; math.Abs(mad-b) > 0.25 {
		t.Errorf("mean absolute deviation %.3f, want about %.1f", mad, b)
	}
	if noisyCount(0, 1000) < 0 {
		t.Error("a noisy count is negative")
	}
}

func TestCheckExport(t *testing.T) {
	p := carnet.Permit{DocumentTypes: []string{"http://loinc.org|11502-2"}, ItemTypes: []carnet.ItemKind{carnet.ItemObservation},
		Codes: []string{"http://loinc.org|2160-0"}}
	for _, tc := range []struct {
		types   []string
		filters map[string][]string
		want    carnet.Kind
	}{
		{nil, nil, 0},
		{[]string{"Patient", "Observation"}, nil, 0},
		{[]string{"Condition"}, nil, carnet.KindForbidden},
		{[]string{"Binary"}, nil, carnet.KindInvalid},
		{nil, map[string][]string{"Observation": {"http://loinc.org|2160-0"}}, 0},
		{nil, map[string][]string{"Observation": {"http://loinc.org|718-7"}}, carnet.KindForbidden},
		{nil, map[string][]string{"DocumentReference": {"http://loinc.org|11488-4"}}, carnet.KindForbidden},
		{[]string{"Patient"}, map[string][]string{"Observation": {"http://loinc.org|2160-0"}}, carnet.KindInvalid},
	} {
		err := CheckExport(p, tc.types, tc.filters)
		if tc.want == 0 && err != nil || tc.want != 0 && !carnet.IsKind(err, tc.want) {
			t.Errorf("CheckExport(%v, %v) = %v, want kind %v", tc.types, tc.filters, err, tc.want)
		}
	}
}

func TestPermitValid(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	p := carnet.Permit{Expires: now.Add(time.Hour)}
	if p.Valid(now) != "" {
		t.Error("a permit before its expiry is refused")
	}
	if p.Valid(now.Add(time.Hour)) == "" {
		t.Error("a permit at its expiry is accepted")
	}
	p.Revoked = now
	if p.Valid(now) == "" {
		t.Error("a revoked permit is accepted")
	}
}

// Items leave as a whitelist: what is not named does not leave, at any
// depth.
func TestItemWhitelist(t *testing.T) {
	it := carnet.Item{ID: "i1", Kind: carnet.ItemObservation, Resource: []byte(`{"resourceType":"Observation","status":"final",
		"text":{"div":"<div>Marie DURAND</div>"},"identifier":[{"value":"254036938312325"}],
		"code":{"coding":[{"system":"http://loinc.org","code":"2160-0","display":"Créatinine de DURAND"}],"text":"créat Marie"},
		"valueQuantity":{"value":23.4,"unit":"mg/L","system":"http://unitsofmeasure.org","code":"mg/L"},
		"performer":[{"display":"Dr PERRIN"}],"note":[{"text":"appeler Mme Durand au 0618553268"}],
		"effectiveDateTime":"2025-03-25T07:15:00+01:00","referenceRange":[{"low":{"value":5.5},"text":"normes labo Perrin"}]}`)}
	b, err := itemResource(it, subjectView{pseudo: "p1", dates: dater{shift: 3}, pseudos: NewPseudonyms([]byte("s"))})
	if err != nil {
		t.Fatal(err)
	}
	got := string(b)
	for _, leak := range []string{"DURAND", "Durand", "Marie", "254036938312325", "PERRIN", "Perrin", "0618553268", "display", "text"} {
		if strings.Contains(got, leak) {
			t.Errorf("%q left in %s", leak, got)
		}
	}
	for _, kept := range []string{`"2160-0"`, `23.4`, `"2025-03-28"`, `"Patient/p1"`, `5.5`} {
		if !strings.Contains(got, kept) {
			t.Errorf("%s lost from %s", kept, got)
		}
	}
}

// A MedicationStatement leaves without its contained dispensation (the
// pharmacy's name) nor the reference to it; a Procedure with its code and
// shifted date.
func TestItemWhitelistHistory(t *testing.T) {
	v := subjectView{pseudo: "p1", dates: dater{shift: 3}, pseudos: NewPseudonyms([]byte("s"))}
	ms := carnet.Item{ID: "m1", Kind: carnet.ItemMedicationStatement, Resource: []byte(`{"resourceType":"MedicationStatement",
		"contained":[{"resourceType":"MedicationDispense","id":"dispense","status":"completed","quantity":{"value":4},
		"whenHandedOver":"2019-03-08","performer":[{"actor":{"display":"PHARMACIE COMPAIN"}}]}],"status":"completed",
		"medicationCodeableConcept":{"coding":[{"system":"urn:oid:1.2.250.1.215.200.1.1.2","code":"9064295","display":"PRODUIT"}]},
		"effectiveDateTime":"2019-03-08","dateAsserted":"2021-01-01T10:00:00Z","derivedFrom":[{"reference":"#dispense"}]}`)}
	pr := carnet.Item{ID: "p1", Kind: carnet.ItemProcedure, Resource: []byte(`{"resourceType":"Procedure","status":"completed",
		"code":{"coding":[{"system":"urn:oid:1.2.250.1.215.200.3.4","code":"BJQP002","display":"exam"}]},"performedDateTime":"2019-01-21"}`)}
	for _, c := range []struct {
		it         carnet.Item
		kept, gone []string
	}{
		{ms, []string{`"9064295"`, `"completed"`, `"2019-03-11"`}, []string{"COMPAIN", "contained", "derivedFrom", "dispense", "2019-03-08"}},
		{pr, []string{`"BJQP002"`, `"2019-01-24"`}, []string{"display", "2019-01-21"}},
	} {
		b, err := itemResource(c.it, v)
		if err != nil {
			t.Fatal(err)
		}
		got := string(b)
		for _, k := range c.kept {
			if !strings.Contains(got, k) {
				t.Errorf("%s lost from %s", k, got)
			}
		}
		for _, g := range c.gone {
			if strings.Contains(got, g) {
				t.Errorf("%q left in %s", g, got)
			}
		}
	}
}

func FuzzParseTypeFilter(f *testing.F) {
	for _, s := range []string{"Observation?code=http://loinc.org|2160-0", "DocumentReference?type=http://loinc.org|11502-2,http://loinc.org|11488-4",
		"Observation?code=a|b&code=a|b", "Patient?x=y", "?", "Observation?code=a|b,Condition?code=c|d", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		typ, codes, err := ParseTypeFilter(s)
		if err != nil {
			return
		}
		if len(codes) == 0 || typ == "" {
			t.Fatalf("ParseTypeFilter(%q) accepted nothing: %q %v", s, typ, codes)
		}
		for _, c := range codes {
			sys, code, ok := strings.Cut(c, "|")
			if !ok || sys == "" || code == "" || strings.ContainsAny(c, "?=&,") {
				t.Fatalf("ParseTypeFilter(%q) gave code %q", s, c)
			}
		}
	})
}

func FuzzScrub(f *testing.F) {
	for _, s := range []string{"Patiente Marie DURAND, INS 254036938312325, 12 rue du Canari, tél. 06 12 34 56 78",
		"Dr Zorglub", "İstanbul œuvre Æ", "\xff\xfe", ""} {
		f.Add(s)
	}
	var s Scrubber
	s.Add("DURAND", "Marie")
	s.AddIdentifier("254036938312325")
	f.Fuzz(func(t *testing.T, in string) {
		out := s.Scrub(in)
		if strings.Contains(fold(out), "durand") && !strings.Contains(fold(in), "durand") {
			t.Fatalf("Scrub made a name up: %q → %q", in, out)
		}
		if strings.Contains(out, "254036938312325") {
			t.Fatalf("Scrub(%q) kept the INS: %q", in, out)
		}
	})
}
