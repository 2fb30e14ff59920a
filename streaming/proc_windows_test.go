package streaming

import (
	"errors"
	"io"
	"io/fs"
	"os"
	osexec "os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"golang.org/x/sys/windows"

	"github.com/quern-dev/quern/mapreduce"
)

// The test binary plays a Streaming program that starts a process of its
// own: run with treeEnv=parent (under cmd /C, as every program runs) it
// starts itself again with treeEnv=child, writes the child's pid to the
// file named by pidEnv and sleeps; the child sleeps. Neither ends unless
// it is killed.
const (
	treeEnv = "STREAMING_TEST_TREE"
	pidEnv  = "STREAMING_TEST_PID_FILE"
)

func TestMain(m *testing.M) {
	mapreduce.Main() // a worker of the end-to-end tests never returns
	playProgram()    // nor does a program of TestTestBinaryAsPrograms
	switch os.Getenv(treeEnv) {
	case "parent":
		child := osexec.Command(os.Args[0])
		child.Env = append(os.Environ(), treeEnv+"=child")
		if err := child.Start(); err != nil {
			os.Exit(1)
		}
		pidFile := os.Getenv(pidEnv)
		os.WriteFile(pidFile+".tmp", []byte(strconv.Itoa(child.Process.Pid)), 0o644)
		os.Rename(pidFile+".tmp", pidFile)
		time.Sleep(24 * time.Hour)
		os.Exit(0)
	case "child":
		time.Sleep(24 * time.Hour)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestAbortKillsProgramTree: an aborted attempt ends the processes its
// program started, not only the program (cmd.exe), which would leave them
// running until the driver's end.
func TestAbortKillsProgramTree(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "grandchild.pid")
	p, err := Start(Options{Role: "mapper", Command: os.Args[0], Log: io.Discard,
		Env: []string{treeEnv + "=parent", pidEnv + "=" + pidFile}})
	if err != nil {
		t.Fatal(err)
	}
	pid := waitPid(t, pidFile)
	h, err := windows.OpenProcess(windows.SYNCHRONIZE|windows.PROCESS_TERMINATE, false, uint32(pid))
	if err != nil {
		t.Fatalf("open the program's child, pid %d: %v", pid, err)
	}
	defer windows.CloseHandle(h)
	defer windows.TerminateProcess(h, 1) // only if the test failed
	p.Abort()
	// A kill takes milliseconds; the bound keeps a failing test from
	// hanging.
	if ev, err := windows.WaitForSingleObject(h, uint32(time.Minute/time.Millisecond)); err != nil || ev != windows.WAIT_OBJECT_0 {
		t.Fatalf("the program's child still runs a minute after Abort (%#x, %v)", ev, err)
	}
}

// waitPid waits for the parent to write its child's pid, as long as the
// test may run.
func waitPid(t *testing.T, path string) int {
	t.Helper()
	for {
		data, err := os.ReadFile(path)
		if err == nil {
			pid, err := strconv.Atoi(string(data))
			if err != nil {
				t.Fatalf("%s: %q", path, data)
			}
			return pid
		}
		// Missing, or being renamed into place.
		if !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, windows.ERROR_SHARING_VIOLATION) {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
