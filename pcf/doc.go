// Package pcf maps a patient's access choices (carnet.Consent) to FHIR
// Consent resources shaped after IHE Privacy Consent on FHIR (PCF), and the
// patient's notifications (carnet.Notification) to FHIR Communication:
//
//   - ParseConsent reads a Consent a client POSTs, checks everything a
//     client can get wrong and reports every problem at once, each with the
//     FHIRPath of the element at fault.
//   - Resource renders a stored consent; Communication a notification.
//
// The kind of a choice travels in Consent.policyRule as a coding of
// RuleSystem: the other PCF elements (provision.type, actor, purpose,
// securityLabel, data) must agree with it, and are rendered from it.
//
// The package does no I/O: the Service records consents and decides, the
// httpapi package speaks HTTP. docs/PCF.md describes the wire format.
package pcf
