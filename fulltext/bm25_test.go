package fulltext

import (
	"math"
	"testing"
)

func TestIDF(t *testing.T) {
	// Rarer is worth more, and a term in every document is still worth a
	// little, never less than nothing.
	prev := math.Inf(1)
	for df := 1; df <= 10; df++ {
		idf := IDF(df, 10)
		if !(idf > 0) || idf >= prev {
			t.Errorf("IDF(%d, 10) = %v, want positive and below IDF(%d, 10) = %v", df, idf, df-1, prev)
		}
		prev = idf
	}
	if got, want := IDF(1, 1), math.Log(1+0.5/1.5); math.Abs(got-want) > 1e-12 {
		t.Errorf("IDF(1, 1) = %v, want %v", got, want)
	}
	for _, c := range [][2]int{{-1, 0}, {5, 2}, {0, 0}} {
		if v := IDF(c[0], c[1]); math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
			t.Errorf("IDF(%d, %d) = %v", c[0], c[1], v)
		}
	}
}

func TestBM25(t *testing.T) {
	st := Stats{Docs: 4, AvgLen: 100}
	score := func(ps ...Posting) map[string]float64 {
		return BM25([]string{"t"}, map[string][]Posting{"t": ps}, st, DefaultParams)
	}

	s := score(Posting{"once", 1, 100}, Posting{"thrice", 3, 100})
	if !(s["thrice"] > s["once"]) {
		t.Errorf("3 occurrences scored %v, 1 occurrence %v; want more for 3", s["thrice"], s["once"])
	}
	// Saturation: a term's weight never exceeds (k1 + 1) · IDF.
	s = score(Posting{"spam", 1000, 1000})
	if limit := (DefaultParams.K1 + 1) * IDF(1, st.Docs); !(s["spam"] < limit) {
		t.Errorf("1000 occurrences scored %v, want below %v", s["spam"], limit)
	}
	s = score(Posting{"short", 1, 20}, Posting{"long", 1, 500})
	if !(s["short"] > s["long"]) {
		t.Errorf("short document %v, long document %v; want the short one first", s["short"], s["long"])
	}
	// b = 0 ignores length.
	s = BM25([]string{"t"}, map[string][]Posting{"t": {{"short", 1, 20}, {"long", 1, 500}}}, st, Params{K1: 1.2, B: 0})
	if s["short"] != s["long"] {
		t.Errorf("with b = 0: %v and %v, want equal", s["short"], s["long"])
	}
}

func TestBM25SumsDistinctQueryTerms(t *testing.T) {
	postings := map[string][]Posting{
		"a": {{"d1", 1, 10}, {"d2", 1, 10}},
		"b": {{"d1", 1, 10}},
	}
	st := Stats{Docs: 3, AvgLen: 10}
	both := BM25([]string{"a", "b"}, postings, st, DefaultParams)
	if !(both["d1"] > both["d2"]) {
		t.Errorf("d1 holds both terms, d2 one: scores %v", both)
	}
	if _, ok := both["d3"]; ok || len(both) != 2 {
		t.Errorf("scores %v, want d1 and d2 only", both)
	}
	again := BM25([]string{"a", "b", "a", "zzz"}, postings, st, DefaultParams)
	for doc := range both {
		if again[doc] != both[doc] {
			t.Errorf("repeated and unknown terms changed %s: %v, want %v", doc, again[doc], both[doc])
		}
	}
}

func TestBM25InconsistentInputs(t *testing.T) {
	postings := map[string][]Posting{"t": {{"a", 2, 0}, {"b", 0, 5}, {"c", -1, 5}, {"d", 1, 3}}}
	for _, c := range []struct {
		st Stats
		p  Params
	}{
		{Stats{}, DefaultParams},
		{Stats{Docs: 1, AvgLen: -3}, DefaultParams},
		{Stats{Docs: 10, AvgLen: math.NaN()}, Params{K1: math.NaN(), B: math.NaN()}},
		{Stats{Docs: 10, AvgLen: math.Inf(1)}, Params{K1: -1, B: 7}},
		{Stats{Docs: 10, AvgLen: 4}, Params{K1: math.Inf(1), B: -1}},
		{Stats{Docs: 10, AvgLen: 4}, Params{K1: 0, B: 1}},
	} {
		s := BM25([]string{"t"}, postings, c.st, c.p)
		if len(s) != 2 {
			t.Errorf("%+v %+v: scores %v, want a and d only", c.st, c.p, s)
		}
		for doc, v := range s {
			if !(v > 0) || math.IsInf(v, 0) {
				t.Errorf("%+v %+v: score of %s = %v", c.st, c.p, doc, v)
			}
		}
	}
}
