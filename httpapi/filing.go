package httpapi

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	carnet "github.com/carnet-sante/carnet"
	"github.com/carnet-sante/carnet/fhir"
	"github.com/carnet-sante/carnet/mhd"
)

// writeFiled answers an ITI-105 or ITI-106 filing of one document: its
// Location (a vread), and by default the DocumentReference, carrying the
// filing's warnings as a contained OperationOutcome — only to a caller who
// may read it (software never reads; docs/ACCESS.md). Anyone else, and a
// client sending "Prefer: return=OperationOutcome" (FHIR RESTful API),
// gets an OperationOutcome alone: an information issue naming the document,
// and the warnings.
func (s *Server) writeFiled(w http.ResponseWriter, r *http.Request, res carnet.SubmissionResult, what string) {
	d := res.Documents[0]
	w.Header().Set("Location", s.base(r)+"/DocumentReference/"+mhd.FHIRID(d)+"/_history/"+strconv.Itoa(d.Version))
	w.Header().Set("ETag", fmt.Sprintf(`W/"%d"`, d.Version))
	status := http.StatusCreated
	if res.Replayed {
		status, what = http.StatusOK, "already filed (an identical retry): nothing new was stored"
	}
	warnings := warningsOf(res)
	readable := len(res.Readable) > 0 && res.Readable[0]
	if !readable || prefersOutcome(r) {
		info := "the document was " + what + ", as DocumentReference/" + mhd.FHIRID(d)
		if !readable {
			info += "; it is at the Location given, which this caller may not read"
		}
		issues := append([]carnet.Issue{{Severity: "information", Code: "informational", Diagnostics: info}}, warnings...)
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
