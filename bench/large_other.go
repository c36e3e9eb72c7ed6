//go:build !linux

package main

func resetPeakRSS() bool { return false }

func peakRSS() int64 { return -1 }
