//go:build unix

package exec

import (
	"fmt"
	"os"
	osexec "os/exec"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// On Unix the control pipes reach the worker as inherited file descriptors,
// cmd.ExtraFiles[0] and [1].
const (
	fdControl = 3 // driver -> worker
	fdResult  = 4 // worker -> driver
)

// passPipes hands the worker's ends of the control pipes to cmd.
func passPipes(cmd *osexec.Cmd, ctlR, resW *os.File) {
	cmd.ExtraFiles = []*os.File{ctlR, resW} // fd 3, fd 4
}

// adopt does nothing on Unix: how a worker dies with its driver is set up
// by sysProcAttr and watchDriver.
func adopt(*os.Process) error { return nil }

// havePipes reports whether the control pipes are open in this process.
func havePipes() bool {
	return fdOpen(fdControl) && fdOpen(fdResult)
}

func fdOpen(fd int) bool {
	_, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
	return err == nil
}

// openPipes returns the worker's ends of the control pipes as files.
func openPipes() (in, out *os.File, err error) {
	// Subprocesses that a handler starts must not inherit the control pipes:
	// a grandchild holding fd 4 open would hide this worker's death from the
	// driver.
	syscall.CloseOnExec(fdControl)
	syscall.CloseOnExec(fdResult)
	// The pipes arrive in blocking mode. Nonblocking lets os.File use the
	// runtime poller, so Close can interrupt a pending Read on the way out.
	if err := syscall.SetNonblock(fdControl, true); err != nil {
		return nil, nil, fmt.Errorf("control pipe fd %d: %w", fdControl, err)
	}
	if err := syscall.SetNonblock(fdResult, true); err != nil {
		return nil, nil, fmt.Errorf("result pipe fd %d: %w", fdResult, err)
	}
	return os.NewFile(fdControl, "quern-control"), os.NewFile(fdResult, "quern-result"), nil
}

// signalName is the signal that ended a reaped worker ("killed"), or "" when
// it exited.
func signalName(st *os.ProcessState) string {
	if ws, ok := st.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return ws.Signal().String()
	}
	return ""
}

// pollInterval is how often pollParent looks at the parent pid: the bound
// on how long a worker outlives its driver where the platform offers no
// notification.
const pollInterval = 100 * time.Millisecond

// pollParent calls gone once the process's parent is no longer driver,
// checking every pollInterval, until stop is called. A worker whose driver
// died is adopted by init or by a subreaper, so getppid changes. It is the
// portable way to watch a parent: every Unix has getppid.
func pollParent(driver int, gone func()) (stop func()) {
	done := make(chan struct{})
	go pollLoop(driver, done, gone)
	return func() { close(done) }
}

// pollLoop is pollParent's loop; it returns when done is closed or after
// calling gone.
func pollLoop(driver int, done <-chan struct{}, gone func()) {
	t := time.NewTicker(pollInterval)
	defer t.Stop()
	for os.Getppid() == driver {
		select {
		case <-t.C:
		case <-done:
			return
		}
	}
	gone()
}

// driverPid is the driver's pid as the pool passed it, or 0.
func driverPid() int {
	pid, _ := strconv.Atoi(os.Getenv(envDriverPid))
	return pid
}

func platformStartError() error { return nil }
