package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/quern-dev/quern/mapreduce"
)

// The tests run the CLI as a process of its own: the test binary, started
// with cliEnv=1, is `quern`. Its workers re-execute the same binary, and
// TestMain turns them into workers before anything else, as main does.
const (
	cliEnv = "QUERN_TEST_CLI"
	// logIntervalEnv lowers logInterval in a CLI process, so that a test
	// sees the periodic progress line of a short job.
	logIntervalEnv = "QUERN_TEST_LOG_INTERVAL"
)

func TestMain(m *testing.M) {
	mapreduce.Main()
	if os.Getenv(cliEnv) == "1" {
		if d, err := time.ParseDuration(os.Getenv(logIntervalEnv)); err == nil {
			logInterval = d
		}
		os.Exit(run(append([]string{"quern"}, os.Args[1:]...)))
	}
	// Race-enabled children otherwise sleep a second at exit.
	os.Setenv("GORACE", "atexit_sleep_ms=0")
	goleak.VerifyTestMain(m)
}

// quernCmd returns the command that runs the CLI with args in dir, with
// env added to the test's environment.
func quernCmd(t *testing.T, dir string, env []string, args ...string) *exec.Cmd {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self, args...)
	cmd.Dir = dir
	// Jobs keep their work directories in a temp dir of the test's own,
	// never seeing (or cleaning) those of jobs outside the test.
	cmd.Env = append(append(os.Environ(), cliEnv+"=1", "TMPDIR="+t.TempDir()), env...)
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// result is what a finished CLI process printed and its exit status.
type result struct {
	stdout, stderr string
	code           int
}

func (r result) String() string {
	return "exit status " + strconv.Itoa(r.code) + "\nstdout:\n" + r.stdout + "\nstderr:\n" + r.stderr
}

// quern runs the CLI with args in dir and waits for it, at most 30 s.
func quern(t *testing.T, dir string, args ...string) result {
	t.Helper()
	return quernEnv(t, dir, nil, args...)
}

func quernEnv(t *testing.T, dir string, env []string, args ...string) result {
	t.Helper()
	cmd := quernCmd(t, dir, env, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	select {
	case <-waited:
	case <-ctx.Done():
		cmd.Process.Kill()
		<-waited
		t.Fatalf("quern %s: still running after 30 s\nstderr:\n%s", strings.Join(args, " "), stderr.String())
	}
	return result{stdout: stdout.String(), stderr: stderr.String(), code: cmd.ProcessState.ExitCode()}
}
