package migration

import (
	"strings"
	"testing"
	"testing/fstest"
)

func TestLoad(t *testing.T) {
	good := fstest.MapFS{
		"m/0002_b.sql": {Data: []byte("B")},
		"m/0001_a.sql": {Data: []byte("A")},
		"m/README":     {Data: []byte("not a migration")},
	}
	ms, err := Load(good, "m")
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 2 || ms[0].Version != 1 || ms[0].Name != "0001_a.sql" || ms[0].SQL != "A" || ms[1].SQL != "B" {
		t.Fatalf("got %+v", ms)
	}
	for name, fsys := range map[string]fstest.MapFS{
		"no number": {"m/init.sql": {}},
		"zero":      {"m/0000_a.sql": {}},
		"duplicate": {"m/0001_a.sql": {}, "m/0001_b.sql": {}},
	} {
		if _, err := Load(fsys, "m"); err == nil || !strings.Contains(err.Error(), "migration") {
			t.Errorf("%s: got %v, want an error naming the migration", name, err)
		}
	}
}

// A gap is allowed (numbers given to branches in advance); order is by number.
func TestLoadGap(t *testing.T) {
	ms, err := Load(fstest.MapFS{"m/0012_c.sql": {Data: []byte("C")}, "m/0001_a.sql": {Data: []byte("A")}}, "m")
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 2 || ms[0].Version != 1 || ms[1].Version != 12 || Newest(ms) != 12 {
		t.Fatalf("got %+v", ms)
	}
}
