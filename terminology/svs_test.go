package terminology

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseSVSHostile(t *testing.T) {
	manyConcepts := func(n int) []byte {
		var b bytes.Buffer
		b.WriteString(svsHead + `<ValueSet id="1.2.3.4"><ConceptList>`)
		for i := range n {
			fmt.Fprintf(&b, `<Concept code="C%d" codeSystem="1.2.3"/>`, i)
		}
		b.WriteString(`</ConceptList></ValueSet></RetrieveValueSetResponse>`)
		return b.Bytes()
	}
	deep := func(n int) []byte {
		return []byte(svsHead + `<ValueSet id="1.2.3.4">` + strings.Repeat("<a>", n) + strings.Repeat("</a>", n) + `</ValueSet></RetrieveValueSetResponse>`)
	}
	laughs := `<?xml version="1.0"?>
<!DOCTYPE RetrieveValueSetResponse [
 <!ENTITY a "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa">
 <!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">
 <!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">
]>
<RetrieveValueSetResponse xmlns="urn:ihe:iti:svs:2008"><ValueSet id="1.2.3.4"><ConceptList>
<Concept code="&c;" codeSystem="1.2.3"/></ConceptList></ValueSet></RetrieveValueSetResponse>`
	external := `<?xml version="1.0"?>
<!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<RetrieveValueSetResponse xmlns="urn:ihe:iti:svs:2008"><ValueSet id="1.2.3.4"><ConceptList>
<Concept code="&xxe;" codeSystem="1.2.3"/></ConceptList></ValueSet></RetrieveValueSetResponse>`

	tests := []struct {
		name     string
		data     []byte
		contains string
	}{
		{"entity expansion (billion laughs)", []byte(laughs), "DOCTYPE"},
		{"external entity", []byte(external), "DOCTYPE"},
		{"undeclared entity", []byte(svsHead + `<ValueSet id="1.2.3.4"><ConceptList><Concept code="&x;" codeSystem="1.2.3"/></ConceptList></ValueSet></RetrieveValueSetResponse>`), "entity"},
		{"200,000 concepts", manyConcepts(200_000), "more than 100000 concepts"},
		{"deep nesting", deep(100_000), "nested deeper than"},
		{"mismatched tags", []byte(svsHead + `<ValueSet id="1.2.3.4"><ConceptList></ValueSet></ConceptList></RetrieveValueSetResponse>`), "line"},
		{"oversized input", make([]byte, MaxFileSize+1), "larger than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vs, err := parseSVS(tt.data)
			if err == nil {
				t.Fatalf("parseSVS accepted it (%d concepts)", len(vs.Concepts))
			}
			if !strings.Contains(err.Error(), tt.contains) {
				t.Errorf("error %q does not contain %q", err, tt.contains)
			}
		})
	}

	t.Run("MaxConcepts concepts are accepted", func(t *testing.T) {
		vs, err := parseSVS(manyConcepts(MaxConcepts))
		if err != nil {
			t.Fatal(err)
		}
		if len(vs.Concepts) != MaxConcepts {
			t.Errorf("got %d concepts, want %d", len(vs.Concepts), MaxConcepts)
		}
	})
}

func TestParseSVSReadsOnlySVSConcepts(t *testing.T) {
	data := svsHead + `<ValueSet id=" 1.2.3.4 " displayName="X" dateValid="20200101000000">
  <Concept code="OUT" codeSystem="1.2.3"/>
  <ConceptList xml:lang="fr-FR">
    <Concept code=" IN&#xA0;" codeSystem="1.2.3" displayName=" In "/>
    <x:Concept xmlns:x="urn:other" code="FOREIGN" codeSystem="1.2.3"/>
    <Concept code="IN" codeSystem="1.2.3" displayName="duplicate"/>
    <Concept code="" codeSystem="" displayName="à compléter"/>
    <Concept code="NESTED" codeSystem="1.2.3"><Concept code="INNER" codeSystem="1.2.3"/></Concept>
  </ConceptList>
  <ConceptList><Concept code="SECOND" codeSystem="1.2.3"/></ConceptList>
</ValueSet></RetrieveValueSetResponse>`
	vs, err := parseSVS([]byte(data))
	if err != nil {
		t.Fatal(err)
	}
	if vs.OID != "1.2.3.4" {
		t.Errorf("OID = %q, want 1.2.3.4", vs.OID)
	}
	var got []string
	for _, c := range vs.Concepts {
		got = append(got, c.Code+"="+c.Display)
	}
	want := "IN=In,IN=duplicate,NESTED=,SECOND="
	if strings.Join(got, ",") != want {
		t.Errorf("concepts = %v, want %s", got, want)
	}
	for _, c := range vs.Concepts {
		if c.From.IsZero() {
			t.Errorf("%s: the value set's dateValid was not applied", c.Code)
		}
	}
}

// FuzzParseSVS checks that no input makes the parser panic or hang, and
// that whatever it accepts respects the bounds and loads into a Set whose
// every concept can be looked up.
func FuzzParseSVS(f *testing.F) {
	f.Add([]byte(svsHead + `<ValueSet id="1.2.3.4" dateValid="20200101000000" dateFin="20250101000000"><ConceptList>
<Concept code="A" codeSystem="2.16.840.1.113883.6.1" displayName="a" dateValid="20210101000000" dateFin=""/>
</ConceptList></ValueSet></RetrieveValueSetResponse>`))
	f.Add([]byte(`<!DOCTYPE x [<!ENTITY a "b">]><x/>`))
	f.Add([]byte(svsHead + `<ValueSet id="1"><ConceptList><Concept code="&#9;X&#xA0;" codeSystem="ASTM"/></ConceptList></ValueSet></RetrieveValueSetResponse>`))
	// Seed with a few real files when the shared data is present.
	dir := filepath.Join("..", "..", "shared", "reference", "ci-sis-jdv")
	for _, name := range []string{TypeCodes, ConfidentialityCodes, "JDV_J48_ProfessionNonPS_CISIS", "JDV_ScoreRankin_CISIS", "JDV_Evaluation_AGGIR_PA_CISIS"} {
		if data, err := os.ReadFile(filepath.Join(dir, name+".xml")); err == nil {
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		vs, err := parseSVS(data)
		if err != nil {
			return
		}
		if vs.OID == "" {
			t.Fatal("accepted a value set without id")
		}
		if len(vs.Concepts) > MaxConcepts {
			t.Fatalf("%d concepts accepted", len(vs.Concepts))
		}
		v := newValueSet()
		for _, c := range vs.Concepts {
			if c.Code == "" || c.System == "" || strings.TrimSpace(c.Code) != c.Code {
				t.Fatalf("bad concept accepted: %+v", c)
			}
			v.add(c)
		}
		s := &Set{byName: map[string]*valueSet{"F": v}, byOID: map[string]*valueSet{vs.OID: v}}
		for _, c := range v.concepts {
			got, known, _ := s.Lookup("F", "urn:oid:"+c.System, c.Code, c.From)
			if !known || got.Code != c.Code {
				t.Fatalf("concept %+v not found by Lookup (got %+v)", c, got)
			}
		}
	})
}
