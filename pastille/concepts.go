package pastille

import (
	"bytes"
	_ "embed"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"

	carnet "github.com/carnet-sante/carnet"
)

// conceptsCSV says what a document carries that a professional must know
// before acting (an anticoagulant, a valve prosthesis, an HbA1c…), found
// by codes of the national and international tables (ATC classes of its
// medications, LOINC of its results, its allergy entries) or by words of
// its title and text: concept,match,lasting,note. The affinity table then
// says what each concept is worth to whom (concept:<name>). See
// docs/PASTILLE.md.
//
//go:embed concepts.csv
var conceptsCSV []byte

var concepts = mustParseConcepts(conceptsCSV)

func mustParseConcepts(b []byte) *conceptTable {
	t, err := parseConcepts(b)
	if err != nil {
		panic("pastille: concepts.csv: " + err.Error())
	}
	return t
}

// Code systems the concept table reads.
const (
	systemATC      = "http://www.whocc.no/atc"
	oidATC         = "urn:oid:2.16.840.1.113883.6.73"
	systemLOINC    = "http://loinc.org"
	oidLOINC       = "urn:oid:2.16.840.1.113883.6.1"
	matchATC       = "atc"
	matchLOINC     = "loinc"
	matchTerm      = "term"
	matchItem      = "item"
	maxConceptText = 64 << 10 // the first 64 KiB of a text are read
)

type conceptTable struct {
	names   map[string]bool     // every concept
	lasting map[string]bool     // founding events: they do not fade
	atc     map[string][]string // ATC prefix → concepts
	atcLens []int               // the prefix lengths in use, longest first
	loinc   map[string][]string
	items   map[string][]string
	// terms by their first two bytes, each folded, with its concept.
	terms map[[2]byte][]conceptTerm
}

type conceptTerm struct {
	word    string
	exact   bool // short terms (3 letters or fewer) match whole words only
	concept string
}

var (
	conceptName  = regexp.MustCompile(`^[a-z][a-z0-9-]*$`)
	atcPattern   = regexp.MustCompile(`^[A-Z]([0-9]{2}([A-Z]([A-Z]([0-9]{2})?)?)?)?$`)
	loincPattern = regexp.MustCompile(`^[0-9]{1,7}-[0-9]$`)
	termPattern  = regexp.MustCompile(`^[a-z0-9][a-z0-9' ()-]*[a-z0-9)]$`)
)

func parseConcepts(b []byte) (*conceptTable, error) {
	r := csv.NewReader(bytes.NewReader(b))
	r.FieldsPerRecord = 4
	header, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}
	if strings.Join(header, ",") != "concept,match,lasting,note" {
		return nil, fmt.Errorf("header is %q, want concept,match,lasting,note", strings.Join(header, ","))
	}
	t := &conceptTable{names: map[string]bool{}, lasting: map[string]bool{}, atc: map[string][]string{},
		loinc: map[string][]string{}, items: map[string][]string{}, terms: map[[2]byte][]conceptTerm{}}
	seen := map[[2]string]int{}
	lens := map[int]bool{}
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		line, _ := r.FieldPos(0)
		name, match, lasting, note := strings.TrimSpace(rec[0]), strings.TrimSpace(rec[1]), strings.TrimSpace(rec[2]), strings.TrimSpace(rec[3])
		if !conceptName.MatchString(name) {
			return nil, fmt.Errorf("line %d: concept %q is not lower-case-words", line, name)
		}
		if prev, dup := seen[[2]string{name, match}]; dup {
			return nil, fmt.Errorf("line %d: %s %s already on line %d", line, name, match, prev)
		}
		seen[[2]string{name, match}] = line
		switch lasting {
		case "yes":
			t.lasting[name] = true
		case "no":
		default:
			return nil, fmt.Errorf("line %d: lasting %q is neither yes nor no", line, lasting)
		}
		if note == "" {
			return nil, fmt.Errorf("line %d: note is empty", line)
		}
		t.names[name] = true
		kind, code, _ := strings.Cut(match, ":")
		switch kind {
		case matchATC:
			if !atcPattern.MatchString(code) {
				return nil, fmt.Errorf("line %d: %q is not an ATC code or class", line, code)
			}
			t.atc[code] = append(t.atc[code], name)
			lens[len(code)] = true
		case matchLOINC:
			if !loincPattern.MatchString(code) || !loincCheck(code) {
				return nil, fmt.Errorf("line %d: %q is not a LOINC code (check digit)", line, code)
			}
			t.loinc[code] = append(t.loinc[code], name)
		case matchItem:
			if !slices.Contains(carnet.ItemKinds, carnet.ItemKind(code)) {
				return nil, fmt.Errorf("line %d: %q is not an item kind", line, code)
			}
			t.items[code] = append(t.items[code], name)
		case matchTerm:
			if !termPattern.MatchString(code) || fold(code) != code {
				return nil, fmt.Errorf("line %d: term %q is not lower case, unaccented words", line, code)
			}
			k := [2]byte{code[0], code[1]}
			t.terms[k] = append(t.terms[k], conceptTerm{word: code, exact: len(code) <= 3, concept: name})
		default:
			return nil, fmt.Errorf("line %d: match %q is not atc:, loinc:, item: or term:", line, match)
		}
	}
	if len(t.names) == 0 {
		return nil, errors.New("no rows")
	}
	for l := range lens {
		t.atcLens = append(t.atcLens, l)
	}
	slices.Sort(t.atcLens)
	slices.Reverse(t.atcLens)
	return t, nil
}

// loincCheck verifies a LOINC code's mod-10 check digit.
func loincCheck(code string) bool {
	num, check, _ := strings.Cut(code, "-")
	sum := 0
	double := true
	for i := len(num) - 1; i >= 0; i-- {
		d := int(num[i] - '0')
		if double {
			d *= 2
			if d > 9 {
				d = d/10 + d%10
			}
		}
		sum += d
		double = !double
	}
	return check == string(rune('0'+(10-sum%10)%10))
}

// Evidence is what a document says that concepts are read from: the codes
// of its structured entries (medications' ATC, results' LOINC), the kinds
// of its entries, its title and text.
type Evidence struct {
	Codes []carnet.Coding
	Kinds []carnet.ItemKind
	Text  string
}

// ConceptsOf lists the concepts of the table a document carries, sorted.
// A word preceded by a negation ("pas d'allergie", "sans anticoagulant")
// or followed by one ("allergie : aucune") does not count.
func ConceptsOf(e Evidence) []string {
	t := concepts
	found := map[string]bool{}
	for _, c := range e.Codes {
		switch c.System {
		case systemATC, oidATC, "2.16.840.1.113883.6.73":
			for _, l := range t.atcLens {
				if len(c.Code) >= l {
					for _, n := range t.atc[c.Code[:l]] {
						found[n] = true
					}
				}
			}
		case systemLOINC, oidLOINC, "2.16.840.1.113883.6.1":
			for _, n := range t.loinc[c.Code] {
				found[n] = true
			}
		}
	}
	for _, k := range e.Kinds {
		for _, n := range t.items[string(k)] {
			found[n] = true
		}
	}
	if e.Text != "" {
		text := e.Text
		if len(text) > maxConceptText {
			text = text[:maxConceptText]
		}
		t.scan(foldAppend(nil, text), found)
	}
	out := make([]string, 0, len(found))
	for n := range found {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// negations deny a term when one of the two words before it is one ("pas
// d'allergie", "sans anticoagulant", "dépistage du cancer", but not "ne pas
// arrêter l'aspirine");
// negationsAfter when one of the two words after it is ("allergie :
// aucune").
var (
	negations      = map[string]bool{"pas": true, "sans": true, "aucun": true, "aucune": true, "ni": true, "absence": true, "jamais": true, "depistage": true}
	negationsAfter = map[string]bool{"aucun": true, "aucune": true, "neant": true}
)

// scan finds the terms that start at a word of the folded text.
func (t *conceptTable) scan(folded []byte, found map[string]bool) {
	var words [][2]int // start, end of each word
	for i := 0; i < len(folded); {
		if !isLetterOrDigit(folded[i]) {
			i++
			continue
		}
		j := i
		for j < len(folded) && isLetterOrDigit(folded[j]) {
			j++
		}
		words = append(words, [2]int{i, j})
		i = j
	}
	negated := func(w int, last int) bool {
		for k := max(w-2, 0); k < w; k++ {
			if negations[string(folded[words[k][0]:words[k][1]])] {
				return true
			}
		}
		for k := last + 1; k < min(last+3, len(words)); k++ {
			if negationsAfter[string(folded[words[k][0]:words[k][1]])] {
				return true
			}
		}
		return false
	}
	for w, span := range words {
		s := span[0]
		if span[1]-s < 2 {
			continue
		}
		for _, term := range t.terms[[2]byte{folded[s], folded[s+1]}] {
			if found[term.concept] || !bytes.HasPrefix(folded[s:], []byte(term.word)) {
				continue
			}
			end := s + len(term.word)
			if term.exact && end < len(folded) && isLetterOrDigit(folded[end]) {
				continue
			}
			last := w
			for last+1 < len(words) && words[last+1][0] < end {
				last++
			}
			if negated(w, last) {
				continue
			}
			found[term.concept] = true
		}
	}
}

// ConceptReader is the carnet.ConceptReader of the concept table, for the
// Service to read documents' concepts at filing.
type ConceptReader struct{}

var (
	_ carnet.ConceptReader         = ConceptReader{}
	_ carnet.TitleWordReader       = ConceptReader{}
	_ carnet.AuthorSpecialtyReader = ConceptReader{}
)

// Concepts lists the concepts of a document's text and items.
func (ConceptReader) Concepts(text string, items []carnet.Item) []string {
	e := Evidence{Text: text}
	for _, it := range items {
		e.Codes = append(e.Codes, it.Code)
		e.Kinds = append(e.Kinds, it.Kind)
		// Other codes the item is found by (a medication's ATC class).
		for _, t := range it.Tokens {
			if t.Kind == carnet.TokCode {
				if c, ok := TokenCoding(t.Value); ok && c != it.Code {
					e.Codes = append(e.Codes, c)
				}
			}
		}
	}
	return ConceptsOf(e)
}

// TitleWords lists the affinity table's title words the title holds
// (carnet.TitleWordReader).
func (ConceptReader) TitleWords(title string) []string { return TitleWordsOf(title) }

// TitleWordNames lists every title word of the affinity table, sorted.
func (ConceptReader) TitleWordNames() []string { return slices.Clone(affinities.titleWords) }

// AuthorSpecialties lists the authors' specialties the affinity table
// weighs (carnet.AuthorSpecialtyReader).
func (ConceptReader) AuthorSpecialties(authors []carnet.Author) []string {
	return AuthorSpecialtiesOf(authors)
}

// AuthorSpecialtyNames lists every author specialty the affinity table
// weighs, sorted.
func (ConceptReader) AuthorSpecialtyNames() []string {
	return slices.Clone(affinities.authorSpecialties)
}

// ConceptNames lists every concept of the table, sorted.
func (ConceptReader) ConceptNames() []string {
	out := make([]string, 0, len(concepts.names))
	for n := range concepts.names {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}
