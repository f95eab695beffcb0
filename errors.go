package carnet

import (
	"errors"
	"fmt"
	"strings"
)

// Kind classifies an error by what the caller can do about it. The list is
// append-only: kinds are part of the API (they map to HTTP statuses and FHIR
// OperationOutcome issue codes).
type Kind uint8

const (
	KindInternal           Kind = iota // a bug or an unexpected failure; no detail leaves the server
	KindInvalid                        // the request is malformed (400)
	KindUnprocessable                  // well-formed but breaks a business rule (422)
	KindNotFound                       // absent, or not visible to the caller (404)
	KindGone                           // existed, now deleted (410)
	KindConflict                       // clashes with the current state, e.g. a duplicate uniqueId (409)
	KindUnauthenticated                // no or bad credentials (401)
	KindForbidden                      // authenticated, but the scope does not allow the action (403)
	KindUnavailable                    // cannot serve now: keys missing, store down (503)
	KindTooLarge                       // the request exceeds a bound (413)
	KindUnsupported                    // media type or feature not supported (415)
	KindPreconditionFailed             // a conditional request's condition failed (412)
	KindRateLimited                    // the client asked more than its budget allows; retry later (429)
	KindNotAcceptable                  // no representation the client accepts (406)
)

var kindNames = [...]string{
	KindInternal:           "internal",
	KindInvalid:            "invalid",
	KindUnprocessable:      "unprocessable",
	KindNotFound:           "not-found",
	KindGone:               "gone",
	KindConflict:           "conflict",
	KindUnauthenticated:    "unauthenticated",
	KindForbidden:          "forbidden",
	KindUnavailable:        "unavailable",
	KindTooLarge:           "too-large",
	KindUnsupported:        "unsupported",
	KindPreconditionFailed: "precondition-failed",
	KindRateLimited:        "rate-limited",
	KindNotAcceptable:      "not-acceptable",
}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", k)
}

// Issue is one precise problem found in a request, shaped like a FHIR
// OperationOutcome.issue: what is wrong, where (a FHIRPath expression) and why.
type Issue struct {
	Severity    string // fatal, error, warning, information
	Code        string // FHIR issue-type code: invalid, required, value, code-invalid, duplicate, not-found, …
	Diagnostics string // a sentence for the integrator
	Expression  string // FHIRPath of the element at fault, e.g. Bundle.entry[2].resource.type
}

// Error is Carnet's one error type.
type Error struct {
	Kind   Kind
	Op     string  // the operation that failed, for logs: "provide", "sqlite.InsertDocument"
	Msg    string  // safe to show to the caller
	Issues []Issue // precise problems, shown to the caller
	Err    error   // the cause; never shown to the caller
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.Op != "" {
		b.WriteString(e.Op)
		b.WriteString(": ")
	}
	b.WriteString(e.Kind.String())
	if e.Msg != "" {
		b.WriteString(": ")
		b.WriteString(e.Msg)
	}
	for _, is := range e.Issues {
		fmt.Fprintf(&b, "; %s (%s)", is.Diagnostics, is.Expression)
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error of kind k with a message safe for the caller.
func Errorf(k Kind, format string, args ...any) *Error {
	return &Error{Kind: k, Msg: fmt.Sprintf(format, args...)}
}

// WrapError wraps cause in an *Error of kind k for operation op. The cause's
// text stays server-side.
func WrapError(k Kind, op string, cause error) *Error {
	return &Error{Kind: k, Op: op, Err: cause}
}

// Invalid returns an error of kind KindInvalid (or KindUnprocessable when
// code is a business-rule code) carrying issues.
func Invalid(issues ...Issue) *Error {
	k := KindInvalid
	for _, is := range issues {
		switch is.Code {
		case "code-invalid", "business-rule", "not-found", "duplicate":
			k = KindUnprocessable
		}
	}
	return &Error{Kind: k, Msg: "the request has errors", Issues: issues}
}

// ErrorKind returns the kind of err: the kind of the outermost *Error in its
// chain, or KindInternal for any other error (and for nil, KindInternal too,
// callers check nil first).
func ErrorKind(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return KindInternal
}

// IsKind reports whether err is an *Error of kind k.
func IsKind(err error, k Kind) bool { return err != nil && ErrorKind(err) == k }

// ErrorIssues returns the caller-visible issues of err, if any.
func ErrorIssues(err error) []Issue {
	var e *Error
	if errors.As(err, &e) {
		return e.Issues
	}
	return nil
}

// ErrorMessage returns the caller-visible message of err: the message of an
// *Error, or a generic sentence for anything else (never the cause's text).
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) && e.Msg != "" && e.Kind != KindInternal {
		return e.Msg
	}
	switch ErrorKind(err) {
	case KindNotFound:
		return "not found"
	case KindUnavailable:
		return "service unavailable"
	case KindGone:
		return "gone"
	}
	return "internal error"
}
