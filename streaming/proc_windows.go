package streaming

import (
	osexec "os/exec"
	"syscall"
)

// shellCommand runs a command line with cmd /C, Windows' shell.
func shellCommand(line string) *osexec.Cmd {
	return osexec.Command("cmd", "/C", line)
}

func childProcAttr() *syscall.SysProcAttr { return nil }

// kill kills the program (not the processes it started: Windows has no
// process groups to kill at once without a job object).
func (p *Proc) kill() {
	if p.reaped.Load() {
		return
	}
	p.cmd.Process.Kill()
}
