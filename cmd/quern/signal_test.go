//go:build linux

package main

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// markEnv marks every process of one test's job tree: the driver gets it
// from the test and its workers inherit it, so the test can find them all
// in /proc whatever their parentage by then.
const markEnv = "QUERN_TEST_MARK"

// stuckJob is a driver whose map tasks hang until they are killed.
type stuckJob struct {
	cmd      *exec.Cmd
	stderr   *bytes.Buffer
	mark     string
	dir      string // the job's working directory, holding in.txt
	tmp, out string
}

// startStuckJob starts a wordcount driver whose map tasks hang at their
// tenth record (ignoring cancellation, as a task deep in user code would),
// and returns once a map attempt has begun and workers are running.
func startStuckJob(t *testing.T, dir string, env ...string) *stuckJob {
	t.Helper()
	// A killed job leaves its output directory behind; each job gets
	// its own.
	return startStuckJobOn(t, dir, "", nil, env...)
}

// startStuckJobOn is startStuckJob writing to out (a new directory if
// ""), with more options for quern run.
func startStuckJobOn(t *testing.T, dir, out string, options []string, env ...string) *stuckJob {
	t.Helper()
	if _, err := os.Stat(filepath.Join(dir, "in.txt")); err != nil {
		genText(t, dir, "in.txt", "64KiB")
	}
	j := &stuckJob{
		mark: fmt.Sprintf("%s=%x", markEnv, rand.Uint64()),
		dir:  dir, tmp: filepath.Join(dir, "tmp"),
		stderr: &bytes.Buffer{},
		out:    out,
	}
	if j.out == "" {
		j.out = filepath.Join(dir, "out-"+j.mark[len(markEnv)+1:])
	}
	if err := os.MkdirAll(j.tmp, 0o755); err != nil {
		t.Fatal(err)
	}
	j.cmd = quernCmd(t, dir, append([]string{j.mark, "QUERN_FAULTS=map-*/0@record:10=hang"}, env...),
		append([]string{"run", "wordcount", "-i", "in.txt", "-o", j.out, "--tmp-dir", j.tmp, "--workers", "2", "--split-size", "16KiB"}, options...)...)
	j.cmd.Stderr = j.stderr
	if err := j.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// Whatever the test found, leave no process behind.
		if j.cmd.ProcessState == nil {
			j.cmd.Process.Kill()
			j.cmd.Wait()
		}
		for _, pid := range markedProcs(t, j.mark) {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	waitFor(t, 10*time.Second, "a map attempt to start", func() bool {
		attempts, _ := filepath.Glob(filepath.Join(j.tmp, "_quern-*", "map-*", "attempt-*"))
		return len(attempts) > 0 && len(markedProcs(t, j.mark)) >= 2
	})
	return j
}

// wait waits for the driver to exit, at most 10 s, and returns its state.
func (j *stuckJob) wait(t *testing.T) *os.ProcessState {
	t.Helper()
	done := make(chan struct{})
	go func() {
		j.cmd.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		j.cmd.Process.Kill()
		<-done
		t.Fatalf("the driver did not exit within 10 s of the signal\nstderr:\n%s", j.stderr)
	}
	return j.cmd.ProcessState
}

// wantNoProcesses checks that every process of the job goes.
//
// It waits for a state, not a duration: on a loaded machine a worker may
// take more than its usual second to go, so only one that never goes
// (alive at hangLimit) fails the test.
func (j *stuckJob) wantNoProcesses(t *testing.T) {
	t.Helper()
	limit := hangLimit()
	deadline := time.Now().Add(limit)
	for {
		left := markedProcs(t, j.mark)
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			var desc []string
			for _, pid := range left {
				cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
				desc = append(desc, fmt.Sprintf("%d %q", pid, bytes.ReplaceAll(cmdline, []byte{0}, []byte{' '})))
			}
			t.Fatalf("processes of the job still alive %v after the driver exited: %s", limit, strings.Join(desc, "; "))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// wantNothingCommitted checks that the output directory is gone or holds
// nothing that looks like output.
func (j *stuckJob) wantNothingCommitted(t *testing.T) {
	t.Helper()
	for _, pattern := range []string{"_SUCCESS", "part-*", "merged*"} {
		if m, _ := filepath.Glob(filepath.Join(j.out, pattern)); len(m) > 0 {
			t.Errorf("a stopped job left %q", m)
		}
	}
}

func (j *stuckJob) workDirs(t *testing.T) []string {
	t.Helper()
	dirs, err := filepath.Glob(filepath.Join(j.tmp, "_quern-*"))
	if err != nil {
		t.Fatal(err)
	}
	return dirs
}

func TestSignalStopsJob(t *testing.T) {
	for _, tc := range []struct {
		sig  syscall.Signal
		code int
		name string
	}{
		{syscall.SIGINT, 130, "SIGINT (interrupt)"},
		{syscall.SIGTERM, 143, "SIGTERM (terminated)"},
	} {
		t.Run(tc.sig.String(), func(t *testing.T) {
			j := startStuckJob(t, t.TempDir())
			if err := j.cmd.Process.Signal(tc.sig); err != nil {
				t.Fatal(err)
			}
			sent := time.Now()
			st := j.wait(t)
			t.Logf("driver exited %v after %v", st, time.Since(sent))
			if st.ExitCode() != tc.code {
				t.Errorf("exit status %v, want %d\nstderr:\n%s", st, tc.code, j.stderr)
			}
			if !strings.Contains(j.stderr.String(), "quern: stopped by "+tc.name) {
				t.Errorf("stderr does not say the job was stopped by %s:\n%s", tc.name, j.stderr)
			}
			j.wantNoProcesses(t)
			// The hung tasks ignore cancellation, so they live out the
			// driver's 2 s grace and are then killed: the worst case.
			// 2 s plus a generous margin for a loaded machine: what
			// matters is that the driver does not wait for the tasks.
			if took := time.Since(sent); took > 15*time.Second {
				t.Errorf("the job's processes took %v to go after %v, want about 2 s", took, tc.sig)
			}
			if dirs := j.workDirs(t); len(dirs) > 0 {
				t.Errorf("work directories left after %v: %q", tc.sig, dirs)
			}
			j.wantNothingCommitted(t)
		})
	}
}

// sigkill SIGKILLs the job's driver and checks that every process of the
// job goes by itself and nothing is committed.
func (j *stuckJob) sigkill(t *testing.T) {
	t.Helper()
	if err := j.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	if st := j.wait(t); st.Success() {
		t.Fatalf("driver survived SIGKILL: %v", st)
	}
	j.wantNoProcesses(t)
	j.wantNothingCommitted(t)
}

func TestSIGKILLLeavesNothingRunning(t *testing.T) {
	dir := t.TempDir()
	j := startStuckJob(t, dir)
	// The workers notice by themselves: Pdeathsig, and EOF on their pipe.
	j.sigkill(t)
	dirs := j.workDirs(t)
	if len(dirs) != 1 {
		t.Fatalf("want the killed job's work directory left behind, found %q", dirs)
	}

	// quern clean removes it, and says so.
	r := quern(t, dir, "clean", "--tmp-dir", j.tmp)
	if r.code != 0 || r.stdout != "removed "+dirs[0]+"\n" {
		t.Fatalf("clean: want %s removed\n%s", dirs[0], r)
	}
	if left := j.workDirs(t); len(left) > 0 {
		t.Fatalf("clean left %q", left)
	}

	// Killed again; this time the next job in the same --tmp-dir removes
	// the leftovers at start-up, and is not confused by the dead job's
	// half-written output directory.
	j = startStuckJob(t, dir)
	j.cmd.Process.Kill()
	j.wait(t)
	j.wantNoProcesses(t)
	if dirs := j.workDirs(t); len(dirs) != 1 {
		t.Fatalf("want the killed job's work directory left behind, found %q", dirs)
	}
	r = quern(t, dir, "run", "wordcount", "-i", "in.txt", "-o", "again", "--tmp-dir", j.tmp, "--reducers", "1", "-q")
	if r.code != 0 {
		t.Fatal(r)
	}
	if left := j.workDirs(t); len(left) > 0 {
		t.Errorf("a new job left the dead job's work directory: %q", left)
	}
	wantCounts(t, parseCounts(t, readFile(t, filepath.Join(dir, "again", "part-00000"))), countWords(t, readFile(t, filepath.Join(dir, "in.txt"))))
}

// Without Pdeathsig, as on macOS and the BSDs, the workers of a SIGKILLed
// driver still go by themselves, their map tasks hung in user code: the
// worker's watcher of its parent closes the control pipe and the process
// exits 1.2 s after the death whatever its handler does.
func TestSIGKILLLeavesNothingRunningWithoutPdeathsig(t *testing.T) {
	startStuckJob(t, t.TempDir(), "QUERN_NO_PDEATHSIG=1").sigkill(t)
}

// markedProcs lists the live processes whose environment holds mark
// ("KEY=VALUE"). A zombie's environment reads empty, so it is not listed.
func markedProcs(t *testing.T, mark string) []int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	want := []byte("\x00" + mark + "\x00")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		env, err := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
		if err != nil {
			continue // gone meanwhile, or not ours to read
		}
		if bytes.Contains(append([]byte{0}, env...), want) {
			pids = append(pids, pid)
		}
	}
	return pids
}

func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
