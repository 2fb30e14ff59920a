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

// quern runs the CLI with args in dir and waits for it, at most hangLimit.
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
	limit := hangLimit()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	select {
	case <-waited:
	case <-ctx.Done():
		cmd.Process.Kill()
		<-waited
		t.Fatalf("quern %s: still running after %v\nstderr:\n%s", strings.Join(args, " "), limit, stderr.String())
	}
	return result{stdout: stdout.String(), stderr: stderr.String(), code: cmd.ProcessState.ExitCode()}
}

// timeScaleEnv multiplies hangLimit where processes start slowly, as Go's
// GO_TEST_TIMEOUT_SCALE does for its slow builders: .ci/windows sets it.
const timeScaleEnv = "QUERN_TEST_TIME_SCALE"

// hangLimit bounds a CLI run, so that a hung one fails its test with its
// stderr rather than ending the whole test binary at -timeout. 30 s is far
// more than a run takes on Linux, even on a loaded machine. Under Wine a
// run is slow but not hung: a run starts three processes (driver and two
// workers), and Wine reads the whole 110 MB test binary into each one
// (about 0.75 s of CPU per start, against 0.13 s for a hello-world),
// which at load 35 on 2 cores took some runs past 30 s.
func hangLimit() time.Duration {
	limit := 30 * time.Second
	if scale, err := strconv.Atoi(os.Getenv(timeScaleEnv)); err == nil && scale > 1 {
		limit *= time.Duration(scale)
	}
	return limit
}
