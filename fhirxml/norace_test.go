//go:build !race

package fhirxml

const raceDetector = false
