//go:build !linux

package main

import "time"

// On other systems the benchmark runs, but without CPU time, RSS or a raised file limit (the
// figures that need them show as n/a).

func cpuTime() time.Duration { return -1 }

func maxRSS() int64 { return -1 }

func currentRSS() int64 { return -1 }

func raiseNoFile(want uint64) uint64 { return 0 }

func loadAvg() string { return "" }
