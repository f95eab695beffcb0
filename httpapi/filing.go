package httpapi

import (
	"net/http"
	"strings"

	carnet "github.com/carnet-sante/carnet"
	"github.com/carnet-sante/carnet/fhir"
	"github.com/carnet-sante/carnet/mhd"
)

// writeFiled answers an ITI-105 or ITI-106 filing of d. By default the
// body is the DocumentReference, carrying the filing's warnings as a
// contained OperationOutcome; a client sending
// "Prefer: return=OperationOutcome" (FHIR RESTful API) gets that
// OperationOutcome alone, with an information issue naming the document.
func (s *Server) writeFiled(w http.ResponseWriter, r *http.Request, status int, d carnet.Document, warnings []carnet.Issue) {
	if prefersOutcome(r) {
		issues := append([]carnet.Issue{{Severity: "information", Code: "informational",
			Diagnostics: "filed as DocumentReference/" + d.ID}}, warnings...)
		s.writeResource(w, status, fhir.OutcomeFromIssues(issues))
		return
	}
	s.writeResource(w, status, mhd.WithFilingOutcome(mhd.DocumentReference(d, s.base(r)), warnings))
}

func prefersOutcome(r *http.Request) bool {
	for _, v := range r.Header.Values("Prefer") {
		for _, p := range strings.Split(v, ",") {
			if strings.EqualFold(strings.ReplaceAll(strings.TrimSpace(p), " ", ""), "return=OperationOutcome") {
				return true
			}
		}
	}
	return false
}

// warningsOf returns the warnings of the first document of a filing.
func warningsOf(res carnet.SubmissionResult) []carnet.Issue {
	if len(res.Warnings) == 0 {
		return nil
	}
	return res.Warnings[0]
}
