package streaming

import (
	"os"
	osexec "os/exec"
)

// shellCommand runs a command line with cmd /C, Windows' shell.
func shellCommand(line string) *osexec.Cmd {
	return osexec.Command("cmd", "/C", line)
}

// guard is empty on Windows: the program runs as the worker's own child,
// and is in the Job Object that exec puts every worker in, which kills it
// with the driver. A worker killed alone (a task timeout) leaves the
// processes the program started to end at the driver's end.
type guard struct{}

func guardCommand(*osexec.Cmd) (guard, error) { return guard{}, nil }
func (guard) started()                        {}
func (guard) close()                          {}

func (guard) exit(st *os.ProcessState) error {
	if st.Success() {
		return nil
	}
	return &osexec.ExitError{ProcessState: st}
}

// kill kills the program (not the processes it started).
func (p *Proc) kill() {
	if p.reaped.Load() {
		return
	}
	p.cmd.Process.Kill()
}
