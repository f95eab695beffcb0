package ci

import "testing"

func TestEnforced(t *testing.T) {
	for v, want := range map[string]bool{"true": true, "1": true, "TRUE": true, " yes ": true, "on": true,
		"": false, "false": false, "0": false, "no": false} {
		t.Setenv("CI", v)
		if got := Enforced(); got != want {
			t.Errorf("CI=%q: Enforced() = %v, want %v", v, got, want)
		}
	}
}
