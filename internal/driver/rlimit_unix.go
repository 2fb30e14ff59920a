//go:build unix

package driver

import "syscall"

// openFileLimit is the soft limit on open files (which Go raises to the
// hard limit at start-up), or 0 if unknown.
func openFileLimit() int64 {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil || lim.Cur > 1<<40 {
		return 0
	}
	return int64(lim.Cur)
}

// openFileLimitName says where openFileLimit comes from, for messages.
const openFileLimitName = "ulimit -n"
