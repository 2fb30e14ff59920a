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

// release closes the file, then removes it: Windows removes no file that
// is open. Should another process open it in between (an Acquire, or a
// Held probe), the removal fails and the file stays, as a killed holder's
// would: the next Acquire reuses it.
func release(f *os.File, path string) {
	f.Close()
	os.Remove(path)
}
