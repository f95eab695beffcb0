package secondary

import (
	"crypto/rand"
	"encoding/binary"
	"math"
)

// laplace draws from the Laplace distribution of scale b (mean 0) by
// inverse transform, from crypto/rand. Naive floating-point sampling
// leaks through the low bits (Mironov 2012); counts are rounded, which
// blurs but does not remove that: docs/SECONDARY.md.
func laplace(b float64) float64 {
	var buf [8]byte
	for {
		if _, err := rand.Read(buf[:]); err != nil {
			panic("secondary: crypto/rand: " + err.Error()) // crypto/rand does not fail on supported systems
		}
		// 53 random bits: u uniform in [0, 1).
		u := float64(binary.BigEndian.Uint64(buf[:])>>11) / (1 << 53)
		u -= 0.5
		if u == -0.5 {
			continue // ln(0)
		}
		if u < 0 {
			return b * math.Log(1+2*u)
		}
		return -b * math.Log(1-2*u)
	}
}

// noisyCount is a count released with Laplace noise of scale b, rounded
// and floored at zero (post-processing costs no privacy).
func noisyCount(n int, b float64) int {
	v := math.Round(float64(n) + laplace(b))
	if v < 0 {
		return 0
	}
	return int(v)
}
