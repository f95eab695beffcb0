package record

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	carnet "github.com/carnet-sante/carnet"
)

// Every string comes back from a form exactly as written, packed or not,
// and the ids a record is made of are packed.
func TestPackedStringsRoundTrip(t *testing.T) {
	in := []string{"", "current", carnet.NewID(), strings.ToUpper(carnet.NewID()), "0189a3f2-1c2d-7e4f-8a9b-0c1d2e3f4a5b",
		"0189a3f2-1c2d-7e4f-8a9b-0c1d2e3f4a5", "0189a3f2x1c2d-7e4f-8a9b-0c1d2e3f4a5b",
		"1.2.250.1.213.1.4.10", "1.2.250.1.213.1.4.1", "12345678901234567", "1.2.250.1.213.1.4.1é",
		"AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_AbCd", "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_AbCf", // canonical, then not (trailing bits)
		"AbCdEfGhIjKlMnOp", "AbCdEfGhIjKlMnOpQ", "http://loinc.org|11502-2", "G15_10/SM04", "héllo wörld, ça va bien ?"}
	r := rand.New(rand.NewPCG(1, 2))
	for range 200 {
		b := make([]byte, r.IntN(48))
		for i := range b {
			b[i] = "0123456789.abcdefABCDEF-_xyz"[r.IntN(28)]
		}
		in = append(in, string(b))
	}
	var heads, body []byte
	for _, s := range in {
		heads, body = packString(heads, body, s)
	}
	out, rest, ok := unpackStrings(append(append(heads, body...), 0xEE), len(in))
	if !ok || !slices.Equal(out, in) || len(rest) != 1 || rest[0] != 0xEE {
		t.Fatalf("round trip: ok %v, rest %v\n got %q\nwant %q", ok, rest, out, in)
	}
	h2, b2 := packString(nil, nil, in[2])
	if len(h2)+len(b2) != 17 {
		t.Errorf("a version-7 id takes %d bytes packed, want 17", len(h2)+len(b2))
	}
	h2, b2 = packString(nil, nil, "1.2.250.1.213.1.4.10")
	if len(b2) != 10 {
		t.Errorf("an OID of 20 characters takes %d bytes, want 10", len(b2))
	}
}
