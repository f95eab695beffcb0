package policy

import (
	"slices"

	"github.com/carnet-sante/carnet"
)

// Settings are the patient's choices about their record that the policy
// reads, derived from the record's FHIR Consents (carnet.Patient.Settings).
// Professionals are named by their RPPS (Actor.ID.Value), documents by their
// logicalId.
type Settings = carnet.AccessSettings

func has(list []string, v string) bool { return v != "" && slices.Contains(list, v) }
