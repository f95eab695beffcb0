package carnet

import "strings"

// Value sets that XDS metadata is validated against (file names of the ANS
// CI-SIS SVS files, reference/ci-sis-jdv). Class and format codes have no
// value set file there: they are checked for presence only.
const (
	ValueSetType            = "JDV_J07_XdsTypeCode_CISIS"
	ValueSetConfidentiality = "JDV_J08_XdsConfidentialityCode_CISIS"
	ValueSetFacility        = "JDV_J02_XdsHealthcareFacilityTypeCode_CISIS"
	ValueSetPracticeSetting = "JDV_J04_XdsPracticeSettingCode_CISIS"
)

// Token kinds a document is indexed under; they are the ITI-67 search
// parameter names (category is "class", security-label is "label").
const (
	TokType         = "type"
	TokClass        = "class"
	TokFormat       = "format"
	TokFacility     = "facility"
	TokSetting      = "setting"
	TokEvent        = "event"
	TokLabel        = "label"
	TokAuthor       = "author"        // author RPPS (professional ids are not patient data)
	TokAuthorFamily = "author.family" // blind-indexed per patient
	TokAuthorGiven  = "author.given"  // blind-indexed per patient
	TokIdentifier   = "identifier"
	TokRelated      = "related"
	TokContent      = "content" // the content id, to find a document from its Binary URL
	TokSource       = "source"  // submission sets: sourceId
	TokCode         = "code"    // submission sets: submissionset
)

// DocumentTokens returns the clear tokens a document is indexed under. It is
// the one place that says how documents are found; search parsing uses the
// same kinds and the same normal forms. Author names are not here: they are
// blind-indexed by the Service.
func DocumentTokens(d Document) []Token {
	m := &d.Meta
	var t []Token
	t = append(t, CodingTokens(TokType, m.Type)...)
	t = append(t, CodingTokens(TokClass, m.Class)...)
	t = append(t, CodingTokens(TokFormat, m.Format)...)
	t = append(t, CodingTokens(TokFacility, m.Facility)...)
	t = append(t, CodingTokens(TokSetting, m.PracticeSetting)...)
	for _, c := range m.Events {
		t = append(t, CodingTokens(TokEvent, c)...)
	}
	for _, c := range m.Confidentiality {
		t = append(t, CodingTokens(TokLabel, c)...)
	}
	for _, a := range m.Authors {
		if a.ID.Value != "" {
			t = append(t, Token{TokAuthor, a.ID.Value})
		}
	}
	t = append(t, IdentifierTokens(d.UniqueID)...)
	t = append(t, IdentifierTokens("urn:uuid:"+d.ID)...)
	for _, id := range m.Identifiers {
		t = append(t, IdentifierTokens(id.Value)...)
	}
	for _, r := range m.RelatesTo {
		t = append(t, Token{TokRelated, r.Target})
	}
	if d.ContentID != "" {
		t = append(t, Token{TokContent, d.ContentID})
	}
	return dedupTokens(t)
}

// IdentifierTokens returns the identifier tokens of value: the value, and
// for an OID both "urn:oid:X" and "X".
func IdentifierTokens(value string) []Token {
	if value == "" {
		return nil
	}
	v := NormalizeIdentifier(value)
	t := []Token{{TokIdentifier, v}}
	if isOID(v) {
		t = append(t, Token{TokIdentifier, "urn:oid:" + v})
	}
	return t
}

// NormalizeIdentifier strips the "urn:oid:" prefix of an OID identifier, so
// that both spellings match.
func NormalizeIdentifier(v string) string {
	if s, ok := strings.CutPrefix(v, "urn:oid:"); ok {
		return s
	}
	return v
}

func isOID(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if (r < '0' || r > '9') && r != '.' {
			return false
		}
	}
	return true
}

func dedupTokens(t []Token) []Token {
	seen := make(map[Token]bool, len(t))
	out := t[:0]
	for _, x := range t {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}
