package record

import (
	"encoding/base64"
	"encoding/binary"
	"strings"
)

// A form's string table is mostly the documents' own ids: version-7 UUIDs
// (entryUUID, logicalId, submission set, content), OIDs (uniqueIds) and
// blind tokens (base64url of an HMAC). Each is written in the bytes it
// stands for, and written back in its text when the form is read, exactly:
// a string is packed only when its text comes back identical. A record of
// 2,000 documents: 479 KiB of form before, read on every first opening
// (3.4 ms through PostgreSQL, whose large values are read in 2 KB pieces).
//
// Each string's header is a uvarint: n<<2 | kind, then its n bytes.
const (
	packRaw    = iota // n bytes of text
	packUUID          // 16 bytes: lowercase hex 8-4-4-4-12 (n is 16)
	packBase64        // n bytes: their base64url text without padding
	packDigits        // n characters of [0-9.], two per byte
)

// packString appends s's header to heads and its packed bytes to body.
func packString(heads, body []byte, s string) ([]byte, []byte) {
	switch {
	case isUUID(s):
		heads = binary.AppendUvarint(heads, 16<<2|packUUID)
		for i := 0; i < len(s); i++ {
			if s[i] == '-' {
				continue
			}
			body = append(body, unhex(s[i])<<4|unhex(s[i+1]))
			i++
		}
		return heads, body
	case len(s) >= 16 && isDigits(s):
		heads = binary.AppendUvarint(heads, uint64(len(s))<<2|packDigits)
		for i := 0; i < len(s); i += 2 {
			hi, lo := nibble(s[i]), byte(0)
			if i+1 < len(s) {
				lo = nibble(s[i+1])
			}
			body = append(body, hi<<4|lo)
		}
		return heads, body
	case len(s) >= 16 && len(s)%4 != 1:
		if raw, err := base64.RawURLEncoding.DecodeString(s); err == nil && base64.RawURLEncoding.EncodeToString(raw) == s {
			heads = binary.AppendUvarint(heads, uint64(len(raw))<<2|packBase64)
			return heads, append(body, raw...)
		}
	}
	heads = binary.AppendUvarint(heads, uint64(len(s))<<2|packRaw)
	return heads, append(body, s...)
}

func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case i == 8 || i == 13 || i == 18 || i == 23:
			if c != '-' {
				return false
			}
		case '0' <= c && c <= '9', 'a' <= c && c <= 'f':
		default:
			return false
		}
	}
	return true
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c != '.' && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}

func unhex(c byte) byte {
	if c <= '9' {
		return c - '0'
	}
	return c - 'a' + 10
}

func nibble(c byte) byte {
	if c == '.' {
		return 10
	}
	return c - '0'
}

// unpackStrings reads count string headers and their bytes from b, and
// returns the strings (their text in one allocation) and what follows.
// Bounded by its input: a string's text is at most a few times its bytes.
func unpackStrings(b []byte, count int) ([]string, []byte, bool) {
	type head struct {
		n    int
		kind byte
	}
	heads := make([]head, count)
	packed, text := 0, 0
	for i := range heads {
		v, k := binary.Uvarint(b)
		if k <= 0 || v>>2 > 2*uint64(len(b))+1 { // digits: two per byte
			return nil, nil, false
		}
		b = b[k:]
		h := head{n: int(v >> 2), kind: byte(v & 3)}
		switch h.kind {
		case packRaw:
			packed, text = packed+h.n, text+h.n
		case packUUID:
			if h.n != 16 {
				return nil, nil, false
			}
			packed, text = packed+16, text+36
		case packBase64:
			packed, text = packed+h.n, text+base64.RawURLEncoding.EncodedLen(h.n)
		case packDigits:
			packed, text = packed+(h.n+1)/2, text+h.n
		}
		heads[i] = h
	}
	if packed > len(b) {
		return nil, nil, false
	}
	var sb strings.Builder
	sb.Grow(text)
	var enc [64]byte
	for _, h := range heads {
		switch h.kind {
		case packRaw:
			sb.Write(b[:h.n])
			b = b[h.n:]
		case packUUID:
			const digits = "0123456789abcdef"
			for i, c := range b[:16] {
				if i == 4 || i == 6 || i == 8 || i == 10 {
					sb.WriteByte('-')
				}
				sb.WriteByte(digits[c>>4])
				sb.WriteByte(digits[c&15])
			}
			b = b[16:]
		case packBase64:
			if l := base64.RawURLEncoding.EncodedLen(h.n); l <= len(enc) {
				base64.RawURLEncoding.Encode(enc[:l], b[:h.n])
				sb.Write(enc[:l])
			} else {
				sb.WriteString(base64.RawURLEncoding.EncodeToString(b[:h.n]))
			}
			b = b[h.n:]
		case packDigits:
			for i := 0; i < h.n; i++ {
				c := b[i/2] >> 4
				if i%2 == 1 {
					c = b[i/2] & 15
				}
				switch {
				case c == 10:
					sb.WriteByte('.')
				case c < 10:
					sb.WriteByte('0' + c)
				default:
					return nil, nil, false
				}
			}
			b = b[(h.n+1)/2:]
		}
	}
	all := sb.String()
	out := make([]string, count)
	at := 0
	for i, h := range heads {
		l := h.n
		switch h.kind {
		case packUUID:
			l = 36
		case packBase64:
			l = base64.RawURLEncoding.EncodedLen(h.n)
		}
		out[i], at = all[at:at+l], at+l
	}
	return out, b, true
}
