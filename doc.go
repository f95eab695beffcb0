// Package carnet holds Carnet's domain: patient records, documents and their
// XDS metadata, submission sets, consents and notifications, the error
// kinds, and the contracts that the other packages implement or serve
// (Store, Sealer, Policy, Auditor, Terminology, Extractor, TextIndexer).
//
// The root package depends on no other package of the module. Technology
// packages (sqlite, postgres, seal, httpapi, …) depend on it; the use cases
// that every read and write of patient data goes through live in package
// record; cmd/carnet wires them together.
package carnet
