package record

import (
	"context"
	"slices"
	"time"

	carnet "github.com/carnet-sante/carnet"
)

// Summary is what a patient summary is built from (docs/IPS.md): the
// record's patient, the items chosen among those the caller may see, and
// the documents they came from, as the caller may see them.
type Summary struct {
	Patient carnet.Patient
	Items   []carnet.Item
	// Sources are the latest metadata of the documents the items came
	// from, by logicalId.
	Sources map[string]carnet.Document
	// Time is when the summary was gathered (the Service's clock).
	Time time.Time
}

// Summary gathers a patient summary for whoever may read the record: the
// patient, a legal representative, a professional the policy lets in. The
// record is named by key or INS (none: a patient's own). pick chooses the
// items to include among every item whose source document the caller may
// see (they come newest first); only the documents of the chosen items
// are opened, and recorded as read. A caller refused the record is told
// not found, and the refusal is audited.
func (s *Service) Summary(ctx context.Context, r carnet.Request, key carnet.PatientKey, id carnet.Identifier, pick func(items []carnet.Item, now time.Time) []carnet.Item) (Summary, error) {
	if key == "" && id.Value == "" && r.Actor.Kind == carnet.ActorPatient {
		id = r.Actor.ID
	}
	if key == "" && id.Value == "" {
		return Summary{}, carnet.Invalid(carnet.Issue{Severity: "error", Code: "required", Diagnostics: "name the patient: Patient/{id}/$summary or ?identifier=system|value (the INS)", Expression: "identifier"})
	}
	if id.Value != "" {
		if issues := s.checkINS(id, "identifier"); len(issues) > 0 {
			return Summary{}, carnet.Invalid(issues...)
		}
	}
	prow, err := s.resolvePatient(ctx, key, id)
	if err != nil {
		return Summary{}, s.recordAbsent(ctx, r, carnet.ActionRead, err)
	}
	a, err := s.access(ctx, r, &prow)
	if err != nil {
		return Summary{}, err
	}
	dec, err := a.check(ctx, carnet.ActionRead, nil)
	if err != nil {
		return Summary{}, err
	}
	now := s.now()
	sources, err := s.visibleSources(ctx, a)
	if err != nil {
		return Summary{}, err
	}
	rows, err := s.Store.FindItems(ctx, prow.Key, carnet.ItemFilter{})
	if err != nil {
		return Summary{}, err
	}
	items := make([]carnet.Item, 0, len(rows))
	for _, row := range rows {
		if _, ok := sources[row.SourceLogicalID]; !ok {
			continue
		}
		it, err := s.openItem(ctx, row)
		if err != nil {
			return Summary{}, err
		}
		items = append(items, it)
	}
	if pick != nil {
		items = pick(items, now)
	}
	out := Summary{Patient: a.patient, Items: items, Sources: map[string]carnet.Document{}, Time: now}
	var served []string
	for _, it := range items {
		src, ok := sources[it.SourceLogicalID]
		if !ok {
			// pick may only choose among what it was given.
			return Summary{}, carnet.Errorf(carnet.KindInternal, "summary: an item was chosen that was not offered")
		}
		if slices.Contains(served, src.LogicalID) {
			continue
		}
		full, err := s.Store.Document(ctx, prow.Key, src.ID)
		if err != nil {
			return Summary{}, err
		}
		d, err := s.openShown(ctx, a, full)
		if err != nil {
			return Summary{}, err
		}
		out.Sources[src.LogicalID] = d
		served = append(served, src.LogicalID)
	}
	return out, a.served(ctx, carnet.ActionRead, served, dec)
}
