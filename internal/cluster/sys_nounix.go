//go:build !unix

package cluster

import (
	"os"
	"syscall"
)

// sysProcAttr: no process groups here.
func sysProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{} }

func closeInheritedOnExec() {}

// signalGroup kills the process pid (no groups, no signals but a kill here).
func signalGroup(pid int, _ syscall.Signal) {
	if p, err := os.FindProcess(pid); err == nil {
		p.Kill()
	}
}
