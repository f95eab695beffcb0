// Package xds is Carnet's IHE XDS.b transport: SOAP 1.2 with MTOM/XOP,
// ebRIM 3.0 metadata read into the domain (carnet.Submission,
// carnet.DocumentSearch, carnet.DocumentChange) and written back from it,
// and the HTTP handler of the Document Repository and Registry actors
// (ITI-41, ITI-43, ITI-18, ITI-57) over record.Service. docs/XDS.md maps
// every slot and classification.
//
// Every reader is bounded (Limits) and fuzzed: no DTD, no entity other than
// XML's own, no external reference; a body that is not what it claims is a
// SOAP fault, never a server error.
package xds
