package mhd

import (
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"

	carnet "github.com/carnet-sante/carnet"
)

// FoldName is the form in which author names are indexed and searched:
// trimmed, inner spaces collapsed, lower-case, accents removed, ligatures
// spelled out ("  Éloïse  Lœuvre " -> "eloise loeuvre"). Names are then
// blind-indexed by the Service, so a search matches a whole folded name
// exactly, never a prefix.
func FoldName(s string) string {
	var b strings.Builder
	space := false
	for _, r := range norm.NFD.String(s) {
		switch {
		case unicode.Is(unicode.Mn, r):
			continue // the accent of the letter before
		case unicode.IsSpace(r):
			space = b.Len() > 0
			continue
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		switch r {
		case 'œ', 'Œ':
			b.WriteString("oe")
		case 'æ', 'Æ':
			b.WriteString("ae")
		case 'ß':
			b.WriteString("ss")
		default:
			b.WriteRune(unicode.ToLower(r))
		}
	}
	return b.String()
}

// DocumentTokens returns the tokens under which d is indexed, for every kind
// that ParseDocumentSearch produces except author names ("author.family",
// "author.given": identifying, so the Service blind-indexes the FoldName of
// each author's names itself):
//
//	type, class, format, facility, setting, event, label   codings, via carnet.CodingTokens
//	author       the author's identifier value (RPPS), what the policy reads
//	identifier   uniqueId, the other identifiers, entryUUID (urn:uuid:id) and
//	             logicalId, each with and without urn:oid:
//	related      the FHIR id of each relatesTo target
func DocumentTokens(d carnet.Document) []carnet.Token {
	m := &d.Meta
	var ts []carnet.Token
	ts = append(ts, carnet.CodingTokens("type", m.Type)...)
	ts = append(ts, carnet.CodingTokens("class", m.Class)...)
	ts = append(ts, carnet.CodingTokens("format", m.Format)...)
	ts = append(ts, carnet.CodingTokens("facility", m.Facility)...)
	ts = append(ts, carnet.CodingTokens("setting", m.PracticeSetting)...)
	for _, c := range m.Events {
		ts = append(ts, carnet.CodingTokens("event", c)...)
	}
	for _, c := range m.Confidentiality {
		ts = append(ts, carnet.CodingTokens("label", c)...)
	}
	for _, a := range m.Authors {
		if a.ID.Value != "" {
			ts = append(ts, carnet.Token{Kind: "author", Value: a.ID.Value})
		}
	}
	ids := []string{d.UniqueID}
	for _, id := range m.Identifiers {
		ids = append(ids, id.Value)
	}
	if d.ID != "" {
		ids = append(ids, "urn:uuid:"+d.ID)
	}
	ids = append(ids, d.LogicalID)
	for _, v := range ids {
		ts = append(ts, identifierTokens("identifier", v)...)
	}
	for _, r := range m.RelatesTo {
		if r.Target != "" {
			ts = append(ts, carnet.Token{Kind: "related", Value: r.Target})
		}
	}
	return dedupTokens(ts)
}

// SubmissionSetTokens returns the tokens under which s is indexed for
// ParseListSearch: code (submissionset), status (current), designationType,
// identifier (uniqueId with and without urn:oid:, and urn:uuid:id) and
// source (sourceId, both forms).
func SubmissionSetTokens(s carnet.SubmissionSet) []carnet.Token {
	ts := carnet.CodingTokens("code", carnet.Coding{System: SystemListTypes, Code: "submissionset"})
	ts = append(ts, carnet.Token{Kind: "status", Value: "current"})
	ts = append(ts, carnet.CodingTokens("designationType", s.ContentType)...)
	ts = append(ts, identifierTokens("identifier", s.UniqueID)...)
	if s.ID != "" {
		ts = append(ts, identifierTokens("identifier", "urn:uuid:"+s.ID)...)
	}
	ts = append(ts, identifierTokens("source", s.SourceID)...)
	return dedupTokens(ts)
}

// identifierTokens indexes an identifier value in both its bare and its
// urn:oid: form, so that "urn:oid:1.2.3" and "1.2.3" find the same thing.
func identifierTokens(kind, v string) []carnet.Token {
	if v == "" {
		return nil
	}
	b := bareID(v)
	ts := []carnet.Token{{Kind: kind, Value: b}}
	if isOID(b) {
		ts = append(ts, carnet.Token{Kind: kind, Value: "urn:oid:" + b})
	}
	return ts
}

func dedupTokens(ts []carnet.Token) []carnet.Token {
	seen := make(map[carnet.Token]bool, len(ts))
	out := ts[:0]
	for _, t := range ts {
		if !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	}
	return out
}
