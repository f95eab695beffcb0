package main

import (
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"
)

func TestParseRetention(t *testing.T) {
	for in, want := range map[string]time.Duration{"30d": 30 * 24 * time.Hour, "10y": 3650 * 24 * time.Hour, "720h": 720 * time.Hour, "0": 0, "": 0} {
		if got, err := parseRetention(in); err != nil || got != want {
			t.Errorf("%q: %v %v, want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"-3h", "ten years", "5w"} {
		if _, err := parseRetention(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// The technical log rotates daily and forgets files past its retention,
// independently of the access history.
func TestRotatingFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "carnet.log")
	day := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	r := &rotatingFile{path: path, retention: 3 * 24 * time.Hour, now: func() time.Time { return day }}
	if err := r.rotate(); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 6; i++ {
		if _, err := r.Write([]byte("line\n")); err != nil {
			t.Fatal(err)
		}
		day = day.Add(24 * time.Hour)
	}
	r.Close()
	got, _ := filepath.Glob(path + "*")
	sort.Strings(got)
	want := []string{path, path + ".2026-11-03", path + ".2026-11-04", path + ".2026-11-05"}
	if len(got) != len(want) {
		t.Fatalf("files %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("file %d: %s, want %s", i, got[i], want[i])
		}
	}
	if info, err := os.Stat(path); err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("log file mode: %v %v", info.Mode().Perm(), err)
	}
}
