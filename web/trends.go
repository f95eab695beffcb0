package web

import (
	"cmp"
	"encoding/json"
	"fmt"
	"html/template"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	carnet "github.com/carnet-sante/carnet"
	"github.com/carnet-sante/carnet/pastille"
	"github.com/carnet-sante/carnet/qedm"
)

// point is one result of an analyte.
type point struct {
	At             time.Time
	Value          float64
	Text           string // as written, with its unit
	Interpretation string
	Out            bool // outside the reference range
}

// series is one analyte's results, oldest first, with its reference range.
type series struct {
	Code, Name, Unit string
	Low, High        *float64
	RangeText        string
	Points           []point
	SVG              template.HTML
	Rows             []pointRow
}

type pointRow struct{ Date, Value, Status string }

const maxCharts = 12

// maxPoints is how many results the charts read at most (the newest).
const maxPoints = 120

// followUp are the analytes charted by default (LOINC): the ones followed
// over time in general practice and cardiology. Reading only them keeps
// the page's cost independent of how many results the record holds; any
// other analyte is charted on request (?code=).
var followUp = []string{
	"2160-0", "62238-1", "2823-3", // creatinine, eGFR, potassium
	"4548-4", "13457-7", // HbA1c, LDL cholesterol
	"718-7",              // haemoglobin
	"33762-6", "89579-7", // NT-proBNP, troponin I
	"3016-3", "6301-6", // TSH, INR
}

// trendYears is how far back the default charts go.
const trendYears = 3

// proTrends draws the record's laboratory results as SVG charts, one per
// analyte with at least two numeric results, with the reference range.
func (s *Server) proTrends(w http.ResponseWriter, r *http.Request, c *call) error {
	ctx, cancel := pageContext(r)
	defer cancel()
	key := carnet.PatientKey(r.PathValue("patient"))
	req := s.recordRequest(c, key)
	filter := carnet.ItemFilter{Kinds: []carnet.ItemKind{carnet.ItemObservation}}
	codes := followUp
	only := r.URL.Query().Get("code")
	if only != "" {
		if len(only) > 20 || strings.ContainsAny(only, "|,") {
			return userError(carnet.KindInvalid, "Code d'analyse incorrect.")
		}
		codes = []string{only}
	}
	// Found under the tokens qedm indexes items by (the one place that says
	// how items are found).
	var tokens []string
	for _, c := range codes {
		for _, tk := range qedm.ItemTokens(carnet.Item{Kind: carnet.ItemObservation, Code: carnet.Coding{System: "http://loinc.org", Code: c}}) {
			if tk.Kind == carnet.TokCode && strings.Contains(tk.Value, "|") {
				tokens = append(tokens, tk.Value)
			}
		}
	}
	filter.Tokens = []carnet.TokenFilter{{Kind: carnet.TokCode, Values: tokens}}
	if only == "" {
		filter.Effective = carnet.TimeRange{From: s.now().AddDate(-trendYears, 0, 0)}
	}
	items, total, err := s.svc.LabResults(ctx, req, key, filter, maxPoints)
	if err != nil {
		return err
	}
	by := map[string]*series{}
	for _, it := range items {
		var o qedm.Observation
		if json.Unmarshal(it.Resource, &o) != nil || o.ValueQuantity == nil {
			continue
		}
		v, err := o.ValueQuantity.Value.Float64()
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			continue
		}
		sr := by[it.Code.Code]
		if sr == nil {
			name, _ := pastille.ObservationText(it.Resource)
			sr = &series{Code: it.Code.Code, Name: name, Unit: o.ValueQuantity.Unit}
			if len(o.ReferenceRange) > 0 {
				rr := o.ReferenceRange[0]
				if rr.Low != nil {
					if v, err := rr.Low.Value.Float64(); err == nil {
						sr.Low = &v
					}
				}
				if rr.High != nil {
					if v, err := rr.High.Value.Float64(); err == nil {
						sr.High = &v
					}
				}
				sr.RangeText = rr.Text
			}
			by[it.Code.Code] = sr
		}
		if o.ValueQuantity.Unit != sr.Unit {
			continue // another unit: not on the same axis
		}
		at := it.Effective
		if at.IsZero() {
			continue
		}
		_, text := pastille.ObservationText(it.Resource)
		p := point{At: at, Value: v, Text: text, Interpretation: it.Interpretation}
		p.Out = (sr.Low != nil && v < *sr.Low) || (sr.High != nil && v > *sr.High) || qedm.IsAbnormal(it.Interpretation)
		sr.Points = append(sr.Points, p)
	}
	var charts []*series
	for _, sr := range by {
		if len(sr.Points) >= 2 || (only != "" && len(sr.Points) >= 1) {
			slices.SortFunc(sr.Points, func(a, b point) int { return a.At.Compare(b.At) })
			charts = append(charts, sr)
		}
	}
	slices.SortFunc(charts, func(a, b *series) int {
		if c := cmp.Compare(len(b.Points), len(a.Points)); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	if len(charts) > maxCharts {
		charts = charts[:maxCharts]
	}
	for _, sr := range charts {
		sr.SVG = chart(sr)
		if sr.RangeText == "" {
			sr.RangeText = rangeText(sr)
		}
		for _, p := range sr.Points {
			status := "dans les valeurs de référence"
			if p.Out {
				status = "hors des valeurs de référence (" + interpretationName(p.Interpretation) + ")"
			}
			sr.Rows = append(sr.Rows, pointRow{Date: frenchDate(p.At), Value: p.Text, Status: status})
		}
	}
	s.render(w, r, c, http.StatusOK, "pro-trends", "Évolution des résultats de biologie", map[string]any{
		"Key": key, "Charts": charts, "Results": min(total, maxPoints), "Only": only,
	})
	return nil
}

func rangeText(sr *series) string {
	switch {
	case sr.Low != nil && sr.High != nil:
		return fmt.Sprintf("%s – %s %s", num(*sr.Low), num(*sr.High), sr.Unit)
	case sr.Low != nil:
		return fmt.Sprintf("≥ %s %s", num(*sr.Low), sr.Unit)
	case sr.High != nil:
		return fmt.Sprintf("≤ %s %s", num(*sr.High), sr.Unit)
	}
	return "non précisées"
}

// num writes a number the French way, without useless decimals.
func num(v float64) string {
	return strings.Replace(strconv.FormatFloat(v, 'f', -1, 64), ".", ",", 1)
}

// Chart geometry, in SVG user units (the chart scales to its container).
const (
	chartW, chartH         = 640.0, 240.0
	padL, padR, padT, padB = 64.0, 24.0, 24.0, 44.0
)

// chart draws one series: the reference range as a band, the values as a
// line with points, an out-of-range point as a larger diamond and its value
// written beside it (never colour alone). Classes only: no style attribute.
func chart(sr *series) template.HTML {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, p := range sr.Points {
		lo, hi = math.Min(lo, p.Value), math.Max(hi, p.Value)
	}
	for _, b := range []*float64{sr.Low, sr.High} {
		if b != nil {
			lo, hi = math.Min(lo, *b), math.Max(hi, *b)
		}
	}
	if hi-lo < 1e-9 {
		lo, hi = lo-1, hi+1
	}
	margin := (hi - lo) * 0.1
	lo, hi = lo-margin, hi+margin
	t0, t1 := sr.Points[0].At, sr.Points[len(sr.Points)-1].At
	span := t1.Sub(t0).Seconds()
	x := func(t time.Time) float64 {
		if span <= 0 {
			return padL + (chartW-padL-padR)/2
		}
		return padL + (chartW-padL-padR)*t.Sub(t0).Seconds()/span
	}
	y := func(v float64) float64 { return padT + (chartH-padT-padB)*(hi-v)/(hi-lo) }
	var b strings.Builder
	id := "g-" + template.HTMLEscapeString(strings.ReplaceAll(sr.Code, ".", "-"))
	esc := template.HTMLEscapeString
	fmt.Fprintf(&b, `<svg class="graphe" viewBox="0 0 %g %g" role="img" aria-labelledby="%s-t %s-d" xmlns="http://www.w3.org/2000/svg">`, chartW, chartH, id, id)
	fmt.Fprintf(&b, `<title id="%s-t">%s (%s)</title>`, id, esc(sr.Name), esc(sr.Unit))
	fmt.Fprintf(&b, `<desc id="%s-d">%d résultats du %s au %s ; valeurs de référence %s.</desc>`, id, len(sr.Points),
		esc(frenchDate(t0)), esc(frenchDate(t1)), esc(rangeText(sr)))
	// Reference band.
	if sr.Low != nil || sr.High != nil {
		top, bottom := padT, chartH-padB
		if sr.High != nil {
			top = y(*sr.High)
		}
		if sr.Low != nil {
			bottom = y(*sr.Low)
		}
		fmt.Fprintf(&b, `<rect class="reference" x="%.1f" y="%.1f" width="%.1f" height="%.1f"/>`, padL, top, chartW-padL-padR, math.Max(bottom-top, 1))
		if sr.High != nil {
			fmt.Fprintf(&b, `<text class="axe" x="%.1f" y="%.1f" text-anchor="end">%s</text>`, padL-6, y(*sr.High)+4, esc(num(*sr.High)))
		}
		if sr.Low != nil {
			fmt.Fprintf(&b, `<text class="axe" x="%.1f" y="%.1f" text-anchor="end">%s</text>`, padL-6, y(*sr.Low)+4, esc(num(*sr.Low)))
		}
	}
	// Axes.
	fmt.Fprintf(&b, `<line class="cadre" x1="%g" y1="%g" x2="%g" y2="%g"/>`, padL, chartH-padB, chartW-padR, chartH-padB)
	fmt.Fprintf(&b, `<line class="cadre" x1="%g" y1="%g" x2="%g" y2="%g"/>`, padL, padT, padL, chartH-padB)
	fmt.Fprintf(&b, `<text class="axe" x="%g" y="%g">%s</text>`, padL, chartH-padB+18, esc(frenchDate(t0)))
	fmt.Fprintf(&b, `<text class="axe" x="%g" y="%g" text-anchor="end">%s</text>`, chartW-padR, chartH-padB+18, esc(frenchDate(t1)))
	fmt.Fprintf(&b, `<text class="axe" x="%g" y="%g">%s</text>`, 4.0, padT-8, esc(sr.Unit))
	// The line and its points.
	var pts []string
	for _, p := range sr.Points {
		pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(p.At), y(p.Value)))
	}
	fmt.Fprintf(&b, `<polyline class="courbe" points="%s"/>`, strings.Join(pts, " "))
	for _, p := range sr.Points {
		px, py := x(p.At), y(p.Value)
		if p.Out {
			fmt.Fprintf(&b, `<path class="point hors" d="M%.1f %.1fl7 7-7 7-7-7z"/>`, px, py-7)
			fmt.Fprintf(&b, `<text class="valeur hors" x="%.1f" y="%.1f" text-anchor="middle">%s !</text>`, px, py-12, esc(num(p.Value)))
		} else {
			fmt.Fprintf(&b, `<circle class="point" cx="%.1f" cy="%.1f" r="4"/>`, px, py)
			fmt.Fprintf(&b, `<text class="valeur" x="%.1f" y="%.1f" text-anchor="middle">%s</text>`, px, py-10, esc(num(p.Value)))
		}
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) // built here from numbers and escaped text
}
