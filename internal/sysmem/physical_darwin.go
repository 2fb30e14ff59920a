package sysmem

import "golang.org/x/sys/unix"

// physical is the machine's memory, sysctl hw.memsize.
func physical() (int64, bool) {
	n, err := unix.SysctlUint64("hw.memsize")
	return int64(n), err == nil && n > 0
}
