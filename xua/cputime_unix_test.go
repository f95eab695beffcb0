//go:build unix

package xua

import (
	"syscall"
	"time"
)

// processCPU is the process's CPU time so far: what a verification costs,
// steadier than its latency on a shared machine.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
