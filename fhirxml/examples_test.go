package fhirxml

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	carnet "github.com/carnet-sante/carnet"
	"github.com/carnet-sante/carnet/fhirxml/internal/r4gen"
	"github.com/carnet-sante/carnet/internal/ci"
)

// carnetTypes are the resource types Carnet reads or answers (docs/MHD.md,
// PDSm, PCF, QEDM, the audit and the capability statement), whose official
// R4 examples must all survive both round trips.
var carnetTypes = []string{
	"AllergyIntolerance", "AuditEvent", "Binary", "Bundle", "CapabilityStatement",
	"Communication", "Condition", "Consent", "DocumentReference", "Immunization",
	"List", "MedicationStatement", "Observation", "OperationOutcome", "Organization",
	"Parameters", "Patient", "Practitioner", "PractitionerRole", "Provenance",
	"Device", "Encounter", "Procedure",
}

// The R4 examples package has no Parameters example: TestParametersRoundTrip
// has its own.
var noOfficialExample = map[string]bool{"Parameters": true}

// examplesDir is the hl7.fhir.r4.examples npm package (package.json at the
// repository's root; `npm ci` installs it, .ci/run does).
func examplesDir(t testing.TB) string {
	t.Helper()
	dir, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test")
		}
		dir = parent
	}
	p := filepath.Join(dir, "node_modules", "hl7.fhir.r4.examples")
	if _, err := os.Stat(filepath.Join(p, "package.json")); err != nil {
		ci.Missing(t, "the FHIR R4 examples are absent (%s); run npm ci at the repository's root", p)
	}
	return p
}

// exampleFiles lists the official JSON examples of carnetTypes, up to 1 MiB
// each; with CARNET_FHIRXML_ALL set, all 5,305 examples of every type
// (about a minute of CPU).
func exampleFiles(t testing.TB) []string {
	dir := examplesDir(t)
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	for _, ty := range carnetTypes {
		want[ty] = true
	}
	all := os.Getenv("CARNET_FHIRXML_ALL") != ""
	var out []string
	for _, e := range entries {
		name := e.Name()
		ty, _, ok := strings.Cut(name, "-")
		if !ok || !strings.HasSuffix(name, ".json") || name == "package.json" || !IsResource(ty) {
			continue
		}
		if !all && !want[ty] {
			continue
		}
		// The specification's definition Bundles (profiles, value sets:
		// 100 MB) only with the long variant.
		if info, err := e.Info(); err == nil && info.Size() > 1<<20 && !all {
			continue
		}
		out = append(out, filepath.Join(dir, name))
	}
	sort.Strings(out)
	return out
}

// TestOfficialExamplesRoundTrip: every official R4 example of the types
// Carnet speaks goes JSON → XML → JSON to an equivalent resource (the same
// members and values, number literals included, the narrative the same
// XHTML), and its XML → JSON → XML to the same bytes.
func TestOfficialExamplesRoundTrip(t *testing.T) {
	files := exampleFiles(t)
	seen := map[string]int{}
	for _, f := range files {
		ty, _, _ := strings.Cut(filepath.Base(f), "-")
		seen[ty]++
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		x1, err := ToXML(data)
		if err != nil {
			t.Errorf("%s: JSON → XML: %v", filepath.Base(f), detail(err))
			continue
		}
		if err := wellFormed(x1); err != nil {
			t.Errorf("%s: the XML is not well-formed: %v", filepath.Base(f), err)
			continue
		}
		j1, err := ToJSON(x1)
		if err != nil {
			t.Errorf("%s: XML → JSON: %v", filepath.Base(f), detail(err))
			continue
		}
		if diff := jsonDiff(t, data, j1); diff != "" {
			t.Errorf("%s: JSON → XML → JSON differs: %s", filepath.Base(f), diff)
			continue
		}
		x2, err := ToXML(j1)
		if err != nil || !bytes.Equal(x1, x2) {
			t.Errorf("%s: XML → JSON → XML differs (%v)", filepath.Base(f), err)
		}
	}
	for _, ty := range carnetTypes {
		if seen[ty] == 0 && !noOfficialExample[ty] {
			t.Errorf("no official example of %s was read", ty)
		}
	}
	t.Logf("%d official examples of %d types", len(files), len(seen))
}

func detail(err error) string {
	s := err.Error()
	if e, ok := err.(*carnet.Error); ok && len(e.Issues) > 0 {
		s += fmt.Sprintf(" [%s at %s]", e.Issues[0].Diagnostics, e.Issues[0].Expression)
	}
	return s
}

func wellFormed(b []byte) error {
	d := xml.NewDecoder(bytes.NewReader(b))
	for {
		_, err := d.Token()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// jsonDiff compares two JSON resources as values (numbers by their
// literal, each narrative as canonical XHTML) and says where they first
// differ, "" when they do not.
func jsonDiff(t testing.TB, a, b []byte) string {
	var va, vb any
	for _, p := range []struct {
		data []byte
		v    *any
	}{{a, &va}, {b, &vb}} {
		d := json.NewDecoder(bytes.NewReader(p.data))
		d.UseNumber()
		if err := d.Decode(p.v); err != nil {
			return "not JSON: " + err.Error()
		}
	}
	return diffValue("", canonical(t, va), canonical(t, vb))
}

func canonical(t testing.TB, v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if s, ok := e.(string); ok && k == "div" {
				n, err := parse([]byte(s), "div")
				if err != nil {
					t.Fatalf("div: %v", err)
				}
				var b bytes.Buffer
				if err := writeXHTML(&b, n, true, "div"); err != nil {
					t.Fatalf("div: %v", err)
				}
				x[k] = b.String()
				continue
			}
			x[k] = canonical(t, e)
		}
	case []any:
		for i := range x {
			x[i] = canonical(t, x[i])
		}
	}
	return v
}

func diffValue(at string, a, b any) string {
	switch x := a.(type) {
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok {
			return at + ": object vs " + fmt.Sprint(b)
		}
		keys := map[string]bool{}
		for k := range x {
			keys[k] = true
		}
		for k := range y {
			keys[k] = true
		}
		var ks []string
		for k := range keys {
			ks = append(ks, k)
		}
		sort.Strings(ks)
		for _, k := range ks {
			if d := diffValue(at+"."+k, x[k], y[k]); d != "" {
				return d
			}
		}
		return ""
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return fmt.Sprintf("%s: %v vs %v", at, a, b)
		}
		for i := range x {
			if d := diffValue(fmt.Sprintf("%s[%d]", at, i), x[i], y[i]); d != "" {
				return d
			}
		}
		return ""
	}
	if !reflect.DeepEqual(a, b) {
		return fmt.Sprintf("%s: %#v vs %#v", at, a, b)
	}
	return ""
}

// The committed table is what the generator makes of the package.
func TestTableIsGenerated(t *testing.T) {
	b, err := r4gen.Table(examplesDir(t))
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != table {
		t.Error("r4.txt differs from the generator's output: run go generate ./fhirxml")
	}
	if _, err := parseTable(table); err != nil {
		t.Fatal(err)
	}
}
