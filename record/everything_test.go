package record

import (
	"strings"
	"testing"
	"time"

	carnet "github.com/carnet-sante/carnet"
)

// The order of $everything's documents and items (newest first, unknown
// times last, then by id) is what after resumes: every unit once over the
// pages, whatever is added before the position meanwhile.
func TestEverythingPositions(t *testing.T) {
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	type unit struct {
		at time.Time
		id string
	}
	units := []unit{{base, "b"}, {base, "c"}, {base.Add(-time.Hour), "a"}, {time.Time{}, "x"}, {time.Time{}, "y"}}
	var pos []byte
	var served []string
	for range units {
		for _, u := range units {
			ok, err := after(pos, u.at, u.id)
			if err != nil {
				t.Fatal(err)
			}
			if ok {
				served = append(served, u.id)
				pos = timeID(u.at, u.id)
				break
			}
		}
		// A newer unit arriving meanwhile comes before the position.
		units = append([]unit{{base.Add(time.Hour), "new"}}, units...)
	}
	if got := strings.Join(served, " "); got != "b c a x y" {
		t.Errorf("served %q one a page, want \"b c a x y\"", got)
	}
	if _, err := after([]byte("short"), base, "a"); !carnet.IsKind(err, carnet.KindInvalid) {
		t.Errorf("a position too short: %v, want invalid", err)
	}
}

// FuzzEverythingCursor: whatever a client sends as _page, reading it
// fails with KindInvalid or gives a phase and a position every phase reads
// without panicking; a cursor made is read back as made.
func FuzzEverythingCursor(f *testing.F) {
	tag := searchTag("everything", "p", []string(nil))
	f.Add(everythingCursor(tag, phaseDocuments, 7, timeID(time.Unix(1700000000, 0), "id-1")))
	f.Add(everythingCursor(tag, phaseAudit, 9, []byte{0, 0, 0, 0, 0, 0, 0, 3}))
	f.Add(everythingCursor(tag, phaseConsents, 0, []byte("consent-id")))
	f.Add("")
	f.Add("AAAAAAAAAAAAAAAAAAAAAAAA")
	f.Fuzz(func(t *testing.T, c string) {
		phase, bound, pos, err := readEverythingCursor(tag, c)
		if err != nil {
			if !carnet.IsKind(err, carnet.KindInvalid) {
				t.Fatalf("error %v is not invalid", err)
			}
			return
		}
		if phase <= phasePatient || phase >= phaseEnd {
			t.Fatalf("phase %d read from %q", phase, c)
		}
		_, _ = after(pos, time.Now(), "id")
		_, _ = after(pos, time.Time{}, "id")
		if again, _, _, err := readEverythingCursor(tag, everythingCursor(tag, phase, bound, pos)); err != nil || again != phase {
			t.Fatalf("a cursor made from what %q says does not read back: %v", c, err)
		}
	})
}
