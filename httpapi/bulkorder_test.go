package httpapi

import (
	"slices"
	"strings"
	"testing"
)

// startOrder hands the freed slots out fairly: to the permit running the
// fewest exports, among equals to the one served longest ago, then in
// kick-off order; within a permit, its oldest job first.
func TestBulkStartOrder(t *testing.T) {
	for _, tc := range []struct {
		name    string
		queue   string // jobs in kick-off order, each "<permit><n>"
		running map[string]int
		served  map[string]uint64
		want    string
	}{
		{"a newcomer before the permit holding every slot", "A5 A6 B1", map[string]int{"A": 4}, map[string]uint64{"A": 4}, "B1 A5 A6"},
		{"round robin among equals, the one served longest ago first", "C3 C4 A3 A4", map[string]int{"A": 2, "C": 2}, map[string]uint64{"A": 3, "C": 4}, "A3 C3 A4 C4"},
		{"newcomers in kick-off order, one job each per round", "B1 B2 C1 D1 B3", nil, nil, "B1 C1 D1 B2 B3"},
		{"fewest running first, even if it waited less", "A5 C1 B2", map[string]int{"A": 3, "B": 1}, map[string]uint64{"A": 5, "B": 2}, "C1 B2 A5"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var queue []*bulkJob
			for _, name := range strings.Fields(tc.queue) {
				queue = append(queue, &bulkJob{id: name, permit: name[:1]})
			}
			running, served := map[string]int{}, map[string]uint64{}
			var turn uint64
			for p, n := range tc.running {
				running[p] = n
			}
			for p, s := range tc.served {
				served[p], turn = s, max(turn, s)
			}
			var got []string
			for _, j := range startOrder(queue, running, served, turn) {
				got = append(got, j.id)
			}
			if want := strings.Fields(tc.want); !slices.Equal(got, want) {
				t.Errorf("start order %v, want %v", got, want)
			}
		})
	}
}
