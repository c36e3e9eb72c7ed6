package cluster

import (
	"os"
	"strconv"
	"syscall"
)

// sysProcAttr puts the process in a group of its own (stopped as a group) and has the kernel signal
// it if the test process dies first: SIGTERM, so that an nginx master stops its workers with it
// (SIGKILL would leave them orphaned, serving on).
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
}

// closeInheritedOnExec marks the descriptors this process inherited (beyond stdin, stdout and
// stderr) close-on-exec, so that the cluster's programs do not keep them open: a lock file held by
// the command that started the tests (flock) would otherwise stay locked as long as they run.
func closeInheritedOnExec() {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return
	}
	for _, e := range entries {
		if fd, err := strconv.Atoi(e.Name()); err == nil && fd > 2 {
			syscall.CloseOnExec(fd)
		}
	}
}

// signalGroup sends sig to the process group of the process pid started (its group id is its pid).
func signalGroup(pid int, sig syscall.Signal) { syscall.Kill(-pid, sig) }
