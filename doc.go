// Package carnet holds Carnet's domain: patient records, documents and their
// XDS metadata, submission sets, the error kinds, and the contracts that the
// technology packages implement (Store, Sealer, Policy, Auditor, Terminology).
//
// The root package depends on no other package of the module. Technology
// packages (sqlite, postgres, seal, httpapi, …) depend on it; cmd/carnet wires
// them together. The Service type is the one place through which every read
// and every write of patient data passes: that is where the access policy and
// the audit log plug in.
package carnet
