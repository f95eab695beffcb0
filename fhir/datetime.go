package fhir

import (
	"strings"
	"time"

	carnet "github.com/carnet-sante/carnet"
)

// Precision is how much of a FHIR date/dateTime/instant was given.
type Precision uint8

const (
	PrecisionYear     Precision = iota + 1 // 2024
	PrecisionMonth                         // 2024-03
	PrecisionDay                           // 2024-03-15
	PrecisionMinute                        // 2024-03-15T10:30+01:00 (search values only, in practice)
	PrecisionSecond                        // 2024-03-15T10:30:00+01:00
	PrecisionFraction                      // 2024-03-15T10:30:00.250+01:00
)

// DateTime is a parsed FHIR date, dateTime or instant with its implicit
// range: a partial value stands for every instant of [Start, End), e.g.
// "2024-03" for [2024-03-01, 2024-04-01). Values without a time have no time
// zone in FHIR; Carnet reads them in UTC (a documented choice: the server's
// zone would make search results depend on where the server runs).
type DateTime struct {
	Start     time.Time
	End       time.Time
	Precision Precision
}

// ParseDateTime parses a FHIR date, dateTime or instant. A time of day must
// carry a zone (Z or ±hh:mm), as FHIR requires; seconds may be omitted.
func ParseDateTime(s string) (DateTime, error) {
	bad := func(why string) (DateTime, error) {
		return DateTime{}, carnet.Errorf(carnet.KindInvalid, "not a FHIR date or dateTime: %s", why)
	}
	if len(s) > 40 {
		return bad("too long")
	}
	num := func(str string) (int, bool) {
		if str == "" {
			return 0, false
		}
		n := 0
		for i := 0; i < len(str); i++ {
			c := str[i]
			if c < '0' || c > '9' {
				return 0, false
			}
			n = n*10 + int(c-'0')
		}
		return n, true
	}
	datePart, timePart, hasTime := strings.Cut(s, "T")
	fields := strings.Split(datePart, "-")
	if len(fields) > 3 || len(fields[0]) != 4 {
		return bad("expected YYYY, YYYY-MM or YYYY-MM-DD")
	}
	year, ok := num(fields[0])
	if !ok || year < 1 {
		return bad("bad year")
	}
	month, day := 1, 1
	prec := PrecisionYear
	if len(fields) >= 2 {
		if month, ok = num(fields[1]); !ok || len(fields[1]) != 2 || month < 1 || month > 12 {
			return bad("bad month")
		}
		prec = PrecisionMonth
	}
	if len(fields) == 3 {
		if day, ok = num(fields[2]); !ok || len(fields[2]) != 2 || day < 1 || day > 31 {
			return bad("bad day")
		}
		prec = PrecisionDay
		if time.Date(year, time.Month(month), day, 0, 0, 0, 0, time.UTC).Day() != day {
			return bad("no such day")
		}
	}
	if !hasTime {
		start := time.Date(year, time.Month(month), day, 0, 0, 0, 0, time.UTC)
		var end time.Time
		switch prec {
		case PrecisionYear:
			end = start.AddDate(1, 0, 0)
		case PrecisionMonth:
			end = start.AddDate(0, 1, 0)
		default:
			end = start.AddDate(0, 0, 1)
		}
		return DateTime{Start: start, End: end, Precision: prec}, nil
	}
	if prec != PrecisionDay {
		return bad("a time needs a full date")
	}
	// Split the zone off: Z, or the last + or - (the time itself has none).
	var zone string
	switch {
	case strings.HasSuffix(timePart, "Z"):
		zone, timePart = "Z", strings.TrimSuffix(timePart, "Z")
	default:
		i := strings.LastIndexAny(timePart, "+-")
		if i < 0 {
			return bad("a time needs a zone")
		}
		zone, timePart = timePart[i:], timePart[:i]
	}
	loc := time.UTC
	if zone != "Z" {
		if len(zone) != 6 || zone[3] != ':' {
			return bad("bad zone")
		}
		zh, ok1 := num(zone[1:3])
		zm, ok2 := num(zone[4:6])
		if !ok1 || !ok2 || zh > 14 || zm > 59 {
			return bad("bad zone")
		}
		off := zh*3600 + zm*60
		if zone[0] == '-' {
			off = -off
		}
		loc = time.FixedZone("", off)
	}
	clock, frac, hasFrac := strings.Cut(timePart, ".")
	parts := strings.Split(clock, ":")
	if len(parts) < 2 || len(parts) > 3 {
		return bad("expected hh:mm or hh:mm:ss")
	}
	var hms [3]int
	for i, p := range parts {
		v, ok := num(p)
		if !ok || len(p) != 2 {
			return bad("bad time")
		}
		hms[i] = v
	}
	if hms[0] > 23 || hms[1] > 59 || hms[2] > 60 { // 60: a leap second, read as the next second
		return bad("bad time")
	}
	unit := time.Minute
	prec = PrecisionMinute
	if len(parts) == 3 {
		unit, prec = time.Second, PrecisionSecond
	}
	nanos := 0
	if hasFrac {
		if len(parts) != 3 || len(frac) == 0 || len(frac) > 9 {
			return bad("bad fraction of a second")
		}
		v, ok := num(frac)
		if !ok {
			return bad("bad fraction of a second")
		}
		unit = time.Second
		for range len(frac) {
			unit /= 10
		}
		nanos = v * int(unit)
		prec = PrecisionFraction
	}
	start := time.Date(year, time.Month(month), day, hms[0], hms[1], hms[2], nanos, loc).UTC()
	return DateTime{Start: start, End: start.Add(unit), Precision: prec}, nil
}

// FormatDateTime writes t as a FHIR dateTime/instant (RFC 3339, seconds
// always, fraction only when there is one), "" for the zero time.
func FormatDateTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Format(time.RFC3339Nano)
}

// FormatDate writes t as a FHIR date (YYYY-MM-DD), "" for the zero time.
func FormatDate(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Format(time.DateOnly)
}

// ParseDateParam turns one value of a FHIR date search parameter, with its
// optional prefix, into the range of instants a matching value lies in:
//
//	eq (or none)  [start, end)      the implicit range of the value
//	gt, sa        [end, ∞)
//	ge            [start, ∞)
//	lt, eb        (-∞, start)
//	le            (-∞, end)
//	ap            [start, end) widened by 10% of its length on each side,
//	              at least one day (FHIR leaves the approximation to servers)
//
// ne cannot be one range and is refused (KindInvalid), as is any other
// prefix. For a range-valued target (a period), the caller matches overlap.
func ParseDateParam(v string) (carnet.TimeRange, error) {
	prefix := "eq"
	if len(v) >= 2 && v[0] >= 'a' && v[0] <= 'z' {
		prefix, v = v[:2], v[2:]
	}
	dt, err := ParseDateTime(v)
	if err != nil {
		return carnet.TimeRange{}, err
	}
	switch prefix {
	case "eq":
		return carnet.TimeRange{From: dt.Start, To: dt.End}, nil
	case "gt", "sa":
		return carnet.TimeRange{From: dt.End}, nil
	case "ge":
		return carnet.TimeRange{From: dt.Start}, nil
	case "lt", "eb":
		return carnet.TimeRange{To: dt.Start}, nil
	case "le":
		return carnet.TimeRange{To: dt.End}, nil
	case "ap":
		widen := dt.End.Sub(dt.Start) / 10
		if widen < 24*time.Hour {
			widen = 24 * time.Hour
		}
		return carnet.TimeRange{From: dt.Start.Add(-widen), To: dt.End.Add(widen)}, nil
	case "ne":
		return carnet.TimeRange{}, carnet.Errorf(carnet.KindInvalid, "the prefix ne is not supported on dates")
	}
	return carnet.TimeRange{}, carnet.Errorf(carnet.KindInvalid, "unknown date prefix %q", prefix)
}
