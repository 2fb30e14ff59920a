//go:build unix

package streaming

import (
	"bytes"
	"fmt"
	"io"
	"os"
	osexec "os/exec"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/quern-dev/quern/internal/streamguard"
)

// A guard makes a program's whole process tree die with its worker.
//
// The program may be a shell line: `sh -c 'python3 map.py | sort'` starts
// processes of its own, and a program may start more (a script that runs
// another in the background). Linux's Pdeathsig, which kills a child when
// its parent dies, reaches only the worker's direct child, and other Unix
// systems have none. So the worker does not start the program itself: it
// re-executes its own binary as a small guard process (package
// streamguard), which starts it in a new process group and watches a
// lifeline, a pipe whose only write end the worker holds. When the
// lifeline closes, because the worker closed it (Abort, a timeout, a
// cancelled attempt) or because the worker died (the kernel closes a dead
// process's files, even after SIGKILL), the guard SIGKILLs the program's
// process group. On Linux the guard also asks for SIGTERM when the worker
// dies (Pdeathsig), which it handles the same way. When the program exits
// by itself, the guard kills what it left running in its group (a
// background process that would hold the output pipe open) and passes the
// program's wait status back on a second pipe, so that the worker reports
// "exit status 3" or "signal: segmentation fault" as the program's own.
// A process that leaves the group (setsid) escapes, as it would from
// Hadoop's process-tree kill.
//
// Pipe layout in the guard: fd 0-2 are the program's stdin, stdout and
// stderr, passed through; fd 3 is the lifeline (read end); fd 4 is the
// status pipe (write end).
type guard struct {
	life      *os.File // worker's write end of the lifeline
	status    *os.File // worker's read end of the status pipe
	childEnds []*os.File
	once      *sync.Once
}

// guardCommand turns cmd (sh -c LINE or the program itself, with its
// environment set; see shellCommand) into the command that runs it under a
// guard.
func guardCommand(cmd *osexec.Cmd) (guard, error) {
	self, err := os.Executable()
	if err != nil {
		return guard{}, fmt.Errorf("find the worker's binary to run the guard: %w", err)
	}
	lifeR, lifeW, err := os.Pipe()
	if err != nil {
		return guard{}, err
	}
	statusR, statusW, err := os.Pipe()
	if err != nil {
		lifeR.Close()
		lifeW.Close()
		return guard{}, err
	}
	cmd.Args = append([]string{self, cmd.Path}, cmd.Args...) // the guard's args: sh's path, then its argv
	cmd.Path = self
	cmd.Env = append(cmd.Env, streamguard.Env+"=1")
	cmd.ExtraFiles = []*os.File{lifeR, statusW} // streamguard.LifeFD, streamguard.StatusFD
	cmd.SysProcAttr = guardProcAttr()
	return guard{life: lifeW, status: statusR, childEnds: []*os.File{lifeR, statusW}, once: new(sync.Once)}, nil
}

// start starts cmd, the guard, and then closes the guard's ends of the
// pipes in the worker: the guard has them, or failed to start.
func (g guard) start(cmd *osexec.Cmd) error {
	err := cmd.Start()
	for _, f := range g.childEnds {
		f.Close()
	}
	return err
}

// kill closes the lifeline: the guard kills the program's process group
// and exits. Safe to call more than once, from any goroutine.
func (g guard) kill() {
	if g.once != nil {
		g.once.Do(func() { g.life.Close() })
	}
}

// close releases the worker's ends of the pipes once the guard is reaped.
func (g guard) close() {
	g.kill()
	if g.status != nil {
		g.status.Close()
	}
}

// exit is the processor time the program used and how it ended (nil for
// status 0), both from the line the guard passed back (see
// streamguard.run); or, if the guard passed none (it was killed), the time
// of the guard and what it reaped, and how the guard ended.
func (g guard) exit(st *os.ProcessState) (time.Duration, error) {
	b, _ := io.ReadAll(io.LimitReader(g.status, 64))
	if f := bytes.Fields(b); len(f) == 2 {
		ws, err1 := strconv.ParseUint(string(f[0]), 10, 32)
		us, err2 := strconv.ParseInt(string(f[1]), 10, 64)
		if err1 == nil && err2 == nil {
			return time.Duration(us) * time.Microsecond, waitError(syscall.WaitStatus(ws))
		}
	}
	cpu := st.UserTime() + st.SystemTime()
	if st.Success() {
		return cpu, nil
	}
	return cpu, &osexec.ExitError{ProcessState: st}
}

// ProgramExit is how a program that did not succeed ended: a non-zero exit
// status or a signal. Its message is the one os/exec gives.
type ProgramExit struct {
	Status syscall.WaitStatus
}

func (e *ProgramExit) Error() string {
	switch {
	case e.Status.Exited():
		return "exit status " + strconv.Itoa(e.Status.ExitStatus())
	case e.Status.Signaled():
		msg := "signal: " + e.Status.Signal().String()
		if e.Status.CoreDump() {
			msg += " (core dumped)"
		}
		return msg
	}
	return fmt.Sprintf("wait status %#x", uint32(e.Status))
}

func waitError(ws syscall.WaitStatus) error {
	if ws.Exited() && ws.ExitStatus() == 0 {
		return nil
	}
	return &ProgramExit{Status: ws}
}
