package cluster

import "syscall"

// sysProcAttr puts the process in a group of its own (stopped as a group) and has the kernel stop
// it if the test process dies first.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
