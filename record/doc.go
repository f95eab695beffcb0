// Package record holds Carnet's use cases: filing documents into a patient
// record, changing their metadata, finding and reading them, the patient's
// consents and notifications, the point-of-care view and the access
// history. Its Service is the one place through which every read and every
// write of patient data passes, each use case a short pipeline of named
// steps: read and validate → decide (carnet.Policy) → seal (carnet.Sealer)
// → store (carnet.Store, one transaction) → notify → audit
// (carnet.Auditor, before anything is served).
//
// It depends on the root package's contracts only; transports (httpapi,
// the web pages) call it, and cmd/carnet gives it its Store, Sealer,
// Policy and Auditor.
package record
