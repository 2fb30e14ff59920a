//go:build windows

package lockfile

import (
	"os"

	"golang.org/x/sys/windows"
)

// enforced says whether tryLock keeps other processes out here.
const enforced = true

var errWouldBlock = windows.ERROR_LOCK_VIOLATION

func tryLock(f *os.File) error {
	var ol windows.Overlapped
	return windows.LockFileEx(windows.Handle(f.Fd()),
		windows.LOCKFILE_EXCLUSIVE_LOCK|windows.LOCKFILE_FAIL_IMMEDIATELY, 0, 1, 0, &ol)
}

// removeLocked leaves the file: Windows does not remove an open file, and
// the next Acquire reuses it.
func removeLocked(string) {}
