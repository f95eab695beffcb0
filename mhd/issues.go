package mhd

import (
	"fmt"

	carnet "github.com/carnet-sante/carnet"
)

// issueList collects every problem of a request, so that a producer fixes
// them all in one round. Diagnostics never quote patient data: they name
// elements and rules, not values.
type issueList []carnet.Issue

// maxIssues bounds an answer: a hostile body must not make the outcome
// larger than itself.
const maxIssues = 100

func (l *issueList) add(code, expr, format string, args ...any) {
	switch {
	case len(*l) < maxIssues:
		*l = append(*l, carnet.Issue{Severity: "error", Code: code, Expression: expr, Diagnostics: fmt.Sprintf(format, args...)})
	case len(*l) == maxIssues:
		*l = append(*l, carnet.Issue{Severity: "error", Code: "too-costly", Diagnostics: fmt.Sprintf("more than %d problems: the first %d are listed", maxIssues, maxIssues)})
	}
}

// required reports a missing element, unless opts let the Service derive
// it from the document's content.
func (l *issueList) required(opts ParseOptions, expr, msg string) {
	if !opts.Derivable {
		l.add("required", expr, "%s", msg)
	}
}

// merge appends the issues carried by err (a *carnet.Error from fhir.Decode
// or ParsePatch), or one generic issue at expr.
func (l *issueList) merge(err error, expr string) {
	if is := carnet.ErrorIssues(err); len(is) > 0 {
		for _, i := range is {
			l.add(i.Code, i.Expression, "%s", i.Diagnostics)
		}
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
