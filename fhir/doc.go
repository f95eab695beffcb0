// Package fhir holds the FHIR R4 resources and datatypes Carnet speaks, written
// by hand so that we control exactly what is read and written: the
// DocumentReference, List, Binary and Bundle of IHE MHD, OperationOutcome for
// every error, and the few others around them (Patient, Parameters for FHIRPath
// Patch, CapabilityStatement).
//
// Structs keep FHIR's JSON names with omitempty, and dates as the strings sent,
// so that what a producer submitted can be kept and served again unchanged.
// Decode is the only way request bodies enter: it bounds size and nesting
// depth before decoding, tolerates unknown elements (FHIR extensions and
// elements of later versions) and reports where a body broke as a FHIRPath
// expression in a *carnet.Error. The date functions parse FHIR's partial
// dates and turn search parameters with prefixes into carnet.TimeRange.
// SearchParams holds the mechanics every search shares (one value or many,
// _count, _page, dates, tokens, the issues and warnings they raise), so that
// MHD and QEDm read their parameters alike and answer in the same words.
//
// The package knows nothing of MHD rules; package mhd maps these resources to
// the domain.
package fhir
