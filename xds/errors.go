package xds

import (
	"errors"
	"strings"

	carnet "github.com/carnet-sante/carnet"
)

// IHE error codes (ITI TF-3 4.2.4) answered by Carnet.
const (
	ErrRegistry           = "XDSRegistryError"
	ErrRegistryMetadata   = "XDSRegistryMetadataError"
	ErrRepositoryMetadata = "XDSRepositoryMetadataError"
	ErrPatientIDMismatch  = "XDSPatientIdDoesNotMatch"
	ErrUnknownPatientID   = "XDSUnknownPatientId"
	ErrDuplicateUniqueID  = "XDSDuplicateUniqueIdInRegistry"
	ErrMissingDocument    = "XDSMissingDocument"
	ErrMissingMetadata    = "XDSMissingDocumentMetadata"
	// ErrUnresolvedReference is ebRS's code for a reference to an object
	// the registry does not hold (or the caller may not see): the target
	// of an RPLC/APND/XFRM, the document of an ITI-57.
	ErrUnresolvedReference = "UnresolvedReferenceException"
	ErrUnknownStoredQuery  = "XDSUnknownStoredQuery"
	ErrStoredQueryParam    = "XDSStoredQueryParamNumber"
	ErrTooManyResults      = "XDSTooManyResults"
	ErrUnknownRepository   = "XDSUnknownRepositoryId"
	ErrDocumentUniqueID    = "XDSDocumentUniqueIdError"
	ErrMetadataUpdate      = "XDSMetadataUpdateError"
	ErrMetadataVersion     = "XDSMetadataVersionError"
)

// RegistryError is one rs:RegistryError.
type RegistryError struct {
	Code     string // errorCode
	Context  string // codeContext: for the integrator, never patient data
	Location string // the XDS path of the element at fault
	Warning  bool
}

// Errors is a failed request's list of registry errors.
type Errors struct{ List []RegistryError }

func (e *Errors) Error() string {
	var b strings.Builder
	for i, r := range e.List {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(r.Code + ": " + r.Context)
	}
	return b.String()
}

type errorList struct{ list []RegistryError }

func (l *errorList) add(code, location, context string) {
	if len(l.list) < 100 {
		l.list = append(l.list, RegistryError{Code: code, Context: context, Location: location})
	}
}

func (l *errorList) err() error {
	if len(l.list) == 0 {
		return nil
	}
	return &Errors{List: l.list}
}

// fhirToXDS rewrites the FHIRPath tails the Service's issues name into the
// XDS attributes of docs/XDS.md.
var fhirToXDS = strings.NewReplacer(
	".masterIdentifier", ".uniqueId",
	".content[0].attachment.contentType", ".mimeType",
	".content[0].attachment.creation", ".creationTime",
	".content[0].attachment", ".Document",
	".content[0].format", ".formatCode",
	".securityLabel", ".confidentialityCode",
	".context.facilityType", ".healthcareFacilityTypeCode",
	".context.practiceSetting", ".practiceSettingCode",
	".context.event", ".eventCodeList",
	".context.related", ".referenceIdList",
	".context.period", ".serviceTime",
	".category", ".classCode",
	".type", ".typeCode",
	".subject", ".patientId",
	".relatesTo", ".association",
	".authenticator", ".legalAuthenticator",
	".identifier", ".uniqueId",
)

// FromError translates an error of the Service into registry errors, each
// with its IHE code and location.
func FromError(err error) *Errors {
	var xe *Errors
	if errors.As(err, &xe) {
		return xe
	}
	issues := carnet.ErrorIssues(err)
	k := carnet.ErrorKind(err)
	if len(issues) == 0 {
		code := ErrRegistry
		msg := carnet.ErrorMessage(err)
		switch k {
		case carnet.KindForbidden, carnet.KindUnauthenticated:
			msg = "not authorized: " + msg
		case carnet.KindConflict:
			if strings.Contains(msg, "uniqueId") {
				code = ErrDuplicateUniqueID
			}
		}
		return &Errors{List: []RegistryError{{Code: code, Context: msg}}}
	}
	out := &Errors{}
	for _, is := range issues {
		loc := fhirToXDS.Replace(is.Expression)
		code := ErrRegistryMetadata
		switch {
		case is.Code == "duplicate":
			code = ErrDuplicateUniqueID
		case strings.Contains(loc, ".patientId") && is.Code != "business-rule":
			code = ErrUnknownPatientID
		case strings.Contains(loc, ".association") && is.Code == "not-found":
			code = ErrUnresolvedReference
		case strings.Contains(loc, ".association"):
			code = ErrRegistryMetadata // a target not current (XDSReplaceFailed is deprecated, ITI TF-2b 3.42.4.1.3.5)
		case strings.Contains(loc, ".Document") || strings.Contains(loc, ".hash") || strings.Contains(loc, ".size"):
			code = ErrRepositoryMetadata
		case is.Code == "business-rule" || is.Code == "forbidden" || is.Code == "security":
			code = ErrRegistry
		}
		out.List = append(out.List, RegistryError{Code: code, Context: is.Diagnostics, Location: loc, Warning: is.Severity == "warning"})
	}
	return out
}
