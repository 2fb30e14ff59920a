//go:build unix

package input

import (
	"syscall"
	"time"
)

// cpuTime returns the user+sys CPU time this process has used, so that a
// benchmark can report CPU beside wall time on a loaded machine.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
