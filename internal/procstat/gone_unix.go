//go:build unix

package procstat

import (
	"errors"
	"os"
	"syscall"
)

// Gone reports whether process pid has ended: there is no such process,
// or it has exited and waits to be reaped (a zombie, which still takes a
// signal). Where there is no /proc (macOS, the BSDs) a zombie cannot be
// told and counts as live until its parent, or init, reaps it.
func Gone(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return true
	}
	fields, err := Fields(pid)
	if err != nil {
		// With a /proc, the process went between the two calls;
		// without one, the signal's answer stands.
		return hasProc()
	}
	return Exited(fields[0])
}

// hasProc reports whether this system has a Linux-style /proc.
func hasProc() bool {
	_, err := os.Stat("/proc/self/stat")
	return err == nil
}
