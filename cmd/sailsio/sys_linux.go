package main

import (
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
)

// raiseFileLimit raises this process's open-file soft limit to its hard limit, and the hard limit too
// when the process may (root): up to fs.nr_open, at most 1<<20. It returns the soft limit in force.
func raiseFileLimit() uint64 {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return 0
	}
	want := uint64(1 << 20)
	if b, err := os.ReadFile("/proc/sys/fs/nr_open"); err == nil {
		if n, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64); err == nil && n < want {
			want = n
		}
	}
	if rl.Max < want {
		up := syscall.Rlimit{Cur: want, Max: want}
		if syscall.Setrlimit(syscall.RLIMIT_NOFILE, &up) == nil {
			return want
		}
	}
	if rl.Cur < rl.Max {
		rl.Cur = rl.Max
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl)
	}
	_ = syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl)
	return rl.Cur
}

// ephemeralPorts returns the kernel's ephemeral port range size (0 when unknown).
func ephemeralPorts() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return 0
	}
	lo, err1 := strconv.Atoi(f[0])
	hi, err2 := strconv.Atoi(f[1])
	if err1 != nil || err2 != nil {
		return 0
	}
	return hi - lo + 1
}

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
	st := procStats{Pid: os.Getpid(), Goroutines: runtime.NumGoroutine(), HeapInuse: ms.HeapInuse, StackInuse: ms.StackInuse, GoSys: ms.Sys}
	if b, err := os.ReadFile("/proc/self/statm"); err == nil {
		if f := strings.Fields(string(b)); len(f) > 1 {
			if pages, err := strconv.ParseUint(f[1], 10, 64); err == nil {
				st.RSS = pages * uint64(os.Getpagesize())
			}
		}
	}
	return st
}

// openFileLimit returns the open-file soft limit.
func openFileLimit() uint64 {
	var rl syscall.Rlimit
	_ = syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl)
	return rl.Cur
}

// cpuTimes returns this process's user and system CPU time in seconds.
func cpuTimes() (user, sys float64) {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0, 0
	}
	tv := func(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }
	return tv(ru.Utime), tv(ru.Stime)
}
