package cda

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	carnet "github.com/carnet-sante/carnet"
)

// The CI-SIS volet table (ci-sis-formats.csv, next to the national value
// sets) says which XDS formatCode a CDA document carries, from its
// ClinicalDocument/templateIds. It is data: the server loads it from the
// file the operator names (--ci-sis-formats), so a new ANS volet needs a
// new row, not a new build. Nothing of it is copied into the code.

// Limits of what LoadFormats reads: the ANS table has 79 rows of about
// 300 bytes.
const (
	MaxFormatTableBytes = 1 << 20
	MaxFormatRows       = 10_000
)

// Arcs that tell a CI-SIS document: every volet's templateId is under the
// ANS arc, and the CI-SIS header ("Structuration minimale") template is
// its first.
const (
	arcCISIS          = "1.2.250.1.213.1.1.1."
	templateCISISHead = "1.2.250.1.213.1.1.1.1"
)

// FallbackFormat is the formatCode the ANS gives a CI-SIS document whose
// model is in no row of the table (TRE_A06 "Document non référencé IHE ou
// CI-SIS"): the code of its own CDAHeaderToXDM.xsl, named by the table's
// notes (ci-sis-formats.md). It is a rule of the table, not a row.
var FallbackFormat = carnet.Coding{System: "urn:oid:" + oidFormatANS, Code: "urn:asipSante:modelesHorsProfils:2011", Display: "Document non référencé IHE ou CI-SIS"}

// xdsSDPDF is IHE XDS-SD's formatCode of a PDF body (TRE_A11).
var xdsSDPDF = carnet.Coding{System: "urn:oid:" + oidFormatIHE, Code: "urn:ihe:iti:xds-sd:pdf:2008", Display: "Document à corps non structuré en Pdf/A-1"}

// nonPDFBodies are the TRE_A11 codes of N1 bodies other than PDF: the
// table's notes say to use the code whose label names the body's format,
// and the table itself has a row for PDF only.
var nonPDFBodies = map[string]carnet.Coding{
	"text/plain": {System: "urn:oid:" + oidFormatIHE, Code: "urn:ihe:iti:xds-sd:text:2008", Display: "Document à corps non structuré en texte brut"},
	"image/jpeg": {System: "urn:oid:" + oidFormatIHE, Code: "urn:ihe:iti-fr:xds-sd:jpeg:2010", Display: "Document à corps non structuré en format jpeg"},
	"text/rtf":   {System: "urn:oid:" + oidFormatIHE, Code: "urn:ihe:iti-fr:xds-sd:rtf:2010", Display: "Document à corps non structuré en format rtf"},
	"image/tiff": {System: "urn:oid:" + oidFormatIHE, Code: "urn:ihe:iti-fr:xds-sd:tiff:2010", Display: "Document à corps non structuré en format tiff"},
}

// FormatRow is one row of the table: a volet's templateId and its code.
type FormatRow struct {
	Volet      string
	Root       string
	Extension  string // "" matches any version, by root
	Code       carnet.Coding
	Deprecated bool // read on legacy documents, never generated for a new one
	// Alias rows name a parent (IHE) template that a CI-SIS row also
	// covers: they match only when no CI-SIS row does.
	Alias bool
}

// FormatTable is the loaded table, indexed for Match. Immutable once
// loaded, safe for concurrent use.
type FormatTable struct {
	rows      []FormatRow
	byRootExt map[string]int // root + "^" + extension, non-alias rows
	byRoot    map[string]int // first non-alias row of each root
	aliases   map[string]int // root + "^" + extension and root, alias rows
}

// LoadFormatsFile reads the table from a file (ci-sis-formats.csv).
func LoadFormatsFile(path string) (*FormatTable, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, &carnet.Error{Kind: carnet.KindUnavailable, Op: "cda.LoadFormats", Msg: "cannot read the CI-SIS format table", Err: err}
	}
	defer f.Close()
	return LoadFormats(f)
}

// LoadFormats reads the table: UTF-8 CSV with a header line naming at
// least template_root, template_extension, format_code, format_system,
// format_display and status (active or deprecated); volet and source are
// read when present. A malformed table fails the whole load with the line
// at fault: a server deriving formats from half a table would mislabel
// documents.
func LoadFormats(r io.Reader) (*FormatTable, error) {
	const op = "cda.LoadFormats"
	fail := func(format string, args ...any) error {
		return &carnet.Error{Kind: carnet.KindInvalid, Op: op, Msg: "the CI-SIS format table is not valid: " + fmt.Sprintf(format, args...)}
	}
	b, err := io.ReadAll(io.LimitReader(r, MaxFormatTableBytes+1))
	if err != nil {
		return nil, &carnet.Error{Kind: carnet.KindUnavailable, Op: op, Msg: "cannot read the CI-SIS format table", Err: err}
	}
	if len(b) > MaxFormatTableBytes {
		return nil, &carnet.Error{Kind: carnet.KindTooLarge, Op: op, Msg: fmt.Sprintf("the CI-SIS format table exceeds %d bytes", MaxFormatTableBytes)}
	}
	cr := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(b, []byte("\xef\xbb\xbf"))))
	cr.FieldsPerRecord = -1
	header, err := cr.Read()
	if err != nil {
		return nil, fail("no header line")
	}
	col := map[string]int{}
	for i, h := range header {
		col[strings.TrimSpace(strings.ToLower(h))] = i
	}
	for _, need := range []string{"template_root", "template_extension", "format_code", "format_system", "format_display", "status"} {
		if _, ok := col[need]; !ok {
			return nil, fail("no %s column", need)
		}
	}
	field := func(rec []string, name string) string {
		i, ok := col[name]
		if !ok || i >= len(rec) {
			return ""
		}
		return strings.TrimSpace(rec[i])
	}
	t := &FormatTable{byRootExt: map[string]int{}, byRoot: map[string]int{}, aliases: map[string]int{}}
	for line := 2; ; line++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fail("line %d: %v", line, err)
		}
		if len(t.rows) >= MaxFormatRows {
			return nil, &carnet.Error{Kind: carnet.KindTooLarge, Op: op, Msg: fmt.Sprintf("the CI-SIS format table has more than %d rows", MaxFormatRows)}
		}
		row := FormatRow{
			Volet:     field(rec, "volet"),
			Root:      field(rec, "template_root"),
			Extension: field(rec, "template_extension"),
			Code:      carnet.Coding{System: systemURI(field(rec, "format_system")), Code: field(rec, "format_code"), Display: field(rec, "format_display")},
		}
		switch st := field(rec, "status"); st {
		case "active":
		case "deprecated":
			row.Deprecated = true
		default:
			return nil, fail("line %d: status %q is neither active nor deprecated", line, st)
		}
		if !carnet.IsOID(row.Root) || row.Code.Code == "" || !carnet.IsOID(field(rec, "format_system")) {
			return nil, fail("line %d: a row needs an OID template_root, a format_code and an OID format_system", line)
		}
		// The table's notes mark its one alias row in its source column
		// ("an alias: match it only when no CI-SIS row matches").
		row.Alias = strings.Contains(strings.ToLower(field(rec, "source")), "alias")
		key := row.Root + "^" + row.Extension
		i := len(t.rows)
		if row.Alias {
			if _, dup := t.aliases[key]; dup {
				return nil, fail("line %d: template %s appears twice", line, key)
			}
			t.aliases[key] = i
		} else {
			if _, dup := t.byRootExt[key]; dup {
				return nil, fail("line %d: template %s appears twice", line, key)
			}
			t.byRootExt[key] = i
			if _, ok := t.byRoot[row.Root]; !ok {
				t.byRoot[row.Root] = i
			}
		}
		t.rows = append(t.rows, row)
	}
	if len(t.rows) == 0 {
		return nil, fail("no row")
	}
	return t, nil
}

// Rows returns the table's rows in file order.
func (t *FormatTable) Rows() []FormatRow {
	if t == nil {
		return nil
	}
	return append([]FormatRow(nil), t.rows...)
}

// Known reports whether c is a code of the table (a row's, the fallback or
// a TRE_A11 code of an N1 body), and whether it may be used for a new
// document (a deprecated row's code may not).
func (t *FormatTable) Known(c carnet.Coding) (known, active bool) {
	if t == nil || c.Code == "" {
		return false, false
	}
	same := func(k carnet.Coding) bool {
		return k.Code == c.Code && carnet.NormalizeIdentifier(k.System) == carnet.NormalizeIdentifier(c.System)
	}
	if same(FallbackFormat) {
		return true, true
	}
	for _, k := range nonPDFBodies {
		if same(k) {
			return true, true
		}
	}
	for _, r := range t.rows {
		if same(r.Code) {
			known = true
			active = active || !r.Deprecated
		}
	}
	return known, active
}

// How says how a format was found.
type How string

const (
	FormatByTemplate How = "template" // a row of the table matched
	FormatByBody     How = "body"     // an N1 document, by its body's media type
	FormatFallback   How = "fallback" // a CI-SIS document whose model is in no row
	FormatNone       How = "none"     // not derived: Reason says why
)

// FormatMatch is what Match found for one document.
type FormatMatch struct {
	Code carnet.Coding // zero when How is FormatNone
	How  How
	Row  *FormatRow // the row that matched, for FormatByTemplate and an N1 PDF
	// Reason says, in a sentence for the integrator, why the code is a
	// fallback or why there is none.
	Reason string
}

// Match finds the formatCode of d, as ci-sis-formats.md says: an N1
// document by its body (the CI-SIS replaces the volet template with the
// XDS-SD one); otherwise the first templateId whose root and extension
// both match a row, else whose root alone does, alias rows last. A CI-SIS
// document matching no row gets FallbackFormat; a document with no CI-SIS
// template (a US C-CDA, say) gets none, and Reason says why.
//
// A nil table derives the N1 codes only (IHE XDS-SD): without it the
// producer of a structured document declares the format.
func (t *FormatTable) Match(d *Document) FormatMatch {
	if d.Level == LevelN1 {
		// The N1 codes are IHE XDS-SD's (TRE_A11): known without the
		// national table, which has a row for PDF only.
		mt := ""
		if d.Attachment != nil {
			mt = strings.ToLower(strings.TrimSpace(d.Attachment.MediaType))
		}
		if c, ok := nonPDFBodies[mt]; ok {
			return FormatMatch{Code: c, How: FormatByBody}
		}
		if mt == "application/pdf" {
			if t != nil {
				if i, ok := t.byRoot[templatePDF]; ok {
					return FormatMatch{Code: t.rows[i].Code, How: FormatByBody, Row: &t.rows[i]}
				}
			}
			return FormatMatch{Code: xdsSDPDF, How: FormatByBody}
		}
		return FormatMatch{How: FormatNone, Reason: fmt.Sprintf("the unstructured body's media type %q has no CI-SIS format code: the formatCode must be declared", mt)}
	}
	if t == nil {
		return FormatMatch{How: FormatNone, Reason: "this server was started without the CI-SIS format table (--ci-sis-formats): the formatCode of a structured document must be declared"}
	}
	lookup := func(exact, byRoot map[string]int) (int, bool) {
		for _, tp := range d.Templates {
			if i, ok := exact[tp.Root+"^"+tp.Extension]; ok {
				return i, true
			}
		}
		for _, tp := range d.Templates {
			if byRoot != nil {
				if i, ok := byRoot[tp.Root]; ok {
					return i, true
				}
			} else if i, ok := exact[tp.Root+"^"]; ok {
				return i, true
			}
		}
		return 0, false
	}
	i, ok := lookup(t.byRootExt, t.byRoot)
	if !ok {
		i, ok = lookup(t.aliases, nil)
	}
	if ok {
		r := &t.rows[i]
		if r.Deprecated {
			// The table's notes: a deprecated row identifies a legacy
			// document, read but never given its code anew.
			return FormatMatch{Code: FallbackFormat, How: FormatFallback, Row: r,
				Reason: fmt.Sprintf("the CI-SIS model %s (%s) is deprecated and its code %s is not given to a new document: filed with the ANS code for documents outside the referenced volets, %s; declare content.format if it has another", r.Volet, r.Root, r.Code.Code, FallbackFormat.Code)}
		}
		return FormatMatch{Code: r.Code, How: FormatByTemplate, Row: r}
	}
	var volet []string
	cisis := false
	for _, tp := range d.Templates {
		if tp.Root == templateCISISHead {
			cisis = true
			continue
		}
		if strings.HasPrefix(tp.Root, arcCISIS) {
			cisis = true
			v := tp.Root
			if tp.Extension != "" {
				v += " (" + tp.Extension + ")"
			}
			volet = append(volet, v)
		}
	}
	if !cisis {
		return FormatMatch{How: FormatNone, Reason: "the document has no CI-SIS templateId (1.2.250.1.213.1.1.1.…): it is not a French CI-SIS document and its formatCode must be declared"}
	}
	why := "the document is a CI-SIS document whose model is not in the CI-SIS format table"
	if len(volet) > 0 {
		why = fmt.Sprintf("the CI-SIS model %s is not in the CI-SIS format table", strings.Join(volet, ", "))
	}
	return FormatMatch{Code: FallbackFormat, How: FormatFallback,
		Reason: why + ": filed with the ANS code for documents outside the referenced volets, " + FallbackFormat.Code + "; declare content.format if it has another"}
}
