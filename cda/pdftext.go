package cda

import (
	"bytes"
	"compress/zlib"
	"io"
	"strings"
)

// PDFText limits: enough for the text of a report, small enough that a
// hostile PDF (a deflate bomb) costs little.
const (
	maxPDFStreams    = 256
	maxPDFStreamSize = 4 << 20  // inflated bytes per stream
	maxPDFInflated   = 16 << 20 // inflated bytes in all
	maxPDFText       = 1 << 20
)

// PDFText extracts the text of simple PDFs: content streams uncompressed
// or FlateDecode, strings shown with Tj, TJ, ' and ". It returns "" when
// it finds none (scanned PDFs, other filters, encrypted or CID-encoded
// fonts give gibberish-free emptiness rather than garbage, mostly). It is
// for search, not for display: the PDF itself is what people read.
func PDFText(pdf []byte) string {
	var out strings.Builder
	inflated := 0
	rest := pdf
	for n := 0; n < maxPDFStreams && out.Len() < maxPDFText; n++ {
		i := bytes.Index(rest, []byte("stream"))
		if i < 0 {
			break
		}
		dict := rest[max(0, i-512):i]
		if k := bytes.LastIndex(dict, []byte("<<")); k >= 0 {
			dict = dict[k:]
		}
		body := rest[i+len("stream"):]
		body = bytes.TrimLeft(body, "\r\n")
		j := bytes.Index(body, []byte("endstream"))
		if j < 0 {
			break
		}
		data := body[:j]
		rest = body[j+len("endstream"):]
		if bytes.Contains(dict, []byte("/Subtype/Image")) || bytes.Contains(dict, []byte("/Subtype /Image")) || bytes.Contains(dict, []byte("/Length1")) {
			continue // images and embedded fonts
		}
		if bytes.Contains(dict, []byte("/FlateDecode")) {
			if bytes.Contains(dict, []byte("/DecodeParms")) {
				continue // predictors are for xref streams and images
			}
			zr, err := zlib.NewReader(bytes.NewReader(data))
			if err != nil {
				continue
			}
			limit := min(maxPDFStreamSize, maxPDFInflated-inflated)
			dec, _ := io.ReadAll(io.LimitReader(zr, int64(limit)))
			inflated += len(dec)
			data = dec
			if inflated >= maxPDFInflated {
				showText(&out, data)
				break
			}
		} else if bytes.Contains(dict, []byte("/Filter")) {
			continue // other filters (DCT, LZW, …) are not text we can read
		}
		showText(&out, data)
	}
	return strings.TrimSpace(out.String())
}

// showText appends the strings a content stream shows, one line per BT…ET
// text object line break (Td, TD, T*, ', ").
func showText(out *strings.Builder, cs []byte) {
	if !bytes.Contains(cs, []byte("BT")) {
		return
	}
	var pending []string // strings since the last operator
	for i := 0; i < len(cs) && out.Len() < maxPDFText; {
		c := cs[i]
		switch {
		case c == '(':
			s, n := pdfString(cs[i:])
			pending = append(pending, s)
			i += n
		case c == '%':
			for i < len(cs) && cs[i] != '\n' && cs[i] != '\r' {
				i++
			}
		case isPDFLetter(c) || c == '\'' || c == '"' || c == '*':
			j := i
			for j < len(cs) && (isPDFLetter(cs[j]) || cs[j] == '*' || cs[j] == '\'' || cs[j] == '"') {
				j++
			}
			switch string(cs[i:j]) {
			case "Tj", "TJ":
				out.WriteString(strings.Join(pending, ""))
			case "'", "\"":
				out.WriteString("\n")
				out.WriteString(strings.Join(pending, ""))
			case "Td", "TD", "T*", "ET":
				if out.Len() > 0 && !strings.HasSuffix(out.String(), "\n") {
					out.WriteString("\n")
				}
			}
			if s := string(cs[i:j]); s != "" && s != "TJ" {
				pending = pending[:0]
			}
			if string(cs[i:j]) == "TJ" {
				pending = pending[:0]
			}
			i = j
		default:
			i++
		}
	}
}

func isPDFLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// pdfString reads a literal string starting at '(' and returns its text
// (PDFDocEncoding/Latin-1 taken as Latin-1) and the bytes consumed.
func pdfString(b []byte) (string, int) {
	var s []rune
	depth := 0
	i := 0
	for ; i < len(b); i++ {
		c := b[i]
		switch c {
		case '(':
			depth++
			if depth == 1 {
				continue
			}
		case ')':
			depth--
			if depth == 0 {
				return string(s), i + 1
			}
		case '\\':
			if i+1 >= len(b) {
				return string(s), len(b)
			}
			i++
			switch e := b[i]; e {
			case 'n':
				s = append(s, '\n')
			case 'r', 't', 'b', 'f':
				s = append(s, ' ')
			case '\r', '\n':
				// line continuation
			default:
				if e >= '0' && e <= '7' {
					v := 0
					k := 0
					for ; k < 3 && i+k < len(b) && b[i+k] >= '0' && b[i+k] <= '7'; k++ {
						v = v*8 + int(b[i+k]-'0')
					}
					i += k - 1
					s = append(s, rune(v&0xff))
				} else {
					s = append(s, rune(e))
				}
			}
			continue
		}
		s = append(s, rune(c))
	}
	return string(s), len(b)
}
