package postgres

import (
	"bytes"
	"slices"
	"testing"

	"github.com/carnet-sante/carnet"
)

func TestTokensRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name   string
		tokens []carnet.Token
	}{
		{"none", nil},
		{"codes", carnet.CodingTokens("type", carnet.Coding{System: "http://loinc.org", Code: "11488-4"})},
		{"odd bytes", []carnet.Token{{Kind: "author.family", Value: "ÉÈ\x00\xff"}, {Kind: "", Value: ""}}},
		{"long value", []carnet.Token{{Kind: "identifier", Value: string(bytes.Repeat([]byte("x"), 300))}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := decodeTokens(encodeTokens(tc.tokens))
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if !slices.Equal(got, tc.tokens) {
				t.Fatalf("got %q, want %q", got, tc.tokens)
			}
		})
	}
}

func TestTokensMalformed(t *testing.T) {
	for _, tc := range []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"unknown format", []byte{2}},
		{"no count", []byte{tokensFormat}},
		{"kind without value", []byte{tokensFormat, 1, 1, 'a'}},
		{"length past the end", []byte{tokensFormat, 1, 5, 'a', 0}},
		{"fewer tokens than counted", []byte{tokensFormat, 2, 1, 'a', 0}},
		{"bytes after the last token", []byte{tokensFormat, 1, 1, 'a', 0, 'x'}},
		{"count past the end", []byte{tokensFormat, 0xff, 0x7f}},
		{"truncated varint", []byte{tokensFormat, 1, 0x80}},
		{"varint overflow", []byte{tokensFormat, 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if ts, err := decodeTokens(tc.b); err == nil {
				t.Fatalf("decode(%x): got %q, want an error", tc.b, ts)
			}
		})
	}
}

func FuzzDecodeTokens(f *testing.F) {
	f.Add(encodeTokens(carnet.CodingTokens("type", carnet.Coding{System: "http://loinc.org", Code: "11488-4"})))
	f.Add([]byte{tokensFormat, 1, 0x80})
	f.Fuzz(func(t *testing.T, b []byte) {
		ts, err := decodeTokens(b)
		if err != nil {
			return
		}
		// What decodes re-encodes to the same bytes, for canonical input.
		if again, err := decodeTokens(encodeTokens(ts)); err != nil || !slices.Equal(again, ts) {
			t.Fatalf("round trip of %q: got %q, %v", ts, again, err)
		}
	})
}
