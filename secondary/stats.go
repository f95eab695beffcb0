package secondary

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	carnet "github.com/carnet-sante/carnet"
)

// StatsRequest asks, per code and period, how many patients had their
// first item with that code in that period.
type StatsRequest struct {
	Request     carnet.Request
	Permit      carnet.Permit
	Codes       []string // system|code, at most MaxStatsCodes
	Granularity string   // "year" or "month"
	Epsilon     float64  // spent from the permit's budget
}

// MaxStatsCodes bounds the codes of one request (the noise grows with them).
const MaxStatsCodes = 20

// StatsCell is one noisy count.
type StatsCell struct {
	Code   string `json:"code"`
	Period string `json:"period"`
	Count  int    `json:"count"`
}

// StatsResult is a statistics answer.
type StatsResult struct {
	Permit      string      `json:"permit"`
	Epsilon     float64     `json:"epsilon"`
	BudgetLeft  float64     `json:"budgetLeft"`
	NoiseScale  float64     `json:"noiseScale"`
	Granularity string      `json:"granularity"`
	Cells       []StatsCell `json:"cells"`
}

// periods lists the periods of the permit's data period (ending now at
// the latest), at most 10 years back when it is open.
func periods(r carnet.TimeRange, now time.Time, month bool) []string {
	from, to := r.From, r.To
	if to.IsZero() || to.After(now) {
		to = now
	}
	if from.IsZero() || to.Sub(from) > 10*366*24*time.Hour {
		from = to.AddDate(-10, 0, 0)
	}
	var out []string
	t := time.Date(from.Year(), from.Month(), 1, 0, 0, 0, 0, time.UTC)
	if !month {
		t = time.Date(from.Year(), 1, 1, 0, 0, 0, 0, time.UTC)
	}
	for t.Before(to) {
		if month {
			out = append(out, t.Format("2006-01"))
			t = t.AddDate(0, 1, 0)
		} else {
			out = append(out, t.Format("2006"))
			t = t.AddDate(1, 0, 0)
		}
	}
	return out
}

// Stats spends the request's epsilon, then counts and adds Laplace noise
// of scale len(codes)/epsilon to every cell of the fixed grid (codes ×
// periods of the permit): each patient adds at most one to each code, so
// the counts' L1 sensitivity is the number of codes.
func (s *Service) Stats(ctx context.Context, req StatsRequest) (StatsResult, error) {
	p := req.Permit
	if len(req.Codes) == 0 || len(req.Codes) > MaxStatsCodes {
		return StatsResult{}, carnet.Errorf(carnet.KindInvalid, "ask for 1 to %d codes (code=system|code)", MaxStatsCodes)
	}
	if req.Granularity == "" {
		req.Granularity = "year"
	}
	if req.Granularity != "year" && req.Granularity != "month" {
		return StatsResult{}, carnet.Errorf(carnet.KindInvalid, "granularity is year or month")
	}
	if req.Epsilon == 0 {
		req.Epsilon = 0.1
	}
	if !(req.Epsilon > 0 && req.Epsilon <= 10) { // NaN too: a NaN spent would never exhaust the budget
		return StatsResult{}, carnet.Errorf(carnet.KindInvalid, "epsilon is between 0 and 10")
	}
	seen := map[string]bool{}
	for _, c := range req.Codes {
		sys, code, ok := strings.Cut(c, "|")
		if !ok || sys == "" || code == "" {
			return StatsResult{}, carnet.Errorf(carnet.KindInvalid, "code %q: write system|code", c)
		}
		if seen[c] {
			return StatsResult{}, carnet.Errorf(carnet.KindInvalid, "code %s asked twice", c)
		}
		seen[c] = true
		if len(p.ItemTypes) == 0 || !p.CoversCode(carnet.Coding{System: sys, Code: code}) {
			return StatsResult{}, carnet.Errorf(carnet.KindForbidden, "code %s is outside the data permit", c)
		}
	}
	left, err := s.spend(ctx, p.ID, req.Epsilon)
	if err != nil {
		_ = s.auditPermit(ctx, req.Request, carnet.ActionSearch, p.ID, carnet.OutcomeDenied, "statistics: "+carnet.ErrorMessage(err))
		return StatsResult{}, err
	}
	month := req.Granularity == "month"
	grid := periods(p.Period, s.now(), month)
	counts := map[string]map[string]int{}
	for _, c := range req.Codes {
		counts[c] = map[string]int{}
	}
	err = s.eachRecord(ctx, func(k carnet.PatientKey) error {
		sel, err := s.selectRecord(ctx, k, ExportRequest{Permit: p})
		if err != nil || sel == nil {
			return err
		}
		first := map[string]time.Time{}
		for _, it := range sel.items {
			c := systemCode(it.Tokens, carnet.TokCode).Token()
			if _, asked := counts[c]; !asked || it.Effective.IsZero() {
				continue
			}
			if f, ok := first[c]; !ok || it.Effective.Before(f) {
				first[c] = it.Effective
			}
		}
		for c, t := range first {
			per := t.UTC().Format("2006")
			if month {
				per = t.UTC().Format("2006-01")
			}
			counts[c][per]++
		}
		return nil
	})
	if err != nil {
		return StatsResult{}, err
	}
	scale := float64(len(req.Codes)) / req.Epsilon
	out := StatsResult{Permit: p.ID, Epsilon: req.Epsilon, BudgetLeft: left, NoiseScale: scale, Granularity: req.Granularity}
	codes := slices.Clone(req.Codes)
	slices.Sort(codes)
	for _, c := range codes {
		for _, per := range grid {
			out.Cells = append(out.Cells, StatsCell{Code: c, Period: per, Count: noisyCount(counts[c][per], scale)})
		}
	}
	return out, s.auditPermit(ctx, req.Request, carnet.ActionSearch, p.ID, carnet.OutcomeSuccess,
		fmt.Sprintf("statistics: %d codes, epsilon %.4g", len(codes), req.Epsilon))
}
