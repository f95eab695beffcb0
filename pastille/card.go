package pastille

import (
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// maxSummary is the CDS Hooks limit: the summary is under 140 characters.
const maxSummary = 139

// detailItems is how many lines of the ranked list the card details.
const detailItems = 5

// Summarize writes the CDS Hooks card for the ranked list: what is new
// since the caller's last visit (at a first visit, what the 2-year window
// holds), how many out-of-range results among it, the top lines with
// their reasons, and the link to the whole list. Every line counts, not
// only the top ones; a line is one document with the versions and copies
// folded into it, so the count is what the clinician finds behind the
// link, each marked "nouveau".
func Summarize(in Input, ranked []Ranked, link string) Card {
	first := in.LastVisit.IsZero()
	start := in.Now.AddDate(-firstVisitYears, 0, 0)
	var card Card
	labels := 0
	for i := range ranked {
		r := &ranked[i]
		var counted bool
		if first {
			// The vaccinations shown whatever their age are not "of the
			// last 2 years": the count says only what it says.
			counted = inWindow(r.Doc, start) && !clinicalDate(r.Doc).Before(start)
		} else {
			counted = r.New || r.Doc.Date.After(in.LastVisit)
		}
		if counted {
			card.NewDocuments++
			// The results of the line's live document: a replaced
			// version's were corrected, a copy's are the same.
			for _, f := range r.Doc.Findings {
				card.AbnormalResults++
				if f.Critical() {
					card.CriticalResults++
				}
			}
		} else if !first && r.Doc.LabelsChanged {
			labels++
		}
	}

	var head string
	switch n := card.NewDocuments; {
	case first && n == 0:
		head = "Aucun document des 2 dernières années"
	case first:
		head = plural(n, "1 document des 2 dernières années", " documents des 2 dernières années", "")
	case n == 0:
		head = "Aucun nouveau document depuis le " + shortDate(in.LastVisit, in.Now)
	default:
		head = plural(n, "1 nouveau document", " nouveaux documents", "") + " depuis le " + shortDate(in.LastVisit, in.Now)
	}
	var abnormal, critical, changed string
	if card.AbnormalResults > 0 {
		abnormal = plural(card.AbnormalResults, "1 résultat anormal", " résultats anormaux", "")
		if card.CriticalResults > 0 {
			critical = " dont " + plural(card.CriticalResults, "1 critique", " critiques", "")
		}
	}
	if labels > 0 {
		changed = plural(labels, "1 changement de confidentialité", " changements de confidentialité", "")
	}
	// Longest first, then drop what matters least until it fits.
	for _, parts := range [][]string{
		{head, abnormal + critical, changed},
		{head, abnormal + critical},
		{head, abnormal},
		{head},
	} {
		card.Summary = joinNonEmpty(parts, " · ")
		if utf8.RuneCountInString(card.Summary) <= maxSummary {
			break
		}
	}
	if utf8.RuneCountInString(card.Summary) > maxSummary {
		card.Summary = string([]rune(card.Summary)[:maxSummary-1]) + "…"
	}

	card.Indicator = "info"
	if card.AbnormalResults > 0 {
		card.Indicator = "warning"
	}
	card.Link = link
	card.Detail = detail(card.Summary, ranked, link, in.Now)
	return card
}

func detail(summary string, ranked []Ranked, link string, now time.Time) string {
	var b strings.Builder
	b.WriteString("**" + escapeMarkdown(summary) + "**\n\n")
	if len(ranked) == 0 {
		b.WriteString("Aucun document à afficher.\n")
	} else {
		b.WriteString("À voir en premier :\n\n")
	}
	for i := range min(len(ranked), detailItems) {
		r := &ranked[i]
		b.WriteString(strconv.Itoa(i+1) + ". **" + escapeMarkdown(title(r.Doc)) + "**")
		if !r.Doc.Date.IsZero() {
			b.WriteString(" (" + longDate(clinicalDate(r.Doc)) + ")")
		}
		shown := 0
		for _, reason := range r.Reasons {
			if reason.Code == "recent" || shown == 3 {
				continue
			}
			if shown == 0 {
				b.WriteString(" — ")
			} else {
				b.WriteString(" ; ")
			}
			b.WriteString(escapeMarkdown(reason.Text))
			shown++
		}
		b.WriteString("\n")
	}
	if link != "" {
		b.WriteString("\n[" + plural(len(ranked), "Voir le document", " documents classés par pertinence", "Voir les ") + "](" + link + ")\n")
	}
	return b.String()
}

func title(d *Doc) string {
	for _, s := range []string{d.Title, d.Type.Display, d.Type.Code} {
		if s = strings.TrimSpace(s); s != "" {
			return s
		}
	}
	return "Document"
}

func joinNonEmpty(parts []string, sep string) string {
	out := parts[:0:0]
	for _, p := range parts {
		if p != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, sep)
}

// escapeMarkdown keeps titles and results (written by whoever filed the
// document) from becoming links, images or markup in the clinician's EHR.
func escapeMarkdown(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '\\', '`', '*', '_', '[', ']', '<', '>', '#', '~':
			b.WriteByte('\\')
			b.WriteRune(r)
		case '\n', '\r', '\t':
			b.WriteByte(' ')
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// shortDate is dd/mm in France, with the year when it is not this year's.
func shortDate(t, now time.Time) string {
	p := paris(t)
	s := twoDigits(p.Day()) + "/" + twoDigits(int(p.Month()))
	if p.Year() != paris(now).Year() {
		s += "/" + strconv.Itoa(p.Year())
	}
	return s
}

func longDate(t time.Time) string {
	p := paris(t)
	return twoDigits(p.Day()) + "/" + twoDigits(int(p.Month())) + "/" + strconv.Itoa(p.Year())
}

func twoDigits(n int) string {
	if n < 10 {
		return "0" + strconv.Itoa(n)
	}
	return strconv.Itoa(n)
}

// paris is t in French metropolitan time (CET, CEST from the last Sunday
// of March to the last Sunday of October, 01:00 UTC), computed rather than
// read from the host's zone database.
func paris(t time.Time) time.Time {
	u := t.UTC()
	if y := u.Year(); !u.Before(lastSunday(y, time.March)) && u.Before(lastSunday(y, time.October)) {
		return u.In(cest)
	}
	return u.In(cet)
}

var (
	cet  = time.FixedZone("CET", 3600)
	cest = time.FixedZone("CEST", 7200)
)

// lastSunday is 01:00 UTC on the last Sunday of the month.
func lastSunday(year int, month time.Month) time.Time {
	d := time.Date(year, month+1, 0, 1, 0, 0, 0, time.UTC) // last day of month
	return d.AddDate(0, 0, -int(d.Weekday()))
}
