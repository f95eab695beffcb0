package main

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// `carnet bench load` against a real --demo server: a short run files,
// declares the GP's care relationship, searches and reads, with no error,
// and prints a line per operation with its percentiles. What the documents
// filed became is then seen as a professional would: the GP finds them.
func TestBenchLoad(t *testing.T) {
	data := t.TempDir()
	s := startServe(t, "--demo", "--data", data)
	out := mustCarnet(t, "bench", "load", "--url", s.URL, "--clients", "2", "--count", "40", "--duration", "2m",
		"--patients", "2", "--large=false", "--mix", "file=2,search=1,read=1", "--seed", "77")
	rows := map[string][]string{}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) >= 8 {
			rows[f[0]] = f
		}
	}
	for _, op := range []string{"file", "consent", "search", "read"} {
		r := rows[op]
		if r == nil {
			t.Fatalf("no %s line:\n%s", op, out)
		}
		if ok, _ := strconv.Atoi(r[1]); ok == 0 || r[2] != "0" {
			t.Errorf("%s: %s succeeded, %s errors, want some and none:\n%s", op, r[1], r[2], out)
		}
		for _, p := range r[4:8] {
			if !regexp.MustCompile(`^[0-9.]+(ms|µs|s)$`).MatchString(p) {
				t.Errorf("%s: percentile %q is not a duration", op, p)
			}
		}
	}
	if c, _ := strconv.Atoi(rows["consent"][1]); c > 2 {
		t.Errorf("%d care-team declarations for 2 records", c)
	}
	if strings.Contains(out, "error:") {
		t.Errorf("errors reported:\n%s", out)
	}
	// The filings are in the records, for the GP.
	gp := demoToken(t, s, "gp")
	code, b := get(t, s.URL+"/DocumentReference?_count=1&_total=accurate&patient.identifier="+
		strings.ReplaceAll(loadPatient(t, 77), "|", "%7C"), gp)
	if code != 200 || b["total"] == nil || b["total"].(float64) < 1 {
		t.Errorf("the GP's search of a loaded record: %d total %v", code, b["total"])
	}
}

// loadPatient is the first record `bench load --seed seed --patients 2` files into.
func loadPatient(t *testing.T, seed uint64) string {
	t.Helper()
	p, err := newLoadPool(seed, 2, false)
	if err != nil {
		t.Fatal(err)
	}
	return p.patients[0].System + "|" + p.patients[0].Value
}
