package fhir

import (
	"testing"
	"time"

	carnet "github.com/carnet-sante/carnet"
)

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

func TestParseDateTime(t *testing.T) {
	tests := []struct {
		in         string
		start, end string
		prec       Precision
	}{
		{"2024", "2024-01-01T00:00:00Z", "2025-01-01T00:00:00Z", PrecisionYear},
		{"2024-03", "2024-03-01T00:00:00Z", "2024-04-01T00:00:00Z", PrecisionMonth},
		{"2024-12", "2024-12-01T00:00:00Z", "2025-01-01T00:00:00Z", PrecisionMonth},
		{"2024-02-29", "2024-02-29T00:00:00Z", "2024-03-01T00:00:00Z", PrecisionDay},
		{"2024-03-15T10:30+01:00", "2024-03-15T09:30:00Z", "2024-03-15T09:31:00Z", PrecisionMinute},
		{"2024-03-15T10:30:05Z", "2024-03-15T10:30:05Z", "2024-03-15T10:30:06Z", PrecisionSecond},
		{"2024-03-15T10:30:05.25-02:00", "2024-03-15T12:30:05.25Z", "2024-03-15T12:30:05.26Z", PrecisionFraction},
	}
	for _, tt := range tests {
		got, err := ParseDateTime(tt.in)
		if err != nil {
			t.Errorf("ParseDateTime(%q): %v", tt.in, err)
			continue
		}
		if !got.Start.Equal(utc(tt.start)) || !got.End.Equal(utc(tt.end)) || got.Precision != tt.prec {
			t.Errorf("ParseDateTime(%q) = [%v, %v) %d, want [%s, %s) %d", tt.in, got.Start, got.End, got.Precision, tt.start, tt.end, tt.prec)
		}
	}
	for _, bad := range []string{"", "24", "2024-1", "2024-13", "2023-02-29", "2024-03-15T10:30", "2024-03T10:30Z",
		"2024-03-15T25:00Z", "2024-03-15T10:30:00+1:00", "2024-03-15T10:30:00.Z", "2024-03-15 10:30Z", "0000", "2024-03-15T10:30:00.1234567891Z", "+024"} {
		if _, err := ParseDateTime(bad); err == nil {
			t.Errorf("ParseDateTime(%q) accepted, want an error", bad)
		} else if !carnet.IsKind(err, carnet.KindInvalid) {
			t.Errorf("ParseDateTime(%q) error kind %v, want invalid", bad, carnet.ErrorKind(err))
		}
	}
}

func TestParseDateParam(t *testing.T) {
	z := time.Time{}
	tests := []struct {
		in       string
		from, to time.Time
	}{
		{"2024-03", utc("2024-03-01T00:00:00Z"), utc("2024-04-01T00:00:00Z")},
		{"eq2024-03", utc("2024-03-01T00:00:00Z"), utc("2024-04-01T00:00:00Z")},
		{"gt2024-03", utc("2024-04-01T00:00:00Z"), z},
		{"sa2024-03-15", utc("2024-03-16T00:00:00Z"), z},
		{"ge2024-03", utc("2024-03-01T00:00:00Z"), z},
		{"lt2024-03", z, utc("2024-03-01T00:00:00Z")},
		{"eb2024", z, utc("2024-01-01T00:00:00Z")},
		{"le2024-03", z, utc("2024-04-01T00:00:00Z")},
		{"ap2024-03-15", utc("2024-03-14T00:00:00Z"), utc("2024-03-17T00:00:00Z")},
		{"ap2024", utc("2023-11-25T09:36:00Z"), utc("2025-02-06T14:24:00Z")},
		{"ge2024-03-15T10:00:00+01:00", utc("2024-03-15T09:00:00Z"), z},
	}
	for _, tt := range tests {
		got, err := ParseDateParam(tt.in)
		if err != nil {
			t.Errorf("ParseDateParam(%q): %v", tt.in, err)
			continue
		}
		want := carnet.TimeRange{From: tt.from, To: tt.to}
		if !got.From.Equal(want.From) || !got.To.Equal(want.To) {
			t.Errorf("ParseDateParam(%q) = [%v, %v), want [%v, %v)", tt.in, got.From, got.To, want.From, want.To)
		}
	}
	for _, bad := range []string{"ne2024", "xx2024", "gt", "2024-03-15T10:00", "ge 2024"} {
		if _, err := ParseDateParam(bad); !carnet.IsKind(err, carnet.KindInvalid) {
			t.Errorf("ParseDateParam(%q) = %v, want an invalid error", bad, err)
		}
	}
}

func TestFormatDateTime(t *testing.T) {
	if got := FormatDateTime(utc("2024-03-15T10:30:05Z")); got != "2024-03-15T10:30:05Z" {
		t.Errorf("got %s", got)
	}
	if got := FormatDateTime(time.Time{}); got != "" {
		t.Errorf("zero time formats as %q, want empty", got)
	}
	if got := FormatDate(utc("2024-03-15T10:30:05Z")); got != "2024-03-15" {
		t.Errorf("got %s", got)
	}
}
