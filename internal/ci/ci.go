// Package ci tells tests whether they run in CI, where everything they
// need (PostgreSQL, ../shared, Chromium) must be there: a test that skips
// elsewhere for want of it fails instead. One place decides, so that every
// guard reads CI the same way.
package ci

import (
	"os"
	"strings"
	"testing"
)

// Enforced reports whether the CI variable is set to a true value (true,
// 1, yes or on, in any case; CI services set it to "true", some to "1").
func Enforced() bool {
	switch strings.ToLower(strings.TrimSpace(os.Getenv("CI"))) {
	case "true", "1", "yes", "on":
		return true
	}
	return false
}

// Missing stops t for want of what why names: it fails under CI, and
// skips with why elsewhere (a fresh clone, a machine without the service).
func Missing(t testing.TB, format string, args ...any) {
	t.Helper()
	if Enforced() {
		t.Fatalf("CI must run this test, but: "+format, args...)
	}
	t.Skipf("skipped: "+format, args...)
}
