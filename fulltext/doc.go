// Package fulltext is Carnet's French full-text search core: the analyzer
// that turns a text into search terms (Analyze, TermCounts), BM25 scoring
// (BM25, IDF), and a small in-memory Index built on them.
//
// One analyzer serves both sides: documents (CDA narrative, the text of
// N1 PDFs, titles) are indexed with the terms Analyze gives, and queries
// are analysed by the same function, so that "insuffisance cardiaque"
// finds "insuffisances cardiaques" and "hemoglobine" finds "hémoglobine".
// The pipeline and the BM25 parameters are described in docs/SEARCH.md.
//
// The package does no I/O and holds no key. A persistent index keeps
// terms blinded (a keyed hash per patient, never the term in clear); this
// package gives it the terms to blind and the scores to rank by.
package fulltext
