//go:build darwin || freebsd || netbsd

package input

import (
	"syscall"
	"time"
)

// statModTime is the modification time of st, as os.Stat gives it.
func statModTime(st *syscall.Stat_t) time.Time {
	//nolint:unconvert // the field types differ between systems
	return time.Unix(int64(st.Mtimespec.Sec), int64(st.Mtimespec.Nsec))
}
