package pastille

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	carnet "github.com/carnet-sante/carnet"
)

func TestCardCountsEveryNewDocument(t *testing.T) {
	var docs []Doc
	for i := range 37 {
		docs = append(docs, doc(fmt.Sprintf("new%02d", i), tConsultation, float64(i%30)))
	}
	for i := range 12 {
		docs = append(docs, doc(fmt.Sprintf("old%02d", i), tConsultation, float64(60+i)))
	}
	// A replacement filed since the visit, of a version filed before: one
	// new document.
	docs = append(docs,
		with(doc("v1", tLab, 90), func(d *Doc) { d.Status = carnet.StatusSuperseded; d.Superseded = true }),
		with(doc("v2", tLab, 3), func(d *Doc) { d.Replaces = []string{"v1"} }))
	in := Input{Caller: gp, Now: now, LastVisit: lastVisit, Docs: docs}
	ranked := Rank(in)
	card := Summarize(in, ranked, "https://carnet.example/pastille")
	if want := "38 nouveaux documents depuis le 12/10"; card.Summary != want {
		t.Errorf("summary %q, want %q", card.Summary, want)
	}
	if card.NewDocuments != 38 {
		t.Errorf("NewDocuments %d, want 38", card.NewDocuments)
	}
	if n := strings.Count(card.Detail, "\n1. ") + strings.Count(card.Detail, "\n5. ") + strings.Count(card.Detail, "\n6. "); n != 2 {
		t.Errorf("detail should list exactly 5 items:\n%s", card.Detail)
	}
	// The baseline, uncollapsed, says the same of what is new.
	if c := Summarize(in, ReverseChronological(in), ""); c.NewDocuments != 38 {
		t.Errorf("baseline card counts %d new", c.NewDocuments)
	}

	// Both versions filed since the visit, and a copy of a new letter:
	// two new lines, each one document for the clinician. The results
	// counted are those of the live version only.
	high := finding("2160-0", "Créatinine", "19 mg/L", "H")
	letter := doc("letter", tDischarge, 10)
	in.Docs = []Doc{
		with(doc("v1", tLab, 9), func(d *Doc) {
			d.Status = carnet.StatusSuperseded
			d.Superseded = true
			d.Findings = []Finding{high, high}
		}),
		with(doc("v2", tLab, 8), func(d *Doc) { d.Replaces = []string{"v1"}; d.Findings = []Finding{high} }),
		letter, with(doc("letter-again", tDischarge, 2), func(d *Doc) { d.SHA256 = letter.SHA256 }),
		doc("old", tConsultation, 70),
	}
	ranked = Rank(in)
	if len(ranked) != 3 {
		t.Fatalf("%d lines, want 3: %v", len(ranked), ids(ranked))
	}
	card = Summarize(in, ranked, "")
	if want := "2 nouveaux documents depuis le 12/10 · 1 résultat anormal"; card.Summary != want {
		t.Errorf("summary %q, want %q", card.Summary, want)
	}
	// The baseline shows the four filings as four lines, and says so.
	if c := Summarize(in, ReverseChronological(in), ""); c.NewDocuments != 4 {
		t.Errorf("baseline card counts %d new, want 4", c.NewDocuments)
	}
}

func TestCardTexts(t *testing.T) {
	ldl := finding("13457-7", "Cholestérol LDL", "1,9 g/L", "H")
	hb := finding("718-7", "Hémoglobine", "6,9 g/dL", "LL")
	abnormal := func(d Doc, fs ...Finding) Doc { d.Findings = fs; return d }
	tests := []struct {
		name      string
		lastVisit time.Time
		docs      []Doc
		summary   string
		indicator string
	}{
		{"nothing new", lastVisit,
			[]Doc{doc("a", tLab, 60), abnormal(doc("b", tLab, 50), ldl)},
			"Aucun nouveau document depuis le 12/10", "info"},
		{"one new", lastVisit,
			[]Doc{doc("a", tLab, 60), doc("b", tConsultation, 2)},
			"1 nouveau document depuis le 12/10", "info"},
		{"new abnormal results", lastVisit,
			[]Doc{doc("a", tConsultation, 2), abnormal(doc("b", tLab, 3), ldl, ldl), doc("c", tLab, 5), doc("d", tImaging, 7)},
			"4 nouveaux documents depuis le 12/10 · 2 résultats anormaux", "warning"},
		{"a new critical result", lastVisit,
			[]Doc{abnormal(doc("b", tLab, 3), ldl, hb)},
			"1 nouveau document depuis le 12/10 · 2 résultats anormaux dont 1 critique", "warning"},
		{"old abnormal results are not news", lastVisit,
			[]Doc{abnormal(doc("old", tLab, 200), hb), doc("new", tConsultation, 1)},
			"1 nouveau document depuis le 12/10", "info"},
		{"confidentiality changed", lastVisit,
			[]Doc{doc("new", tConsultation, 1), with(doc("unmasked", tLab, 300), func(d *Doc) { d.LabelsChanged = true })},
			"1 nouveau document depuis le 12/10 · 1 changement de confidentialité", "info"},
		{"last visit of another year", time.Date(2024, 12, 3, 10, 0, 0, 0, time.UTC),
			[]Doc{doc("a", tLab, 60)},
			"1 nouveau document depuis le 03/12/2024", "info"},
		{"first visit", time.Time{},
			[]Doc{doc("a", tLab, 60), abnormal(doc("b", tLab, 400), ldl), doc("c", tECG, 800),
				doc("vacc", tVaccination, 3000), with(doc("arch", tLab, 10), func(d *Doc) { d.Status = carnet.StatusArchived })},
			"2 documents des 2 dernières années · 1 résultat anormal", "warning"},
		{"first visit, one document", time.Time{},
			[]Doc{doc("a", tLab, 60)},
			"1 document des 2 dernières années", "info"},
		{"first visit, nothing recent", time.Time{},
			[]Doc{doc("a", tLab, 1000)},
			"Aucun document des 2 dernières années", "info"},
		{"first visit: a 2021 report filed yesterday is of 2021", time.Time{},
			[]Doc{doc("a", tLab, 60), with(doc("old-filed-late", tConsultation, 1), func(d *Doc) { d.Created = now.AddDate(-4, 0, 0) })},
			"1 document des 2 dernières années", "info"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := Input{Caller: gp, Now: now, LastVisit: tt.lastVisit, Docs: tt.docs}
			card := Summarize(in, Rank(in), "")
			if card.Summary != tt.summary {
				t.Errorf("summary %q, want %q", card.Summary, tt.summary)
			}
			if card.Indicator != tt.indicator {
				t.Errorf("indicator %q, want %q", card.Indicator, tt.indicator)
			}
		})
	}
}

func TestCardDetail(t *testing.T) {
	docs := []Doc{
		with(doc("vsm", tVSM, 20), func(d *Doc) { d.Concepts = []string{"anticoagulant", "cardiac-device"} }), // new since the visit, weighing most: pinned
		with(doc("lab", tLab, 45), func(d *Doc) {
			d.Findings = []Finding{finding("89579-7", "Troponine I ultrasensible", "640 ng/L", "HH")}
		}),
		with(doc("evil", tConsultation, 2), func(d *Doc) {
			d.Title = "Voir [ici](https://evil.example) <script>alert(1)</script>\n# titre"
		}),
		doc("ecg", tECG, 30), doc("img", tImaging, 40), doc("six", tImaging, 900),
	}
	in := Input{Caller: cardio, Now: now, LastVisit: lastVisit, Docs: docs}
	ranked := Rank(in)
	link := "https://carnet.example/DocumentReference/$relevant?patient=42"
	card := Summarize(in, ranked, link)
	if card.Link != link || !strings.Contains(card.Detail, "]("+link+")") {
		t.Errorf("link %q, detail:\n%s", card.Link, card.Detail)
	}
	for i, r := range ranked[:5] {
		if !strings.Contains(card.Detail, fmt.Sprintf("\n%d. **", i+1)) {
			t.Errorf("item %d (%s) missing", i+1, r.Doc.ID)
		}
	}
	for _, want := range []string{"1. **Synthèse médicale**", "épinglé en tête", "résultat critique : Troponine I ultrasensible 640 ng/L (très élevé)", "nouveau depuis votre dernière visite"} {
		if !strings.Contains(card.Detail, want) {
			t.Errorf("detail lacks %q:\n%s", want, card.Detail)
		}
	}
	if strings.Contains(card.Detail, "[ici]") || strings.Contains(card.Detail, "<script>") || strings.Contains(card.Detail, "\n# ") {
		t.Errorf("a title became markup:\n%s", card.Detail)
	}
	if strings.Contains(card.Detail, "6. ") {
		t.Errorf("more than 5 items:\n%s", card.Detail)
	}
}

// TestSummaryUnder140 over random records and absurd counts.
func TestSummaryUnder140(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	check := func(in Input, ranked []Ranked) {
		t.Helper()
		card := Summarize(in, ranked, "x")
		if n := utf8.RuneCountInString(card.Summary); n >= 140 || n == 0 {
			t.Fatalf("summary of %d characters: %q", n, card.Summary)
		}
		if card.Indicator != "info" && card.Indicator != "warning" {
			t.Fatalf("indicator %q", card.Indicator)
		}
		if (card.Indicator == "warning") != (card.AbnormalResults > 0) {
			t.Fatalf("indicator %q with %d abnormal results", card.Indicator, card.AbnormalResults)
		}
	}
	for range 300 {
		in := randomInput(rng, rng.IntN(400))
		check(in, Rank(in))
		check(in, ReverseChronological(in))
	}
	// Counts no record has: every part at its longest.
	many := make([]Finding, 1_000_000)
	for i := range many {
		many[i] = finding("718-7", "Hémoglobine", "6 g/dL", "LL")
	}
	big := make([]Ranked, 200_000)
	for i := range big {
		big[i] = Ranked{Doc: &Doc{ID: fmt.Sprint(i), Date: now, Status: carnet.StatusCurrent, LabelsChanged: i%2 == 0}, New: i%2 == 1}
	}
	big[1].Doc.Findings = many
	for _, lv := range []time.Time{lastVisit, time.Date(1999, 12, 31, 0, 0, 0, 0, time.UTC), {}} {
		check(Input{Caller: gp, Now: now, LastVisit: lv}, big)
	}
}

func TestShortDateInParis(t *testing.T) {
	tests := []struct {
		t    time.Time
		want string
	}{
		{time.Date(2025, 10, 11, 22, 30, 0, 0, time.UTC), "12/10"}, // CEST: 00:30 on the 12th
		{time.Date(2025, 10, 26, 0, 30, 0, 0, time.UTC), "26/10"},
		{time.Date(2025, 11, 30, 23, 30, 0, 0, time.UTC), "01/12"}, // CET
		{time.Date(2024, 12, 31, 23, 30, 0, 0, time.UTC), "01/01"}, // this year in Paris
		{time.Date(2024, 12, 31, 22, 30, 0, 0, time.UTC), "31/12/2024"},
		{time.Date(2025, 3, 30, 0, 59, 0, 0, time.UTC), "30/03"}, // CET until 01:00 UTC
		{time.Date(2025, 3, 29, 22, 30, 0, 0, time.UTC), "29/03"},
		{time.Date(2025, 3, 30, 22, 30, 0, 0, time.UTC), "31/03"}, // CEST
	}
	for _, tt := range tests {
		if got := shortDate(tt.t, time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)); got != tt.want {
			t.Errorf("shortDate(%v) = %q, want %q", tt.t, got, tt.want)
		}
	}
	if got := lastSunday(2025, time.October); got != time.Date(2025, 10, 26, 1, 0, 0, 0, time.UTC) {
		t.Errorf("last Sunday of October 2025: %v", got)
	}
}
