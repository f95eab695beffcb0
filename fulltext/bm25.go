package fulltext

import "math"

// Params are the two free parameters of BM25.
type Params struct {
	// K1 is how fast repeating a term stops adding to the score: a term's
	// weight in a document saturates at K1+1 times its IDF. 0 makes BM25
	// binary (present or not); the usual range is 1.2–2.
	K1 float64
	// B is how much a long document is penalised: 0 ignores length, 1
	// divides the term frequency by the length relative to the average.
	B float64
}

// DefaultParams are the values of the BM25 literature and of Lucene
// (k1 = 1.2, b = 0.75). Clinical documents vary in length from a
// three-line prescription to a forty-page discharge letter, which is what
// b = 0.75 is for; nothing in our tests argues for other values yet.
var DefaultParams = Params{K1: 1.2, B: 0.75}

// Stats describe the collection the postings come from: how many
// documents it holds and their average length in terms. For a patient's
// record, the collection is that patient's documents (the ones the caller
// may see), not the whole store: a word is rare or common within one
// record.
type Stats struct {
	Docs   int
	AvgLen float64
}

// Posting says that a document holds a term TF times, among Len terms in
// all (the length TermCounts returned for the document).
type Posting struct {
	Doc string
	TF  int
	Len int
}

// IDF is the inverse document frequency of a term found in df of n
// documents, in the non-negative form of BM25 (as in Lucene):
// log(1 + (n − df + 0.5) / (df + 0.5)). The classic form without the
// "1 +" goes negative for terms in more than half the documents, which
// would make a document lose points for containing a query word; in a
// single patient's record, with few documents, that happens all the time.
func IDF(df, n int) float64 {
	if df < 0 {
		df = 0
	}
	if n < df {
		n = df
	}
	return math.Log1p((float64(n-df) + 0.5) / (float64(df) + 0.5))
}

// BM25 scores the documents that hold at least one of the query terms.
// postings[t] lists, once each, every document of the collection that
// holds the term t; the document frequency of t is len(postings[t]).
// A term repeated in the query counts once: queries are a few words typed
// by a clinician, and a repeated word is more often a slip than a wish
// for more weight. Terms without postings add nothing.
//
// The score of a document d is the sum, over the distinct query terms t
// it holds, of
//
//	IDF(t) · tf · (k1 + 1) / (tf + k1 · (1 − b + b · len(d) / avgLen))
//
// Documents that hold no query term are absent from the result; every
// score in it is positive. Inconsistent inputs do not give NaN or
// infinities: st.Docs is raised to the largest document frequency, a
// non-positive AvgLen turns length normalisation off, postings with
// TF ≤ 0 are ignored, and K1 and B are clamped to [0, ∞) and [0, 1]
// (NaN counts as the default).
func BM25(query []string, postings map[string][]Posting, st Stats, p Params) map[string]float64 {
	k1, b := p.K1, p.B
	if !(k1 >= 0) || math.IsInf(k1, 1) { // also catches NaN
		k1 = DefaultParams.K1
	}
	switch {
	case !(b >= 0) && !(b < 0): // NaN
		b = DefaultParams.B
	case b < 0:
		b = 0
	case b > 1:
		b = 1
	}
	avg := st.AvgLen
	if !(avg > 0) || math.IsInf(avg, 1) {
		b, avg = 0, 1
	}
	scores := make(map[string]float64)
	seen := make(map[string]bool, len(query))
	for _, t := range query { // in query order, so that sums are reproducible
		if seen[t] {
			continue
		}
		seen[t] = true
		ps := postings[t]
		if len(ps) == 0 {
			continue
		}
		n := st.Docs
		if n < len(ps) {
			n = len(ps)
		}
		idf := IDF(len(ps), n)
		for _, ps := range ps {
			if ps.TF <= 0 {
				continue
			}
			length := float64(max(ps.Len, ps.TF))
			tf := float64(ps.TF)
			scores[ps.Doc] += idf * tf * (k1 + 1) / (tf + k1*(1-b+b*length/avg))
		}
	}
	return scores
}
