// Package gctune sets the garbage collector as a Carnet server runs it.
//
// A server's live heap is small beside what a request allocates: the
// point-of-care card of a record of 2,000 documents reads megabytes of
// rows, while what stays between requests (the bounded caches) is some
// tens of megabytes. With Go's default (GOGC=100) the collector then runs
// every request or two, and on a 2-core machine its work falls on the
// requests it runs beside: the card's 99th percentile was measured 20–35 %
// above its median from that alone (docs/PERFORMANCE.md, "The card,
// night"). A server trades memory for it: the heap may grow to Percent/100
// + 1 times what is live.
package gctune

import (
	"os"
	"runtime/debug"
)

// Percent is the GOGC a server runs with when the environment does not
// set GOGC (which, like GOMEMLIMIT, the operator keeps the last word on).
const Percent = 400

// Apply sets the collector's percent to Percent unless GOGC is set, and
// returns what it set (0 when it left the runtime's setting) and a
// function that puts the previous setting back.
func Apply() (percent int, restore func()) {
	if os.Getenv("GOGC") != "" {
		return 0, func() {}
	}
	old := debug.SetGCPercent(Percent)
	return Percent, func() { debug.SetGCPercent(old) }
}
