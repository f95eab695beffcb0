package mhd

import (
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	carnet "github.com/carnet-sante/carnet"
	"github.com/carnet-sante/carnet/fhir"
)

func mustQuery(t *testing.T, raw string) url.Values {
	t.Helper()
	q, err := url.ParseQuery(raw)
	if err != nil {
		t.Fatal(err)
	}
	return q
}

func day(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

func TestParseDocumentSearch(t *testing.T) {
	pid := carnet.Identifier{System: "urn:oid:" + carnet.OIDInsNIR, Value: "279035121518989"}
	base := func(f carnet.DocumentFilter) carnet.DocumentSearch {
		return carnet.DocumentSearch{PatientKey: "p1", Filter: f, Count: DefaultCount}
	}
	tf := func(kind string, values ...string) carnet.TokenFilter {
		return carnet.TokenFilter{Kind: kind, Values: values}
	}
	tests := []struct {
		name  string
		query string
		want  carnet.DocumentSearch
		warns int
	}{
		{"patient reference", "patient=Patient/p1", base(carnet.DocumentFilter{}), 0},
		{"patient id alone", "patient=p1", base(carnet.DocumentFilter{}), 0},
		{"patient absolute URL", "patient=https://carnet.example/fhir/Patient/p1", base(carnet.DocumentFilter{}), 0},
		{"patient.identifier", "patient.identifier=urn:oid:1.2.250.1.213.1.4.8|279035121518989",
			carnet.DocumentSearch{PatientID: pid, Count: DefaultCount}, 0},
		{"patient.identifier with a bare OID system", "patient.identifier=1.2.250.1.213.1.4.8|279035121518989",
			carnet.DocumentSearch{PatientID: pid, Count: DefaultCount}, 0},
		{"status OR", "patient=p1&status=current,superseded",
			base(carnet.DocumentFilter{Statuses: []carnet.DocumentStatus{carnet.StatusCurrent, carnet.StatusSuperseded}}), 0},
		{"status entered-in-error is deleted, archived is Carnet's", "patient=p1&status=entered-in-error,archived",
			base(carnet.DocumentFilter{Statuses: []carnet.DocumentStatus{carnet.StatusDeleted, carnet.StatusArchived}}), 0},
		{"status AND intersects", "patient=p1&status=current,superseded&status=superseded,archived",
			base(carnet.DocumentFilter{Statuses: []carnet.DocumentStatus{carnet.StatusSuperseded}}), 0},
		{"type forms", "patient=p1&type=http://loinc.org|11488-4,|11502-2,57833-6",
			base(carnet.DocumentFilter{Tokens: []carnet.TokenFilter{tf("type", "http://loinc.org|11488-4", "|11502-2", "57833-6")}}), 0},
		{"repeated token parameters are AND", "patient=p1&event=a&event=b",
			base(carnet.DocumentFilter{Tokens: []carnet.TokenFilter{tf("event", "a"), tf("event", "b")}}), 0},
		{"category is class", "patient=p1&category=urn:oid:1.2.250.1.213.1.1.4.1|10",
			base(carnet.DocumentFilter{Tokens: []carnet.TokenFilter{tf("class", "urn:oid:1.2.250.1.213.1.1.4.1|10")}}), 0},
		{"facility format setting security-label", "patient=p1&facility=SA07&format=urn:ihe:iti:xds-sd:pdf:2008&setting=ORG01&security-label=MASQUE_PS",
			base(carnet.DocumentFilter{Tokens: []carnet.TokenFilter{tf("facility", "SA07"), tf("format", "urn:ihe:iti:xds-sd:pdf:2008"), tf("label", "MASQUE_PS"), tf("setting", "ORG01")}}), 0},
		{"escaped comma stays in the value", `patient=p1&event=a\,b`,
			base(carnet.DocumentFilter{Tokens: []carnet.TokenFilter{tf("event", "a,b")}}), 0},
		{"empty values are ignored", "patient=p1&type=&event=,",
			base(carnet.DocumentFilter{}), 0},
		{"author names folded", "patient=p1&author.family=L%C5%93uvre&author.given=%20%C3%89lo%C3%AFse%20,Paul",
			base(carnet.DocumentFilter{Tokens: []carnet.TokenFilter{tf("author.family", "loeuvre"), tf("author.given", "eloise", "paul")}}), 0},
		{"author name :exact", "patient=p1&author.family:exact=Durand",
			base(carnet.DocumentFilter{Tokens: []carnet.TokenFilter{tf("author.family", "durand")}}), 0},
		{"identifier forms normalised", "patient=p1&identifier=urn:ietf:rfc:3986|urn:oid:1.2.3.4,1.2.3.5,urn:uuid:0c287d32-01a3-4a0e-8c7a-3b1d0e2a9f01",
			base(carnet.DocumentFilter{Tokens: []carnet.TokenFilter{tf("identifier", "1.2.3.4", "1.2.3.5", "urn:uuid:0c287d32-01a3-4a0e-8c7a-3b1d0e2a9f01")}}), 0},
		{"related", "patient=p1&related=DocumentReference/d1,d2",
			base(carnet.DocumentFilter{Tokens: []carnet.TokenFilter{tf("related", "d1", "d2")}}), 0},
		{"creation partial date", "patient=p1&creation=2024-03",
			base(carnet.DocumentFilter{Created: carnet.TimeRange{From: day(2024, 3, 1), To: day(2024, 4, 1)}}), 0},
		{"date range by two prefixes", "patient=p1&date=ge2024-01-01&date=lt2024-02",
			base(carnet.DocumentFilter{Date: carnet.TimeRange{From: day(2024, 1, 1), To: day(2024, 2, 1)}}), 0},
		{"date gt of a year", "patient=p1&date=gt2023",
			base(carnet.DocumentFilter{Date: carnet.TimeRange{From: day(2024, 1, 1)}}), 0},
		{"date le a day", "patient=p1&date=le2024-03-15",
			base(carnet.DocumentFilter{Date: carnet.TimeRange{To: day(2024, 3, 16)}}), 0},
		{"date sa eb", "patient=p1&date=sa2024-01-31&date=eb2024-03",
			base(carnet.DocumentFilter{Date: carnet.TimeRange{From: day(2024, 2, 1), To: day(2024, 3, 1)}}), 0},
		{"period overlap", "patient=p1&period=2024",
			base(carnet.DocumentFilter{Period: carnet.TimeRange{From: day(2024, 1, 1), To: day(2025, 1, 1)}}), 0},
		{"period ap", "patient=p1&period=ap2024-03-15",
			base(carnet.DocumentFilter{Period: carnet.TimeRange{From: day(2024, 3, 14), To: day(2024, 3, 17)}}), 0},
		{"_count and _page", "patient=p1&_count=50&_page=abc-DEF_123",
			carnet.DocumentSearch{PatientKey: "p1", Count: 50, Page: "abc-DEF_123"}, 0},
		{"_count clamped", "patient=p1&_count=1000",
			carnet.DocumentSearch{PatientKey: "p1", Count: MaxCount}, 1},
		{"_format and _pretty are silent", "patient=p1&_format=json&_pretty=true", base(carnet.DocumentFilter{}), 0},
		{"unknown parameters are warned", "patient=p1&foo=bar&_sort=date", base(carnet.DocumentFilter{}), 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, warns, err := ParseDocumentSearch(mustQuery(t, tt.query))
			if err != nil {
				t.Fatalf("ParseDocumentSearch: %v%s", err, formatIssues(carnet.ErrorIssues(err)))
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
			if len(warns) != tt.warns {
				t.Errorf("warnings = %q, want %d", warns, tt.warns)
			}
		})
	}
}

func TestParseDocumentSearchRefused(t *testing.T) {
	tests := []struct {
		name, query, code, expr string
	}{
		{"both patient forms", "patient=p1&patient.identifier=urn:oid:1.2.250.1.213.1.4.8|1", "invalid", "patient"},
		{"two patients", "patient=p1,p2", "value", "patient"},
		{"patient of another type", "patient=Practitioner/p1", "value", "patient"},
		{"patient.identifier without system", "patient.identifier=123", "value", "patient.identifier"},
		{"unknown status", "patient=p1&status=draft", "code-invalid", "status"},
		{"contradicting statuses", "patient=p1&status=current&status=superseded", "value", "status"},
		{"modifier", "patient=p1&type:not=11488-4", "not-supported", "type:not"},
		{"name modifier", "patient=p1&author.family:contains=dur", "not-supported", "author.family:contains"},
		{"system only token", "patient=p1&type=http://loinc.org|", "value", "type"},
		{"bad date", "patient=p1&date=2024-13", "value", "date"},
		{"ne date", "patient=p1&creation=ne2024", "not-supported", "creation"},
		{"date OR", "patient=p1&date=2024,2025", "not-supported", "date"},
		{"_count zero", "patient=p1&_count=0", "value", "_count"},
		{"_count not a number", "patient=p1&_count=ten", "value", "_count"},
		{"_page with spaces", "patient=p1&_page=a%20b", "value", "_page"},
		{"related not a reference", "patient=p1&related=Binary/x", "value", "related"},
		{"too many values", "patient=p1&type=" + strings.Repeat("a,", fhir.MaxParamValues+1), "too-costly", "type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := ParseDocumentSearch(mustQuery(t, tt.query))
			if !carnet.IsKind(err, carnet.KindInvalid) {
				t.Fatalf("got %v, want an invalid error", err)
			}
			if issues := issuesOf(t, err); !hasIssue(issues, tt.code, tt.expr) {
				t.Errorf("issues lack %s @ %s; got:%s", tt.code, tt.expr, formatIssues(issues))
			}
		})
	}
}

func TestParseListSearch(t *testing.T) {
	tf := func(kind string, values ...string) carnet.TokenFilter {
		return carnet.TokenFilter{Kind: kind, Values: values}
	}
	got, warns, err := ParseListSearch(mustQuery(t, "patient=Patient/p1&code=submissionset&status=current&designationType=http://loinc.org|11488-4&identifier=urn:oid:1.2.3&source-id=urn:oid:1.2.250.1.999.3&date=ge2024&_count=5&_page=c1&folder=x"))
	if err != nil {
		t.Fatalf("ParseListSearch: %v%s", err, formatIssues(carnet.ErrorIssues(err)))
	}
	want := carnet.ListSearch{
		PatientKey: "p1",
		Filter: carnet.SubmissionSetFilter{
			Tokens: []carnet.TokenFilter{tf("code", "submissionset"), tf("designationType", "http://loinc.org|11488-4"), tf("identifier", "1.2.3"), tf("source", "1.2.250.1.999.3"), tf("status", "current")},
			Date:   carnet.TimeRange{From: day(2024, 1, 1)},
		},
		Count: 5,
		Page:  "c1",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
	if len(warns) != 1 {
		t.Errorf("warnings = %q, want one for folder", warns)
	}
	// No patient parses: the Service decides (a patient's own record, or
	// a refusal for anyone else).
	if s, _, err := ParseListSearch(mustQuery(t, "code=submissionset")); err != nil || s.PatientKey != "" || s.PatientID.Value != "" {
		t.Errorf("no patient: %+v, %v; want a search of no named record", s, err)
	}
}

// Every value ParseDocumentSearch produces for a document's own metadata is
// one of the tokens DocumentTokens indexes it under, whatever the form the
// client used: searching and indexing agree.
func TestSearchAndIndexAgree(t *testing.T) {
	d := carnet.Document{
		ID: "0c287d32-01a3-4a0e-8c7a-3b1d0e2a9f01", LogicalID: "L1", UniqueID: "1.2.250.1.999.2.1.1",
		Meta: carnet.DocumentMeta{
			Class:           carnet.Coding{System: "urn:oid:1.2.250.1.213.1.1.4.1", Code: "10"},
			Type:            carnet.Coding{System: "http://loinc.org", Code: "11488-4"},
			Format:          carnet.Coding{System: "urn:oid:1.3.6.1.4.1.19376.1.2.3", Code: "urn:ihe:iti:xds-sd:pdf:2008"},
			Confidentiality: []carnet.Coding{{System: SystemVisibility, Code: "MASQUE_PS"}},
			Facility:        carnet.Coding{System: "urn:oid:1.2.250.1.71.4.2.4", Code: "SA07"},
			PracticeSetting: carnet.Coding{Code: "ORG01"},
			Events:          []carnet.Coding{{System: "http://snomed.info/sct", Code: "185349003"}},
			Identifiers:     []carnet.Identifier{{System: SystemURI, Value: "urn:oid:1.2.250.1.999.7"}},
			RelatesTo:       []carnet.Relation{{Code: "replaces", Target: "old-123"}},
			Authors:         []carnet.Author{{ID: carnet.Identifier{System: "urn:oid:" + carnet.OIDRPPS, Value: "810002345678"}}},
		},
	}
	indexed := carnet.DocumentTokens(d)
	queries := []string{
		"type=http://loinc.org|11488-4", "type=11488-4",
		"category=urn:oid:1.2.250.1.213.1.1.4.1|10", "category=10",
		"format=urn:oid:1.3.6.1.4.1.19376.1.2.3|urn:ihe:iti:xds-sd:pdf:2008", "format=urn:ihe:iti:xds-sd:pdf:2008",
		"security-label=urn:oid:1.2.250.1.213.1.1.4.13|MASQUE_PS", "security-label=MASQUE_PS",
		"facility=SA07", "setting=|ORG01", "setting=ORG01", "event=http://snomed.info/sct|185349003",
		"identifier=urn:ietf:rfc:3986|urn:oid:1.2.250.1.999.2.1.1", "identifier=1.2.250.1.999.2.1.1",
		"identifier=urn:oid:1.2.250.1.999.7", "identifier=urn:ietf:rfc:3986|urn:uuid:0c287d32-01a3-4a0e-8c7a-3b1d0e2a9f01",
		"identifier=L1", "related=DocumentReference/old-123", "related=old-123",
	}
	for _, q := range queries {
		s, _, err := ParseDocumentSearch(mustQuery(t, "patient=p1&"+q))
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		for _, f := range s.Filter.Tokens {
			for _, v := range f.Values {
				if !slices.Contains(indexed, carnet.Token{Kind: f.Kind, Value: v}) {
					t.Errorf("%s searches %s=%q, which DocumentTokens does not index (%v)", q, f.Kind, v, indexed)
				}
			}
		}
	}
	// A different code must not match.
	s, _, _ := ParseDocumentSearch(mustQuery(t, "patient=p1&type=http://loinc.org|11502-2"))
	if slices.Contains(indexed, carnet.Token{Kind: "type", Value: s.Filter.Tokens[0].Values[0]}) {
		t.Errorf("another type code matches")
	}
	if slices.ContainsFunc(indexed, func(t carnet.Token) bool { return strings.HasPrefix(t.Kind, "author.") }) {
		t.Errorf("DocumentTokens holds author names in clear: the Service blind-indexes them")
	}
	if !slices.Contains(indexed, carnet.Token{Kind: "author", Value: "810002345678"}) {
		t.Errorf("author RPPS not indexed: %v", indexed)
	}
}

func TestSubmissionSetTokensAgreeWithListSearch(t *testing.T) {
	set := carnet.SubmissionSet{ID: "s1", UniqueID: "1.2.250.1.999.4.1", SourceID: "1.2.250.1.999.3", ContentType: carnet.Coding{System: "http://loinc.org", Code: "11488-4"}}
	indexed := carnet.SubmissionSetTokens(set)
	for _, q := range []string{"code=submissionset", "code=" + SystemListTypes + "|submissionset", "status=current",
		"designationType=11488-4", "identifier=urn:oid:1.2.250.1.999.4.1", "identifier=urn:uuid:s1", "source-id=urn:oid:1.2.250.1.999.3", "source-id=1.2.250.1.999.3"} {
		s, _, err := ParseListSearch(mustQuery(t, "patient=p1&"+q))
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		for _, f := range s.Filter.Tokens {
			for _, v := range f.Values {
				if !slices.Contains(indexed, carnet.Token{Kind: f.Kind, Value: v}) {
					t.Errorf("%s searches %s=%q, not indexed (%v)", q, f.Kind, v, indexed)
				}
			}
		}
	}
	s, _, _ := ParseListSearch(mustQuery(t, "patient=p1&code=folder"))
	if slices.Contains(indexed, carnet.Token{Kind: "code", Value: s.Filter.Tokens[0].Values[0]}) {
		t.Errorf("code=folder finds a submission set")
	}
}

func TestFoldName(t *testing.T) {
	for in, want := range map[string]string{
		"Éloïse":            "eloise",
		"  Lœuvre  ":        "loeuvre",
		"DE LA   FONTAINE":  "de la fontaine",
		"N'Guessan-Kouassi": "n'guessan-kouassi",
		"Ægir Strauß":       "aegir strauss",
		"e\u0301le\u0300ve": "eleve", // decomposed accents
		"ÇÀÂÄÈÉÊËÎÏÔÖÙÛÜŸ":  "caaaeeeeiioouuuy",
		"":                  "",
		"\t\n ":             "",
	} {
		if got := carnet.FoldName(in); got != want {
			t.Errorf("carnet.FoldName(%q) = %q, want %q", in, got, want)
		}
	}
}
