package terminology

import "strings"

// systemURIs maps the FHIR URIs of code systems to the OIDs the SVS files
// use. FHIR names LOINC and SNOMED CT by URI where XDS and CDA name them by
// OID; every other system reaches Carnet as urn:oid:. The table is kept
// small on purpose: add a row only for a URI a producer really sends.
var systemURIs = map[string]string{
	"http://loinc.org":       "2.16.840.1.113883.6.1",
	"http://snomed.info/sct": "2.16.840.1.113883.6.96",
}

// oidURIs is systemURIs the other way round.
var oidURIs = func() map[string]string {
	m := make(map[string]string, len(systemURIs))
	for uri, oid := range systemURIs {
		m[oid] = uri
	}
	return m
}()

// systemKey returns the form of system used in the SVS files: a bare OID
// for urn:oid:X, X or a known URI; system unchanged otherwise.
func systemKey(system string) string {
	system = strings.TrimPrefix(system, "urn:oid:")
	if oid, ok := systemURIs[system]; ok {
		return oid
	}
	return system
}

// fhirSystem returns the FHIR form of a system as written in an SVS file.
func fhirSystem(key string) string {
	if uri, ok := oidURIs[key]; ok {
		return uri
	}
	if isOID(key) {
		return "urn:oid:" + key
	}
	return key
}

// isOID reports whether s has the shape of an OID: digits separated by
// single dots.
func isOID(s string) bool {
	if s == "" || s[0] == '.' || s[len(s)-1] == '.' {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
		case c == '.' && s[i-1] != '.':
		default:
			return false
		}
	}
	return true
}
