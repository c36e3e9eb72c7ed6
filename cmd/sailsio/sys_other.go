//go:build !linux

package main

import (
	"os"
	"runtime"
)

// raiseFileLimit does nothing outside Linux; it returns 0 (unknown).
func raiseFileLimit() uint64 { return 0 }

// ephemeralPorts is unknown outside Linux.
func ephemeralPorts() int { return 0 }

// procStats is a process's memory and socket figures.
type procStats struct {
	Pid            int    `json:"pid"`
	PingIntervalMS int64  `json:"ping_interval_ms,omitempty"`
	Sockets        int    `json:"sockets"`
	Goroutines     int    `json:"goroutines"`
	HeapInuse      uint64 `json:"heap_inuse"`
	StackInuse     uint64 `json:"stack_inuse"`
	GoSys          uint64 `json:"go_sys"`
	RSS            uint64 `json:"rss"`
}

func readProcStats() procStats {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return procStats{Pid: os.Getpid(), Goroutines: runtime.NumGoroutine(), HeapInuse: ms.HeapInuse, StackInuse: ms.StackInuse, GoSys: ms.Sys}
}

// openFileLimit is unknown outside Linux.
func openFileLimit() uint64 { return 0 }

// cpuTimes is unknown outside Linux.
func cpuTimes() (user, sys float64) { return 0, 0 }
