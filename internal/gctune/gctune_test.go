package gctune

import (
	"runtime/debug"
	"testing"
)

func TestApply(t *testing.T) {
	t.Setenv("GOGC", "")
	before := debug.SetGCPercent(100)
	defer debug.SetGCPercent(before)
	pct, restore := Apply()
	if got := debug.SetGCPercent(Percent); pct != Percent || got != Percent {
		t.Fatalf("without GOGC: Apply said %d, the runtime ran at %d; want %d", pct, got, Percent)
	}
	restore()
	if got := debug.SetGCPercent(100); got != 100 {
		t.Fatalf("restore left the collector at %d, want 100", got)
	}

	t.Setenv("GOGC", "150")
	debug.SetGCPercent(150)
	pct, restore = Apply()
	defer restore()
	if got := debug.SetGCPercent(150); pct != 0 || got != 150 {
		t.Fatalf("with GOGC=150: Apply said %d and the runtime ran at %d; the operator's setting must stand", pct, got)
	}
}
