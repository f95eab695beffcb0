package synth

import (
	"encoding/xml"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	carnet "github.com/carnet-sante/carnet"
	"github.com/carnet-sante/carnet/cda"
)

// valueSet is an ANS value set (IHE SVS XML): system URI and code to the
// official display name, with retired concepts apart.
type valueSet struct {
	concepts map[string]string // "urn:oid:…|code" → displayName
	retired  map[string]bool
}

func loadValueSet(t *testing.T, path string) valueSet {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var doc struct {
		Concepts []struct {
			Code        string `xml:"code,attr"`
			CodeSystem  string `xml:"codeSystem,attr"`
			DisplayName string `xml:"displayName,attr"`
			DateFin     string `xml:"dateFin,attr"`
		} `xml:"ValueSet>ConceptList>Concept"`
	}
	if err := xml.NewDecoder(f).Decode(&doc); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	vs := valueSet{concepts: map[string]string{}, retired: map[string]bool{}}
	for _, c := range doc.Concepts {
		key := systemURI(c.CodeSystem) + "|" + c.Code
		vs.concepts[key] = c.DisplayName
		if c.DateFin != "" {
			vs.retired[key] = true
		}
	}
	if len(vs.concepts) == 0 {
		t.Fatalf("%s: no concept", path)
	}
	return vs
}

// TestCodesAreInTheNationalValueSets checks every coded metadata value the
// generator emits against the ANS value set it belongs to.
func TestCodesAreInTheNationalValueSets(t *testing.T) {
	dir := sharedPath(t, "reference", "ci-sis-jdv")
	find := func(prefix string) string {
		m, _ := filepath.Glob(filepath.Join(dir, prefix+"_*.xml"))
		if len(m) == 0 {
			return ""
		}
		return m[0]
	}
	small, large := testData()
	var pros []Professional
	pros = append(append(pros, small.Professionals...), large.Professionals...)
	type use struct {
		what string
		c    carnet.Coding
	}
	uses := map[string][]use{} // value set prefix → codes emitted
	for _, doc := range append(slices.Clone(small.Documents), large.Documents...) {
		m := doc.Meta
		uses["JDV_J07"] = append(uses["JDV_J07"], use{"type", m.Type})
		uses["JDV_J06"] = append(uses["JDV_J06"], use{"class", m.Class})
		uses["JDV_J10"] = append(uses["JDV_J10"], use{"format", m.Format})
		uses["JDV_J02"] = append(uses["JDV_J02"], use{"facility", m.Facility})
		uses["JDV_J04"] = append(uses["JDV_J04"], use{"practice setting", m.PracticeSetting})
		for _, c := range m.Confidentiality {
			uses["JDV_J08"] = append(uses["JDV_J08"], use{"confidentiality", c})
		}
	}
	for _, p := range pros {
		uses["JDV_J01"] = append(uses["JDV_J01"], use{"profession", p.Author.Profession})
		if p.Author.Specialty.Code != "" {
			uses["JDV_J01"] = append(uses["JDV_J01"], use{"specialty", p.Author.Specialty})
		}
		uses["JDV_J02"] = append(uses["JDV_J02"], use{"facility", p.Facility})
		uses["JDV_J04"] = append(uses["JDV_J04"], use{"practice setting", p.PracticeSetting})
	}
	prefixes := make([]string, 0, len(uses))
	for p := range uses {
		prefixes = append(prefixes, p)
	}
	slices.Sort(prefixes)
	for _, prefix := range prefixes {
		path := find(prefix)
		if path == "" && prefix == "JDV_J10" {
			// No JDV_J10 in the reference set: format codes are checked
			// against the ANS volet table, which gives every code a CDA
			// template implies.
			formats, err := cda.LoadFormatsFile(sharedPath(t, "reference", "ci-sis-formats.csv"))
			if err != nil {
				t.Fatal(err)
			}
			for _, u := range uses[prefix] {
				if known, active := formats.Known(u.c); !known || !active {
					t.Errorf("format %s|%s is not an active code of ci-sis-formats.csv (known %v)", u.c.System, u.c.Code, known)
				}
			}
			continue
		}
		if path == "" {
			// JDV_J06 (class) is not in the reference set, nor the ANS
			// type-to-class table ASS_X04: class codes cannot be checked.
			t.Logf("no %s value set in %s: %d codes not checked", prefix, dir, len(uses[prefix]))
			continue
		}
		vs := loadValueSet(t, path)
		checked := map[string]bool{}
		for _, u := range uses[prefix] {
			key := u.c.System + "|" + u.c.Code
			if checked[key] {
				continue
			}
			checked[key] = true
			display, ok := vs.concepts[key]
			switch {
			case !ok:
				t.Errorf("%s %s is not in %s", u.what, key, filepath.Base(path))
			case vs.retired[key]:
				t.Errorf("%s %s is retired in %s", u.what, key, filepath.Base(path))
			case display != u.c.Display:
				t.Errorf("%s %s: display %q, the value set says %q", u.what, key, u.c.Display, display)
			}
		}
		t.Logf("%s: %d distinct codes found in %s", prefix, len(checked), filepath.Base(path))
	}
}

// templateRoots returns the templateId roots (with extension) found under
// the structuredBody of a CDA document, or in its header.
func templateRoots(t *testing.T, content []byte, body bool) map[string]bool {
	t.Helper()
	d := xml.NewDecoder(strings.NewReader(string(content)))
	out := map[string]bool{}
	depth, inBody := 0, false
	for {
		tok, err := d.Token()
		if err != nil {
			break
		}
		switch e := tok.(type) {
		case xml.StartElement:
			depth++
			if e.Name.Local == "structuredBody" {
				inBody = true
			}
			if e.Name.Local != "templateId" {
				continue
			}
			if (body && inBody) || (!body && depth == 2) {
				var root, ext string
				for _, a := range e.Attr {
					switch a.Name.Local {
					case "root":
						root = a.Value
					case "extension":
						ext = a.Value
					}
				}
				out[root+" "+ext] = true
			}
		case xml.EndElement:
			depth--
			if e.Name.Local == "structuredBody" {
				inBody = false
			}
		}
	}
	return out
}

// TestStructureMatchesANSExamples compares the CDA templates of each kind
// with the ANS example of the same kind: the same header conformance
// declarations, and for the N3 lab report every template the ANS TSH
// report uses in its body (chapters, sub-chapters, result entries,
// observations, PDF copy).
func TestStructureMatchesANSExamples(t *testing.T) {
	dir := sharedPath(t, "corpus", "ans-cda")
	_, large := testData()
	example := map[Kind]string{
		KindLabN3:        "BIO-CR-BIO_2024.01_TSH_1.xml",
		KindLabN1:        "BIO-CR-BIO_2021.01_CDA-R2-Niveau-1.xml",
		KindPrescription: "eP-MED-DM_2024.01_PosoStruct.xml",
		KindDischarge:    "LDL-SES_2022.01.xml",
		KindImaging:      "IMG_CR_IMG_2024.01_CDA-R2-Niveau-1.xml",
		KindVaccination:  "VAC-NOTE_2023.01.xml",
		KindSummary:      "VSM_1.4_2022.01.xml",
		KindConsultation: "DOC_NON_STRUCTURE_CDA-R2-N1.xml",
		KindEmergency:    "DOC_NON_STRUCTURE_CDA-R2-N1.xml",
	}
	first := map[Kind]Document{}
	for _, doc := range large.Documents {
		if _, ok := first[doc.Kind]; !ok {
			first[doc.Kind] = doc
		}
	}
	for _, k := range kindOrder {
		t.Run(string(k), func(t *testing.T) {
			doc, ok := first[k]
			if !ok {
				t.Fatalf("no %s document generated", k)
			}
			ans, err := os.ReadFile(filepath.Join(dir, example[k]))
			if err != nil {
				t.Fatal(err)
			}
			got, want := templateRoots(t, doc.Content, false), templateRoots(t, ans, false)
			if !equalSets(got, want) {
				t.Errorf("header templates %v, %s has %v", keys(got), example[k], keys(want))
			}
			if k != KindLabN3 {
				return
			}
			got, want = templateRoots(t, doc.Content, true), templateRoots(t, ans, true)
			for tmpl := range want {
				if !got[tmpl] {
					t.Errorf("body template %s of %s is missing from the generated lab report", tmpl, example[k])
				}
			}
		})
	}
}

func equalSets(a, b map[string]bool) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if !b[k] {
			return false
		}
	}
	return true
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
