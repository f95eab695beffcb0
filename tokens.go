package carnet

import (
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// Value sets that XDS metadata is validated against (file names of the ANS
// CI-SIS SVS files, reference/ci-sis-jdv). Class and format codes have no
// value set file there: they are checked for presence only.
const (
	ValueSetType            = "JDV_J07_XdsTypeCode_CISIS"
	ValueSetConfidentiality = "JDV_J08_XdsConfidentialityCode_CISIS"
	ValueSetFacility        = "JDV_J02_XdsHealthcareFacilityTypeCode_CISIS"
	ValueSetPracticeSetting = "JDV_J04_XdsPracticeSettingCode_CISIS"
	// ValueSetAuthorSpecialty holds XDS authorSpecialty: professions
	// (G15_10), specialties (G15_10/SM26) and non-professional authors
	// (DISPOSITIF, ALIM_AM).
	ValueSetAuthorSpecialty = "JDV_J01_XdsAuthorSpecialty_CISIS"
	// ValueSetReferenceIDType holds the types of XDS referenceIdList
	// identifiers (system SystemReferenceIDType).
	ValueSetReferenceIDType = "JDV_J197_XdsTypesIdentifiantsReferenceId_CISIS"
	SystemReferenceIDType   = "urn:oid:1.2.250.1.213.1.1.4.347"
)

// ListTypesSystem is the IHE MHD code system of List.code (submissionset, folder).
const ListTypesSystem = "https://profiles.ihe.net/ITI/MHD/CodeSystem/MHDlistTypes"

// Token kinds a document or submission set is indexed under; they are the
// ITI-67 and ITI-66 search parameter names (category is "class",
// security-label is "label", source-id is "source").
const (
	TokType            = "type"
	TokClass           = "class"
	TokFormat          = "format"
	TokFacility        = "facility"
	TokSetting         = "setting"
	TokEvent           = "event"
	TokLabel           = "label"
	TokAuthor          = "author"        // author RPPS (professional ids are not patient data)
	TokAuthorFamily    = "author.family" // blind-indexed per patient
	TokAuthorGiven     = "author.given"  // blind-indexed per patient
	TokIdentifier      = "identifier"
	TokRelated         = "related"
	TokContent         = "content" // the content id, to find a document from its Binary URL
	TokSource          = "source"
	TokCode            = "code"
	TokStatus          = "status"
	TokDesignationType = "designationType"
	TokInterpretation  = "interpretation"   // an item's result interpretation (H, HH, L, …), blind-indexed
	TokAbnormal        = "abnormal"         // "true" for an out-of-range result, blind-indexed
	TokContentHash     = "content-hash"     // blind token of a document's SHA-256, to fold duplicates
	TokConcept         = "concept"          // blind token of a concept the document carries (Document.Concepts)
	TokTitleKey        = "title-key"        // blind token of the folded title, when more than the type's name (series)
	TokTitleWord       = "title-word"       // blind token of a word of the title the ranking weighs (TitleWordReader)
	TokAuthorSpecialty = "author.specialty" // blind token of an author's specialty the ranking weighs (AuthorSpecialtyReader)
	TokFiler           = "filer"            // who filed the document (FilerOf): what the write rules read
	TokAuthorOrg       = "author.org"       // each author's organisation (OrgKey): software acts for its organisations' authors
)

// DocumentTokens returns the clear tokens d is indexed under: the one place
// that says how documents are found. Search parsing (mhd) produces the same
// kinds and normal forms. Author names are not here: they are identifying,
// and the Service blind-indexes their FoldName per patient.
//
//	type, class, format, facility, setting, event, label   codings (CodingTokens)
//	author       the author's identifier value (RPPS), what the policy reads
//	author.org   each author's organisation (OrgKey), what the policy reads for software
//	filer        who filed the document (FilerOf), what the policy reads for changes
//	identifier   uniqueId, other identifiers, entryUUID (urn:uuid:id), logicalId; OIDs with and without urn:oid:
//	related      the FHIR id of each relatesTo target
//	content      the content id
func DocumentTokens(d Document) []Token {
	m := &d.Meta
	var ts []Token
	ts = append(ts, CodingTokens(TokType, m.Type)...)
	ts = append(ts, CodingTokens(TokClass, m.Class)...)
	ts = append(ts, CodingTokens(TokFormat, m.Format)...)
	ts = append(ts, CodingTokens(TokFacility, m.Facility)...)
	ts = append(ts, CodingTokens(TokSetting, m.PracticeSetting)...)
	for _, c := range m.Events {
		ts = append(ts, CodingTokens(TokEvent, c)...)
	}
	for _, c := range m.Confidentiality {
		ts = append(ts, CodingTokens(TokLabel, c)...)
	}
	for _, a := range m.Authors {
		if a.ID.Value != "" && a.ID.OID() == OIDRPPS {
			// Professionals only: a patient author's INS is identifying and
			// never stands in clear.
			ts = append(ts, Token{TokAuthor, a.ID.Value})
		}
		if k := OrgKey(a.OrgID); k != "" {
			ts = append(ts, Token{TokAuthorOrg, k})
		}
	}
	if d.Filer != "" {
		ts = append(ts, Token{TokFiler, d.Filer})
	}
	ids := []string{d.UniqueID, d.LogicalID}
	for _, id := range m.Identifiers {
		ids = append(ids, id.Value)
	}
	if d.ID != "" {
		ids = append(ids, "urn:uuid:"+d.ID)
	}
	for _, v := range ids {
		ts = append(ts, IdentifierTokens(TokIdentifier, v)...)
	}
	for _, r := range m.RelatesTo {
		if r.Target != "" {
			ts = append(ts, Token{TokRelated, r.Target})
		}
	}
	if d.ContentID != "" {
		ts = append(ts, Token{TokContent, d.ContentID})
	}
	return dedupTokens(ts)
}

// SubmissionSetTokens returns the tokens s is indexed under for ITI-66:
// code (submissionset), status (current), designationType, identifier
// (uniqueId and urn:uuid:id) and source (sourceId).
func SubmissionSetTokens(s SubmissionSet) []Token {
	ts := CodingTokens(TokCode, Coding{System: ListTypesSystem, Code: "submissionset"})
	ts = append(ts, Token{TokStatus, "current"})
	ts = append(ts, CodingTokens(TokDesignationType, s.ContentType)...)
	ts = append(ts, IdentifierTokens(TokIdentifier, s.UniqueID)...)
	if s.ID != "" {
		ts = append(ts, IdentifierTokens(TokIdentifier, "urn:uuid:"+s.ID)...)
	}
	ts = append(ts, IdentifierTokens(TokSource, s.SourceID)...)
	return dedupTokens(ts)
}

// IdentifierTokens indexes an identifier value in its bare form and, for an
// OID, in its urn:oid: form too, so that both spellings find it.
func IdentifierTokens(kind, v string) []Token {
	if v == "" {
		return nil
	}
	b := NormalizeIdentifier(v)
	ts := []Token{{kind, b}}
	if IsOID(b) {
		ts = append(ts, Token{kind, "urn:oid:" + b})
	}
	return ts
}

// NormalizeIdentifier strips the "urn:oid:" prefix of an OID identifier:
// XDS keeps uniqueIds and sourceIds as bare OIDs.
func NormalizeIdentifier(v string) string {
	if s, ok := strings.CutPrefix(v, "urn:oid:"); ok {
		return s
	}
	return v
}

// IsOID reports whether s is a dotted OID such as 1.2.250.1.213.1.4.8.
func IsOID(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	prevDot := true
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '.':
			if prevDot {
				return false
			}
			prevDot = true
		case c >= '0' && c <= '9':
			prevDot = false
		default:
			return false
		}
	}
	return !prevDot
}

// TitleKey is what stands for a document's title in the clear-field
// ranking (TokTitleKey, blind-indexed): its folded form, or "" when the
// title only repeats its type's name ("CR d'examens biologiques"), which
// names no analysis.
func TitleKey(title, typeDisplay string) string {
	k := FoldName(title)
	if k == FoldName(typeDisplay) {
		return ""
	}
	return k
}

// FoldName is the form in which author names are indexed and searched:
// trimmed, inner spaces collapsed, lower-case, accents removed, ligatures
// spelled out ("  Éloïse  Lœuvre " -> "eloise loeuvre"). Names are then
// blind-indexed, so a search matches a whole folded name exactly, never a
// prefix.
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
