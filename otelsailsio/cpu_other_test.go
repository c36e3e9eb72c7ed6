//go:build !unix

package otelsailsio_test

import "time"

// cpuTime is not measured here: BenchmarkInstrument then reports no cpu-µs/op.
func cpuTime() time.Duration { return 0 }
