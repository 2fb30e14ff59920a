//go:build unix

package bench

import (
	"os/exec"
	"syscall"
)

// processTree is a started command and every process it starts: a process
// group of its own (which, on Linux, dies with the suite).
type processTree struct{ cmd *exec.Cmd }

// startTree starts cmd as the leader of a process group of its own, so
// that kill reaches all of it.
func startTree(cmd *exec.Cmd) (*processTree, error) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	dieWithParent(cmd.SysProcAttr)
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	return &processTree{cmd}, nil
}

// kill SIGKILLs the process group.
func (t *processTree) kill() { _ = syscall.Kill(-t.cmd.Process.Pid, syscall.SIGKILL) }

// peakRSS is the peak RSS in bytes of the reaped command and the
// descendants it reaped, from its rusage: the largest of its processes.
func (t *processTree) peakRSS() int64 {
	if ru, ok := t.cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		return int64(ru.Maxrss) * maxrssUnit
	}
	return 0
}

func (t *processTree) close() {}
