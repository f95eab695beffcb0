package cda

import (
	"strconv"
	"strings"
	"time"
)

// Time is a CDA TS: an instant in UTC and the precision it was given with
// (a birth date "19620103" is a day, not midnight).
type Time struct {
	Time      time.Time
	Precision Precision
}

// Precision of a CDA TS.
type Precision uint8

const (
	PrecisionNone Precision = iota
	PrecisionYear
	PrecisionMonth
	PrecisionDay
	PrecisionHour
	PrecisionMinute
	PrecisionSecond
)

// IsZero reports whether t carries no time.
func (t Time) IsZero() bool { return t.Time.IsZero() }

// parseTS reads YYYY[MM[DD[HH[MM[SS[.s]]]]]][+|-ZZZZ]. The offset is
// honoured; without one the time is taken as UTC (the CI-SIS requires an
// offset for times of day, so this only concerns dates). ok is false for
// anything else, including nullFlavor values (empty).
func parseTS(s string) (Time, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return Time{}, false
	}
	body, zone := s, ""
	if i := strings.IndexAny(s, "+-"); i >= 0 {
		body, zone = s[:i], s[i:]
	}
	frac := ""
	if i := strings.IndexByte(body, '.'); i >= 0 {
		body, frac = body[:i], body[i+1:]
	}
	if len(body) < 4 || len(body) > 14 || len(body)%2 != 0 || !digits(body) || (frac != "" && (len(body) != 14 || !digits(frac))) {
		return Time{}, false
	}
	num := func(i, j int) int {
		if len(body) < j {
			return -1
		}
		v, _ := strconv.Atoi(body[i:j])
		return v
	}
	year, month, day, hour, min, sec := num(0, 4), num(4, 6), num(6, 8), num(8, 10), num(10, 12), num(12, 14)
	prec := Precision(PrecisionYear + Precision((len(body)-4)/2))
	if month == -1 {
		month = 1
	}
	if day == -1 {
		day = 1
	}
	for _, v := range []*int{&hour, &min, &sec} {
		if *v == -1 {
			*v = 0
		}
	}
	if month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || min > 59 || sec > 60 {
		return Time{}, false
	}
	nsec := 0
	if frac != "" {
		if len(frac) > 9 {
			frac = frac[:9]
		}
		f, _ := strconv.Atoi(frac + strings.Repeat("0", 9-len(frac)))
		nsec = f
	}
	loc := time.UTC
	if zone != "" {
		if len(zone) != 5 || !digits(zone[1:]) {
			return Time{}, false
		}
		h, _ := strconv.Atoi(zone[1:3])
		m, _ := strconv.Atoi(zone[3:5])
		if h > 14 || m > 59 {
			return Time{}, false
		}
		off := h*3600 + m*60
		if zone[0] == '-' {
			off = -off
		}
		loc = time.FixedZone("", off)
	}
	t := time.Date(year, time.Month(month), day, hour, min, sec, nsec, loc)
	if t.Day() != day { // 31 February
		return Time{}, false
	}
	return Time{Time: t.UTC(), Precision: prec}, true
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// nodeTime reads the value of a TS element, or, for an interval, its low
// end, else its center, else its high end.
func nodeTime(n *node) Time {
	if n == nil {
		return Time{}
	}
	if t, ok := parseTS(n.attr("value")); ok {
		return t
	}
	for _, k := range []string{"low", "center", "high"} {
		if t, ok := parseTS(n.child(k).attr("value")); ok {
			return t
		}
	}
	return Time{}
}

// nodePeriod reads an IVL_TS (low/high) or a single TS as a one-point period.
func nodePeriod(n *node) (start, end Time) {
	if n == nil {
		return
	}
	if t, ok := parseTS(n.attr("value")); ok {
		return t, t
	}
	start, _ = parseTS(n.child("low").attr("value"))
	end, _ = parseTS(n.child("high").attr("value"))
	if start.IsZero() && end.IsZero() {
		if c, ok := parseTS(n.child("center").attr("value")); ok {
			return c, c
		}
	}
	return start, end
}
