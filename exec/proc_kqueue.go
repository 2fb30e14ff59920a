//go:build darwin || dragonfly || freebsd || netbsd || openbsd

package exec

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// macOS and the BSDs have no Pdeathsig. A worker learns of its driver's
// death from the kernel instead: kqueue's EVFILT_PROC NOTE_EXIT on the
// driver's pid, as well as EOF on its control pipe.

// sysProcAttr is how the pool starts a worker.
func sysProcAttr() *syscall.SysProcAttr {
	// Own process group: Ctrl-C at a terminal signals the foreground group,
	// and the driver, not the kernel, decides how workers stop.
	return &syscall.SysProcAttr{Setpgid: true}
}

// kqueueWait bounds each kevent call, so that stop is noticed.
const kqueueWait = 500_000_000 // ns

// watchDriver calls gone when the driver has exited, until stop is called.
// If kqueue cannot watch the driver it polls getppid instead.
func watchDriver(driver int, gone func()) (stop func()) {
	kq, err := unix.Kqueue()
	if err != nil {
		return pollParent(driver, gone)
	}
	unix.CloseOnExec(kq)
	ev := []unix.Kevent_t{{}}
	unix.SetKevent(&ev[0], driver, unix.EVFILT_PROC, unix.EV_ADD|unix.EV_ONESHOT)
	ev[0].Fflags = unix.NOTE_EXIT
	if _, err := unix.Kevent(kq, ev, nil, nil); err != nil {
		unix.Close(kq)
		if err == unix.ESRCH { // already gone
			go gone()
			return func() {}
		}
		return pollParent(driver, gone)
	}
	// The driver may have died, and its pid been reused, before the
	// registration: then this process has been adopted already.
	if unix.Getppid() != driver {
		unix.Close(kq)
		go gone()
		return func() {}
	}
	done := make(chan struct{})
	go func() {
		defer unix.Close(kq)
		timeout := unix.NsecToTimespec(kqueueWait)
		out := make([]unix.Kevent_t, 1)
		for {
			select {
			case <-done:
				return
			default:
			}
			n, err := unix.Kevent(kq, nil, out, &timeout)
			if err == unix.EINTR || (err == nil && n == 0) {
				continue
			}
			if err != nil {
				// kqueue broke; poll for the rest of the worker's life.
				pollLoop(driver, done, gone)
				return
			}
			gone()
			return
		}
	}()
	return func() { close(done) }
}
