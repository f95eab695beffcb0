package sqlite

import (
	"reflect"
	"strings"
	"testing"

	"github.com/carnet-sante/carnet"
)

func TestTokensRoundTrip(t *testing.T) {
	long := strings.Repeat("v", 300) // a length that takes two varint bytes
	for _, ts := range [][]carnet.Token{
		nil,
		{{Kind: "type", Value: "http://loinc.org|11488-4"}},
		{{Kind: "", Value: ""}, {Kind: "identifier", Value: long}, {Kind: "label", Value: "N"}},
	} {
		got, err := decodeTokens(encodeTokens(ts))
		if err != nil || !reflect.DeepEqual(got, ts) {
			t.Errorf("decodeTokens(encodeTokens(%v)) = %v, %v", ts, got, err)
		}
	}
}

func TestDecodeTokensRefusesMalformedLists(t *testing.T) {
	good := encodeTokens([]carnet.Token{{Kind: "type", Value: "x"}})
	for name, b := range map[string][]byte{
		"empty":          nil,
		"unknown format": append([]byte{listFormat + 1}, good[1:]...),
		"odd count":      encodeStrings([]string{"type", "x", "class"}),
		"truncated":      good[:len(good)-1],
		"bad varint":     {listFormat, 0xff},
	} {
		if got, err := decodeTokens(b); err == nil {
			t.Errorf("%s: decodeTokens = %v, want an error", name, got)
		}
	}
}

func BenchmarkDecodeTokens(b *testing.B) {
	var ts []carnet.Token
	for i := range 24 {
		ts = append(ts, carnet.Token{Kind: "identifier", Value: "urn:oid:1.2.250.1.999.2.1." + strings.Repeat("7", i)})
	}
	enc := encodeTokens(ts)
	for b.Loop() {
		if _, err := decodeTokens(enc); err != nil {
			b.Fatal(err)
		}
	}
}
