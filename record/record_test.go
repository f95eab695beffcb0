package record

import (
	"fmt"
	"testing"
	"time"

	carnet "github.com/carnet-sante/carnet"
)

// Paging by cursor is stable: every row is served exactly once over the
// pages, even when rows are added before the cursor meanwhile.
func TestPagingStable(t *testing.T) {
	s := &Service{}
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var rows []carnet.DocumentRow
	for i := range 45 {
		rows = append(rows, carnet.DocumentRow{ID: fmt.Sprintf("id-%02d", i), Date: base.Add(-time.Duration(i/3) * time.Hour)})
	}
	var served []string
	cursor := ""
	for pages := 0; pages < 10; pages++ {
		page, next, err := s.pageOf(rows, 10, cursor, searchTag("t", "p", nil))
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range page {
			served = append(served, r.ID)
		}
		if next == "" {
			break
		}
		cursor = next
		// A newer document arrives between two pages: it sorts first.
		rows = append([]carnet.DocumentRow{{ID: fmt.Sprintf("new-%d", pages), Date: base.Add(time.Hour)}}, rows...)
	}
	if len(served) != 45 {
		t.Fatalf("served %d rows over the pages, want 45: %v", len(served), served)
	}
	for i, id := range served {
		if id != fmt.Sprintf("id-%02d", i) {
			t.Fatalf("page order broken at %d: %s", i, id)
		}
	}
	if _, _, err := s.pageOf(rows, 10, "not a cursor!", searchTag("t", "p", nil)); !carnet.IsKind(err, carnet.KindInvalid) {
		t.Errorf("a forged cursor: %v, want invalid", err)
	}
	_, next, _ := s.pageOf(rows, 10, "", searchTag("t", "p", nil))
	if _, _, err := s.pageOf(rows, 10, next, searchTag("t", "p", carnet.DocumentFilter{LogicalID: "x"})); !carnet.IsKind(err, carnet.KindInvalid) {
		t.Errorf("another search's cursor: %v, want invalid", err)
	}
}
