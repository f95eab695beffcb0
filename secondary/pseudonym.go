package secondary

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base32"
	"encoding/binary"
	"strings"
	"time"

	carnet "github.com/carnet-sante/carnet"
)

// Pseudonyms derives a permit's keyed pseudonyms: HMAC-SHA-256 under the
// permit's secret of a kind and an internal id. The same id gives the same
// pseudonym under one permit and unrelated ones under two.
type Pseudonyms struct {
	secret []byte
}

// NewPseudonyms returns the pseudonyms of a permit secret.
func NewPseudonyms(secret []byte) Pseudonyms { return Pseudonyms{secret: secret} }

func (p Pseudonyms) mac(kind, id string) []byte {
	m := hmac.New(sha256.New, p.secret)
	m.Write([]byte(kind))
	m.Write([]byte{0})
	m.Write([]byte(id))
	return m.Sum(nil)
}

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// Of returns the pseudonym of id of a kind (patient, practitioner,
// document, item): 26 lower-case base32 characters (130 bits, of which
// the first 128 from the MAC), a valid FHIR id.
func (p Pseudonyms) Of(kind, id string) string {
	return strings.ToLower(b32.EncodeToString(p.mac(kind, id)[:16]))
}

// Shift returns a patient's date offset in days, in [-max, max] and never
// 0: the same for all their dates under one permit, so that intervals stay
// true.
func (p Pseudonyms) Shift(patient carnet.PatientKey, max int) int {
	if max <= 0 {
		max = 180
	}
	v := binary.BigEndian.Uint64(p.mac("shift", string(patient))[:8])
	d := int(v%uint64(max)) + 1 // 1..max
	if v>>63 == 1 {
		d = -d
	}
	return d
}

// dater writes a patient's dates as the permit says: shifted to the day,
// or generalised to the month.
type dater struct {
	month bool
	shift int
}

func (d dater) day(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	if d.month {
		return t.UTC().Format("2006-01")
	}
	return t.UTC().AddDate(0, 0, d.shift).Format("2006-01-02")
}

// str rewrites a FHIR date or dateTime string; "" when it is not one.
func (d dater) str(s string) string {
	var t time.Time
	var err error
	switch {
	case len(s) == 4:
		return s // a year says no more than the year
	case len(s) == 7:
		if d.month {
			if _, err := time.Parse("2006-01", s); err == nil {
				return s
			}
			return ""
		}
		t, err = time.Parse("2006-01", s)
		if err != nil {
			return ""
		}
		return t.AddDate(0, 0, d.shift).Format("2006-01")
	case len(s) == 10:
		t, err = time.Parse("2006-01-02", s)
	default:
		t, err = time.Parse(time.RFC3339Nano, s)
	}
	if err != nil {
		return ""
	}
	return d.day(t)
}

// Departement returns the French département of a postcode: two digits,
// 2A/2B for Corsica, three digits overseas; "" for anything else.
func Departement(postcode string) string {
	pc := strings.TrimSpace(postcode)
	if len(pc) != 5 {
		return ""
	}
	for _, c := range pc {
		if c < '0' || c > '9' {
			return ""
		}
	}
	switch {
	case pc == "00000":
		return ""
	case pc[:2] == "20":
		if pc[2] <= '1' {
			return "2A"
		}
		return "2B"
	case pc[:2] == "97" || pc[:2] == "98":
		return pc[:3]
	}
	return pc[:2]
}
