package pastille

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
	"unicode/utf8"

	carnet "github.com/carnet-sante/carnet"
)

func randForTest(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)) }

// bytesSource hands out the fuzzer's bytes, then zeros.
type bytesSource struct{ b []byte }

func (s *bytesSource) byte() byte {
	if len(s.b) == 0 {
		return 0
	}
	c := s.b[0]
	s.b = s.b[1:]
	return c
}

func (s *bytesSource) pick(n int) int { return int(s.byte()) % n }

func (s *bytesSource) float() float64 {
	var b [8]byte
	for i := range b {
		b[i] = s.byte()
	}
	return math.Float64frombits(binary.LittleEndian.Uint64(b[:]))
}

// fuzzInput builds a record from raw bytes: ids, uniqueIds, hashes and
// submissions from small alphabets (so they collide), any status, dates
// from far past to far future or zero, any float as text score (NaN and
// infinities included), replacement cycles.
func fuzzInput(data []byte) Input {
	s := &bytesSource{data}
	in := Input{Caller: randomCallers[s.pick(len(randomCallers))], Now: now}
	if s.pick(2) == 0 {
		in.LastVisit = now.Add(time.Duration(int8(s.byte())) * 30 * day)
	}
	if s.pick(2) == 0 {
		in.Query = "q"
	}
	statuses := []carnet.DocumentStatus{carnet.StatusCurrent, carnet.StatusSuperseded, carnet.StatusArchived, carnet.StatusDeleted, ""}
	for len(s.b) > 0 && len(in.Docs) < 300 {
		d := Doc{
			ID:            fmt.Sprint("d", s.pick(40)),
			LogicalID:     fmt.Sprint("l", s.pick(40)),
			UniqueID:      fmt.Sprint("u", s.pick(40)),
			SubmissionSet: fmt.Sprint("s", s.pick(8)),
			Status:        statuses[s.pick(len(statuses))],
			Type:          randomTypes[s.pick(len(randomTypes))],
			Class:         carnet.Coding{Code: []string{"10", "90", ""}[s.pick(3)]},
			Practice:      carnet.Coding{Code: []string{"", "SAD", "SAMU_SMUR"}[s.pick(3)]},
			Title:         string([]byte{s.byte(), s.byte(), s.byte()}),
			Superseded:    s.pick(4) == 0,
			LabelsChanged: s.pick(4) == 0,
			TextScore:     s.float(),
		}
		switch s.pick(4) {
		case 0:
		case 1:
			d.Date = time.Unix(int64(int32(binary.LittleEndian.Uint32([]byte{s.byte(), s.byte(), s.byte(), s.byte()})))*60, 0)
		default:
			d.Date = now.Add(-time.Duration(s.byte()) * 20 * day)
			d.Created = d.Date.Add(-time.Duration(int8(s.byte())) * day)
		}
		if s.pick(3) > 0 {
			d.SHA256 = []byte{s.byte() % 16}
		}
		for range s.pick(3) {
			d.Replaces = append(d.Replaces, fmt.Sprint([]string{"d", "l"}[s.pick(2)], s.pick(40)))
		}
		for range s.pick(4) {
			f := randomFindings[s.pick(len(randomFindings))]
			f.Interpretation = []string{"H", "HH", "L", "LL", "A", "AA", "", "N", "?"}[s.pick(9)]
			d.Findings = append(d.Findings, f)
		}
		if s.pick(3) == 0 {
			d.AuthorSpecialties = []string{"G15_10/SM73", "G15_10/SM04", "x"}[:1+s.pick(3)]
		}
		in.Docs = append(in.Docs, d)
	}
	return in
}

// FuzzRank: no input panics, every visible document is on one line or
// folded into one exactly once (when ids are unique), submissions stay
// together, the card stays under 140 characters.
func FuzzRank(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte("a record of a few documents with replacements and duplicates"))
	rng := randForTest(1)
	for range 8 {
		b := make([]byte, 64+rng.IntN(2000))
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		in := fuzzInput(data)
		ranked := Rank(in)
		baseline := ReverseChronological(in)
		card := Summarize(in, ranked, "https://carnet.example/x")
		if n := utf8.RuneCountInString(card.Summary); n >= 140 {
			t.Fatalf("summary of %d characters", n)
		}
		_ = Summarize(in, baseline, "")
		if g := NDCG(ranked, map[string]int{"d1": 3, "d2": 1}, 10); g < 0 || g > 1 || math.IsNaN(g) {
			t.Fatalf("NDCG %v", g)
		}
		unique := map[string]bool{}
		for _, d := range in.Docs {
			if unique[d.ID] {
				return // invariants below need unique ids
			}
			unique[d.ID] = true
		}
		checkInvariants(t, in, ranked)
	})
}

// FuzzConcepts: any text and codes give sorted, distinct concepts of the
// table, without panicking; a negation before a term denies it.
func FuzzConcepts(f *testing.F) {
	for _, s := range []string{"Warfarine 5 mg, INR 2,6", "Pas d'allergie connue", "Allergies : aucune", "ne pas arrêter l'aspirine",
		"TAVI en 2023 ; endocardite 2021", "inr", "é", "\xff\xfe", "sans sans sans"} {
		f.Add(s, "B01AF02")
	}
	f.Fuzz(func(t *testing.T, text, atc string) {
		got := ConceptsOf(Evidence{Text: text, Codes: []carnet.Coding{{System: "http://www.whocc.no/atc", Code: atc}}})
		for i, c := range got {
			if !concepts.names[c] {
				t.Fatalf("%q is not a concept", c)
			}
			if i > 0 && got[i-1] >= c {
				t.Fatalf("not sorted and distinct: %v", got)
			}
		}
	})
}

func TestConceptsOf(t *testing.T) {
	for _, c := range []struct {
		text  string
		codes []carnet.Coding
		want  string
	}{
		{"Fluindione 20 mg le soir", nil, "anticoagulant"},
		{"Ne pas interrompre l'aspirine", nil, "antiplatelet"},
		{"Pas d'allergie connue", nil, ""},
		{"Allergies : aucune", nil, ""},
		{"Allergie à la pénicilline", nil, "allergy"},
		{"", []carnet.Coding{{System: "http://www.whocc.no/atc", Code: "M05BX04"}}, "antiresorptive"},
		{"", []carnet.Coding{{System: "urn:oid:2.16.840.1.113883.6.73", Code: "B01AC04"}}, "antiplatelet"},
		{"", []carnet.Coding{{System: "http://loinc.org", Code: "6301-6"}}, "haemostasis"},
		{"Raideur du genou", nil, ""}, // "rai" is a whole word only
		{"Embolie pulmonaire sous œstroprogestatif", nil, "venous-thromboembolism"},
		{"Lamotrigine 150 mg matin et soir", nil, "antiepileptic"},
		{"Lymphœdème du membre supérieur gauche", nil, "lymphoedema"},
		{"Hémianopsie latérale homonyme gauche", nil, "neuro-deficit"},
		{"Morphine LI 10 mg si douleur", nil, "opioid"},
		{"Hépatite B sous ténofovir", nil, "chronic-viral-infection"},
		{"Lithiémie à 0,84 mmol/L", nil, "narrow-margin-drug"},
		{"Ostéonécrose de la tête fémorale gauche", nil, ""},  // not the jaw's
		{"Mise à plat-greffe de l'aorte abdominale", nil, ""}, // a vascular graft, not a transplant
		{"Risque d'ostéonécrose de la mâchoire", nil, "antiresorptive"},
		{"Bilan de suivi de greffe rénale", nil, "immunosuppression"},
	} {
		got := ConceptsOf(Evidence{Text: c.text, Codes: c.codes})
		if c.want == "" && len(got) > 0 || c.want != "" && !slices.Contains(got, c.want) {
			t.Errorf("%q %v: %v, want %q", c.text, c.codes, got, c.want)
		}
	}
}

// The Service's reader finds a medication's class among the codes its item
// is found by, not only its product code.
func TestConceptReaderReadsItemCodes(t *testing.T) {
	it := carnet.Item{Kind: carnet.ItemMedicationRequest, Code: carnet.Coding{System: "urn:oid:1.2.250.1.213.2.3.1", Code: "64379498"},
		Tokens: []carnet.Token{{Kind: carnet.TokCode, Value: "urn:oid:1.2.250.1.213.2.3.1|64379498"}, {Kind: carnet.TokCode, Value: "urn:oid:2.16.840.1.113883.6.73|B01AF02"}}}
	if got := (ConceptReader{}).Concepts("Ordonnance", []carnet.Item{it}); !slices.Contains(got, "anticoagulant") {
		t.Errorf("concepts %v, want anticoagulant (ATC B01AF02)", got)
	}
	// A drug handed out or reimbursed (eDISP, the CNAM's reimbursement
	// history) says the treatment as much as its prescription does.
	taken := carnet.Item{Kind: carnet.ItemMedicationStatement, Code: carnet.Coding{System: "urn:oid:2.16.840.1.113883.6.73", Code: "B01AA03"}}
	if got := (ConceptReader{}).Concepts("Historique des remboursements", []carnet.Item{taken}); !slices.Contains(got, "anticoagulant") {
		t.Errorf("concepts %v, want anticoagulant (a MedicationStatement of warfarin, ATC B01AA03)", got)
	}
	allergy := carnet.Item{Kind: carnet.ItemAllergy}
	if got := (ConceptReader{}).Concepts("", []carnet.Item{allergy}); !slices.Contains(got, "allergy") {
		t.Errorf("concepts %v, want allergy (an AllergyIntolerance entry)", got)
	}
}
