package mhd

import (
	"encoding/json"

	carnet "github.com/carnet-sante/carnet"
	"github.com/carnet-sante/carnet/fhir"
)

// ExtFilingOutcome points from the DocumentReference answering an ITI-105
// or ITI-106 to the contained OperationOutcome that carries the filing's
// warnings (a formatCode taken by a fallback rule, say). It is in the
// answer only: a later read of the document does not carry it.
const ExtFilingOutcome = "https://carnet-sante.fr/fhir/StructureDefinition/filing-outcome"

// FilingOutcome is the OperationOutcome of one filed document's warnings,
// as ITI-65 writes it in Bundle.entry.response.outcome; nil when there
// are none.
func FilingOutcome(warnings []carnet.Issue) json.RawMessage {
	if len(warnings) == 0 {
		return nil
	}
	b, err := json.Marshal(fhir.OutcomeFromIssues(warnings))
	if err != nil {
		return nil
	}
	return b
}

// WithFilingOutcome returns dr carrying warnings: the OperationOutcome
// contained as #filing-outcome and referenced by the ExtFilingOutcome
// extension, so that a producer that reads only the DocumentReference of
// an ITI-105 or ITI-106 answer sees them too.
func WithFilingOutcome(dr fhir.DocumentReference, warnings []carnet.Issue) fhir.DocumentReference {
	if len(warnings) == 0 {
		return dr
	}
	o := fhir.OutcomeFromIssues(warnings)
	o.ID = "filing-outcome"
	b, err := json.Marshal(o)
	if err != nil {
		return dr
	}
	dr.Contained = append(dr.Contained, b)
	dr.Extension = append(dr.Extension, fhir.Extension{URL: ExtFilingOutcome, ValueReference: &fhir.Reference{Reference: "#filing-outcome"}})
	return dr
}
