package fulltext

import (
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/kljensen/snowball/french"
	"golang.org/x/text/unicode/norm"
)

const (
	// MaxInput is how many bytes of a text Analyze reads; the rest is
	// ignored. A document's first mebibyte says what it is about, and the
	// bound keeps indexing time and memory predictable.
	MaxInput = 1 << 20

	// MaxTermRunes is the longest word kept, in runes after folding. Longer
	// runs of letters and digits are not words (encoded data, hashes) and
	// are dropped, in documents and queries alike.
	MaxTermRunes = 64
)

// Analyze turns a French text into its search terms, in the order of the
// text, repeated as often as they occur. The same function analyses
// documents when they are indexed and queries when they are searched, so a
// query term matches a document term exactly when both came from words
// that differ only by case, accents, elision or inflection.
//
// The pipeline, for each word (a maximal run of letters, digits and
// combining marks; apostrophes, hyphens and all punctuation separate
// words; a comma or point between two digits stays inside, as in "7,2"):
//
//  1. an elided article or pronoun (l', d', qu', jusqu', …) followed by an
//     apostrophe and a vowel or h is dropped;
//  2. the word is lower-cased and folded: compatibility decomposition
//     (NFKD), combining marks dropped, œ → oe, æ → ae, ß → ss;
//  3. words longer than MaxTermRunes and stop words are dropped;
//  4. a word with a digit is kept as it is ("hba1c", "7,2", "2024");
//     any other is reduced by the Snowball French stemmer.
//
// Folding comes before stemming, not after, so that a word typed without
// its accents, or written in capitals where French often drops them
// ("HEMOGLOBINE", "dilatee"), gives exactly the term of the accented word:
// Analyze(s) equals Analyze of s stripped of its accents, for every s.
// The accent that Snowball's most frequent rules need (ée, ées, ière,
// ières) is given back by foldedParticiple, see there; docs/SEARCH.md has
// the measurements behind this choice.
//
// Analyze reads at most MaxInput bytes of text and never panics; invalid
// UTF-8 separates words.
func Analyze(text string) []string {
	var terms []string
	eachTerm(text, func(term string) { terms = append(terms, term) })
	return terms
}

// TermCounts returns how often each term of text occurs and the number of
// terms (the document length that BM25 normalises by), for indexing.
func TermCounts(text string) (counts map[string]int, length int) {
	counts = make(map[string]int)
	eachTerm(text, func(term string) {
		counts[term]++
		length++
	})
	return counts, length
}

// eachTerm calls emit with each term of text, in order.
func eachTerm(text string, emit func(string)) {
	if len(text) > MaxInput {
		// Do not cut a rune in two: if the cut falls inside one, cut
		// before it.
		cut := MaxInput
		for cut > MaxInput-utf8.UTFMax && !utf8.RuneStart(text[cut]) {
			cut--
		}
		text = text[:cut]
	}
	var (
		a       analyzer
		word    []byte // the current word as written, decimal commas normalised
		hasWord bool
	)
	flush := func(next int) {
		if !hasWord {
			return
		}
		if !elided(word, text, next) {
			if term, ok := a.term(word); ok {
				emit(term)
			}
		}
		word, hasWord = word[:0], false
	}
	prevDigit := false
	for i := 0; i < len(text); {
		r, size := utf8.DecodeRuneInString(text[i:])
		switch {
		case r == utf8.RuneError && size <= 1:
			flush(i)
			prevDigit = false
		case isWordRune(r):
			word = utf8.AppendRune(word, r)
			hasWord = true
			if !unicode.IsMark(r) { // a mark belongs to the rune before it
				prevDigit = unicode.IsDigit(r)
			}
		case (r == ',' || r == '.') && prevDigit && nextIsDigit(text, i+size):
			// A decimal number: "7,2" and "7.2" are one term, "7,2".
			word = append(word, ',')
			prevDigit = false
		default:
			flush(i)
			prevDigit = false
		}
		i += size
	}
	flush(len(text))
}

// isWordRune reports whether r belongs to a word. Combining marks do, so
// that text already in decomposed form (e + U+0301) keeps its words whole.
func isWordRune(r rune) bool {
	if r < utf8.RuneSelf {
		return 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9'
	}
	if isApostrophe(r) {
		return false // U+02BC is a letter to Unicode, an apostrophe to French
	}
	return unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r)
}

// isApostrophe reports whether r is used as an apostrophe in French text:
// the typewriter and the typographic one, the modifier letter, and the
// opening quote that word processors sometimes put instead.
func isApostrophe(r rune) bool {
	switch r {
	case '\'', '’', 'ʼ', '‘':
		return true
	}
	return false
}

// nextBase returns the first rune of text[i:] that is not a combining
// mark: the letter or digit that a reader sees there.
func nextBase(text string, i int) (r rune, ok bool) {
	for i < len(text) {
		r, size := utf8.DecodeRuneInString(text[i:])
		if !unicode.IsMark(r) {
			return r, r != utf8.RuneError || size > 1
		}
		i += size
	}
	return 0, false
}

func nextIsDigit(text string, i int) bool {
	r, ok := nextBase(text, i)
	return ok && unicode.IsDigit(r)
}

// analyzer holds the scratch buffer and the memo of one Analyze call.
type analyzer struct {
	folded []byte
	// terms memoises the term of each folded word met, "" for none. The
	// Snowball stemmer is the analyzer's main cost, and a document repeats
	// its words. Per call, so nothing outlives the text it came from.
	terms map[string]string
}

// elisions are the French words that lose their vowel before another
// vowel or a mute h: "l'insuffisance", "d'hémoglobine", "qu'il".
var elisions = map[string]bool{
	"l": true, "d": true, "j": true, "m": true, "n": true, "s": true, "t": true,
	"c": true, "qu": true, "jusqu": true, "lorsqu": true, "puisqu": true, "quoiqu": true,
}

// elided reports whether word, which ends at text[end:], is an elided
// article or pronoun: one of elisions, then an apostrophe, then a vowel or
// h. Anything else is a word: the D of "vitamine D" is kept.
func elided(word []byte, text string, end int) bool {
	if end >= len(text) {
		return false
	}
	r, size := utf8.DecodeRuneInString(text[end:])
	if !isApostrophe(r) {
		return false
	}
	if next, ok := nextBase(text, end+size); !ok || !startsWithVowelOrH(next) {
		return false
	}
	var lower [len("lorsqu")]byte // the longest elision
	n := 0
	for _, r := range string(word) {
		switch {
		case unicode.IsMark(r):
			continue // "l" with a stray accent is still "l"
		case n == len(lower) || r >= utf8.RuneSelf:
			return false
		case 'A' <= r && r <= 'Z':
			r += 'a' - 'A'
		}
		lower[n] = byte(r)
		n++
	}
	return elisions[string(lower[:n])]
}

func startsWithVowelOrH(r rune) bool {
	if r >= utf8.RuneSelf {
		// Accented vowels: fold the first rune ("é" → "e", "Œ" → "oe").
		var buf [utf8.UTFMax]byte
		folded := norm.NFKD.Bytes(buf[:utf8.EncodeRune(buf[:], r)])
		if len(folded) == 0 || folded[0] >= utf8.RuneSelf {
			return r == 'œ' || r == 'Œ' || r == 'æ' || r == 'Æ'
		}
		r = rune(folded[0])
	}
	switch unicode.ToLower(r) {
	case 'a', 'e', 'i', 'o', 'u', 'y', 'h':
		return true
	}
	return false
}

// term turns one word into its term, or reports that it has none (stop
// word, too long, nothing left after folding).
func (a *analyzer) term(word []byte) (string, bool) {
	folded, ok := a.fold(word)
	if !ok || len(folded) == 0 {
		return "", false
	}
	if term, ok := a.terms[string(folded)]; ok {
		return term, term != ""
	}
	s := string(folded)
	term := ""
	switch {
	case stopWords[s]:
	case hasDigit(folded):
		term = s
	default:
		if term = stem(s); term == "" {
			term = s
		}
	}
	if a.terms == nil {
		a.terms = make(map[string]string)
	}
	a.terms[s] = term
	return term, term != ""
}

// fold lower-cases word and removes its accents into a.folded. It reports
// false when the folded word is longer than MaxTermRunes.
func (a *analyzer) fold(word []byte) ([]byte, bool) {
	out := a.folded[:0]
	ascii := true
	for _, c := range word {
		if c >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		if len(word) > MaxTermRunes {
			return nil, false
		}
		for _, c := range word {
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			out = append(out, c)
		}
		a.folded = out
		return out, true
	}
	runes := 0
	var it norm.Iter
	it.Init(norm.NFKD, word)
	for !it.Done() {
		// Segment by segment, so that a word far too long is given up
		// early instead of decomposed whole.
		seg := it.Next()
		for len(seg) > 0 {
			r, size := utf8.DecodeRune(seg)
			seg = seg[size:]
			switch {
			case unicode.IsMark(r):
				continue // the accent of the letter before
			case isApostrophe(r) || !(isWordRune(r) || r == ','):
				continue // compatibility forms can decompose to punctuation ("ŉ" → "ʼn")
			}
			switch r = unicode.ToLower(r); r {
			case 'œ':
				out = append(out, 'o', 'e')
				runes++
			case 'æ':
				out = append(out, 'a', 'e')
				runes++
			case 'ß', 'ẞ':
				out = append(out, 's', 's')
				runes++
			default:
				out = utf8.AppendRune(out, r)
			}
			if runes++; runes > MaxTermRunes {
				a.folded = out
				return nil, false
			}
		}
	}
	a.folded = out
	return out, true
}

func hasDigit(b []byte) bool {
	for _, r := range string(b) {
		if unicode.IsDigit(r) {
			return true
		}
	}
	return false
}

// stems is a process-wide memo of stems: a record's vocabulary is small
// next to its size, and the Snowball stemmer costs far more than a map
// read. Bounded: past maxStems words it stops growing (and just stems).
var stems = struct {
	sync.RWMutex
	m map[string]string
}{m: map[string]string{}}

const maxStems = 200_000

// stem applies the Snowball French stemmer to a folded word.
func stem(word string) string {
	stems.RLock()
	s, ok := stems.m[word]
	stems.RUnlock()
	if ok {
		return s
	}
	s = stemUncached(word)
	stems.Lock()
	if len(stems.m) < maxStems {
		stems.m[word] = s
	}
	stems.Unlock()
	return s
}

func stemUncached(word string) string {
	if word == "voudrion" {
		// snowball v0.10.0 logs this word from its step 4 (a debugging
		// leftover); our texts must never reach a log. Its stem is itself.
		return word
	}
	return foldStem(french.Stem(foldedParticiple(word), true))
}

// foldedParticiple gives back to a folded word the accents that the
// Snowball French stemmer depends on most, where they are certain. The
// feminine participle: "dilatée" is stemmed by removing ée, which step 4
// cannot do on "dilatee" (it gives "dilate", while "dilaté" gives
// "dilat"); without it "cavité dilatée" would not match "dilaté". And
// ière: "dernière" meets "dernier" only through the ière → i rule. A
// folded word ending in ee(s) or iere(s) can only come from ée(s) or
// ière(s) in French; a final e after a consonant is ambiguous
// ("dilate"/"dilaté") and left alone.
func foldedParticiple(word string) string {
	switch {
	case strings.HasSuffix(word, "ieres") && len(word) > 6:
		return word[:len(word)-5] + "ières"
	case strings.HasSuffix(word, "iere") && len(word) > 5:
		return word[:len(word)-4] + "ière"
	case strings.HasSuffix(word, "ees") && len(word) > 4:
		return word[:len(word)-3] + "ées"
	case strings.HasSuffix(word, "ee") && len(word) > 3:
		return word[:len(word)-2] + "ée"
	}
	return word
}

// foldStem folds what the stemmer gives back: it may return an é it was
// given, and never lengthens a word otherwise.
func foldStem(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			var a analyzer
			folded, _ := a.fold([]byte(s))
			return string(folded)
		}
	}
	return s
}
