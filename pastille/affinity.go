package pastille

import (
	"bytes"
	"cmp"
	_ "embed"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	carnet "github.com/carnet-sante/carnet"
)

// affinityCSV is the table of what matters to whom: who (a profession or
// specialty code, or * for everyone), what (type:, practice:, finding:,
// author: a code, or as: another who), weight, note (French, shown to the
// clinician). See docs/PASTILLE.md.
//
//go:embed affinity.csv
var affinityCSV []byte

// affinities is parsed once; a malformed table stops the program at start
// rather than ranking with half a table.
var affinities = mustParseAffinities(affinityCSV)

func mustParseAffinities(b []byte) *affinityTable {
	t, err := parseAffinities(b)
	if err != nil {
		panic("pastille: affinity.csv: " + err.Error())
	}
	return t
}

// Kinds of "what" in the affinity table.
const (
	whatType     = "type"     // document typeCode (LOINC, JDV_J07)
	whatPractice = "practice" // practiceSettingCode (JDV_J04)
	whatFinding  = "finding"  // LOINC of an out-of-range result
	whatAuthor   = "author"   // an author's profession or specialty
	whatTitle    = "title"    // a word (or words) the title starts a word with, folded
	whatAs       = "as"       // who inherits another who's rows, weight = factor
	whatConcept  = "concept"  // a concept of concepts.csv the document carries
	whatRule     = "rule"     // a rule of the ranking (ruleCodes) the line meets
)

// ruleCodes are the rules of the ranking a profession can weigh.
var ruleCodes = map[string]bool{
	ruleCurrentTreatment: true, // the latest prescription of the record
}

const ruleCurrentTreatment = "current-treatment"

type affinityRow struct {
	Who, What  string
	Kind, Code string // What, split
	Weight     float64
	Note       string
}

type alias struct {
	target string
	factor float64
}

type affinityTable struct {
	rows    []affinityRow
	byWho   map[string][]affinityRow // rows other than as:
	aliases map[string]alias
	// titleWords are the table's title: words, for every profession,
	// distinct and sorted: what a title is read for at filing (TitleWordsOf).
	titleWords []string
	// authorSpecialties are the authors' specialties some row weighs, an
	// author: code or a specialty that is an alias of one, sorted: what an
	// author is read for at filing (AuthorSpecialtiesOf).
	authorSpecialties []string
}

var (
	whoPattern   = regexp.MustCompile(`^(\*|G1[56]_[0-9]{2}(/[A-Z0-9]+)?)$`)
	codePattern  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_./-]*$`)
	titlePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9' -]*[a-z0-9]$`)
)

func parseAffinities(b []byte) (*affinityTable, error) {
	r := csv.NewReader(bytes.NewReader(b))
	r.FieldsPerRecord = 4
	header, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}
	if strings.Join(header, ",") != "who,what,weight,note" {
		return nil, fmt.Errorf("header is %q, want who,what,weight,note", strings.Join(header, ","))
	}
	t := &affinityTable{byWho: map[string][]affinityRow{}, aliases: map[string]alias{}}
	seen := map[[2]string]int{}
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		line, _ := r.FieldPos(0)
		row, err := parseAffinityRow(rec)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		key := [2]string{row.Who, row.What}
		if prev, ok := seen[key]; ok {
			return nil, fmt.Errorf("line %d: %s %s already on line %d", line, row.Who, row.What, prev)
		}
		seen[key] = line
		t.rows = append(t.rows, row)
		if target, ok := strings.CutPrefix(row.What, whatAs+":"); ok {
			if _, dup := t.aliases[row.Who]; dup {
				return nil, fmt.Errorf("line %d: %s is already an alias", line, row.Who)
			}
			t.aliases[row.Who] = alias{target: target, factor: row.Weight}
			continue
		}
		t.byWho[row.Who] = append(t.byWho[row.Who], row)
		if row.Kind == whatTitle && !slices.Contains(t.titleWords, row.Code) {
			t.titleWords = append(t.titleWords, row.Code)
		}
	}
	if len(t.rows) == 0 {
		return nil, errors.New("no rows")
	}
	for who, a := range t.aliases {
		if len(t.byWho[who]) > 0 {
			return nil, fmt.Errorf("%s is an alias of %s and has rows of its own", who, a.target)
		}
		if _, ok := t.aliases[a.target]; ok {
			return nil, fmt.Errorf("%s is an alias of %s, itself an alias", who, a.target)
		}
		if len(t.byWho[a.target]) == 0 {
			return nil, fmt.Errorf("%s is an alias of %s, which has no rows", who, a.target)
		}
	}
	slices.Sort(t.titleWords)
	for _, r := range t.rows {
		if r.Kind == whatAuthor {
			t.authorSpecialties = append(t.authorSpecialties, r.Code)
		}
	}
	for who, a := range t.aliases {
		// An alias's author counts as its target's (affinityView.author).
		for _, r := range t.rows {
			if r.Kind == whatAuthor && r.Code == a.target {
				t.authorSpecialties = append(t.authorSpecialties, who)
				break
			}
		}
	}
	slices.Sort(t.authorSpecialties)
	t.authorSpecialties = slices.Compact(t.authorSpecialties)
	return t, nil
}

func parseAffinityRow(rec []string) (affinityRow, error) {
	row := affinityRow{Who: strings.TrimSpace(rec[0]), What: strings.TrimSpace(rec[1]), Note: strings.TrimSpace(rec[3])}
	if !whoPattern.MatchString(row.Who) {
		return row, fmt.Errorf("who %q is neither * nor a TRE_G15 profession or specialty code", row.Who)
	}
	kind, code, ok := strings.Cut(row.What, ":")
	row.Kind, row.Code = kind, code
	if !ok || !codePattern.MatchString(code) && kind != whatTitle {
		return row, fmt.Errorf("what %q is not kind:code", row.What)
	}
	if kind == whatTitle && (!titlePattern.MatchString(code) || fold(code) != code) {
		return row, fmt.Errorf("title word %q is not lower case, unaccented letters", code)
	}
	w, err := strconv.ParseFloat(strings.TrimSpace(rec[2]), 64)
	if err != nil || math.IsNaN(w) || math.IsInf(w, 0) {
		return row, fmt.Errorf("weight %q is not a number", rec[2])
	}
	row.Weight = w
	switch kind {
	case whatType, whatPractice, whatFinding, whatAuthor, whatTitle, whatConcept, whatRule:
		if w < -5 || w > 5 || w == 0 {
			return row, fmt.Errorf("weight %v outside [-5, 5] or zero", w)
		}
		if kind == whatAuthor && !whoPattern.MatchString(code) {
			return row, fmt.Errorf("author %q is not a TRE_G15 code", code)
		}
		if kind == whatConcept && !concepts.names[code] {
			return row, fmt.Errorf("concept %q is not in concepts.csv", code)
		}
		if kind == whatRule && !ruleCodes[code] {
			return row, fmt.Errorf("rule %q is not a rule of the ranking", code)
		}
	case whatAs:
		if row.Who == "*" || !whoPattern.MatchString(code) || code == "*" || code == row.Who {
			return row, fmt.Errorf("as:%s for %s: an alias names another profession or specialty", code, row.Who)
		}
		if w <= 0 || w > 1 {
			return row, fmt.Errorf("alias factor %v outside (0, 1]", w)
		}
	default:
		return row, fmt.Errorf("what kind %q is not one of type, practice, finding, author, title, concept, rule, as", kind)
	}
	if row.Note == "" {
		return row, errors.New("note is empty: it is what the clinician reads")
	}
	return row, nil
}

// affinityEntry is what one "what" is worth to one caller.
type affinityEntry struct {
	Weight float64
	Note   string
}

// affinityView is the table seen from one caller: every "what" with the
// sum of the rows of the caller's specialty, profession, their aliases
// (times the alias factor) and *.
type affinityView struct {
	whats  map[whatKey]affinityEntry
	titles []titleWord // the title: entries, longest first
	// concepts are the concept: entries, by concept name.
	concepts map[string]affinityEntry
	table    *affinityTable
}

type whatKey struct{ kind, code string }

type titleWord struct {
	word string
	affinityEntry
}

// whos is the caller's specialty, profession and * with their factors.
func (t *affinityTable) whos(c Caller) map[string]float64 {
	out := map[string]float64{"*": 1}
	add := func(who string) {
		if who == "" {
			return
		}
		out[who] = 1
		if a, ok := t.aliases[who]; ok && out[a.target] < a.factor {
			out[a.target] = a.factor
		}
	}
	prof := c.Profession
	if prof == "" {
		prof, _, _ = strings.Cut(c.Specialty, "/")
	}
	add(c.Specialty)
	add(prof)
	return out
}

func (t *affinityTable) view(c Caller) affinityView {
	v := affinityView{whats: map[whatKey]affinityEntry{}, table: t}
	best := map[whatKey]float64{}
	whos := t.whos(c)
	// In a fixed order: float sums must not depend on map iteration.
	for _, who := range slices.Sorted(maps.Keys(whos)) {
		f := whos[who]
		for _, r := range t.byWho[who] {
			k := whatKey{r.Kind, r.Code}
			e := v.whats[k]
			e.Weight += f * r.Weight
			// The note shown is the one of the row that counts most.
			if contrib := math.Abs(f * r.Weight); contrib > best[k] || (contrib == best[k] && r.Note < e.Note) {
				best[k] = contrib
				e.Note = r.Note
			}
			v.whats[k] = e
		}
	}
	for k, e := range v.whats {
		switch k.kind {
		case whatTitle:
			v.titles = append(v.titles, titleWord{k.code, e})
		case whatConcept:
			if v.concepts == nil {
				v.concepts = map[string]affinityEntry{}
			}
			v.concepts[k.code] = e
		}
	}
	slices.SortFunc(v.titles, func(a, b titleWord) int {
		if c := cmp.Compare(len(b.word), len(a.word)); c != 0 {
			return c
		}
		return strings.Compare(a.word, b.word)
	})
	return v
}

// title is the best entry whose word starts a word of the folded title
// (lower case, no accents): "cardio" finds "Consultation de cardiologie".
// Only the first 64 words of a title are read.
func (v affinityView) title(folded []byte) (affinityEntry, bool) {
	var buf [64]int
	starts := wordStarts(folded, buf[:0])
	n := len(starts)
	var best affinityEntry
	found := false
	for _, w := range v.titles {
		if found && w.Weight <= best.Weight {
			continue
		}
		for _, s := range starts[:n] {
			if bytes.HasPrefix(folded[s:], []byte(w.word)) {
				best, found = w.affinityEntry, true
				break
			}
		}
	}
	return best, found
}

// wordStarts appends where each word of folded starts, the first 64 at most.
func wordStarts(folded []byte, starts []int) []int {
	for i := 0; i < len(folded) && len(starts) < 64; i++ {
		if isLetterOrDigit(folded[i]) && (i == 0 || !isLetterOrDigit(folded[i-1])) {
			starts = append(starts, i)
		}
	}
	return starts
}

// titleWords is title for a document whose title is not known but whose
// title words were read at filing (TitleWordsOf): the same best entry.
func (v affinityView) titleWords(words []string) (affinityEntry, bool) {
	var best affinityEntry
	found := false
	for _, w := range v.titles {
		if found && w.Weight <= best.Weight {
			continue
		}
		if slices.Contains(words, w.word) {
			best, found = w.affinityEntry, true
		}
	}
	return best, found
}

// TitleWordsOf lists the affinity table's title words a title holds (a
// word of the table starting a word of the folded title), sorted: what the
// server keeps of a title, as blind tokens, for the ranking to read
// without opening the document (docs/PASTILLE.md, "How it is served").
func TitleWordsOf(title string) []string {
	if title == "" {
		return nil
	}
	folded := foldAppend(nil, title)
	var buf [64]int
	starts := wordStarts(folded, buf[:0])
	var out []string
	for _, w := range affinities.titleWords {
		for _, s := range starts {
			if bytes.HasPrefix(folded[s:], []byte(w)) {
				out = append(out, w)
				break
			}
		}
	}
	return out
}

// AuthorSpecialtiesOf lists the specialties of the authors (their
// Author.SpecialtyCode) that some row of the affinity table weighs, sorted:
// what the server keeps of the authors, as blind tokens, for the ranking to
// read without opening the document (docs/PASTILLE.md, "How it is served").
func AuthorSpecialtiesOf(authors []carnet.Author) []string {
	codes := make([]string, 0, len(authors))
	for _, a := range authors {
		codes = append(codes, a.SpecialtyCode())
	}
	return weighedAuthorSpecialties(codes)
}

// weighedAuthorSpecialties keeps the codes some row of the table weighs,
// distinct and sorted.
func weighedAuthorSpecialties(codes []string) []string {
	var out []string
	for _, c := range codes {
		if _, ok := slices.BinarySearch(affinities.authorSpecialties, c); ok && !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	slices.Sort(out)
	return out
}

func isLetterOrDigit(b byte) bool {
	return b >= 'a' && b <= 'z' || b >= '0' && b <= '9' || b >= 0x80
}

// fold lower-cases s and removes the French diacritics.
func fold(s string) string { return string(foldAppend(nil, s)) }

func foldAppend(b []byte, s string) []byte {
	for _, r := range s {
		if r < 0x80 {
			if 'A' <= r && r <= 'Z' {
				r += 'a' - 'A'
			}
			b = append(b, byte(r))
			continue
		}
		r = unicode.ToLower(r)
		switch r {
		case 'à', 'â', 'ä', 'á':
			b = append(b, 'a')
		case 'é', 'è', 'ê', 'ë':
			b = append(b, 'e')
		case 'î', 'ï', 'í':
			b = append(b, 'i')
		case 'ô', 'ö', 'ó':
			b = append(b, 'o')
		case 'ù', 'û', 'ü', 'ú':
			b = append(b, 'u')
		case 'ç':
			b = append(b, 'c')
		case 'ÿ':
			b = append(b, 'y')
		case 'œ':
			b = append(b, "oe"...)
		case 'æ':
			b = append(b, "ae"...)
		case '’':
			b = append(b, '\'')
		default:
			b = utf8.AppendRune(b, r)
		}
	}
	return b
}

func (v affinityView) get(kind, code string) (affinityEntry, bool) {
	if code == "" {
		return affinityEntry{}, false
	}
	e, ok := v.whats[whatKey{kind, code}]
	return e, ok
}

// author is the best affinity of the caller for one of the document's
// authors, an author's specialty counting through its alias (a letter of
// a SM73 cardiologist is a cardiology letter).
func (v affinityView) author(specialties []string) (affinityEntry, bool) {
	var best affinityEntry
	found := false
	for _, s := range specialties {
		cands := []alias{{target: s, factor: 1}}
		if a, ok := v.table.aliases[s]; ok {
			cands = append(cands, a)
		}
		for _, a := range cands {
			e, ok := v.get(whatAuthor, a.target)
			if !ok {
				continue
			}
			e.Weight *= a.factor
			if !found || e.Weight > best.Weight {
				best, found = e, true
			}
		}
	}
	return best, found
}
