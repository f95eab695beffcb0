package postgres

import (
	"encoding/binary"
	"errors"

	"github.com/carnet-sante/carnet"
)

// A row's tokens are kept in the row as one bytea: a format byte, the number
// of tokens (uvarint), then for each token its kind and its value, each a
// uvarint length and the bytes.
// Decoding this is several times cheaper than decoding two PostgreSQL
// arrays, and a search returns many rows. The *_tokens tables hold the same
// tokens, one per row, to be searched (and read by operators).
const tokensFormat = 1

var errBadTokens = errors.New("postgres: malformed token list")

func encodeTokens(ts []carnet.Token) []byte {
	n := 1 + binary.MaxVarintLen32
	for _, t := range ts {
		n += 2*binary.MaxVarintLen32 + len(t.Kind) + len(t.Value)
	}
	b := make([]byte, 1, n)
	b[0] = tokensFormat
	b = binary.AppendUvarint(b, uint64(len(ts)))
	for _, t := range ts {
		b = binary.AppendUvarint(b, uint64(len(t.Kind)))
		b = append(b, t.Kind...)
		b = binary.AppendUvarint(b, uint64(len(t.Value)))
		b = append(b, t.Value...)
	}
	return b
}

// decodeTokens decodes b. All the strings share one allocation.
func decodeTokens(b []byte) ([]carnet.Token, error) {
	if len(b) == 0 || b[0] != tokensFormat {
		return nil, errBadTokens
	}
	s := string(b[1:])
	count, k := uvarint(s)
	if k <= 0 || count > uint64(len(s)) { // each token takes at least 2 bytes
		return nil, errBadTokens
	}
	s = s[k:]
	if count == 0 {
		if len(s) > 0 {
			return nil, errBadTokens
		}
		return nil, nil
	}
	ts := make([]carnet.Token, 0, count)
	next := func() (string, bool) {
		n, k := uvarint(s)
		if k <= 0 || n > uint64(len(s)-k) {
			return "", false
		}
		v := s[k : k+int(n)]
		s = s[k+int(n):]
		return v, true
	}
	for range count {
		kind, ok1 := next()
		value, ok2 := next()
		if !ok1 || !ok2 {
			return nil, errBadTokens
		}
		ts = append(ts, carnet.Token{Kind: kind, Value: value})
	}
	if len(s) > 0 {
		return nil, errBadTokens
	}
	return ts, nil
}

// uvarint is binary.Uvarint on a string: the length, and how many bytes it
// took (0 or less if s does not start with a valid one).
func uvarint(s string) (uint64, int) {
	var x uint64
	var shift uint
	for i := 0; i < len(s) && i < binary.MaxVarintLen64; i++ {
		c := s[i]
		if c < 0x80 {
			if i == binary.MaxVarintLen64-1 && c > 1 {
				return 0, -1 // overflows 64 bits
			}
			return x | uint64(c)<<shift, i + 1
		}
		x |= uint64(c&0x7f) << shift
		shift += 7
	}
	return 0, 0
}
