// The programs these tests run are shell command lines.
//go:build unix

package streaming

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	osexec "os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/quern-dev/quern/internal/procstat"
	"github.com/quern-dev/quern/mapreduce"
)

// helperEnv makes the test binary, re-executed, play a worker that starts
// a program and is then SIGKILLed (TestProgramDiesWithWorker).
const helperEnv = "QUERN_STREAMING_TEST_WORKER"

func TestMain(m *testing.M) {
	mapreduce.Main() // a worker of the end-to-end tests never returns
	playProgram()    // nor does a program of TestTestBinaryAsPrograms
	if pidFile := os.Getenv(helperEnv); pidFile != "" {
		p, err := Start(Options{Role: "mapper", Command: grandchild(pidFile) + "; wait"})
		if err != nil {
			os.Exit(1)
		}
		p.Close(context.Background(), func(k, v []byte) {}) // blocks until killed
		os.Exit(0)
	}
	goleak.VerifyTestMain(m)
}

type pair struct{ k, v string }

// run feeds lines to a program and returns its output pairs.
func run(t *testing.T, opts Options, lines ...string) ([]pair, error) {
	t.Helper()
	if opts.Role == "" {
		opts.Role = "mapper"
	}
	if opts.Log == nil {
		opts.Log = io.Discard
	}
	p, err := Start(opts)
	require.NoError(t, err)
	var got []pair
	emit := func(k, v []byte) { got = append(got, pair{string(k), string(v)}) }
	ctx := context.Background()
	for _, l := range lines {
		if err := p.Write(ctx, []byte(l), emit); err != nil {
			p.Abort()
			return got, err
		}
	}
	return got, p.Close(ctx, emit)
}

func TestKeyValueLines(t *testing.T) {
	got, err := run(t, Options{Command: "cat"}, "a\t1", "no tab here", "b\t2\t3", "\tempty key", "")
	require.NoError(t, err)
	require.Equal(t, []pair{{"a", "1"}, {"no tab here", ""}, {"b", "2\t3"}, {"", "empty key"}, {"", ""}}, got)
}

func TestUnterminatedLastLine(t *testing.T) {
	got, err := run(t, Options{Command: "printf 'x\\t1\\ny\\t2'"})
	require.NoError(t, err)
	require.Equal(t, []pair{{"x", "1"}, {"y", "2"}}, got)
}

// A program that writes as it reads, more than any pipe holds, neither
// deadlocks nor loses a line: the task drains output while it waits to
// send input.
func TestEchoMoreThanPipesHold(t *testing.T) {
	const n = 200000 // ~2.6 MB each way, far beyond 64 KiB pipes and our chunks
	p, err := Start(Options{Role: "mapper", Command: "cat", Log: io.Discard})
	require.NoError(t, err)
	var got int
	next := 0
	emit := func(k, v []byte) {
		require.Equal(t, "k"+strconv.Itoa(next), string(k))
		require.Equal(t, "value", string(v))
		next++
		got++
	}
	ctx := context.Background()
	for i := range n {
		require.NoError(t, p.Write(ctx, []byte("k"+strconv.Itoa(i)+"\tvalue"), emit))
	}
	require.NoError(t, p.Close(ctx, emit))
	require.Equal(t, n, got)
}

func TestExitStatusWithStderrTail(t *testing.T) {
	_, err := run(t, Options{Command: "cat >/dev/null; echo first >&2; echo 'bad thing happened' >&2; exit 3"}, "x")
	var pe *ProcError
	require.ErrorAs(t, err, &pe)
	require.Contains(t, err.Error(), "exit status 3")
	require.Contains(t, err.Error(), "bad thing happened")
	require.Contains(t, err.Error(), `mapper "cat >/dev/null`)
}

func TestCrashBySignal(t *testing.T) {
	_, err := run(t, Options{Command: "echo dying >&2; kill -SEGV $$"}, "x")
	require.Error(t, err)
	require.Contains(t, err.Error(), "segmentation fault")
	require.Contains(t, err.Error(), "dying")
}

func TestHugeLineFails(t *testing.T) {
	_, err := run(t, Options{Command: "head -c 300000 /dev/zero | tr '\\0' x; echo", MaxLine: 100000})
	require.ErrorIs(t, err, ErrLineTooLong)
	require.Contains(t, err.Error(), "more than 100000 bytes")
}

func TestLongLineBelowLimit(t *testing.T) {
	got, err := run(t, Options{Command: "head -c 300000 /dev/zero | tr '\\0' x; echo"})
	require.NoError(t, err)
	require.Len(t, got, 1)
	require.Len(t, got[0].k, 300000)
}

// A program that closes its stdin while it still has input to come fails
// the attempt, whatever its exit status.
func TestClosesStdinEarly(t *testing.T) {
	lines := make([]string, 100000) // ~1 MB: more than a pipe holds
	for i := range lines {
		lines[i] = "some input line"
	}
	_, err := run(t, Options{Command: "exec 0<&-; echo closed my input >&2; echo out; exit 0"}, lines...)
	require.Error(t, err)
	require.Contains(t, err.Error(), "stopped reading its input")
	require.Contains(t, err.Error(), "closed my input")
}

// A program's stdin is for reading only, as a pipe's read end is, also
// where it is a socket (stdin_linux.go): what a program writes to it
// fails (EBADF from a pipe; EPIPE, or SIGPIPE unless ignored, from the
// socket). The input is more than the socket holds, so the worker's end is
// still open when the program writes.
func TestStdinRefusesWrites(t *testing.T) {
	lines := make([]string, 100000)
	for i := range lines {
		lines[i] = "some input line"
	}
	got, err := run(t, Options{Command: "trap '' PIPE; if echo x >&0 2>/dev/null; then echo wrote; else echo refused; fi; cat >/dev/null"}, lines...)
	require.NoError(t, err)
	require.Equal(t, []pair{{"refused", ""}}, got)
}

func TestReporterLines(t *testing.T) {
	p, err := Start(Options{Role: "reducer", Log: io.Discard, Command: `cat >/dev/null
echo 'reporter:counter:Words,seen,5' >&2
echo 'reporter:counter:Words,seen,7' >&2
echo 'reporter:counter:Other,x,1' >&2
echo 'reporter:status:halfway there' >&2
echo 'reporter:counter:malformed' >&2
echo 'a log line' >&2
exit 1`})
	require.NoError(t, err)
	err = p.Close(context.Background(), func(k, v []byte) {})
	require.Error(t, err)
	counters, status, ok := p.Reports()
	require.True(t, ok)
	require.Equal(t, map[string]int64{"Words.seen": 12, "Other.x": 1}, counters)
	require.Equal(t, "halfway there", status)
	// Reporter lines are not log lines; malformed ones are.
	var pe *ProcError
	require.ErrorAs(t, err, &pe)
	require.Equal(t, "reporter:counter:malformed\na log line\n", pe.Stderr)
	_, _, ok = p.Reports()
	require.False(t, ok, "reports are taken once")
}

func TestLogLinesReachTheLog(t *testing.T) {
	var log bytes.Buffer
	_, err := run(t, Options{Command: "echo one >&2; echo reporter:status:s >&2; echo two >&2", Log: &log})
	require.NoError(t, err)
	require.Equal(t, "one\ntwo\n", log.String())
}

func TestEnvAndDir(t *testing.T) {
	dir := t.TempDir()
	got, err := run(t, Options{Command: `printf '%s\t%s\n' "$mapreduce_task_id" "$(pwd)"`, Dir: dir, Env: []string{"mapreduce_task_id=map-00007"}})
	require.NoError(t, err)
	real, _ := filepath.EvalSymlinks(dir)
	require.Equal(t, []pair{{"map-00007", real}}, got)
}

// A cancelled task kills its program, even one that reads nothing and hangs.
func TestCancelKillsHungProgram(t *testing.T) {
	p, err := Start(Options{Role: "mapper", Command: "exec sleep 1000", Log: io.Discard})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		var err error
		big := bytes.Repeat([]byte("x"), 1000)
		for err == nil {
			err = p.Write(ctx, big, func(k, v []byte) {})
		}
		done <- err
	}()
	cancel()
	require.ErrorIs(t, <-done, context.Canceled)
	require.True(t, p.reaped.Load())
}

// grandchild is a shell line that starts a process in the background (a
// grandchild of the worker: sh is the child) and writes its pid to
// pidFile.
func grandchild(pidFile string) string {
	return fmt.Sprintf("sleep 1000 & echo $! > %s.tmp && mv %s.tmp %s", pidFile, pidFile, pidFile)
}

// waitPid waits for pidFile and returns the live process it names.
func waitPid(t *testing.T, pidFile string) int {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; {
		if b, err := os.ReadFile(pidFile); err == nil {
			pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
			require.NoError(t, err)
			require.True(t, alive(pid))
			return pid
		}
		require.True(t, time.Now().Before(deadline), "the program never started")
		time.Sleep(10 * time.Millisecond)
	}
}

// requireDies waits for pid to be gone.
func requireDies(t *testing.T, pid int, what string) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); alive(pid); {
		require.True(t, time.Now().Before(deadline), "process %d outlived %s", pid, what)
		time.Sleep(10 * time.Millisecond)
	}
}

// The program's whole process tree dies with its worker, even when the
// worker is SIGKILLed (a task timeout kills the worker so): here a process
// the program's shell started in the background. Without Pdeathsig the
// guard's lifeline alone must do it, as on macOS and the BSDs.
func TestProgramTreeDiesWithWorker(t *testing.T) {
	t.Run("default", func(t *testing.T) { testProgramTreeDiesWithWorker(t, nil) })
	t.Run("without-pdeathsig", func(t *testing.T) {
		testProgramTreeDiesWithWorker(t, []string{"QUERN_NO_PDEATHSIG=1"})
	})
}

func testProgramTreeDiesWithWorker(t *testing.T, env []string) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	self, err := os.Executable()
	require.NoError(t, err)
	worker := osexec.Command(self, "-test.run=^$")
	worker.Env = append(append(os.Environ(), helperEnv+"="+pidFile), env...)
	require.NoError(t, worker.Start())
	pid := waitPid(t, pidFile)
	require.NoError(t, worker.Process.Kill())
	worker.Wait()
	requireDies(t, pid, "its SIGKILLed worker")
}

// Abort (a failed, cancelled or timed-out attempt) kills the program's
// whole process tree.
func TestAbortKillsProgramTree(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	p, err := Start(Options{Role: "mapper", Command: grandchild(pidFile) + "; wait", Log: io.Discard})
	require.NoError(t, err)
	pid := waitPid(t, pidFile)
	p.Abort()
	requireDies(t, pid, "an aborted program")
}

// A program that exits leaving a process in the background that holds its
// output open does not keep its task waiting: what it left is killed.
func TestWhatAProgramLeftIsKilled(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	got, err := run(t, Options{Command: grandchild(pidFile) + "; echo done"})
	require.NoError(t, err)
	require.Equal(t, []pair{{"done", ""}}, got)
	b, err := os.ReadFile(pidFile)
	require.NoError(t, err)
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	require.NoError(t, err)
	requireDies(t, pid, "its program")
}

// alive reports whether pid is a live process, not a zombie.
func alive(pid int) bool { return !procstat.Gone(pid) }

// A program's processor time (the streaming_program_cpu_ms counter, by
// which Quern's own share of a job is told apart) is the program's and
// what it waited for, without the guard's: the guard is Quern's. The guard
// process's rusage covers both, so the program's is less by the guard's
// own start and wait, and still counts the work the program did.
func TestProgramCPUIsTheProgramsOwn(t *testing.T) {
	p, err := Start(Options{Role: "mapper", Command: "i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done", Log: io.Discard})
	require.NoError(t, err)
	require.NoError(t, p.Close(context.Background(), func(k, v []byte) {}))
	st := p.cmd.ProcessState // the guard's, which reaped the program
	withGuard := st.UserTime() + st.SystemTime()
	require.Positive(t, p.CPU(), "the program's loop took no time")
	require.Less(t, p.CPU(), withGuard, "the guard's own time counted as the program's")
}

// The guard's status line carries the program's wait status and its time.
func TestGuardStatusLine(t *testing.T) {
	for _, tc := range []struct {
		line string
		cpu  time.Duration
		exit string
	}{
		{"0 1500000\n", 1500 * time.Millisecond, ""},
		{"768 20\n", 20 * time.Microsecond, "exit status 3"},
	} {
		r, w, err := os.Pipe()
		require.NoError(t, err)
		_, err = w.WriteString(tc.line)
		require.NoError(t, err)
		w.Close()
		cpu, exit := guard{status: r}.exit(nil)
		r.Close()
		require.Equal(t, tc.cpu, cpu, tc.line)
		if tc.exit == "" {
			require.NoError(t, exit)
		} else {
			require.EqualError(t, exit, tc.exit)
		}
	}
}

// A line that is one simple command runs without a shell, as Hadoop
// Streaming runs its commands; a line with any shell syntax, a shell
// builtin or a program the worker cannot find runs with sh -c.
func TestSimpleCommandRunsWithoutShell(t *testing.T) {
	cat, err := osexec.LookPath("cat")
	require.NoError(t, err)
	for _, tc := range []struct {
		line string
		env  []string
		args []string // nil: sh -c LINE
	}{
		{line: "cat", args: []string{"cat"}},
		{line: "  cat -u\t/dev/null ", args: []string{"cat", "-u", "/dev/null"}},
		{line: "cat --x=1,2:3@4%5+6", args: []string{"cat", "--x=1,2:3@4%5+6"}},
		{line: "cat | sort"},
		{line: "cat > out"},
		{line: "cat 'a b'"},
		{line: "cat $HOME"},
		{line: "cat *.txt"},
		{line: "cat ~/x"},
		{line: "cat; ls"},
		{line: "cat # comment"},
		{line: "FOO=1 cat"},
		{line: "echo -e x"},
		{line: "exec cat"},
		{line: "cd /tmp"},
		{line: "no-such-program-h9 x"},
		{line: "cat", env: []string{"PATH=/nowhere"}},
	} {
		cmd := shellCommand(tc.line, tc.env)
		if tc.args == nil {
			require.Equal(t, []string{"sh", "-c", tc.line}, cmd.Args, tc.line)
			continue
		}
		require.Equal(t, tc.args, cmd.Args, tc.line)
		require.Equal(t, cat, cmd.Path, tc.line)
	}
}

// A program run directly is the guard's child, with no shell between
// them; the same program in a shell line is the shell's.
func TestDirectProgramHasNoShellParent(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "parent.sh")
	require.NoError(t, os.WriteFile(script, []byte(`#!/bin/sh
# /proc on Linux; ps elsewhere (macOS), whose comm may be a path.
if [ -r /proc/$PPID/comm ]; then parent=$(cat /proc/$PPID/comm); else parent=$(basename "$(ps -o comm= -p $PPID)"); fi
printf 'parent\t%s\n' "$parent"
`), 0o755))
	got, err := run(t, Options{Command: "./parent.sh", Dir: dir})
	require.NoError(t, err)
	require.Len(t, got, 1)
	require.NotEqual(t, "sh", got[0].v, "a simple command ran under sh -c")
	got, err = run(t, Options{Command: "./parent.sh </dev/null", Dir: dir})
	require.NoError(t, err)
	require.Equal(t, []pair{{"parent", "sh"}}, got)
}

// A script without a #! line, run without a shell, is run by sh, as a
// shell runs it, rather than failing with "exec format error".
func TestScriptWithoutInterpreterLine(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "map"), []byte("printf '%s\\t%s\\n' \"$1\" \"$(cat)\"\n"), 0o755))
	got, err := run(t, Options{Command: "./map arg", Dir: dir}, "line")
	require.NoError(t, err)
	require.Equal(t, []pair{{"arg", "line"}}, got)
}
