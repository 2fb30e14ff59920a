//go:build unix

package lockfile

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// enforced says whether tryLock keeps other processes out here.
const enforced = true

var errWouldBlock = unix.EWOULDBLOCK

func tryLock(f *os.File) error {
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if !errors.Is(err, unix.EINTR) {
			return err
		}
	}
}

// release removes the file while still holding its lock: an Acquire that
// opened it meanwhile takes the lock once we close, sees the path gone or
// another file there (see same), and tries again.
func release(f *os.File, path string) {
	os.Remove(path)
	f.Close()
}
