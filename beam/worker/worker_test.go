//go:build linux

package worker

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/quern-dev/quern/beam/internal/beamtest"
	"github.com/quern-dev/quern/beam/internal/scratch"
)

// The tests start this test binary as a worker's stand-in: a process that
// runs as boot's copy of the worker binary (ROOT/binNNN/worker), holds a
// bundle's temporary directory and watches its parent, as a worker serving
// a job does. roleEnv says which part a process plays.
const (
	roleEnv  = "QUERN_WORKER_TEST_ROLE" // "boot" or "worker"
	copyEnv  = "QUERN_WORKER_TEST_COPY" // the worker's binary, ROOT/binNNN/worker
	readyEnv = "QUERN_WORKER_TEST_READY"
)

func TestMain(m *testing.M) {
	switch os.Getenv(roleEnv) {
	case "boot": // starts the worker, as boot does, and waits to be killed
		cmd := exec.Command(os.Getenv(copyEnv))
		cmd.Env = append(os.Environ(), roleEnv+"=worker")
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(3)
		}
		select {}
	case "worker":
		bootCopyRoot = filepath.Dir(filepath.Dir(os.Getenv(copyEnv)))
		watch(10 * time.Millisecond) // before the test is told to signal
		dir, err := scratch.MkdirTemp("run", "", "quern-beam-sort-")
		if err == nil {
			err = os.WriteFile(filepath.Join(dir, "run-00000"), []byte("spilled"), 0o644)
		}
		if err == nil { // tell the test the worker's pid and directory, whole
			ready := os.Getenv(readyEnv)
			err = os.WriteFile(ready+".tmp", fmt.Appendf(nil, "%d %s", os.Getpid(), dir), 0o644)
			if err == nil {
				err = os.Rename(ready+".tmp", ready)
			}
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(3)
		}
		select {} // until watch exits the process
	}
	os.Exit(m.Run())
}

// startWorker copies this test binary to ROOT/binNNN/worker, where boot
// puts its copy, and starts it as role ("boot" starts the worker as its
// child); it returns the command, the copy, the worker's pid and its
// temporary directory once the worker is ready.
func startWorker(t *testing.T, role string) (cmd *exec.Cmd, copyPath string, pid int, dir string) {
	t.Helper()
	self, err := os.Executable()
	require.NoError(t, err)
	bin, err := os.MkdirTemp(t.TempDir(), "bin")
	require.NoError(t, err)
	copyPath = filepath.Join(bin, "worker")
	copyFile(t, self, copyPath)
	ready := filepath.Join(t.TempDir(), "ready")
	cmd = exec.Command(copyPath)
	cmd.Env = append(os.Environ(), roleEnv+"="+role, copyEnv+"="+copyPath, readyEnv+"="+ready,
		"TMPDIR="+t.TempDir())
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("stderr:\n%s", stderr.String())
		}
	})
	beamtest.WaitFor(t, "the worker to start", func() bool { _, err := os.Stat(ready); return err == nil })
	b, err := os.ReadFile(ready)
	require.NoError(t, err)
	pidText, dir, ok := strings.Cut(string(b), " ")
	require.True(t, ok, "%q", b)
	pid, err = strconv.Atoi(pidText)
	require.NoError(t, err)
	require.DirExists(t, dir)
	return cmd, copyPath, pid, dir
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	src, err := os.Open(from)
	require.NoError(t, err)
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o755)
	require.NoError(t, err)
	_, err = io.Copy(dst, src)
	require.NoError(t, err)
	require.NoError(t, dst.Close())
}

// gone tells whether process pid has exited (a zombie, which holds
// nothing, counts: an orphan's reaper may be slow or absent).
func gone(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	i := bytes.LastIndexByte(stat, ')')
	return i > 0 && i+2 < len(stat) && stat[i+2] == 'Z'
}

// TestWorkerExitsWhenBootDies kills the worker's parent, as Beam's worker
// pool kills boot when the runner stops a worker (a job cancelled or
// failed mid-way): the worker exits and removes its bundles' temporary
// directories and boot's copy of the binary.
func TestWorkerExitsWhenBootDies(t *testing.T) {
	boot, copyPath, pid, dir := startWorker(t, "boot")
	require.NoError(t, boot.Process.Kill())
	boot.Wait()
	beamtest.WaitFor(t, "the orphaned worker to exit", func() bool { return gone(pid) })
	require.NoDirExists(t, dir, "the bundle's temporary directory is left")
	require.NoFileExists(t, copyPath, "boot's copy of the binary is left")
	require.NoDirExists(t, filepath.Dir(copyPath))
}

// TestWorkerExitsOnSIGTERM stops the worker as a container runtime does.
func TestWorkerExitsOnSIGTERM(t *testing.T) {
	worker, copyPath, _, dir := startWorker(t, "worker")
	require.NoError(t, worker.Process.Signal(syscall.SIGTERM))
	err := worker.Wait()
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit)
	require.Equal(t, 1, exit.ExitCode())
	require.NoDirExists(t, dir, "the bundle's temporary directory is left")
	require.NoFileExists(t, copyPath, "boot's copy of the binary is left")
}
