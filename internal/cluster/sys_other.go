//go:build unix && !linux

package cluster

import "syscall"

func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}

func closeInheritedOnExec() {}

// signalGroup sends sig to the process group of the process pid started (its group id is its pid).
func signalGroup(pid int, sig syscall.Signal) { syscall.Kill(-pid, sig) }
