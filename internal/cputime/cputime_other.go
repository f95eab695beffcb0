//go:build !unix

// Package cputime reads the process's CPU time, for benchmarks that report
// CPU per operation: on a shared machine steadier than latency.
package cputime

import "time"

// Process is 0 where the CPU time is not read.
func Process() time.Duration { return 0 }
