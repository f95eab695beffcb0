package terminology

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/carnet-sante/carnet/internal/ci"

	"github.com/carnet-sante/carnet"
)

// referenceDir returns the ANS value set directory of ../shared, skipping
// the test when it is absent (failing instead when CI=true).
func referenceDir(tb testing.TB) string {
	tb.Helper()
	dir := filepath.Join("..", "..", "shared", "reference", "ci-sis-jdv")
	if _, err := os.Stat(filepath.Join(dir, TypeCodes+".xml")); err != nil {
		if ci.Enforced() {
			tb.Fatalf("reference value sets missing in %s (CI=true): %v", dir, err)
		}
		tb.Skipf("reference value sets not found in %s (the shared data is not checked out next to the repository): %v", dir, err)
	}
	return dir
}

var (
	loadOnce sync.Once
	loaded   *Set
	loadErr  error
)

// referenceSet loads the reference directory once for all tests.
func referenceSet(t *testing.T) *Set {
	t.Helper()
	dir := referenceDir(t)
	loadOnce.Do(func() { loaded, loadErr = LoadDir(dir) })
	if loadErr != nil {
		t.Fatalf("LoadDir(%s): %v", dir, loadErr)
	}
	return loaded
}

// now is a fixed "today" for validity checks.
var now = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

func TestLoadDirLoadsEveryReferenceFile(t *testing.T) {
	s := referenceSet(t)
	dir := referenceDir(t)
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var want, empty []string
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".xml") {
			continue
		}
		info, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		if info.Size() == 0 {
			empty = append(empty, e.Name())
			continue
		}
		want = append(want, strings.TrimSuffix(e.Name(), ".xml"))
	}
	if got := s.Len(); got != len(want) {
		t.Errorf("Len() = %d, want %d (non-empty *.xml files)", got, len(want))
	}
	for _, name := range want {
		if !s.Has(name) {
			t.Errorf("Has(%q) = false after loading its file", name)
		}
	}
	warnings := strings.Join(s.Warnings(), "\n")
	for _, f := range empty {
		if !strings.Contains(warnings, f) {
			t.Errorf("Warnings() does not mention empty file %s:\n%s", f, warnings)
		}
	}
	t.Logf("%d value sets loaded; warnings:\n%s", s.Len(), warnings)
}

func TestLookupReference(t *testing.T) {
	s := referenceSet(t)
	loinc := func(code, display string) carnet.Coding {
		return carnet.Coding{System: "http://loinc.org", Code: code, Display: display}
	}
	tests := []struct {
		name                string
		valueSet, sys, code string
		at                  time.Time
		want                carnet.Coding
		known, valid        bool
	}{
		{"LOINC as URI", TypeCodes, "http://loinc.org", "11502-2", now, loinc("11502-2", "CR d'examens biologiques"), true, true},
		{"LOINC as urn:oid", TypeCodes, "urn:oid:2.16.840.1.113883.6.1", "11502-2", now, loinc("11502-2", "CR d'examens biologiques"), true, true},
		{"LOINC as bare OID", TypeCodes, "2.16.840.1.113883.6.1", "11502-2", now, loinc("11502-2", "CR d'examens biologiques"), true, true},
		{"value set by OID", "1.2.250.1.213.1.1.5.471", "http://loinc.org", "11502-2", now, loinc("11502-2", "CR d'examens biologiques"), true, true},
		{"value set by urn:oid", "urn:oid:1.2.250.1.213.1.1.5.471", "http://loinc.org", "11502-2", now, loinc("11502-2", "CR d'examens biologiques"), true, true},
		{"value set with ANS hyphens", "JDV_J07-XdsTypeCode-CISIS", "http://loinc.org", "11502-2", now, loinc("11502-2", "CR d'examens biologiques"), true, true},
		{"non-OID system kept as written", TypeCodes, "ASTM", "E1762", now, carnet.Coding{System: "ASTM", Code: "E1762", Display: "Full Document"}, true, true},
		{"MASQUE_PS", ConfidentialityCodes, "1.2.250.1.213.1.1.4.13", "MASQUE_PS", now,
			carnet.Coding{System: "urn:oid:1.2.250.1.213.1.1.4.13", Code: "MASQUE_PS", Display: "Masqué aux professionnels de santé"}, true, true},
		{"N", ConfidentialityCodes, "urn:oid:2.16.840.1.113883.5.25", "N", now,
			carnet.Coding{System: "urn:oid:2.16.840.1.113883.5.25", Code: "N", Display: "Normal"}, true, true},
		{"cardiologue", AuthorSpecialties, "1.2.250.1.213.1.1.4.5", "G15_10/SM04", now,
			carnet.Coding{System: "urn:oid:1.2.250.1.213.1.1.4.5", Code: "G15_10/SM04", Display: "Médecin - Cardiologie et maladies vasculaires (SM)"}, true, true},
		{"médecin", AuthorSpecialties, "1.2.250.1.213.1.1.4.5", "G15_10", now,
			carnet.Coding{System: "urn:oid:1.2.250.1.213.1.1.4.5", Code: "G15_10", Display: "Médecin"}, true, true},
		{"facility type", FacilityTypes, "1.2.250.1.71.4.2.4", "SA01", now,
			carnet.Coding{System: "urn:oid:1.2.250.1.71.4.2.4", Code: "SA01", Display: "Etablissement public de santé"}, true, true},
		{"practice setting", PracticeSettings, "1.2.250.1.213.1.1.4.9", "AMBULATOIRE", now,
			carnet.Coding{System: "urn:oid:1.2.250.1.213.1.1.4.9", Code: "AMBULATOIRE", Display: "Ambulatoire"}, true, true},
		{"SNOMED as URI", "JDV_Age_CISIS", "http://snomed.info/sct", "255407002", now,
			carnet.Coding{System: "http://snomed.info/sct", Code: "255407002", Display: "néonatal"}, true, true},
		{"code published with a leading tab", "JDV_ScoreRankin_CISIS", "http://loinc.org", "LA6114-8", now,
			carnet.Coding{System: "http://loinc.org", Code: "LA6114-8", Display: "Handicap modéré : besoin d’aide mais marche possible sans assistance"}, true, true},
		{"OID shared by two files: union", "1.2.250.1.213.1.1.5.806", "2.16.840.1.113883.6.254", "d350", now,
			carnet.Coding{System: "urn:oid:2.16.840.1.113883.6.254", Code: "d350", Display: "Conversation"}, true, true},

		// Retired value set: J48 has dateFin 20241213120000 (UTC+1).
		{"retired value set, after dateFin", "JDV_J48_ProfessionNonPS_CISIS", "1.2.250.1.213.1.6.1.109", "71", now,
			carnet.Coding{System: "urn:oid:1.2.250.1.213.1.6.1.109", Code: "71", Display: "Ostéopathe"}, true, false},
		{"retired value set, at dateFin", "JDV_J48_ProfessionNonPS_CISIS", "1.2.250.1.213.1.6.1.109", "71", time.Date(2024, 12, 13, 11, 0, 0, 0, time.UTC),
			carnet.Coding{System: "urn:oid:1.2.250.1.213.1.6.1.109", Code: "71", Display: "Ostéopathe"}, true, false},
		{"retired value set, just before dateFin", "JDV_J48_ProfessionNonPS_CISIS", "1.2.250.1.213.1.6.1.109", "71", time.Date(2024, 12, 13, 10, 59, 59, 0, time.UTC),
			carnet.Coding{System: "urn:oid:1.2.250.1.213.1.6.1.109", Code: "71", Display: "Ostéopathe"}, true, true},
		{"before the value set's dateValid", TypeCodes, "http://loinc.org", "11502-2", time.Date(2012, 1, 1, 0, 0, 0, 0, time.UTC),
			loinc("11502-2", "CR d'examens biologiques"), true, false},

		{"unknown code", TypeCodes, "http://loinc.org", "99999-9", now, carnet.Coding{}, false, false},
		{"right code, wrong system", ConfidentialityCodes, "2.16.840.1.113883.5.25", "MASQUE_PS", now, carnet.Coding{}, false, false},
		{"code of another value set", ConfidentialityCodes, "http://loinc.org", "11502-2", now, carnet.Coding{}, false, false},
		{"unknown value set", "JDV_J99_Nothing_CISIS", "http://loinc.org", "11502-2", now, carnet.Coding{}, false, false},
		{"empty system", TypeCodes, "", "11502-2", now, carnet.Coding{}, false, false},
		{"empty code", TypeCodes, "http://loinc.org", "", now, carnet.Coding{}, false, false},
		{"code is matched exactly", TypeCodes, "http://loinc.org", " 11502-2", now, carnet.Coding{}, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, known, valid := s.Lookup(tt.valueSet, tt.sys, tt.code, tt.at)
			if got != tt.want || known != tt.known || valid != tt.valid {
				t.Errorf("Lookup(%q, %q, %q) = %+v, known %v, valid %v; want %+v, known %v, valid %v",
					tt.valueSet, tt.sys, tt.code, got, known, valid, tt.want, tt.known, tt.valid)
			}
		})
	}
}

func TestReferenceXDSValueSets(t *testing.T) {
	s := referenceSet(t)
	for _, name := range []string{TypeCodes, ConfidentialityCodes, AuthorSpecialties, FacilityTypes, PracticeSettings} {
		if !s.Has(name) {
			t.Errorf("Has(%s) = false: the value set Carnet validates against is missing", name)
		}
	}
	// Every J08 label Carnet gives a meaning to must be in J08.
	for _, label := range []string{carnet.LabelMasquePS, carnet.LabelInvisiblePatient, carnet.LabelInvisibleLegalRep} {
		if _, known, valid := s.Lookup(ConfidentialityCodes, "urn:oid:1.2.250.1.213.1.1.4.13", label, now); !known || !valid {
			t.Errorf("%s in J08: known %v, valid %v; want true, true", label, known, valid)
		}
	}
	// The ANS publishes "à compléter" placeholders with an empty code.
	if got := s.Concepts("JDV_Evaluation_AGGIR_PA_CISIS"); len(got) != 0 {
		t.Errorf("placeholder concepts loaded: %+v", got)
	}
	if got := len(s.Concepts(TypeCodes)); got != 114 {
		t.Errorf("len(Concepts(J07)) = %d, want 114 (the concepts of the file)", got)
	}
	// Every document type named by the mission is in J07.
	for _, code := range []string{"57833-6", "57832-8", "11502-2", "11490-0", "18748-4", "34112-3", "34874-8",
		"11488-4", "15507-7", "60591-5", "87273-9", "11369-6", "60593-1", "89601-9", "68599-0", "83901-9"} {
		if _, known, _ := s.Lookup(TypeCodes, "http://loinc.org", code, now); !known {
			t.Errorf("LOINC %s not in J07", code)
		}
	}
}

// writeSVS writes an SVS file named name+".xml" into dir.
func writeSVS(t *testing.T, dir, name, content string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name+".xml"), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

const svsHead = `<?xml version="1.0" encoding="UTF-8"?>
<RetrieveValueSetResponse xmlns="urn:ihe:iti:svs:2008" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
`

func TestLookupConceptDates(t *testing.T) {
	dir := t.TempDir()
	writeSVS(t, dir, "JDV_Test", svsHead+`<ValueSet id="1.2.3.4" displayName="JDV_Test" dateValid="20200101000000" dateFin="">
  <ConceptList>
    <Concept code="OLD" codeSystem="1.2.3" displayName="Retired" dateValid="20100101000000" dateFin="20230101000000"/>
    <Concept code="NEW" codeSystem="1.2.3" displayName="Not yet" dateValid="20300101000000" dateFin=""/>
    <Concept code="OPEN" codeSystem="1.2.3" displayName="Open" dateValid="" dateFin=""/>
    <Concept code="NODATES" codeSystem="1.2.3" displayName="No dates"/>
  </ConceptList>
</ValueSet></RetrieveValueSetResponse>`)
	s, err := LoadDir(dir)
	if err != nil {
		t.Fatalf("LoadDir: %v", err)
	}
	// Dates are UTC+1: 20230101000000 is 2022-12-31T23:00Z.
	tests := []struct {
		code  string
		at    time.Time
		valid bool
	}{
		{"OLD", time.Date(2022, 6, 1, 0, 0, 0, 0, time.UTC), true},
		{"OLD", time.Date(2022, 12, 31, 22, 59, 59, 0, time.UTC), true},
		{"OLD", time.Date(2022, 12, 31, 23, 0, 0, 0, time.UTC), false},
		{"OLD", now, false},
		{"OLD", time.Date(2015, 1, 1, 0, 0, 0, 0, time.UTC), false}, // before the value set's own dateValid
		{"NEW", now, false},
		{"NEW", time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC), true},
		{"OPEN", now, true},
		{"OPEN", time.Date(2019, 12, 31, 0, 0, 0, 0, time.UTC), false},
		{"NODATES", now, true},
	}
	for _, tt := range tests {
		got, known, valid := s.Lookup("JDV_Test", "urn:oid:1.2.3", tt.code, tt.at)
		if !known || valid != tt.valid {
			t.Errorf("Lookup(%s at %s): known %v, valid %v; want known, valid %v", tt.code, tt.at.Format(time.RFC3339), known, valid, tt.valid)
		}
		if got.Code != tt.code || got.System != "urn:oid:1.2.3" {
			t.Errorf("Lookup(%s) returned %+v", tt.code, got)
		}
	}
}

func TestLoadDirErrors(t *testing.T) {
	valid := svsHead + `<ValueSet id="1.2.3.4"><ConceptList><Concept code="A" codeSystem="1.2.3" displayName="a"/></ConceptList></ValueSet></RetrieveValueSetResponse>`
	tests := []struct {
		name     string
		content  string
		kind     carnet.Kind
		contains string
	}{
		{"truncated", svsHead + `<ValueSet id="1.2.3.4"><ConceptList><Concept code="A"`, carnet.KindInvalid, "unexpected EOF"},
		{"DOCTYPE with entity", `<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x "boom">]>` + strings.TrimPrefix(valid, `<?xml version="1.0" encoding="UTF-8"?>`), carnet.KindInvalid, "DOCTYPE"},
		{"not SVS", `<ValueSet id="1.2.3"/>`, carnet.KindInvalid, "RetrieveValueSetResponse"},
		{"two value sets", svsHead + `<ValueSet id="1.2.3.4"/><ValueSet id="1.2.3.5"/></RetrieveValueSetResponse>`, carnet.KindInvalid, "more than one ValueSet"},
		{"no value set", svsHead + `</RetrieveValueSetResponse>`, carnet.KindInvalid, "no ValueSet"},
		{"value set without id", svsHead + `<ValueSet/></RetrieveValueSetResponse>`, carnet.KindInvalid, "no id"},
		{"bad date", svsHead + `<ValueSet id="1.2.3.4"><ConceptList><Concept code="A" codeSystem="1.2.3" dateValid="2020-01-01"/></ConceptList></ValueSet></RetrieveValueSetResponse>`, carnet.KindInvalid, "YYYYMMDDhhmmss"},
		{"concept without system", svsHead + `<ValueSet id="1.2.3.4"><ConceptList><Concept code="A"/></ConceptList></ValueSet></RetrieveValueSetResponse>`, carnet.KindInvalid, "no codeSystem"},
		{"Latin-1", `<?xml version="1.0" encoding="ISO-8859-1"?>` + strings.TrimPrefix(valid, `<?xml version="1.0" encoding="UTF-8"?>`), carnet.KindInvalid, "ISO-8859-1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeSVS(t, dir, "JDV_A_Good", valid)
			writeSVS(t, dir, "JDV_B_Bad", tt.content)
			s, err := LoadDir(dir)
			if err == nil {
				t.Fatalf("LoadDir accepted a bad file (%d value sets)", s.Len())
			}
			if k := carnet.ErrorKind(err); k != tt.kind {
				t.Errorf("kind = %v, want %v (%v)", k, tt.kind, err)
			}
			if !strings.Contains(err.Error(), "JDV_B_Bad.xml") {
				t.Errorf("error does not name the file: %v", err)
			}
			if !strings.Contains(carnet.ErrorMessage(err), "JDV_B_Bad.xml") {
				t.Errorf("caller-visible message does not name the file: %q", carnet.ErrorMessage(err))
			}
			if !strings.Contains(err.Error(), tt.contains) {
				t.Errorf("error %q does not contain %q", err, tt.contains)
			}
		})
	}
}

func TestLoadDirDirectory(t *testing.T) {
	t.Run("missing", func(t *testing.T) {
		_, err := LoadDir(filepath.Join(t.TempDir(), "nope"))
		if !carnet.IsKind(err, carnet.KindUnavailable) {
			t.Errorf("err = %v, want kind unavailable", err)
		}
	})
	t.Run("no xml file", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "SVS.xsd"), []byte("<schema/>"), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := LoadDir(dir)
		if !carnet.IsKind(err, carnet.KindInvalid) {
			t.Errorf("err = %v, want kind invalid", err)
		}
	})
	t.Run("empty files skipped, others ignored", func(t *testing.T) {
		dir := t.TempDir()
		writeSVS(t, dir, "Empty", "")
		writeSVS(t, dir, "Blank", " \n\t")
		writeSVS(t, dir, "JDV_X", svsHead+`<ValueSet id="1.2.3.4"><ConceptList><Concept code="A" codeSystem="1.2.3"/></ConceptList></ValueSet></RetrieveValueSetResponse>`)
		if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("<<<"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Mkdir(filepath.Join(dir, "sub.xml"), 0o755); err != nil {
			t.Fatal(err)
		}
		s, err := LoadDir(dir)
		if err != nil {
			t.Fatalf("LoadDir: %v", err)
		}
		if got := s.Names(); len(got) != 1 || got[0] != "JDV_X" {
			t.Errorf("Names() = %v, want [JDV_X]", got)
		}
		w := strings.Join(s.Warnings(), "\n")
		if !strings.Contains(w, "Empty.xml") || !strings.Contains(w, "Blank.xml") {
			t.Errorf("Warnings() = %q, want both empty files named", w)
		}
	})
	t.Run("file over the size bound", func(t *testing.T) {
		dir := t.TempDir()
		f, err := os.Create(filepath.Join(dir, "Huge.xml"))
		if err != nil {
			t.Fatal(err)
		}
		// Sparse: the size check must refuse it before reading.
		if err := f.Truncate(MaxFileSize + 1); err != nil {
			t.Fatal(err)
		}
		f.Close()
		_, err = LoadDir(dir)
		if !carnet.IsKind(err, carnet.KindTooLarge) || !strings.Contains(err.Error(), "Huge.xml") {
			t.Errorf("err = %v, want kind too-large naming Huge.xml", err)
		}
	})
}

func TestLoadDirSharedOID(t *testing.T) {
	dir := t.TempDir()
	writeSVS(t, dir, "A", svsHead+`<ValueSet id="1.2.3.4"><ConceptList>
<Concept code="X" codeSystem="1.2.3" displayName="from A"/>
</ConceptList></ValueSet></RetrieveValueSetResponse>`)
	writeSVS(t, dir, "B", svsHead+`<ValueSet id="1.2.3.4"><ConceptList>
<Concept code="X" codeSystem="1.2.3" displayName="from B"/>
<Concept code="Y" codeSystem="1.2.3" displayName="only in B"/>
</ConceptList></ValueSet></RetrieveValueSetResponse>`)
	s, err := LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if c, known, _ := s.Lookup("1.2.3.4", "1.2.3", "X", now); !known || c.Display != "from A" {
		t.Errorf("by OID X = %+v, known %v; want the first file's concept", c, known)
	}
	if _, known, _ := s.Lookup("1.2.3.4", "1.2.3", "Y", now); !known {
		t.Error("by OID Y unknown; want the union of both files")
	}
	if _, known, _ := s.Lookup("A", "1.2.3", "Y", now); known {
		t.Error("by name A knows Y, which only B has: the merge leaked into A")
	}
	if w := strings.Join(s.Warnings(), "\n"); !strings.Contains(w, "1.2.3.4") {
		t.Errorf("Warnings() = %q, want the shared OID reported", w)
	}
}

func TestNilSet(t *testing.T) {
	var s *Set
	if _, known, valid := s.Lookup(TypeCodes, "http://loinc.org", "11502-2", now); known || valid {
		t.Error("a nil *Set knows a code")
	}
	if s.Has(TypeCodes) || s.Len() != 0 {
		t.Error("a nil *Set has value sets")
	}
}

func TestUnchecked(t *testing.T) {
	var u carnet.Terminology = Unchecked{}
	tests := []struct {
		sys, code string
		want      carnet.Coding
		known     bool
	}{
		{"http://loinc.org", "00000-0", carnet.Coding{System: "http://loinc.org", Code: "00000-0"}, true},
		{"2.16.840.1.113883.6.1", "11502-2", carnet.Coding{System: "http://loinc.org", Code: "11502-2"}, true},
		{"1.2.250.1.213.1.1.4.13", "ANYTHING", carnet.Coding{System: "urn:oid:1.2.250.1.213.1.1.4.13", Code: "ANYTHING"}, true},
		{"", "X", carnet.Coding{Code: "X"}, true},
		{"http://loinc.org", "", carnet.Coding{}, false},
	}
	for _, tt := range tests {
		got, known, valid := u.Lookup("JDV_Whatever", tt.sys, tt.code, now)
		if got != tt.want || known != tt.known || valid != tt.known {
			t.Errorf("Unchecked.Lookup(%q, %q) = %+v, %v, %v; want %+v, %v, %v", tt.sys, tt.code, got, known, valid, tt.want, tt.known, tt.known)
		}
	}
}

func BenchmarkLoadDir(b *testing.B) {
	dir := referenceDir(b)
	for b.Loop() {
		if _, err := LoadDir(dir); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLookup(b *testing.B) {
	dir := referenceDir(b)
	s, err := LoadDir(dir)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, known, _ := s.Lookup(TypeCodes, "http://loinc.org", "11502-2", now); !known {
			b.Fatal("unknown")
		}
	}
}
