package pastille

import (
	"math"
	"testing"
)

func list(ids ...string) []Ranked {
	out := make([]Ranked, len(ids))
	for i, id := range ids {
		out[i] = Ranked{Doc: &Doc{ID: id}}
	}
	return out
}

func TestNDCG(t *testing.T) {
	grades := map[string]int{"a": 3, "b": 2, "c": 0, "d": 1}
	// Hand-computed: gains 7, 3, 1 at the ideal positions 1, 2, 3.
	idcg := 7 + 3/math.Log2(3) + 1/math.Log2(4)
	tests := []struct {
		name   string
		ranked []Ranked
		grades map[string]int
		k      int
		want   float64
	}{
		{"ideal order", list("a", "b", "d", "c"), grades, 10, 1},
		{"ideal order, ungraded extras after", list("a", "b", "d", "x", "y"), grades, 10, 1},
		{"worst first", list("c", "d", "b", "a"), grades, 10,
			(0 + 1/math.Log2(3) + 3/math.Log2(4) + 7/math.Log2(5)) / idcg},
		{"cut at 2", list("b", "a", "d"), grades, 2, (3 + 7/math.Log2(3)) / (7 + 3/math.Log2(3))},
		{"a relevant document left out counts in the ideal", list("a", "b"), grades, 10, (7 + 3/math.Log2(3)) / idcg},
		{"a document listed twice earns once", list("a", "a", "a"), map[string]int{"a": 3}, 10, 1},
		{"k 0 is the whole list", list("d", "a"), map[string]int{"a": 1, "d": 1}, 0, 1},
		{"nothing relevant", list("a", "b"), map[string]int{"a": 0}, 10, 0},
		{"empty list", nil, grades, 10, 0},
	}
	for _, tt := range tests {
		if got := NDCG(tt.ranked, tt.grades, tt.k); math.Abs(got-tt.want) > 1e-12 {
			t.Errorf("%s: NDCG = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestNDCGBounds(t *testing.T) {
	in := randomInput(randForTest(9), 300)
	grades := map[string]int{}
	for i, d := range in.Docs {
		grades[d.ID] = i % 4
	}
	for _, r := range [][]Ranked{Rank(in), ReverseChronological(in)} {
		for _, k := range []int{1, 5, 10, 1000} {
			if got := NDCG(r, grades, k); got < 0 || got > 1 || math.IsNaN(got) {
				t.Errorf("NDCG@%d = %v", k, got)
			}
		}
	}
}
