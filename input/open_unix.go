//go:build unix

package input

import (
	"io/fs"
	"os"
	"syscall"
)

// openFile opens path for reading, as os.Open does, in fewer system
// calls. os.Open offers every file to the runtime's network poller, which
// for a regular file costs three fcntl calls and a failing epoll_ctl on
// Linux; os.NewFile on a blocking descriptor skips that. Over a folder of
// tiny files, where each file is opened twice (Expand sniffs it, a task
// reads it), those calls were a noticeable part of the job.
func openFile(path string) (*os.File, error) {
	for {
		fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return nil, &fs.PathError{Op: "open", Path: path, Err: err}
		}
		return os.NewFile(uintptr(fd), path), nil
	}
}
