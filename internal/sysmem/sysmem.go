// Package sysmem reads the memory limit a process runs under: the limit of
// its control group (cgroup), which a container's --memory, a Kubernetes
// pod's limits.memory and systemd's MemoryMax all set. A job planned for
// the machine's memory inside such a limit has its workers killed by the
// kernel's OOM killer, attempt after attempt, with nothing in the error
// but "signal: killed".
package sysmem

// Limit returns the memory limit of the calling process's cgroup in bytes
// and the file it was read from; ok is false where there is none, or none
// can be read (no cgroup, not Linux).
func Limit() (limit int64, from string, ok bool) {
	return limitUnder(procCgroup, cgroupRoot)
}

// Available returns the memory the calling process may use: its cgroup's
// limit, else the machine's physical memory (Linux, macOS, Windows), with where it was
// read; ok is false where neither is known.
func Available() (bytes int64, from string, ok bool) {
	if limit, from, ok := Limit(); ok {
		return limit, from, true
	}
	if total, ok := physical(); ok {
		return total, "the machine's memory", true
	}
	return 0, "", false
}
