package synth

import (
	"fmt"
	"time"
	"unicode/utf8"
)

// xw writes indented XML into a byte slice. It is deliberately small: the
// generator writes millions of elements, and encoding/xml's reflection
// would dominate the cost.
type xw struct {
	b     []byte
	depth int
}

func (w *xw) newline() {
	w.b = append(w.b, '\n')
	for range w.depth {
		w.b = append(w.b, ' ', ' ')
	}
}

// attrs writes name="value" pairs; pairs with an empty value are skipped.
func (w *xw) attrs(kv []string) {
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "" {
			continue
		}
		w.b = append(w.b, ' ')
		w.b = append(w.b, kv[i]...)
		w.b = append(w.b, '=', '"')
		w.b = appendEscaped(w.b, kv[i+1], true)
		w.b = append(w.b, '"')
	}
}

func (w *xw) open(name string, kv ...string) {
	w.newline()
	w.b = append(w.b, '<')
	w.b = append(w.b, name...)
	w.attrs(kv)
	w.b = append(w.b, '>')
	w.depth++
}

func (w *xw) close(name string) {
	w.depth--
	w.newline()
	w.b = append(w.b, '<', '/')
	w.b = append(w.b, name...)
	w.b = append(w.b, '>')
}

func (w *xw) empty(name string, kv ...string) {
	w.newline()
	w.b = append(w.b, '<')
	w.b = append(w.b, name...)
	w.attrs(kv)
	w.b = append(w.b, '/', '>')
}

// elem writes <name …>text</name> on one line.
func (w *xw) elem(name, text string, kv ...string) {
	w.newline()
	w.inline(name, text, kv...)
}

// inline writes <name …>text</name> at the current position.
func (w *xw) inline(name, text string, kv ...string) {
	w.b = append(w.b, '<')
	w.b = append(w.b, name...)
	w.attrs(kv)
	w.b = append(w.b, '>')
	w.b = appendEscaped(w.b, text, false)
	w.b = append(w.b, '<', '/')
	w.b = append(w.b, name...)
	w.b = append(w.b, '>')
}

// text writes escaped character data at the current position.
func (w *xw) text(s string) { w.b = appendEscaped(w.b, s, false) }

// code writes a CD element (code, codeSystem, displayName).
func (w *xw) code(name string, c code, extra ...string) {
	kv := append([]string{"code", c.code, "displayName", c.display, "codeSystem", c.system, "codeSystemName", c.systemName()}, extra...)
	w.empty(name, kv...)
}

func appendEscaped(b []byte, s string, attr bool) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch c {
			case '&':
				b = append(b, "&amp;"...)
			case '<':
				b = append(b, "&lt;"...)
			case '>':
				b = append(b, "&gt;"...)
			case '"':
				if attr {
					b = append(b, "&quot;"...)
				} else {
					b = append(b, c)
				}
			case '\n', '\t':
				if attr {
					b = append(b, ' ')
				} else {
					b = append(b, c)
				}
			default:
				if c >= 0x20 {
					b = append(b, c)
				}
			}
			i++
			continue
		}
		_, n := utf8.DecodeRuneInString(s[i:])
		b = append(b, s[i:i+n]...)
		i += n
	}
	return b
}

// parisOffset returns the UTC offset of metropolitan France at t: CEST
// from the last Sunday of March to the last Sunday of October at 01:00
// UTC. Computed here rather than with time.LoadLocation so that the output
// does not depend on the host's time zone database.
func parisOffset(t time.Time) time.Duration {
	t = t.UTC()
	start := lastSunday(t.Year(), time.March)
	end := lastSunday(t.Year(), time.October)
	if !t.Before(start) && t.Before(end) {
		return 2 * time.Hour
	}
	return time.Hour
}

func lastSunday(year int, month time.Month) time.Time {
	d := time.Date(year, month+1, 0, 1, 0, 0, 0, time.UTC) // last day of month, 01:00 UTC
	return d.AddDate(0, 0, -int(d.Weekday()))
}

// ts formats t as a CDA TS in French local time: 20260312143000+0100.
func ts(t time.Time) string {
	off := parisOffset(t)
	l := t.UTC().Add(off)
	return fmt.Sprintf("%04d%02d%02d%02d%02d%02d+%02d00", l.Year(), l.Month(), l.Day(), l.Hour(), l.Minute(), l.Second(), int(off.Hours()))
}

// local returns t in French local time as a fixed-offset time, for
// formatting dates in narratives.
func local(t time.Time) time.Time {
	off := parisOffset(t)
	return t.In(time.FixedZone("", int(off.Seconds())))
}

func frDate(t time.Time) string { return local(t).Format("02/01/2006") }

func frDateTime(t time.Time) string {
	l := local(t)
	return l.Format("02/01/2006") + " à " + l.Format("15h04")
}

func dayTS(t time.Time) string { return t.Format("20060102") }
