//go:build unix

package testenv

import (
	"syscall"
	"time"
)

// CPUTime returns the user+sys CPU time this process has used, so that a
// benchmark can report CPU beside wall time on a loaded machine, where
// wall time mostly measures the other processes.
func CPUTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
