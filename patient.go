package carnet

import (
	"strings"
	"time"
)

// OIDs of French identities (reference/README.md, "Identities").
const (
	OIDInsNIR     = "1.2.250.1.213.1.4.8"  // INS-NIR, national health identifier
	OIDInsNIA     = "1.2.250.1.213.1.4.9"  // INS-NIA
	OIDInsTestNIR = "1.2.250.1.213.1.4.10" // test NIR: demo and tests only
	OIDInsTestNIA = "1.2.250.1.213.1.4.11" // test NIA: demo and tests only
	OIDRPPS       = "1.2.250.1.71.4.2.1"   // RPPS professional id (PS_IdNat)
	OIDStructure  = "1.2.250.1.71.4.2.2"   // structures: Struct_IdNat ("1" + FINESS, …) or the FINESS itself
	OIDVisibility = "1.2.250.1.213.1.1.4.13"
)

// PatientKey is Carnet's internal, opaque key of a patient record. Every
// table is keyed by it, so that data can be distributed by patient.
type PatientKey string

// Identifier is a system|value pair. Systems are URIs; OIDs are written
// "urn:oid:1.2.3".
type Identifier struct {
	System string `json:"system"`
	Value  string `json:"value"`
}

// OID returns the OID of an "urn:oid:" system, or "" for other systems.
func (id Identifier) OID() string {
	if s, ok := strings.CutPrefix(id.System, "urn:oid:"); ok {
		return s
	}
	return ""
}

// IsINS reports whether id is an INS (NIR or NIA), and whether it is one of
// the test OIDs that are accepted only in demo or test mode.
func (id Identifier) IsINS() (ins, test bool) {
	switch id.OID() {
	case OIDInsNIR, OIDInsNIA:
		return true, false
	case OIDInsTestNIR, OIDInsTestNIA:
		return true, true
	}
	return false, false
}

// RecordState is the state of a patient record.
type RecordState string

const (
	RecordOpen   RecordState = "open"
	RecordClosed RecordState = "closed" // closed by the patient's opposition: no professional access, no new record
)

// Identity is the qualified identity of a patient (INS traits). It is
// identifying data: sealed at rest.
type Identity struct {
	Family     string   `json:"family,omitempty"`     // nom de naissance
	Given      []string `json:"given,omitempty"`      // prénoms
	BirthDate  string   `json:"birthDate,omitempty"`  // YYYY-MM-DD
	Gender     string   `json:"gender,omitempty"`     // male, female, other, unknown
	BirthPlace string   `json:"birthPlace,omitempty"` // INSEE code of the place of birth
}

// Patient is a patient record: it exists for every person with a qualified
// INS, created on the first document filed or from an identity feed.
type Patient struct {
	Key         PatientKey   `json:"key"`
	Identifiers []Identifier `json:"identifiers"` // INS (one or more), as qualified
	Identity    Identity     `json:"identity"`
	State       RecordState  `json:"state"`
	// Consents are the record's active access choices.
	Consents []Consent `json:"consents,omitempty"`
	// Seen are the RPPS of the professionals who have opened the record,
	// so that the patient is told of each one's first access.
	Seen []string `json:"seen,omitempty"`
	// Withdrawn are the RPPS of professionals whose care-team presumption
	// the patient withdrew: filing no longer puts them back.
	Withdrawn []string `json:"withdrawn,omitempty"`
	// Visits are each professional's last opening of the record (by RPPS),
	// so that the pastille tells them what is new since.
	Visits  map[string]time.Time `json:"visits,omitempty"`
	Version int                  `json:"version"`
	Created time.Time            `json:"created"`
	Updated time.Time            `json:"updated"`
}

// ValidRPPS reports whether v is a professional's national id as the RPPS
// gives it: the 11-digit RPPS number, whose last digit is its Luhn key, or
// the PS_IdNat form "8" + that number.
func ValidRPPS(v string) bool {
	if len(v) == 12 && v[0] == '8' {
		v = v[1:]
	}
	if len(v) != 11 || !isDigits(v) {
		return false
	}
	sum := 0
	for i := range 11 {
		d := int(v[10-i] - '0')
		if i%2 == 1 {
			if d *= 2; d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return sum%10 == 0
}
