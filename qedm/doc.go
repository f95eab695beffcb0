// Package qedm turns the structured entries of CDA N3 documents into the
// FHIR R4 resources of IHE QEDm (Observation, MedicationRequest,
// Immunization, AllergyIntolerance, Condition), each with an mXDE
// Provenance pointing to its source DocumentReference.
//
// Extractor implements carnet.Extractor over package cda: it derives the
// XDS metadata from the CDA header (ITI-105/106, and the consistency check
// of ITI-65, CheckConsistency) and maps every extracted entry to a
// carnet.Item whose Resource is the FHIR JSON without id and subject.
// Serve and Provenance render a stored item for one request; ItemTokens is
// the one place that says how items are indexed, and ParseItemSearch reads
// QEDm search queries into the same token forms.
//
// The package is pure: no storage, no transport, no clock. See
// docs/QEDM.md for the mapping tables.
package qedm
