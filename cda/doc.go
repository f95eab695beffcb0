// Package cda reads CDA R2 documents as the ANS CI-SIS specifies them
// (N1: a PDF inside a CDA envelope; N3: structured, with coded entries).
//
// Parse reads the bytes with bounded resources (size, depth, element and
// attribute counts; no DTD, no entities) and returns a Document: the header
// (patient identifiers with the INS, authors with their RPPS, type code,
// dates, confidentiality, replacement, the encounter, orders and service
// events with their performers), the embedded PDF of an N1 document, the sections with their narrative, and
// the N3 entries as plain structs (lab results, medications, vaccinations,
// allergies, problems). Metadata turns the header into carnet.DocumentMeta
// so that the Service can check what a producer declared against what the
// document says; FormatTable (the ANS volet table, loaded as data) gives
// its XDS formatCode. RenderHTML turns the narrative into sanitised HTML, and
// PDFText extracts the text of simple PDFs for search.
//
// The package knows nothing of storage or transport: it is a pure function
// of the bytes, safe on hostile input and fuzzed.
package cda
