package fhir

import (
	"errors"

	carnet "github.com/carnet-sante/carnet"
)

// IssueCode is the FHIR issue-type code of an error kind: the code of the
// single issue an OperationOutcome carries when the error has no precise
// issues of its own.
func IssueCode(k carnet.Kind) string {
	switch k {
	case carnet.KindInvalid:
		return "invalid"
	case carnet.KindUnprocessable:
		return "business-rule"
	case carnet.KindNotFound:
		return "not-found"
	case carnet.KindGone:
		return "deleted"
	case carnet.KindConflict:
		return "conflict"
	case carnet.KindUnauthenticated:
		return "login"
	case carnet.KindForbidden:
		return "forbidden"
	case carnet.KindUnavailable:
		return "transient"
	case carnet.KindTooLarge:
		return "too-costly"
	case carnet.KindUnsupported:
		return "not-supported"
	case carnet.KindPreconditionFailed:
		return "conflict"
	case carnet.KindRateLimited:
		return "throttled"
	case carnet.KindNotAcceptable:
		return "not-supported"
	}
	return "exception"
}

// OutcomeFromIssues returns an OperationOutcome listing issues in order.
func OutcomeFromIssues(issues []carnet.Issue) OperationOutcome {
	o := OperationOutcome{Issue: make([]OperationOutcomeIssue, 0, len(issues))}
	for _, is := range issues {
		sev := is.Severity
		if sev == "" {
			sev = "error"
		}
		code := is.Code
		if code == "" {
			code = "processing"
		}
		oi := OperationOutcomeIssue{Severity: sev, Code: code, Diagnostics: is.Diagnostics}
		if is.Expression != "" {
			oi.Expression = []string{is.Expression}
		}
		o.Issue = append(o.Issue, oi)
	}
	return o
}

// OutcomeFromError returns the OperationOutcome shown to a caller for err:
// the error's issues when it has some, otherwise one issue whose code
// follows the error's kind and whose diagnostics is the caller-safe message
// (never the cause: an internal error says "internal error" and no more).
func OutcomeFromError(err error) OperationOutcome {
	if err == nil {
		return OutcomeFromIssues(nil)
	}
	if issues := carnet.ErrorIssues(err); len(issues) > 0 {
		return OutcomeFromIssues(issues)
	}
	k := carnet.ErrorKind(err)
	sev := "error"
	var e *carnet.Error
	if k == carnet.KindInternal || !errors.As(err, &e) {
		sev = "fatal"
	}
	return OutcomeFromIssues([]carnet.Issue{{Severity: sev, Code: IssueCode(k), Diagnostics: carnet.ErrorMessage(err)}})
}
