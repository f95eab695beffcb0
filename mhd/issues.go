package mhd

import (
	"fmt"

	carnet "github.com/carnet-sante/carnet"
)

// issueList collects every problem of a request, so that a producer fixes
// them all in one round. Diagnostics never quote patient data: they name
// elements and rules, not values.
type issueList []carnet.Issue

func (l *issueList) add(code, expr, format string, args ...any) {
	*l = append(*l, carnet.Issue{Severity: "error", Code: code, Expression: expr, Diagnostics: fmt.Sprintf(format, args...)})
}

// merge appends the issues carried by err (a *carnet.Error from fhir.Decode
// or ParsePatch), or one generic issue at expr.
func (l *issueList) merge(err error, expr string) {
	if is := carnet.ErrorIssues(err); len(is) > 0 {
		*l = append(*l, is...)
		return
	}
	l.add("invalid", expr, "%s", carnet.ErrorMessage(err))
}

func (l issueList) err(op string) error {
	if len(l) == 0 {
		return nil
	}
	e := carnet.Invalid(l...)
	e.Op = op
	return e
}
