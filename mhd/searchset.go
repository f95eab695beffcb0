package mhd

import (
	"encoding/json"
	"strings"

	carnet "github.com/carnet-sante/carnet"
	"github.com/carnet-sante/carnet/fhir"
)

// DocumentSearchBundle returns the searchset Bundle answering ITI-67 with
// one page: total, the self link and, when there is a next page, the next
// link (built by the caller from p.Next), one match entry per document with
// its fullUrl, and the page's warnings as an OperationOutcome entry (search
// mode outcome), which is where MHD clients look for ignored parameters.
func DocumentSearchBundle(p carnet.Page[carnet.Document], base, self, next string) fhir.Bundle {
	base = strings.TrimSuffix(base, "/")
	b := searchBundle(p.Total, self, next, p.Next)
	for _, d := range p.Items {
		dr := DocumentReference(d, base)
		raw, err := dr.AppendJSON(nil, true) // as json.Marshal wrote it
		if err != nil {
			continue
		}
		b.Entry = append(b.Entry, fhir.BundleEntry{FullURL: base + "/DocumentReference/" + d.ID, Resource: raw, Search: &fhir.BundleSearch{Mode: "match"}, Encoded: true})
	}
	return withWarnings(b, p.Warnings)
}

// ListSearchBundle is DocumentSearchBundle for ITI-66.
func ListSearchBundle(p carnet.Page[carnet.SubmissionSet], base, self, next string) fhir.Bundle {
	base = strings.TrimSuffix(base, "/")
	b := searchBundle(p.Total, self, next, p.Next)
	for _, s := range p.Items {
		raw, err := json.Marshal(List(s, base))
		if err != nil {
			continue
		}
		b.Entry = append(b.Entry, fhir.BundleEntry{FullURL: base + "/List/" + s.ID, Resource: raw, Search: &fhir.BundleSearch{Mode: "match"}})
	}
	return withWarnings(b, p.Warnings)
}

// searchBundle starts a searchset; a total of carnet.TotalUnknown (not
// counted) leaves Bundle.total out, as FHIR allows.
func searchBundle(total int, self, next, cursor string) fhir.Bundle {
	b := fhir.Bundle{Resource: fhir.Resource{ResourceType: "Bundle"}, Type: "searchset"}
	if total != carnet.TotalUnknown {
		b.Total = &total
	}
	if self != "" {
		b.Link = append(b.Link, fhir.BundleLink{Relation: "self", URL: self})
	}
	if next != "" && cursor != "" {
		b.Link = append(b.Link, fhir.BundleLink{Relation: "next", URL: next})
	}
	return b
}

func withWarnings(b fhir.Bundle, warnings []string) fhir.Bundle {
	if len(warnings) == 0 {
		return b
	}
	issues := make([]carnet.Issue, len(warnings))
	for i, w := range warnings {
		issues[i] = carnet.Issue{Severity: "warning", Code: "not-supported", Diagnostics: w}
	}
	raw, err := json.Marshal(fhir.OutcomeFromIssues(issues))
	if err == nil {
		b.Entry = append(b.Entry, fhir.BundleEntry{Resource: raw, Search: &fhir.BundleSearch{Mode: "outcome"}})
	}
	return b
}
