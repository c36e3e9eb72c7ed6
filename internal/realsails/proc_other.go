//go:build !unix

package realsails

import "os/exec"

// setProcAttr does nothing where process groups are not available.
func setProcAttr(cmd *exec.Cmd) {}

// terminate stops the started process (there is no SIGTERM here).
func terminate(cmd *exec.Cmd) { kill(cmd) }

// kill kills the started process.
func kill(cmd *exec.Cmd) {
	if cmd.Process != nil {
		_ = cmd.Process.Kill()
	}
}
