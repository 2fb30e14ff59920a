package streaming

import (
	"os"
	osexec "os/exec"
	"time"

	"github.com/quern-dev/quern/internal/winjob"
)

// checksPrograms: cmd /C runs every line and has builtins and
// extensions (PATHEXT) of its own, so CheckPrograms leaves it to cmd.
const checksPrograms = false

// shellCommand runs a command line with cmd /C, Windows' shell.
func shellCommand(line string, _ []string) *osexec.Cmd {
	return osexec.Command("cmd", "/C", line)
}

// A guard makes a program's whole process tree die with its attempt: the
// program runs in a Job Object of its own (package winjob), nested in the
// one that exec puts every worker in. Killing the program (Abort, a
// timeout, a cancelled attempt) terminates the job, so cmd.exe and what it
// started (python, a pipeline's commands) end together, where killing
// cmd.exe alone would leave them running until the driver's end. When the
// program exits by itself, closing the job ends what it left running, as
// the guard does on Unix; if the worker dies, Windows closes the job.
type guard struct{ tree *winjob.Tree }

func guardCommand(*osexec.Cmd) (guard, error) {
	t, err := winjob.New()
	if err != nil {
		return guard{}, err
	}
	return guard{t}, nil
}

// start starts cmd in the program's job.
func (g guard) start(cmd *osexec.Cmd) error { return g.tree.Start(cmd) }

// close ends what the program left running and releases the job.
func (g guard) close() { g.tree.Close() }

// exit is how the program ended and the processor time it used (with
// what it waited for).
func (guard) exit(st *os.ProcessState) (time.Duration, error) {
	cpu := st.UserTime() + st.SystemTime()
	if st.Success() {
		return cpu, nil
	}
	return cpu, &osexec.ExitError{ProcessState: st}
}

// kill kills the program's whole process tree.
func (p *Proc) kill() { _ = p.guard.tree.Kill() }
