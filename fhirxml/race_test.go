//go:build race

package fhirxml

// raceDetector: the race detector slows JSON decoding tenfold; the tests
// that read the 40 MB of R4 definitions run without it (.ci/run runs
// TestTableIsGenerated so).
const raceDetector = true
