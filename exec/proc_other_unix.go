//go:build unix && !linux && !darwin && !dragonfly && !freebsd && !netbsd && !openbsd

package exec

import "syscall"

// Other Unix systems (AIX, Solaris, illumos): no Pdeathsig and no kqueue, so
// a worker polls getppid to learn of its driver's death, as well as reading
// EOF on its control pipe; peak RSS is not reported.

// sysProcAttr is how the pool starts a worker.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}

func watchDriver(driver int, gone func()) (stop func()) {
	return pollParent(driver, gone)
}

func peakRSS() int64 { return 0 }
