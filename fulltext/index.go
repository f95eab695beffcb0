package fulltext

import (
	"cmp"
	"slices"
	"sync"
)

// Hit is a document found by a search and its BM25 score.
type Hit struct {
	Doc   string
	Score float64
}

// Index is an in-memory full-text index over a small set of documents
// (one patient's record, a test's fixtures). It holds the terms in clear:
// it lives in memory only, and a persistent index stores blinded terms
// instead (see docs/SEARCH.md) while reusing Analyze, TermCounts and BM25.
//
// The zero Index is empty and ready to use. An Index is safe for
// concurrent use.
type Index struct {
	// Params are the BM25 parameters; the zero value means DefaultParams.
	// Set them before the Index is shared.
	Params Params

	mu       sync.RWMutex
	docs     map[string]int            // document → length in terms
	postings map[string]map[string]int // term → document → term frequency
	totalLen int
}

// Add indexes the text of doc, replacing what was indexed for doc before.
// A text without any term (empty, only stop words) still counts as a
// document of the collection.
func (ix *Index) Add(doc, text string) {
	counts, length := TermCounts(text)
	ix.mu.Lock()
	defer ix.mu.Unlock()
	ix.remove(doc)
	if ix.docs == nil {
		ix.docs = make(map[string]int)
		ix.postings = make(map[string]map[string]int)
	}
	ix.docs[doc] = length
	ix.totalLen += length
	for term, tf := range counts {
		m := ix.postings[term]
		if m == nil {
			m = make(map[string]int)
			ix.postings[term] = m
		}
		m[doc] = tf
	}
}

// Remove forgets doc. Removing a document that is not there does nothing.
func (ix *Index) Remove(doc string) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	ix.remove(doc)
}

func (ix *Index) remove(doc string) {
	length, ok := ix.docs[doc]
	if !ok {
		return
	}
	delete(ix.docs, doc)
	ix.totalLen -= length
	// Walking every term is fine for the small sets this index is for,
	// and saves keeping each document's term list.
	for term, m := range ix.postings {
		if _, ok := m[doc]; ok {
			delete(m, doc)
			if len(m) == 0 {
				delete(ix.postings, term)
			}
		}
	}
}

// Len returns the number of documents indexed.
func (ix *Index) Len() int {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return len(ix.docs)
}

// Search analyses query as Add analyses texts and returns the documents
// holding at least one of its terms, best first (highest BM25 score; equal
// scores by document id, so the order is reproducible), or nil. A query
// without terms (empty, only stop words) finds nothing.
func (ix *Index) Search(query string) []Hit {
	terms := Analyze(query)
	if len(terms) == 0 {
		return nil
	}
	ix.mu.RLock()
	st := Stats{Docs: len(ix.docs)}
	if st.Docs > 0 {
		st.AvgLen = float64(ix.totalLen) / float64(st.Docs)
	}
	postings := make(map[string][]Posting, len(terms))
	for _, term := range terms {
		if _, done := postings[term]; done {
			continue
		}
		m := ix.postings[term]
		ps := make([]Posting, 0, len(m))
		for doc, tf := range m {
			ps = append(ps, Posting{Doc: doc, TF: tf, Len: ix.docs[doc]})
		}
		postings[term] = ps
	}
	ix.mu.RUnlock()

	p := ix.Params
	if p == (Params{}) {
		p = DefaultParams
	}
	scores := BM25(terms, postings, st, p)
	if len(scores) == 0 {
		return nil
	}
	hits := make([]Hit, 0, len(scores))
	for doc, score := range scores {
		hits = append(hits, Hit{Doc: doc, Score: score})
	}
	slices.SortFunc(hits, func(a, b Hit) int {
		if c := cmp.Compare(b.Score, a.Score); c != 0 {
			return c
		}
		return cmp.Compare(a.Doc, b.Doc)
	})
	return hits
}
