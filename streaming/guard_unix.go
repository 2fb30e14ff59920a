//go:build unix

package streaming

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	osexec "os/exec"
	"os/signal"
	"strconv"
	"sync"
	"syscall"
)

// A guard makes a program's whole process tree die with its worker.
//
// The program is a shell line: `sh -c 'python3 map.py | sort'` starts
// processes of its own, and a program may start more (a script that runs
// another in the background). Linux's Pdeathsig, which kills a child when
// its parent dies, reaches only the worker's direct child, and other Unix
// systems have none. So the worker does not start the shell itself: it
// re-executes its own binary as a small guard process (envGuard set, see
// init), which starts the shell in a new process group and watches a
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

// envGuard, set to 1, makes the binary run as a guard (runGuard) before
// main: the binary that links package streaming is the one workers run.
const envGuard = "QUERN_STREAMING_GUARD"

const (
	guardLifeFD   = 3
	guardStatusFD = 4
)

func init() {
	if os.Getenv(envGuard) == "1" {
		os.Exit(runGuard(os.Args[1:]))
	}
}

// guardCommand turns cmd (sh -c LINE, with its environment set) into the
// command that runs it under a guard.
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
	cmd.Args = append([]string{self}, cmd.Args...)
	cmd.Path = self
	cmd.Env = append(cmd.Env, envGuard+"=1")
	cmd.ExtraFiles = []*os.File{lifeR, statusW} // guardLifeFD, guardStatusFD
	cmd.SysProcAttr = guardProcAttr()
	return guard{life: lifeW, status: statusR, childEnds: []*os.File{lifeR, statusW}, once: new(sync.Once)}, nil
}

// started closes the guard's ends of the pipes in the worker, once the
// guard has them (or failed to start).
func (g guard) started() {
	for _, f := range g.childEnds {
		f.Close()
	}
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

// exit is how the program ended, from the wait status the guard passed
// back; or, if the guard passed none (it was killed), how the guard ended.
// nil for status 0.
func (g guard) exit(st *os.ProcessState) error {
	b, _ := io.ReadAll(io.LimitReader(g.status, 64))
	if ws, err := strconv.ParseUint(string(bytes.TrimSpace(b)), 10, 32); err == nil && len(b) > 0 {
		return waitError(syscall.WaitStatus(ws))
	}
	if st.Success() {
		return nil
	}
	return &osexec.ExitError{ProcessState: st}
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

// runGuard is the guard process: it runs args (sh -c LINE) in a process
// group of its own and kills that group when its lifeline closes, when it
// gets SIGTERM, and when the program has exited. It returns its exit code.
func runGuard(args []string) int {
	os.Unsetenv(envGuard) // a quern the program runs is no guard
	syscall.CloseOnExec(guardLifeFD)
	syscall.CloseOnExec(guardStatusFD)
	life := os.NewFile(guardLifeFD, "lifeline")
	status := os.NewFile(guardStatusFD, "status")
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "quern streaming guard: no command")
		return 127
	}
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM)
	cmd := osexec.Command(args[0], args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(os.Stderr, "quern streaming guard: %v\n", err)
		return 127
	}
	// The guard's own copies of the program's pipes go, so that only the
	// program holds them: the worker sees their end when the program's
	// processes are gone, not when the guard is.
	os.Stdin.Close()
	os.Stdout.Close()
	os.Stderr.Close()
	group := cmd.Process.Pid
	killGroup := func() { syscall.Kill(-group, syscall.SIGKILL) }
	go func() {
		io.Copy(io.Discard, life) // returns when the worker closes it or dies
		killGroup()
	}()
	go func() {
		<-term
		killGroup()
	}()
	err := cmd.Wait()
	killGroup() // what the program left running in its group
	var ws syscall.WaitStatus
	if cmd.ProcessState != nil {
		ws, _ = cmd.ProcessState.Sys().(syscall.WaitStatus)
	} else if err != nil && !errors.Is(err, os.ErrProcessDone) {
		return 127
	}
	fmt.Fprintf(status, "%d\n", uint32(ws))
	status.Close()
	return 0
}
