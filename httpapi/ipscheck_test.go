package httpapi_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/carnet-sante/carnet/internal/testenv"
)

// ipsProfile is what the shape checker reads of the IPS implementation
// guide's Composition profile (StructureDefinition-Composition-uv-ips.json,
// from the IG's npm package): the section slices, their LOINC codes, which
// are required, which need entries or an emptyReason (ips-comp-1), and the
// resource types their entries may reference.
type ipsProfile struct {
	slices map[string]*ipsSlice // by LOINC code
}

type ipsSlice struct {
	name      string
	min       int
	needEntry bool     // constraint ips-comp-1: entry or emptyReason
	types     []string // resource types entries may reference
}

// loadIPSProfile reads the Composition profile of the IG's package.
func loadIPSProfile(t *testing.T) (ipsProfile, string) {
	t.Helper()
	dir := testenv.NPMPackage(t, "hl7.fhir.uv.ips")
	raw, err := os.ReadFile(filepath.Join(dir, "StructureDefinition-Composition-uv-ips.json"))
	if err != nil {
		t.Fatal(err)
	}
	var sd struct {
		Snapshot struct {
			Element []struct {
				ID         string `json:"id"`
				Min        int    `json:"min"`
				Constraint []struct {
					Key string `json:"key"`
				} `json:"constraint"`
				Pattern *struct {
					Coding []struct{ System, Code string }
				} `json:"patternCodeableConcept"`
				Type []struct {
					TargetProfile []string `json:"targetProfile"`
				} `json:"type"`
			} `json:"element"`
		} `json:"snapshot"`
	}
	if err := json.Unmarshal(raw, &sd); err != nil {
		t.Fatal(err)
	}
	byName := map[string]*ipsSlice{}
	p := ipsProfile{slices: map[string]*ipsSlice{}}
	for _, e := range sd.Snapshot.Element {
		rest, ok := strings.CutPrefix(e.ID, "Composition.section:")
		if !ok {
			continue
		}
		name, elem, _ := strings.Cut(rest, ".")
		s := byName[name]
		if s == nil {
			s = &ipsSlice{name: name}
			byName[name] = s
		}
		switch elem {
		case "":
			s.min = e.Min
			for _, c := range e.Constraint {
				s.needEntry = s.needEntry || c.Key == "ips-comp-1"
			}
		case "code":
			if e.Pattern != nil && len(e.Pattern.Coding) > 0 {
				p.slices[e.Pattern.Coding[0].Code] = s
			}
		case "entry":
			for _, ty := range e.Type {
				for _, tp := range ty.TargetProfile {
					tp, _, _ = strings.Cut(tp, "|")
					if r, ok := strings.CutPrefix(tp, "http://hl7.org/fhir/StructureDefinition/"); ok {
						s.types = append(s.types, r)
					}
				}
			}
		}
	}
	if len(p.slices) < 5 {
		t.Fatalf("the IG's Composition profile names %d section slices; it has more than ten", len(p.slices))
	}
	return p, dir
}

// required are the LOINC codes of the sections the profile requires.
func (p ipsProfile) required() []string {
	var out []string
	for code, s := range p.slices {
		if s.min > 0 {
			out = append(out, code)
		}
	}
	slices.Sort(out)
	return out
}

type ipsEntry struct {
	FullURL  string          `json:"fullUrl"`
	Resource json.RawMessage `json:"resource"`
}

type ipsDoc struct {
	ResourceType string `json:"resourceType"`
	Type         string `json:"type"`
	Identifier   *struct {
		System, Value string
	} `json:"identifier"`
	Timestamp string     `json:"timestamp"`
	Entry     []ipsEntry `json:"entry"`
}

type ipsRef struct {
	Reference string `json:"reference"`
}

type ipsComposition struct {
	ResourceType string   `json:"resourceType"`
	Status       string   `json:"status"`
	Type         ipsCC    `json:"type"`
	Subject      ipsRef   `json:"subject"`
	Date         string   `json:"date"`
	Author       []ipsRef `json:"author"`
	Title        string   `json:"title"`
	Section      []struct {
		Title string `json:"title"`
		Code  ipsCC  `json:"code"`
		Text  *struct {
			Status, Div string
		} `json:"text"`
		Entry       []ipsRef `json:"entry"`
		EmptyReason *ipsCC   `json:"emptyReason"`
	} `json:"section"`
}

type ipsCC struct {
	Coding []struct{ System, Code string } `json:"coding"`
}

func (c ipsCC) loinc() string {
	for _, cd := range c.Coding {
		if cd.System == "http://loinc.org" {
			return cd.Code
		}
	}
	return ""
}

// ipsChecked is what the checker found of a document, for callers' own
// assertions.
type ipsChecked struct {
	byURL       map[string]json.RawMessage // entries by fullUrl
	types       map[string]string          // resourceType by fullUrl
	patient     json.RawMessage
	sectionOf   map[string]string // fullUrl of an entry referenced by a section -> the section's LOINC
	composition ipsComposition
}

// resolve is the fullUrl a reference made from the entry at from points
// to (FHIR's rules for resolving references in bundles), "" if none.
func (c *ipsChecked) resolve(from, ref string) string {
	if ref == "" || strings.HasPrefix(ref, "#") {
		return ""
	}
	if _, ok := c.byURL[ref]; ok {
		return ref
	}
	if strings.Contains(ref, ":") {
		return "" // absolute and absent
	}
	// Relative: against the RESTful base of the referring entry.
	parts := strings.Split(from, "/")
	if len(parts) >= 3 && strings.HasPrefix(from, "http") {
		base := strings.Join(parts[:len(parts)-2], "/")
		if _, ok := c.byURL[base+"/"+ref]; ok {
			return base + "/" + ref
		}
		return ""
	}
	// From a urn: any entry whose RESTful fullUrl ends with it.
	for u := range c.byURL {
		if strings.HasSuffix(u, "/"+ref) {
			return u
		}
	}
	return ""
}

// references returns every reference string (and where it is) in v.
func references(v any, path string, out *[][2]string) {
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			if s, ok := val.(string); ok && k == "reference" {
				*out = append(*out, [2]string{path, s})
				continue
			}
			references(val, path+"."+k, out)
		}
	case []any:
		for _, val := range x {
			references(val, path, out)
		}
	}
}

// checkIPS checks the shape of an IPS document against the profile and
// returns what is wrong: Bundle type, identifier and timestamp; the
// Composition first; its subject a Patient entry; every required section
// present, each section with a title, a narrative and entries or an
// emptyReason (never both), each entry reference resolving to an entry of
// a type the section allows; every clinical entry referenced from a section
// or from a resource that is (a Provenance counts when its target does);
// every reference resolvable in the bundle. strict also requires each
// clinical entry to be referenced from a section directly.
func checkIPS(p ipsProfile, raw []byte, strict bool) (*ipsChecked, []string) {
	var problems []string
	bad := func(f string, a ...any) { problems = append(problems, fmt.Sprintf(f, a...)) }
	var doc ipsDoc
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, []string{"not JSON: " + err.Error()}
	}
	if doc.ResourceType != "Bundle" || doc.Type != "document" {
		bad("a %s of type %q, want a Bundle of type document", doc.ResourceType, doc.Type)
	}
	if doc.Identifier == nil || doc.Identifier.System == "" || doc.Identifier.Value == "" {
		bad("bdl-9: the document has no identifier with system and value")
	}
	if _, err := time.Parse(time.RFC3339Nano, doc.Timestamp); err != nil {
		bad("bdl-10: timestamp %q is not an instant", doc.Timestamp)
	}
	c := &ipsChecked{byURL: map[string]json.RawMessage{}, types: map[string]string{}, sectionOf: map[string]string{}}
	for i, e := range doc.Entry {
		if e.FullURL == "" {
			bad("entry %d has no fullUrl", i)
			continue
		}
		if _, dup := c.byURL[e.FullURL]; dup {
			bad("bdl-7: fullUrl %s twice", e.FullURL)
		}
		c.byURL[e.FullURL] = e.Resource
		var h struct{ ResourceType string }
		json.Unmarshal(e.Resource, &h)
		c.types[e.FullURL] = h.ResourceType
	}
	if len(doc.Entry) == 0 || c.types[doc.Entry[0].FullURL] != "Composition" {
		bad("bdl-11: the first entry is not the Composition")
		return c, problems
	}
	compURL := doc.Entry[0].FullURL
	comp := &c.composition
	if err := json.Unmarshal(doc.Entry[0].Resource, comp); err != nil {
		bad("the Composition does not parse: %v", err)
		return c, problems
	}
	if comp.Status == "" || comp.Type.loinc() != "60591-5" || comp.Date == "" || len(comp.Author) == 0 || comp.Title == "" {
		bad("the Composition lacks status, type 60591-5, date, author or title: %+v", comp)
	}
	subj := c.resolve(compURL, comp.Subject.Reference)
	if subj == "" || c.types[subj] != "Patient" {
		bad("Composition.subject %q is not a Patient entry", comp.Subject.Reference)
	} else {
		c.patient = c.byURL[subj]
	}
	for _, a := range comp.Author {
		if c.resolve(compURL, a.Reference) == "" {
			bad("Composition.author %q does not resolve", a.Reference)
		}
	}
	present := map[string]bool{}
	for i, s := range comp.Section {
		code := s.Code.loinc()
		present[code] = true
		where := fmt.Sprintf("section %d (%s)", i, code)
		if s.Title == "" {
			bad("%s has no title", where)
		}
		if s.Text == nil || !strings.HasPrefix(s.Text.Div, "<div") || !strings.Contains(s.Text.Div, `xmlns="http://www.w3.org/1999/xhtml"`) {
			bad("%s has no XHTML narrative", where)
		}
		if len(s.Entry) > 0 && s.EmptyReason != nil {
			bad("cmp-2: %s has entries and an emptyReason", where)
		}
		sl := p.slices[code]
		if sl != nil && sl.needEntry && len(s.Entry) == 0 && s.EmptyReason == nil {
			bad("ips-comp-1: %s (%s) has neither entries nor an emptyReason", where, sl.name)
		}
		for _, e := range s.Entry {
			u := c.resolve(compURL, e.Reference)
			if u == "" {
				bad("%s: entry %q does not resolve", where, e.Reference)
				continue
			}
			c.sectionOf[u] = code
			if sl != nil && !slices.Contains(sl.types, c.types[u]) && !slices.Contains(sl.types, "Resource") {
				bad("%s: entry %s is a %s; the section takes %v", where, e.Reference, c.types[u], sl.types)
			}
		}
	}
	for _, code := range p.required() {
		if !present[code] {
			bad("required section %s (%s) is missing", code, p.slices[code].name)
		}
	}
	// References, and what is reachable from the Composition.
	edges := map[string][]string{}
	for _, e := range doc.Entry {
		var v any
		json.Unmarshal(e.Resource, &v)
		var refs [][2]string
		references(v, c.types[e.FullURL], &refs)
		for _, r := range refs {
			u := c.resolve(e.FullURL, r[1])
			switch {
			case u != "":
				edges[e.FullURL] = append(edges[e.FullURL], u)
			case !strings.HasPrefix(r[1], "#"):
				bad("%s: %s %q does not resolve in the bundle", e.FullURL, r[0], r[1])
			}
		}
	}
	reached := map[string]bool{compURL: true}
	for changed := true; changed; {
		changed = false
		for from, tos := range edges {
			for _, to := range tos {
				// A Provenance is reached through its target.
				if c.types[from] == "Provenance" && reached[to] && !reached[from] {
					reached[from], changed = true, true
				}
				if reached[from] && !reached[to] {
					reached[to], changed = true, true
				}
			}
		}
	}
	clinical := map[string]bool{}
	for _, s := range p.slices {
		for _, ty := range s.types {
			clinical[ty] = ty != "DocumentReference" && ty != "Resource"
		}
	}
	for u, ty := range c.types {
		if !reached[u] {
			bad("entry %s (%s) is referenced from nothing the Composition reaches", u, ty)
		}
		if strict && clinical[ty] && ty != "Consent" && c.sectionOf[u] == "" {
			bad("entry %s (%s) is not referenced from a section", u, ty)
		}
	}
	return c, problems
}

// The checker accepts the IG's own example documents, and refuses one
// with a required section taken out or an entry missing: it checks what
// it says.
func TestIPSCheckerOnTheIGExamples(t *testing.T) {
	p, dir := loadIPSProfile(t)
	if got := p.required(); !slices.Equal(got, []string{"10160-0", "11450-4", "48765-2"}) {
		t.Errorf("required sections per the IG: %v, want medications, problems, allergies", got)
	}
	for _, name := range []string{"Bundle-bundle-minimal.json", "Bundle-bundle-ips-all-sections.json", "Bundle-bundle-no-info-required-sections.json", "Bundle-IPS-examples-Bundle-01.json"} {
		raw, err := os.ReadFile(filepath.Join(dir, "example", name))
		if err != nil {
			t.Fatal(err)
		}
		if _, problems := checkIPS(p, raw, false); len(problems) > 0 {
			t.Errorf("%s: the checker refuses the IG's example:\n  %s", name, strings.Join(problems, "\n  "))
		}
		// Without the allergies section.
		var m map[string]any
		json.Unmarshal(raw, &m)
		comp := m["entry"].([]any)[0].(map[string]any)["resource"].(map[string]any)
		var kept []any
		for _, s := range comp["section"].([]any) {
			if !strings.Contains(fmt.Sprint(s.(map[string]any)["code"]), "48765-2") {
				kept = append(kept, s)
			}
		}
		comp["section"] = kept
		broken, _ := json.Marshal(m)
		if _, problems := checkIPS(p, broken, false); !slices.ContainsFunc(problems, func(s string) bool { return strings.Contains(s, "48765-2") }) {
			t.Errorf("%s without its allergies section: the checker finds %v", name, problems)
		}
		// Without the Patient entry.
		json.Unmarshal(raw, &m)
		entries := m["entry"].([]any)
		m["entry"] = slices.DeleteFunc(slices.Clone(entries), func(e any) bool {
			return e.(map[string]any)["resource"].(map[string]any)["resourceType"] == "Patient"
		})
		broken, _ = json.Marshal(m)
		if _, problems := checkIPS(p, broken, false); len(problems) == 0 {
			t.Errorf("%s without its Patient: the checker finds nothing wrong", name)
		}
	}
}
