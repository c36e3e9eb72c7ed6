//go:build !linux

package sailsio

import "sync/atomic"

// wakerFD exists on Linux only (an eventfd); elsewhere Do waits on a channel.
type wakerFD struct{}

func newWakerFD() (wakerFD, bool)       { return wakerFD{}, false }
func (*wakerFD) wake()                  {}
func (*wakerFD) wait(*atomic.Bool) bool { return false }
