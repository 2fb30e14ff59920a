//go:build linux || dragonfly || openbsd || solaris || aix

package input

import (
	"syscall"
	"time"
)

// statModTime is the modification time of st, as os.Stat gives it.
func statModTime(st *syscall.Stat_t) time.Time {
	//nolint:unconvert // the field types differ between systems
	return time.Unix(int64(st.Mtim.Sec), int64(st.Mtim.Nsec))
}
