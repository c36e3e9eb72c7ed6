//go:build !linux

package sailsio_test

import "time"

// threadCPU and processCPU are not measured here: BenchmarkEvents reports client-µs/event as 0.
func threadCPU() time.Duration  { return 0 }
func processCPU() time.Duration { return 0 }
