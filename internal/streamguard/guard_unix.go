//go:build unix

package streamguard

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// Env, set to 1, makes the binary run as a guard (run) before main: the
// binary that links package streaming, and so this package, is the one
// workers run.
const Env = "QUERN_STREAMING_GUARD"

// The guard's descriptors besides the program's stdin, stdout and stderr
// (fd 0-2, passed through): the lifeline's read end, and the status
// pipe's write end.
const (
	LifeFD   = 3
	StatusFD = 4
)

func init() {
	if os.Getenv(Env) == "1" {
		os.Exit(run(os.Args[1:]))
	}
}

// run is the guard process: it runs args (the program's path, then its
// argv: /bin/sh sh -c LINE, or /usr/bin/python3 python3 map.py) in a
// process group of its own and kills that group when its lifeline closes,
// when it gets SIGTERM, and when the program has exited. It passes the
// program's wait status and processor time back on the status pipe (see
// Status). It returns its exit code. It starts the program with
// os.StartProcess rather than os/exec, whose package init would have the
// guard wait for most of the binary's (see the package comment); the
// worker resolved the path.
func run(args []string) int {
	os.Unsetenv(Env) // a quern the program runs is no guard
	syscall.CloseOnExec(LifeFD)
	syscall.CloseOnExec(StatusFD)
	life := os.NewFile(LifeFD, "lifeline")
	status := os.NewFile(StatusFD, "status")
	if len(args) < 2 {
		fmt.Fprintln(os.Stderr, "quern streaming guard: no command")
		return 127
	}
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM)
	attr := &os.ProcAttr{
		Files: []*os.File{os.Stdin, os.Stdout, os.Stderr},
		Sys:   &syscall.SysProcAttr{Setpgid: true},
	}
	proc, err := os.StartProcess(args[0], args[1:], attr)
	if errors.Is(err, syscall.ENOEXEC) {
		// A script without a #! line, run without a shell: the shell
		// would run it as a shell script, and so does the guard.
		proc, err = os.StartProcess("/bin/sh", append([]string{"sh", args[0]}, args[2:]...), attr)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "quern streaming guard: %v\n", err)
		return 127
	}
	// The guard's own copies of the program's pipes go, so that only the
	// program holds them: the worker sees their end when the program's
	// processes are gone, not when the guard is.
	os.Stdin.Close()
	os.Stdout.Close()
	os.Stderr.Close()
	group := proc.Pid
	killGroup := func() { syscall.Kill(-group, syscall.SIGKILL) }
	go func() {
		io.Copy(io.Discard, life) // returns when the worker closes it or dies
		killGroup()
	}()
	go func() {
		<-term
		killGroup()
	}()
	st, err := proc.Wait()
	killGroup() // what the program left running in its group
	if err != nil {
		return 127
	}
	// The status line: the program's wait status, and the processor time
	// (user and system, microseconds) of the program and of the processes
	// it waited for. The guard's own time is not in it: it is Quern's,
	// not the user's program's.
	ws, _ := st.Sys().(syscall.WaitStatus)
	fmt.Fprintf(status, "%d %d\n", uint32(ws), (st.UserTime() + st.SystemTime()).Microseconds())
	status.Close()
	return 0
}
