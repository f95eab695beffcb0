//go:build !unix

package xua

import "time"

func processCPU() time.Duration { return 0 }
