//go:build !unix

package llamafactory

import "os/exec"

// Without process groups the CLI itself is stopped; its children may
// outlive it.
func setProcessGroup(*exec.Cmd) {}

func terminateGroup(cmd *exec.Cmd) { _ = cmd.Process.Kill() }

func killGroup(cmd *exec.Cmd) { _ = cmd.Process.Kill() }
