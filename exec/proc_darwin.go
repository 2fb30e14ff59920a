package exec

import "syscall"

// peakRSS returns this process's peak resident set size in bytes, from
// getrusage: macOS reports ru_maxrss in bytes (Linux and the BSDs in KiB).
func peakRSS() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Maxrss
}
