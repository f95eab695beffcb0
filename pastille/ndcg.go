package pastille

import (
	"cmp"
	"math"
	"slices"
)

// NDCG is the normalised discounted cumulative gain at k of a ranked list
// against graded judgements (Doc.ID → grade, 0 = not relevant; ids not
// graded count 0): gain 2^g − 1, discount log2(position + 1). The ideal
// is the best order of the grades of all judged documents, so a list that
// leaves a relevant document out is penalised. k ≤ 0 means the whole
// list. Without any positive grade the result is 0.
func NDCG(ranked []Ranked, grades map[string]int, k int) float64 {
	if k <= 0 {
		k = max(len(ranked), len(grades))
	}
	dcg := 0.0
	seen := make(map[string]bool, min(k, len(ranked)))
	for i, r := range ranked {
		if i == k {
			break
		}
		if !seen[r.Doc.ID] { // a document listed twice earns once
			seen[r.Doc.ID] = true
			dcg += gain(grades[r.Doc.ID]) / math.Log2(float64(i+2))
		}
	}
	ideal := make([]int, 0, len(grades))
	for _, g := range grades {
		if g > 0 {
			ideal = append(ideal, g)
		}
	}
	slices.SortFunc(ideal, func(a, b int) int { return cmp.Compare(b, a) })
	idcg := 0.0
	for i, g := range ideal {
		if i == k {
			break
		}
		idcg += gain(g) / math.Log2(float64(i+2))
	}
	if idcg == 0 {
		return 0
	}
	return dcg / idcg
}

func gain(g int) float64 {
	if g <= 0 {
		return 0
	}
	return math.Exp2(float64(min(g, 30))) - 1
}
