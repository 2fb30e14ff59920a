//go:build unix

package input

import (
	"fmt"
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
	fd, err := openFD(path)
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), path), nil
}

// openFD opens path for reading and returns the bare descriptor; an error
// is an *fs.PathError, as os.Open's.
func openFD(path string) (int, error) {
	for {
		fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return -1, &fs.PathError{Op: "open", Path: path, Err: err}
		}
		return fd, nil
	}
}

// sniffFile reads the first headSize bytes of the regular file path,
// described by fi (from a stat), and returns them with the file's ID, for
// Expand, which does this for every input file. It takes three system
// calls (open, read, close) on a bare descriptor: over a folder of 6,576
// tiny files, an *os.File's fcntl, finaliser and poller bookkeeping were
// a third of Expand's work per file. An error is the open's (an
// *fs.PathError) or says "read PATH".
func sniffFile(path string, fi fs.FileInfo) (head []byte, id FileID, haveID bool, err error) {
	fd, err := openFD(path)
	if err != nil {
		return nil, FileID{}, false, err
	}
	head = make([]byte, headSize)
	n := 0
	for n < len(head) {
		m, rerr := syscall.Read(fd, head[n:])
		if rerr == syscall.EINTR {
			continue
		}
		if rerr != nil {
			err = rerr
			break
		}
		if m == 0 {
			break
		}
		n += m
	}
	if cerr := syscall.Close(fd); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, FileID{}, false, fmt.Errorf("read %s: %w", path, err)
	}
	id, haveID = statFileID(fi)
	return head[:n], id, haveID, nil
}
