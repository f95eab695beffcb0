// Package mhd maps IHE MHD 4.2 transactions, as profiled by the French PDSm
// guide, to Carnet's domain and back:
//
//   - ITI-65 Provide Document Bundle: ParseProvide turns a transaction Bundle
//     into a carnet.Submission, checking everything a producer can get wrong
//     and reporting every problem at once, each with the FHIRPath of the
//     element at fault; BuildProvideResponse answers one entry per request
//     entry, in order; ProvideBundle writes a submission as such a bundle.
//   - ITI-105 Simplified Publish: ParseSimplifiedPublish.
//   - ITI-66 and ITI-67 searches: ParseListSearch and ParseDocumentSearch turn
//     query parameters into carnet.ListSearch and carnet.DocumentSearch.
//   - ITI-66/ITI-67/ITI-68 answers: DocumentReference and List render stored
//     documents and submission sets, DocumentSearchBundle and
//     ListSearchBundle a page of them; CapabilityStatement says all this.
//   - PDSm metadata changes: ParsePatch reads FHIRPath Patch and JSON Patch
//     bodies, allowing only what PDSm allows (status, masking and visibility
//     labels, archiving).
//
// carnet.DocumentTokens (and SubmissionSetTokens) is the one place that says under which search tokens a
// document is indexed, and the search parsers produce values in the same
// forms, so that indexing and searching cannot disagree.
//
// The package does no I/O: the Service stores, the httpapi package speaks
// HTTP. docs/MHD.md describes the mapping and the rules.
package mhd
