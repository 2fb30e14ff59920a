//go:build unix

package exec_test

import (
	"errors"
	"syscall"

	"github.com/quern-dev/quern/internal/procstat"
)

// How a worker killed from outside (SIGKILL) is reported.
const (
	killedSignal   = "killed"
	killedExitCode = -1
)

// killPid kills pid outright, as the OOM killer or a user would.
func killPid(pid int) error { return syscall.Kill(pid, syscall.SIGKILL) }

// processGone reports whether pid no longer runs: no such process, or a
// zombie that an init process that does not reap has inherited.
func processGone(pid int) bool { return procstat.Gone(pid) }

// processReaped reports whether pid is gone and not a zombie either.
func processReaped(pid int) bool {
	return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}

// freezePid stops pid without ending it (SIGSTOP): it is alive and reads
// nothing.
func freezePid(pid int) error { return syscall.Kill(pid, syscall.SIGSTOP) }
