package fulltext

import (
	carnet "github.com/carnet-sante/carnet"
)

// Indexer is the Service's full-text analysis (carnet.TextIndexer): the
// analyzer above for documents and queries, BM25 with DefaultParams over
// a record's postings. The Service turns terms into blind tokens before the
// Store sees them; the scoring reads tokens as opaque terms.
type Indexer struct{}

var _ carnet.TextIndexer = Indexer{}

// TermCounts implements carnet.TextIndexer.
func (Indexer) TermCounts(text string) (map[string]int, int) { return TermCounts(text) }

// QueryTerms implements carnet.TextIndexer: the distinct terms of q.
func (Indexer) QueryTerms(q string) []string {
	seen := map[string]bool{}
	var out []string
	for _, t := range Analyze(q) {
		if !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	}
	return out
}

// Score implements carnet.TextIndexer: BM25 of each document of the record
// holding a query term, by logicalId.
func (Indexer) Score(query []string, postings []carnet.Posting, docs int, totalLen int64) map[string]float64 {
	byTerm := make(map[string][]Posting, len(query))
	for _, p := range postings {
		byTerm[p.Token] = append(byTerm[p.Token], Posting{Doc: p.LogicalID, TF: p.TF, Len: p.Len})
	}
	st := Stats{Docs: docs}
	if docs > 0 {
		st.AvgLen = float64(totalLen) / float64(docs)
	}
	return BM25(query, byTerm, st, DefaultParams)
}
