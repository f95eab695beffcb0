package secondary

import (
	"regexp"
	"slices"
	"strings"
	"unicode"

	carnet "github.com/carnet-sante/carnet"
	"github.com/carnet-sante/carnet/cda"
)

// Scrubber removes from free text what the record knows to be identifying
// (the patient's and professionals' names, identifiers, address, telecom)
// and what looks like an identifier, a phone number, an e-mail address or
// a date. It cannot remove names the record does not know
// (docs/SECONDARY.md, threat model).
type Scrubber struct {
	words   map[string]bool // folded name words
	phrases []string        // folded identifiers and telecom values, longest first
}

const redacted = "[…]"

// Add adds identifying strings: names are split into words (two letters
// at least), identifiers kept whole.
func (s *Scrubber) Add(names ...string) {
	if s.words == nil {
		s.words = map[string]bool{}
	}
	for _, n := range names {
		for _, w := range strings.FieldsFunc(fold(n), notLetter) {
			if len([]rune(w)) >= 2 {
				s.words[w] = true
			}
		}
	}
}

// AddIdentifier adds a value to remove wherever it appears.
func (s *Scrubber) AddIdentifier(values ...string) {
	for _, v := range values {
		v = strings.TrimSpace(strings.TrimPrefix(strings.TrimPrefix(v, "tel:"), "mailto:"))
		if len(v) >= 4 {
			s.phrases = append(s.phrases, fold(v))
		}
	}
}

func notLetter(r rune) bool { return !unicode.IsLetter(r) }

var (
	reEmail = regexp.MustCompile(`[\p{L}0-9._%+\-]+@[\p{L}0-9.\-]+\.[\p{L}]{2,}`)
	reDate  = regexp.MustCompile(`\b\d{1,2}\s?[/.\-]\s?\d{1,2}\s?[/.\-]\s?\d{2,4}\b`)
	// A run of five digits or more, separated at most by single spaces,
	// dots or dashes: INS/NIR, RPPS, phone numbers, postcodes, ids.
	reDigits = regexp.MustCompile(`\+?\d(?:[ .\-]?\d){4,}`)
	// A street address: a number, a kind of way, and what follows up to
	// the next punctuation.
	reStreet = regexp.MustCompile(`(?i)\b\d{1,4}\s*(?:bis|ter)?,?\s+(?:rue|avenue|av\.|boulevard|bd|place|chemin|all[ée]e|impasse|route|quai|cours|square|lieu-dit|r[ée]sidence|hameau)\b[^,.;:\n()]*`)
	// A title followed by capitalised words: a person's name, known to the
	// record or not.
	reTitled = regexp.MustCompile(`\b(?:Dr|Docteur|Pr|Professeur|Mme|Mlle|Madame|Mademoiselle|Monsieur|M\.)\s+(?:\p{Lu}[\p{L}'’\-]*\.?\s*){1,3}`)
)

// Scrub returns text without what s knows and what looks identifying.
func (s *Scrubber) Scrub(text string) string {
	// Patterns first, on the text as written (a known word inside an
	// address would otherwise break the address's pattern).
	out := reEmail.ReplaceAllString(text, redacted)
	out = reStreet.ReplaceAllString(out, redacted)
	out = reTitled.ReplaceAllStringFunc(out, func(m string) string {
		title, _, _ := strings.Cut(m, " ")
		return title + " " + redacted + " "
	})
	out = reDate.ReplaceAllString(out, redacted)
	out = s.scrubKnown(out)
	return reDigits.ReplaceAllString(out, redacted)
}

// scrubKnown replaces the identifiers and name words s knows.
func (s *Scrubber) scrubKnown(text string) string {
	src := []rune(text)
	low := []rune(fold(text))
	// Folding maps one rune to one rune, so positions in runes agree.
	if len(src) != len(low) {
		src = low
	}
	mask := make([]bool, len(low))
	for _, p := range s.phrases {
		pr := []rune(p)
		for i := 0; i+len(pr) <= len(low); i++ {
			if low[i] == pr[0] && slices.Equal(low[i:i+len(pr)], pr) {
				for j := i; j < i+len(pr); j++ {
					mask[j] = true
				}
			}
		}
	}
	for i := 0; i < len(low); {
		if !unicode.IsLetter(low[i]) {
			i++
			continue
		}
		j := i
		for j < len(low) && unicode.IsLetter(low[j]) {
			j++
		}
		if s.words[string(low[i:j])] {
			for k := i; k < j; k++ {
				mask[k] = true
			}
		}
		i = j
	}
	var b strings.Builder
	for i := 0; i < len(src); {
		if !mask[i] {
			b.WriteRune(src[i])
			i++
			continue
		}
		for i < len(src) && mask[i] {
			i++
		}
		b.WriteString(redacted)
	}
	return b.String()
}

// knownIdentities adds what a CDA header names: the patient (names, ids,
// address, telecom), the authors, the legal authenticator, the custodian
// and the participants' organisations.
func (s *Scrubber) knownIdentities(d *cda.Document) {
	p := d.Patient
	s.Add(p.Family)
	s.Add(p.Given...)
	s.Add(p.City)
	s.Add(p.Street...)
	s.AddIdentifier(p.Telecom...)
	s.AddIdentifier(p.PostalCode)
	for _, id := range p.IDs {
		s.AddIdentifier(id.Value)
	}
	for _, a := range d.Authors {
		s.Add(a.Family, a.Org.Name)
		s.Add(a.Given...)
		s.AddIdentifier(a.ID.Value, a.Org.ID.Value)
	}
	if la := d.LegalAuthenticator; la != nil {
		s.Add(la.Family, la.Org.Name)
		s.Add(la.Given...)
		s.AddIdentifier(la.ID.Value)
	}
	s.Add(d.Custodian.Name)
}

// knownPatient adds what the record itself knows of its patient.
func (s *Scrubber) knownPatient(p carnet.Patient) {
	s.Add(p.Identity.Family)
	s.Add(p.Identity.Given...)
	for _, id := range p.Identifiers {
		s.AddIdentifier(id.Value)
	}
}

// knownAuthors adds the names and ids a document's metadata names.
func (s *Scrubber) knownAuthors(m carnet.DocumentMeta) {
	for _, a := range append(m.Authors, ptrAuthor(m.LegalAuthenticator)...) {
		s.Add(a.Family, a.Org)
		s.Add(a.Given...)
		s.AddIdentifier(a.ID.Value, a.OrgID.Value)
	}
}

func ptrAuthor(a *carnet.Author) []carnet.Author {
	if a == nil {
		return nil
	}
	return []carnet.Author{*a}
}

// narrativeText is the de-identified text of a CDA's sections: titles and
// narrative blocks, one paragraph each. Bodies that are a PDF give none.
func narrativeText(d *cda.Document, s *Scrubber) string {
	var b strings.Builder
	for _, sec := range d.Sections {
		t := strings.TrimSpace(sec.Title)
		x := strings.TrimSpace(sec.Text())
		if t == "" && x == "" {
			continue
		}
		if b.Len() > 0 {
			b.WriteString("\n\n")
		}
		if t != "" {
			b.WriteString(t)
			b.WriteString("\n")
		}
		b.WriteString(x)
	}
	return s.Scrub(b.String())
}
