//go:build unix

// Package cputime reads the process's CPU time, for benchmarks that report
// CPU per operation: on a shared machine steadier than latency.
package cputime

import (
	"syscall"
	"time"
)

// Process is the CPU time the process used so far (user and system).
func Process() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
