package synth

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// PDF rendering: a small but valid PDF 1.4 (catalog, page tree, Helvetica
// in WinAnsiEncoding, one content stream per A4 page, cross-reference
// table and trailer), enough for any reader to show the text and for a
// text extractor to find it.

const (
	pdfLineWidth    = 92 // characters of Helvetica 10 pt in the text area
	pdfLinesPerPage = 60
)

// renderPDF lays lines out on A4 pages. Lines in upper case are set in
// bold, like headings.
func renderPDF(title, author string, created time.Time, lines []string) []byte {
	wrapped := wrapLines(lines, pdfLineWidth)
	var pages [][]string
	for len(wrapped) > 0 {
		n := min(pdfLinesPerPage, len(wrapped))
		pages = append(pages, wrapped[:n])
		wrapped = wrapped[n:]
	}
	if len(pages) == 0 {
		pages = [][]string{{""}}
	}

	// Objects: 1 catalog, 2 page tree, 3 regular font, 4 bold font, 5 info,
	// then for each page its page object and its content stream.
	nobj := 5 + 2*len(pages)
	offsets := make([]int, nobj+1)
	out := make([]byte, 0, 1024+estimatePDF(lines))
	out = append(out, "%PDF-1.4\n%\xe2\xe3\xcf\xd3\n"...)
	obj := func(n int, body string) {
		offsets[n] = len(out)
		out = append(out, strconv.Itoa(n)...)
		out = append(out, " 0 obj\n"...)
		out = append(out, body...)
		out = append(out, "\nendobj\n"...)
	}
	obj(1, "<< /Type /Catalog /Pages 2 0 R /Lang (fr-FR) >>")
	var kids strings.Builder
	for i := range pages {
		fmt.Fprintf(&kids, "%d 0 R ", 6+2*i)
	}
	obj(2, fmt.Sprintf("<< /Type /Pages /Kids [ %s] /Count %d >>", kids.String(), len(pages)))
	obj(3, "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
	obj(4, "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold /Encoding /WinAnsiEncoding >>")
	off := parisOffset(created)
	l := created.UTC().Add(off)
	date := fmt.Sprintf("D:%04d%02d%02d%02d%02d%02d+%02d'00'", l.Year(), l.Month(), l.Day(), l.Hour(), l.Minute(), l.Second(), int(off.Hours()))
	obj(5, "<< /Title "+pdfTextString(title)+" /Author "+pdfTextString(author)+
		" /Producer (Carnet synth) /CreationDate ("+date+") >>")
	var content []byte
	for i, page := range pages {
		content = content[:0]
		content = append(content, "BT\n/F1 10 Tf\n13 TL\n56 790 Td\n"...)
		bold := false
		for _, line := range page {
			if h := isHeading(line); h != bold {
				bold = h
				if bold {
					content = append(content, "/F2 10 Tf\n"...)
				} else {
					content = append(content, "/F1 10 Tf\n"...)
				}
			}
			content = pdfString(content, line)
			content = append(content, " Tj T*\n"...)
		}
		content = append(content, "ET\nBT\n/F1 8 Tf\n56 30 Td\n"...)
		content = pdfString(content, fmt.Sprintf("%s — page %d/%d", title, i+1, len(pages)))
		content = append(content, " Tj\nET"...)
		obj(6+2*i, fmt.Sprintf("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 3 0 R /F2 4 0 R >> >> /Contents %d 0 R >>", 7+2*i))
		offsets[7+2*i] = len(out)
		out = append(out, strconv.Itoa(7+2*i)...)
		out = append(out, " 0 obj\n<< /Length "...)
		out = append(out, strconv.Itoa(len(content))...)
		out = append(out, " >>\nstream\n"...)
		out = append(out, content...)
		out = append(out, "\nendstream\nendobj\n"...)
	}
	xref := len(out)
	out = append(out, fmt.Sprintf("xref\n0 %d\n0000000000 65535 f \n", nobj+1)...)
	for n := 1; n <= nobj; n++ {
		out = append(out, fmt.Sprintf("%010d 00000 n \n", offsets[n])...)
	}
	out = append(out, fmt.Sprintf("trailer\n<< /Size %d /Root 1 0 R /Info 5 0 R >>\nstartxref\n%d\n%%%%EOF\n", nobj+1, xref)...)
	return out
}

// pdfEstimate approximates the size of renderPDF's output as lines are
// added.
type pdfEstimate struct{ bytes, rows int }

func (e *pdfEstimate) add(lines ...string) {
	for _, l := range lines {
		k := utf8.RuneCountInString(l)
		rows := max(1, (k+pdfLineWidth-1)/pdfLineWidth)
		e.bytes += k + 9*rows
		e.rows += rows
	}
}

func (e *pdfEstimate) size() int { return 1200 + e.bytes + (e.rows/pdfLinesPerPage+1)*330 }

func estimatePDF(lines []string) int {
	var e pdfEstimate
	e.add(lines...)
	return e.size()
}

// pdfTextString encodes s as a PDF text string (UTF-16BE with a byte order
// mark), as document information entries require for non-Latin text.
func pdfTextString(s string) string {
	var b strings.Builder
	b.WriteString("<FEFF")
	for _, u := range utf16.Encode([]rune(s)) {
		fmt.Fprintf(&b, "%04X", u)
	}
	b.WriteString(">")
	return b.String()
}

// isHeading reports whether s is a heading: letters, none lower case.
func isHeading(s string) bool {
	if len(s) <= 3 {
		return false
	}
	letters := false
	for _, r := range s {
		if unicode.IsLower(r) {
			return false
		}
		letters = letters || unicode.IsUpper(r)
	}
	return letters
}

// pdfString appends s as a PDF literal string in WinAnsiEncoding.
func pdfString(b []byte, s string) []byte {
	b = append(b, '(')
	for len(s) > 0 {
		// Copy the run of plain ASCII at once: most text is.
		i := 0
		for i < len(s) && s[i] >= 0x20 && s[i] < 0x80 && s[i] != '(' && s[i] != ')' && s[i] != '\\' {
			i++
		}
		b = append(b, s[:i]...)
		s = s[i:]
		if len(s) == 0 {
			break
		}
		r, n := utf8.DecodeRuneInString(s)
		s = s[n:]
		switch {
		case r == '(' || r == ')' || r == '\\':
			b = append(b, '\\', byte(r))
		case r < 0x20:
			b = append(b, ' ')
		case r < 0x80 || (r >= 0xa0 && r <= 0xff):
			b = append(b, byte(r))
		default:
			b = append(b, winAnsi(r))
		}
	}
	return append(b, ')')
}

func winAnsi(r rune) byte {
	switch r {
	case '€':
		return 0x80
	case '…':
		return 0x85
	case '‘':
		return 0x91
	case '’':
		return 0x92
	case '“':
		return 0x93
	case '”':
		return 0x94
	case '•':
		return 0x95
	case '–':
		return 0x96
	case '—':
		return 0x97
	case 'Œ':
		return 0x8c
	case 'œ':
		return 0x9c
	case 'Ÿ':
		return 0x9f
	}
	return '?'
}

// wrapLines breaks lines longer than width at spaces.
func wrapLines(lines []string, width int) []string {
	out := make([]string, 0, len(lines)+len(lines)/4)
	for _, l := range lines {
		for utf8.RuneCountInString(l) > width {
			cut, n := -1, 0
			for i := range l {
				if n > width {
					break
				}
				if l[i] == ' ' {
					cut = i
				}
				n++
			}
			if cut <= 0 {
				// No space: cut at width runes.
				n = 0
				for i := range l {
					if n == width {
						cut = i
						break
					}
					n++
				}
			}
			out = append(out, l[:cut])
			l = strings.TrimLeft(l[cut:], " ")
		}
		out = append(out, l)
	}
	return out
}

// Writing the PDF into the CDA.

// pdfBytes renders the document's text, padded with realistic material to
// about budget bytes when budget is positive.
func (b *builder) pdfBytes(budget int) []byte {
	lines := b.lines
	if budget > 0 {
		lines = append([]string(nil), b.lines...)
		var e pdfEstimate
		e.add(lines...)
		for e.size() < budget {
			more := b.filler()
			e.add(more...)
			lines = append(lines, more...)
		}
	}
	return renderPDF(b.doc.Meta.Title, b.author.title(), b.created, lines)
}

// pdfBudget returns how many PDF bytes bring the document to its target,
// given that trailer more bytes of XML follow the base64.
func (b *builder) pdfBudget(trailer int) int {
	if b.target == 0 {
		return 0
	}
	return max((b.target-len(b.w.b)-trailer)*3/4, 1)
}

// nonXMLBody writes an N1 body: the PDF, base64, as the whole content.
func (b *builder) nonXMLBody() {
	w := &b.w
	pdf := b.pdfBytes(b.pdfBudget(120))
	w.open("component")
	w.open("nonXMLBody")
	w.newline()
	w.b = append(w.b, `<text mediaType="application/pdf" representation="B64">`...)
	w.b = base64.StdEncoding.AppendEncode(w.b, pdf)
	w.b = append(w.b, "</text>"...)
	w.close("nonXMLBody")
	w.close("component")
}

// pdfCopy writes the FR-Document-PDF-copie section: the structured
// document rendered as PDF, as CI-SIS N3 documents may carry.
func (b *builder) pdfCopy() {
	w := &b.w
	lines := b.lines
	b.openSection([]string{"1.2.250.1.213.1.1.2.243"}, loinc("55108-5", "Copie du document"), "Copie du document")
	b.lines = lines
	w.open("text")
	w.open("table", "border", "0")
	w.open("tbody")
	w.open("tr")
	w.open("td")
	w.empty("renderMultiMedia", "referencedObject", "doc-pdf")
	w.close("td")
	w.close("tr")
	w.close("tbody")
	w.close("table")
	w.close("text")
	w.open("entry")
	w.open("organizer", "classCode", "CLUSTER", "moodCode", "EVN")
	w.empty("templateId", "root", "1.2.250.1.213.1.1.3.18")
	w.empty("id", "root", b.uuid())
	w.code("code", loinc("55107-7", "Document attaché"))
	w.empty("statusCode", "code", "completed")
	w.open("component")
	w.open("observation", "classCode", "OBS", "moodCode", "EVN")
	w.empty("templateId", "root", "1.3.6.1.4.1.19376.1.5.3.1.4.13")
	w.empty("templateId", "root", "1.2.250.1.213.1.1.3.48")
	w.empty("templateId", "root", "1.2.250.1.213.1.1.3.48.18")
	w.empty("id", "root", b.uuid())
	w.code("code", loinc("69764-9", "Type de document"))
	w.empty("statusCode", "code", "completed")
	w.empty("effectiveTime", "nullFlavor", "NA")
	w.code("value", loinc("55108-5", "Copie du document"), "xsi:type", "CD")
	w.close("observation")
	w.close("component")
	w.open("component")
	w.open("observationMedia", "classCode", "OBS", "moodCode", "EVN", "ID", "doc-pdf")
	pdf := b.pdfBytes(b.pdfBudget(260))
	w.newline()
	w.b = append(w.b, `<value mediaType="application/pdf" representation="B64">`...)
	w.b = base64.StdEncoding.AppendEncode(w.b, pdf)
	w.b = append(w.b, "</value>"...)
	w.close("observationMedia")
	w.close("component")
	w.close("organizer")
	w.close("entry")
	w.close("section")
	w.close("component")
}
