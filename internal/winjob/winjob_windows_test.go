package winjob

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/windows"
)

// The test binary plays the tree: run with helperEnv=parent it starts
// itself again as a child (helperEnv=child), prints the child's pid and
// waits for its stdin to close; the child allocates and touches
// childBytes, says so, and waits likewise. Neither exits by itself while
// its stdin is open, so only the job can end the child.
const (
	helperEnv  = "WINJOB_TEST_HELPER"
	nestEnv    = "WINJOB_TEST_NEST" // set: the parent starts the child in a job of its own
	childBytes = 64 << 20
)

var sink []byte

func TestMain(m *testing.M) {
	switch os.Getenv(helperEnv) {
	case "parent":
		child := exec.Command(os.Args[0])
		child.Env = append(os.Environ(), helperEnv+"=child")
		in, err := child.StdinPipe() // held open: the child never sees EOF
		if err != nil {
			panic(err)
		}
		out, err := child.StdoutPipe()
		if err != nil {
			panic(err)
		}
		start := child.Start
		if os.Getenv(nestEnv) != "" {
			inner, err := New()
			if err != nil {
				panic(err)
			}
			defer inner.Close()
			start = func() error { return inner.Start(child) }
		}
		if err := start(); err != nil {
			panic(err)
		}
		line, err := bufio.NewReader(out).ReadString('\n')
		if err != nil {
			panic(err)
		}
		fmt.Printf("%d %s", child.Process.Pid, line)
		os.Stdin.Read(make([]byte, 1))
		in.Close()
		os.Exit(0)
	case "child":
		sink = make([]byte, childBytes)
		for i := range sink {
			sink[i] = 1
		}
		fmt.Println("allocated")
		os.Stdin.Read(make([]byte, 1))
		runtime.KeepAlive(sink)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// startTree starts the helper tree in a job and returns the job and
// handles to the parent's and the child's processes; env is added to the
// parent's environment.
func startTree(t *testing.T, env ...string) (tree *Tree, parent, child windows.Handle) {
	t.Helper()
	tree, err := New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tree.Close)
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(append(os.Environ(), helperEnv+"=parent"), env...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stdin.Close() })
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := tree.Start(cmd); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	var pid int
	var said string
	if _, err := fmt.Fscan(out, &pid, &said); err != nil || said != "allocated" {
		t.Fatalf("the helper tree did not start: %q, %v", said, err)
	}
	parent = openProcess(t, cmd.Process.Pid)
	child = openProcess(t, pid)
	return tree, parent, child
}

// openProcess opens pid to wait for it, and to kill it if the test fails.
func openProcess(t *testing.T, pid int) windows.Handle {
	t.Helper()
	h, err := windows.OpenProcess(windows.SYNCHRONIZE|windows.PROCESS_TERMINATE, false, uint32(pid))
	if err != nil {
		t.Fatalf("open pid %d: %v", pid, err)
	}
	t.Cleanup(func() {
		windows.TerminateProcess(h, 1) // only if the test failed
		windows.CloseHandle(h)
	})
	return h
}

// waitGone fails the test unless process h has exited or exits within a
// minute (far more than a kill takes; the bound only keeps a failing test
// from hanging).
func waitGone(t *testing.T, h windows.Handle, what string) {
	t.Helper()
	ev, err := windows.WaitForSingleObject(h, uint32(time.Minute/time.Millisecond))
	if err != nil || ev != windows.WAIT_OBJECT_0 {
		t.Fatalf("%s still runs a minute after its job was ended (%#x, %v)", what, ev, err)
	}
}

// TestKillEndsTheTree: Kill ends the command and the process it started,
// which os.Process.Kill alone leaves running.
func TestKillEndsTheTree(t *testing.T) {
	tree, parent, child := startTree(t)
	if err := tree.Kill(); err != nil {
		t.Fatal(err)
	}
	waitGone(t, parent, "the command")
	waitGone(t, child, "the command's child")
}

// TestKillEndsANestedTree: a process of the tree that has a job of its own
// inside the tree's, as a Quern worker's Streaming program has, is killed
// with the tree.
func TestKillEndsANestedTree(t *testing.T) {
	tree, parent, child := startTree(t, nestEnv+"=1")
	if err := tree.Kill(); err != nil {
		t.Fatal(err)
	}
	waitGone(t, parent, "the command")
	waitGone(t, child, "the command's child, in a job of its own")
}

// TestCloseEndsTheTree: closing the job, as Windows does when its owner
// exits, ends every process in it.
func TestCloseEndsTheTree(t *testing.T) {
	tree, parent, child := startTree(t)
	tree.Close()
	waitGone(t, parent, "the command")
	waitGone(t, child, "the command's child")
	if err := tree.Kill(); err != nil {
		t.Errorf("Kill after Close: %v, want nothing done", err)
	}
}

// TestPeakProcessMemory: the job's figure covers a process the command
// started, not only the command.
func TestPeakProcessMemory(t *testing.T) {
	tree, _, _ := startTree(t)
	got := tree.PeakProcessMemory()
	if got == 0 && limitsReadZero(t, tree) {
		// Wine 8.0's NtQueryInformationJobObject fills
		// JobObjectExtendedLimitInformation with zeros (dlls/ntdll/unix/sync.c);
		// the job's limits themselves work (TestCloseEndsTheTree).
		t.Skip("this system answers the job's extended limit information with zeros, even LimitFlags " +
			"(KILL_ON_JOB_CLOSE set, 0 read back), as Wine 8.0 does: the peak is not measurable here")
	}
	if got < childBytes {
		t.Errorf("peak process memory %d bytes, want at least the child's %d", got, childBytes)
	} else {
		t.Logf("peak process memory %s MiB", strconv.FormatFloat(float64(got)/(1<<20), 'f', 1, 64))
	}
}

// limitsReadZero reports whether the job's extended limit information
// reads back without the KILL_ON_JOB_CLOSE that New set: a system that
// does not keep the job's figures, rather than a peak of 0.
func limitsReadZero(t *testing.T, tree *Tree) bool {
	t.Helper()
	var info windows.JOBOBJECT_EXTENDED_LIMIT_INFORMATION
	if err := windows.QueryInformationJobObject(tree.job, windows.JobObjectExtendedLimitInformation,
		uintptr(unsafe.Pointer(&info)), uint32(unsafe.Sizeof(info)), nil); err != nil {
		t.Fatalf("querying the job: %v", err)
	}
	return info.BasicLimitInformation.LimitFlags&windows.JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE == 0
}
