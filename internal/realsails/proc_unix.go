//go:build unix

package realsails

import (
	"os/exec"
	"syscall"
)

// setProcAttr starts the server in its own process group, so that stopping it reaches every
// process it may have started, and nothing else.
func setProcAttr(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

// terminate sends SIGTERM to the process group of the started process.
func terminate(cmd *exec.Cmd) { signalGroup(cmd, syscall.SIGTERM) }

// kill sends SIGKILL to the process group of the started process.
func kill(cmd *exec.Cmd) { signalGroup(cmd, syscall.SIGKILL) }

func signalGroup(cmd *exec.Cmd, sig syscall.Signal) {
	if cmd.Process == nil || cmd.Process.Pid <= 0 {
		return
	}
	// The group id is the pid of the started process (Setpgid with Pgid 0).
	_ = syscall.Kill(-cmd.Process.Pid, sig)
}
