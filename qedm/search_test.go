package qedm

import (
	"encoding/json"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	carnet "github.com/carnet-sante/carnet"
)

func TestParseItemSearch(t *testing.T) {
	day := func(s string) time.Time { tt, _ := time.Parse(time.DateOnly, s); return tt }
	tests := []struct {
		name      string
		kind      carnet.ItemKind
		query     string
		want      ItemSearch
		warnings  int
		wantIssue string // expression of an expected issue; "" for success
	}{
		{"lab results of a patient", carnet.ItemObservation, "patient=Patient/p1&category=laboratory&code=http://loinc.org|718-7,2345-7&_revinclude=Provenance:target",
			ItemSearch{PatientKey: "p1", RevIncludeProvenance: true, Count: DefaultCount, Filter: carnet.ItemFilter{Kinds: []carnet.ItemKind{carnet.ItemObservation},
				Tokens: []carnet.TokenFilter{{Kind: "category", Values: []string{"laboratory"}}, {Kind: "code", Values: []string{"http://loinc.org|718-7", "2345-7"}}}}}, 0, ""},
		{"LOINC system as an OID", carnet.ItemObservation, "patient=p1&code=urn:oid:2.16.840.1.113883.6.1|718-7",
			ItemSearch{PatientKey: "p1", Count: DefaultCount, Filter: carnet.ItemFilter{Kinds: []carnet.ItemKind{carnet.ItemObservation},
				Tokens: []carnet.TokenFilter{{Kind: "code", Values: []string{"http://loinc.org|718-7"}}}}}, 0, ""},
		{"bare OID system", carnet.ItemCondition, "patient=p1&code=2.16.840.1.113883.6.3|E06.3",
			ItemSearch{PatientKey: "p1", Count: DefaultCount, Filter: carnet.ItemFilter{Kinds: []carnet.ItemKind{carnet.ItemCondition},
				Tokens: []carnet.TokenFilter{{Kind: "code", Values: []string{"urn:oid:2.16.840.1.113883.6.3|E06.3"}}}}}, 0, ""},
		{"date range, repeated code is AND", carnet.ItemObservation, "patient=p1&date=ge2024-01-01&date=lt2024-02-01&code=a&code=b",
			ItemSearch{PatientKey: "p1", Count: DefaultCount, Filter: carnet.ItemFilter{Kinds: []carnet.ItemKind{carnet.ItemObservation},
				Tokens:    []carnet.TokenFilter{{Kind: "code", Values: []string{"a"}}, {Kind: "code", Values: []string{"b"}}},
				Effective: carnet.TimeRange{From: day("2024-01-01"), To: day("2024-02-01")}}}, 0, ""},
		{"INS and paging", carnet.ItemMedicationRequest, "patient.identifier=1.2.250.1.213.1.4.8|1234567890123&_count=500&_page=abc",
			ItemSearch{PatientID: carnet.Identifier{System: "urn:oid:1.2.250.1.213.1.4.8", Value: "1234567890123"}, Count: MaxCount, Page: "abc",
				Filter: carnet.ItemFilter{Kinds: []carnet.ItemKind{carnet.ItemMedicationRequest}}}, 1, ""},
		{"vaccine-code on Immunization", carnet.ItemImmunization, "patient=p1&vaccine-code=60917345",
			ItemSearch{PatientKey: "p1", Count: DefaultCount, Filter: carnet.ItemFilter{Kinds: []carnet.ItemKind{carnet.ItemImmunization},
				Tokens: []carnet.TokenFilter{{Kind: "code", Values: []string{"60917345"}}}}}, 0, ""},
		{"category and date do not apply to Condition", carnet.ItemCondition, "patient=p1&category=laboratory&date=2024&foo=bar&_revinclude=Provenance:agent",
			ItemSearch{PatientKey: "p1", Count: DefaultCount, Filter: carnet.ItemFilter{Kinds: []carnet.ItemKind{carnet.ItemCondition}}}, 4, ""},
		{"reimbursed acts by CCAM code and date", carnet.ItemProcedure, "patient=p1&code=urn:oid:1.2.250.1.215.200.3.4|BJQP002&date=ge2019-01-01",
			ItemSearch{PatientKey: "p1", Count: DefaultCount, Filter: carnet.ItemFilter{Kinds: []carnet.ItemKind{carnet.ItemProcedure},
				Tokens:    []carnet.TokenFilter{{Kind: "code", Values: []string{"urn:oid:1.2.250.1.215.200.3.4|BJQP002"}}},
				Effective: carnet.TimeRange{From: day("2019-01-01")}}}, 0, ""},
		{"medications taken by effective (R4's name) and date", carnet.ItemMedicationStatement, "patient=p1&effective=ge2019-03-01&date=lt2019-04-01",
			ItemSearch{PatientKey: "p1", Count: DefaultCount, Filter: carnet.ItemFilter{Kinds: []carnet.ItemKind{carnet.ItemMedicationStatement},
				Effective: carnet.TimeRange{From: day("2019-03-01"), To: day("2019-04-01")}}}, 0, ""},
		{"effective is MedicationStatement's only", carnet.ItemProcedure, "patient=p1&effective=2019",
			ItemSearch{PatientKey: "p1", Count: DefaultCount, Filter: carnet.ItemFilter{Kinds: []carnet.ItemKind{carnet.ItemProcedure}}}, 1, ""},
		{"no patient: the Service decides", carnet.ItemObservation, "code=718-7", ItemSearch{Count: DefaultCount,
			Filter: carnet.ItemFilter{Kinds: []carnet.ItemKind{carnet.ItemObservation}, Tokens: []carnet.TokenFilter{{Kind: "code", Values: []string{"718-7"}}}}}, 0, ""},
		{"accurate total", carnet.ItemObservation, "patient=p1&_total=accurate",
			ItemSearch{PatientKey: "p1", Count: DefaultCount, Total: true, Filter: carnet.ItemFilter{Kinds: []carnet.ItemKind{carnet.ItemObservation}}}, 0, ""},
		{"estimated total: given when it costs nothing", carnet.ItemObservation, "patient=p1&_total=estimate",
			ItemSearch{PatientKey: "p1", Count: DefaultCount, Filter: carnet.ItemFilter{Kinds: []carnet.ItemKind{carnet.ItemObservation}}}, 0, ""},
		{"unknown total", carnet.ItemObservation, "patient=p1&_total=exact", ItemSearch{}, 0, "_total"},
		{"both patients", carnet.ItemObservation, "patient=p1&patient.identifier=urn:oid:1.2.250.1.213.1.4.8|1", ItemSearch{}, 0, "patient"},
		{"bad patient", carnet.ItemObservation, "patient=Patient/a|b", ItemSearch{}, 0, "patient"},
		{"modifier", carnet.ItemObservation, "patient=p1&code:text=hemoglobin", ItemSearch{}, 0, "code:text"},
		{"any code of a system", carnet.ItemObservation, "patient=p1&code=http://loinc.org|", ItemSearch{}, 0, "code"},
		{"bad date", carnet.ItemObservation, "patient=p1&date=yesterday", ItemSearch{}, 0, "date"},
		{"ne date", carnet.ItemObservation, "patient=p1&date=ne2024", ItemSearch{}, 0, "date"},
		{"bad count", carnet.ItemObservation, "patient=p1&_count=0", ItemSearch{}, 0, "_count"},
		{"too many values", carnet.ItemObservation, "patient=p1&code=" + strings.Repeat("a,", 40), ItemSearch{}, 0, "code"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, err := url.ParseQuery(tt.query)
			if err != nil {
				t.Fatal(err)
			}
			got, warnings, err := ParseItemSearch(tt.kind, q)
			if tt.wantIssue != "" {
				if !carnet.IsKind(err, carnet.KindInvalid) {
					t.Fatalf("error %v, want invalid", err)
				}
				found := false
				for _, is := range carnet.ErrorIssues(err) {
					found = found || is.Expression == tt.wantIssue
				}
				if !found {
					t.Errorf("issues %+v, want one on %s", carnet.ErrorIssues(err), tt.wantIssue)
				}
				return
			}
			if err != nil {
				t.Fatalf("error %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
			if len(warnings) != tt.warnings {
				t.Errorf("warnings %q, want %d", warnings, tt.warnings)
			}
		})
	}
	if _, _, err := ParseItemSearch("Patient", url.Values{"patient": {"p1"}}); !carnet.IsKind(err, carnet.KindNotFound) {
		t.Errorf("search on Patient: %v, want not-found", err)
	}
}

// matches reports whether the item's tokens satisfy every token filter.
func matches(tokens []carnet.Token, filters []carnet.TokenFilter) bool {
	for _, f := range filters {
		ok := false
		for _, v := range f.Values {
			ok = ok || slices.Contains(tokens, carnet.Token{Kind: f.Kind, Value: v})
		}
		if !ok {
			return false
		}
	}
	return true
}

// TestSearchFindsItemsOwnCodes: every way a client may write an item's own
// code and category finds it, and another code does not.
func TestSearchFindsItemsOwnCodes(t *testing.T) {
	items := []carnet.Item{
		{Kind: carnet.ItemObservation, Code: carnet.Coding{System: "http://loinc.org", Code: "718-7"}, Category: "laboratory", Abnormal: true},
		{Kind: carnet.ItemObservation, Code: carnet.Coding{System: "urn:oid:2.16.840.1.113883.6.1", Code: "3016-3"}, Category: "laboratory"},
		{Kind: carnet.ItemCondition, Code: carnet.Coding{System: "urn:oid:2.16.840.1.113883.6.96", Code: "73211009"}},
		{Kind: carnet.ItemMedicationRequest, Code: carnet.Coding{System: "urn:oid:1.2.250.1.213.2.3.1", Code: "63107752"}},
		{Kind: carnet.ItemAllergy, Code: carnet.Coding{Code: "XM5DJ7"}},
	}
	for _, it := range items {
		tokens := ItemTokens(it)
		c := normCoding(it.Code)
		oid := strings.TrimPrefix(it.Code.System, "urn:oid:")
		forms := []string{c.Code, c.System + "|" + c.Code}
		if c.System != "" {
			forms = append(forms, it.Code.System+"|"+c.Code)
			if carnet.IsOID(oid) {
				forms = append(forms, oid+"|"+c.Code, "urn:oid:"+oid+"|"+c.Code)
			}
			switch c.System {
			case SystemLOINC:
				forms = append(forms, "urn:oid:2.16.840.1.113883.6.1|"+c.Code)
			case SystemSNOMED:
				forms = append(forms, "2.16.840.1.113883.6.96|"+c.Code)
			}
		}
		for _, form := range forms {
			q := url.Values{"patient": {"p"}, "code": {form}}
			if it.Category != "" {
				q["category"] = []string{"laboratory"}
			}
			s, _, err := ParseItemSearch(it.Kind, q)
			if err != nil {
				t.Fatalf("%s code=%s: %v", it.Kind, form, err)
			}
			if !matches(tokens, s.Filter.Tokens) {
				t.Errorf("%s: code=%s does not find the item (tokens %v, filter %v)", it.Kind, form, tokens, s.Filter.Tokens)
			}
		}
		if it.Category != "" {
			s, _, _ := ParseItemSearch(it.Kind, url.Values{"patient": {"p"}, "category": {SystemObservationCategory + "|laboratory"}})
			if !matches(tokens, s.Filter.Tokens) {
				t.Errorf("category with its system does not find %v", it.Code)
			}
		}
		s, _, _ := ParseItemSearch(it.Kind, url.Values{"patient": {"p"}, "code": {c.System + "|other"}})
		if matches(tokens, s.Filter.Tokens) {
			t.Errorf("%s: another code finds the item", it.Kind)
		}
	}
	if !slices.Contains(ItemTokens(items[0]), carnet.Token{Kind: TokAbnormal, Value: "true"}) || slices.Contains(ItemTokens(items[1]), carnet.Token{Kind: TokAbnormal, Value: "true"}) {
		t.Error("abnormal token on the wrong items")
	}
}

func TestProvenance(t *testing.T) {
	it := carnet.Item{Patient: "p1", ID: "obs-7", Kind: carnet.ItemObservation, SourceID: "doc-3", Effective: time.Date(2024, 4, 2, 12, 55, 21, 0, time.UTC)}
	var p struct {
		ResourceType string `json:"resourceType"`
		ID           string
		Target       []struct{ Reference string }
		Recorded     string
		Policy       []string
		Entity       []struct {
			Role string
			What struct{ Reference string }
		}
		Agent []struct {
			Type struct {
				Coding []struct{ System, Code string }
			}
			Who struct{ Display string }
		}
	}
	b := Provenance(it, "https://x")
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	if p.ResourceType != "Provenance" || p.ID != "prov-obs-7" || len(p.Target) != 1 || p.Target[0].Reference != "Observation/obs-7" {
		t.Errorf("provenance header %+v", p)
	}
	if p.Recorded != "2024-04-02T12:55:21Z" || len(p.Policy) != 1 || p.Policy[0] != PolicyDocumentProvenance {
		t.Errorf("recorded %q policy %v", p.Recorded, p.Policy)
	}
	if len(p.Entity) != 1 || p.Entity[0].Role != "source" || p.Entity[0].What.Reference != "DocumentReference/doc-3" {
		t.Errorf("entity %+v", p.Entity)
	}
	if len(p.Agent) != 1 || p.Agent[0].Type.Coding[0].Code != "assembler" || p.Agent[0].Who.Display != "Carnet" {
		t.Errorf("agent %+v", p.Agent)
	}
	if string(Provenance(it, "https://x")) != string(b) {
		t.Error("Provenance is not deterministic")
	}
	// An item extracted at a filing: recorded is the extraction, with or
	// without a date of its own.
	filed := time.Date(2025, 1, 9, 8, 0, 0, 0, time.UTC)
	for _, eff := range []time.Time{{}, it.Effective} {
		it2 := it
		it2.Effective, it2.Recorded = eff, filed
		if err := json.Unmarshal(Provenance(it2, "https://x"), &p); err != nil || p.Recorded != "2025-01-09T08:00:00Z" {
			t.Errorf("effective %v: recorded %q (%v), want the filing", eff, p.Recorded, err)
		}
	}
}

func TestServeRefusesBrokenResource(t *testing.T) {
	for _, r := range []string{"", "[]", "null", "{"} {
		if _, err := Serve(carnet.Item{ID: "x", Kind: carnet.ItemCondition, Resource: []byte(r)}, ""); !carnet.IsKind(err, carnet.KindInternal) {
			t.Errorf("Serve(%q): %v, want internal", r, err)
		}
	}
}
