//go:build unix

package llamafactory

import (
	"os/exec"
	"syscall"
)

// setProcessGroup starts the CLI as the leader of a new process group, so
// that cancelling reaches every process it starts (torchrun workers,
// dataloader workers).
func setProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

func terminateGroup(cmd *exec.Cmd) { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM) }

func killGroup(cmd *exec.Cmd) { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
