//go:build unix

package main

import (
	"syscall"
	"time"
)

// processCPU is the CPU time the process used so far (user and system): on
// a shared machine, what an operation costs is steadier than how long it
// took.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
