package ips

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	carnet "github.com/carnet-sante/carnet"
)

var now = time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)

func item(kind carnet.ItemKind, id, code string, eff time.Time, resource string) carnet.Item {
	return carnet.Item{Patient: "p", ID: id, Kind: kind, SourceID: "doc-" + id, SourceLogicalID: "doc-" + id,
		Code: carnet.Coding{System: "http://loinc.org", Code: code}, Effective: eff, Resource: []byte(resource)}
}

func ids(sel Selection, key string) []string {
	for _, s := range sel.Sections {
		if s.Key == key {
			var out []string
			for _, it := range s.Items {
				out = append(out, it.ID)
			}
			return out
		}
	}
	return nil
}

func TestSelect(t *testing.T) {
	day := func(d int) time.Time { return now.AddDate(0, 0, -d) }
	items := []carnet.Item{ // newest first, as the Store gives them
		item(carnet.ItemObservation, "hb-new", "718-7", day(1), `{"category":[{"coding":[{"code":"laboratory"}]}]}`),
		item(carnet.ItemCondition, "asthma-resolved", "J45", day(2), `{"clinicalStatus":{"coding":[{"code":"resolved"}]}}`),
		item(carnet.ItemObservation, "bp", "8480-6", day(3), `{"category":[{"coding":[{"code":"vital-signs"}]}]}`),
		item(carnet.ItemMedicationRequest, "recent", "CIS1", day(30), `{"status":"active"}`),
		item(carnet.ItemMedicationRequest, "cancelled", "CIS2", day(31), `{"status":"cancelled"}`),
		item(carnet.ItemObservation, "hb-old", "718-7", day(40), `{"category":[{"coding":[{"code":"laboratory"}]}]}`),
		item(carnet.ItemCondition, "asthma-active", "J45", day(50), `{"clinicalStatus":{"coding":[{"code":"active"}]}}`),
		item(carnet.ItemCondition, "diabetes", "E11", day(60), `{"clinicalStatus":{"coding":[{"code":"active"}]}}`),
		item(carnet.ItemMedicationRequest, "old-but-valid", "CIS3", day(500), `{"status":"active","dispenseRequest":{"validityPeriod":{"end":"`+day(100).Format("2006-01-02")+`"}}}`),
		item(carnet.ItemMedicationRequest, "old", "CIS4", day(500), `{"status":"active"}`),
		item(carnet.ItemImmunization, "dtp-1", "J07", day(700), `{}`),
		item(carnet.ItemImmunization, "dtp-2", "J07", day(1400), `{}`),
		item(carnet.ItemAllergy, "nocode-1", "", time.Time{}, `{}`),
		item(carnet.ItemAllergy, "nocode-2", "", time.Time{}, `{}`),
	}
	sel := Select(items, now)
	for key, want := range map[string]string{
		"results":       "hb-new",               // the latest of each code
		"vitals":        "bp",                   // vital signs apart
		"past":          "asthma-resolved",      // the newest says resolved
		"problems":      "diabetes",             // not also the older "active" asthma
		"medications":   "recent old-but-valid", // within the window, not cancelled
		"immunizations": "dtp-1 dtp-2",          // a vaccination a date
		"allergies":     "nocode-1 nocode-2",    // no code: never a repeat
	} {
		if got := strings.Join(ids(sel, key), " "); got != want {
			t.Errorf("%s: %q, want %q", key, got, want)
		}
	}
	for _, s := range sel.Sections {
		if s.Key == "medications" && s.Older != 1 {
			t.Errorf("medications: %d older prescriptions counted, want 1", s.Older)
		}
	}
	if n := len(sel.Items()); n != 10 {
		t.Errorf("%d items selected, want 10", n)
	}
}

func TestSelectBoundsSections(t *testing.T) {
	var items []carnet.Item
	for i := range MaxEntries + 7 {
		items = append(items, item(carnet.ItemAllergy, fmt.Sprint("a", i), fmt.Sprint("c", i), now, `{}`))
	}
	sel := Select(items, now)
	s := sel.Sections[0]
	if s.Key != "allergies" || len(s.Items) != MaxEntries || s.More != 7 {
		t.Fatalf("%s: %d entries, %d more; want %d and 7", s.Key, len(s.Items), s.More, MaxEntries)
	}
	b, err := Document(sel, carnet.Patient{Key: "p"}, nil, "https://carnet.test", now)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(b)
	if !strings.Contains(string(raw), "7 autres éléments du dossier ne sont pas repris ici") {
		t.Errorf("the narrative does not say that 7 allergies were left out")
	}
}

// What a document says is text in the narrative, never markup.
func TestNarrativeEscapes(t *testing.T) {
	it := item(carnet.ItemAllergy, "x", "c", now, `{"code":{"text":"<script>alert(1)</script> & \u0001pénicilline"}}`)
	sel := Select([]carnet.Item{it}, now)
	div := narrative(sel.Sections[0], map[string]carnet.Document{"doc-x": {Meta: carnet.DocumentMeta{Title: `CR "urgent" <b>`}}})
	for _, bad := range []string{"<script>", "<b>", "\u0001"} {
		if strings.Contains(div, bad) {
			t.Errorf("the narrative holds %q: %s", bad, div)
		}
	}
	if !strings.Contains(div, "&lt;script&gt;alert(1)&lt;/script&gt; &amp; pénicilline") {
		t.Errorf("the narrative lost the text: %s", div)
	}
}

// An empty required section says so with emptyReason unavailable, the
// same whatever the reason (withheld would tell what a mask hides).
func TestEmptySections(t *testing.T) {
	b, err := Document(Select(nil, now), carnet.Patient{Key: "p"}, nil, "https://carnet.test", now)
	if err != nil {
		t.Fatal(err)
	}
	var comp Composition
	if err := json.Unmarshal(b.Entry[0].Resource, &comp); err != nil {
		t.Fatal(err)
	}
	if len(comp.Section) != 5 {
		t.Fatalf("%d sections in an empty summary, want the five always present", len(comp.Section))
	}
	for _, s := range comp.Section {
		if s.EmptyReason == nil || s.EmptyReason.Coding[0].Code != "unavailable" || len(s.Entry) != 0 || !strings.Contains(s.Text.Div, "Aucun") {
			t.Errorf("section %s: %+v", s.Code.Coding[0].Code, s)
		}
	}
}
