package sailsio_test

import (
	"syscall"
	"time"
)

// rusageThread is RUSAGE_THREAD: the calling thread's usage.
const rusageThread = 1

func rusageCPU(who int) time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(who, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// threadCPU is the CPU time of the calling thread (lock the goroutine to it).
func threadCPU() time.Duration { return rusageCPU(rusageThread) }

// processCPU is the CPU time of the process, every thread.
func processCPU() time.Duration { return rusageCPU(syscall.RUSAGE_SELF) }
