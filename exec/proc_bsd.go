//go:build dragonfly || freebsd || netbsd || openbsd

package exec

import "syscall"

// peakRSS returns this process's peak resident set size in bytes, from
// getrusage: the BSDs report ru_maxrss in KiB (macOS in bytes).
func peakRSS() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return int64(ru.Maxrss) << 10
}
