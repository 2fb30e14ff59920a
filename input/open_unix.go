//go:build unix

package input

import (
	"io"
	"io/fs"
	"os"
	"slices"
	"sync"
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

// rawFile is a bare descriptor opened for reading, a lineFile for a small
// file read in one go: unlike an *os.File it costs no fcntl, no poller
// bookkeeping, no finaliser and no FileInfo per file, which over a folder
// of tiny files read one after another added up (see
// BenchmarkTinyFilesRead). It has no finaliser either: its reader must
// Close it.
type rawFile struct {
	fd   int
	path string
}

// openSmall opens path for reading as a rawFile; an error is an
// *fs.PathError, as os.Open's.
func openSmall(path string) (lineFile, error) {
	fd, err := openFD(path)
	if err != nil {
		return nil, err
	}
	return &rawFile{fd: fd, path: path}, nil
}

func (f *rawFile) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for {
		n, err := syscall.Read(f.fd, p)
		switch {
		case err == syscall.EINTR:
			continue
		case err != nil:
			return 0, &fs.PathError{Op: "read", Path: f.path, Err: err}
		case n == 0:
			return 0, io.EOF
		}
		return n, nil
	}
}

// ReadAt reads len(p) bytes at off, or fewer and io.EOF at the end of the
// file, as io.ReaderAt says.
func (f *rawFile) ReadAt(p []byte, off int64) (int, error) {
	n := 0
	for n < len(p) {
		m, err := syscall.Pread(f.fd, p[n:], off+int64(n))
		switch {
		case err == syscall.EINTR:
			continue
		case err != nil:
			return n, &fs.PathError{Op: "read", Path: f.path, Err: err}
		case m == 0:
			return n, io.EOF
		}
		n += m
	}
	return n, nil
}

func (f *rawFile) Seek(offset int64, whence int) (int64, error) {
	off, err := syscall.Seek(f.fd, offset, whence)
	if err != nil {
		return 0, &fs.PathError{Op: "seek", Path: f.path, Err: err}
	}
	return off, nil
}

// Close closes the descriptor; it is an error to close it twice.
func (f *rawFile) Close() error {
	if f.fd < 0 {
		return &fs.PathError{Op: "close", Path: f.path, Err: fs.ErrClosed}
	}
	fd := f.fd
	f.fd = -1
	// As os.File.Close: EINTR from close is not retried, the
	// descriptor is gone either way.
	if err := syscall.Close(fd); err != nil && err != syscall.EINTR {
		return &fs.PathError{Op: "close", Path: f.path, Err: err}
	}
	return nil
}

// state is a stat of the open file, by one fstat of the descriptor.
func (f *rawFile) state() (fileState, error) {
	var st syscall.Stat_t
	for {
		err := syscall.Fstat(f.fd, &st)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return fileState{}, &fs.PathError{Op: "stat", Path: f.path, Err: err}
		}
		return fileState{size: st.Size, modTime: statModTime(&st), id: stFileID(&st), haveID: true}, nil
	}
}

// fdState is the fileState of the open file fd, a rawFile's state: what
// uring.ReadFiles's stat gives a Prefetcher of each file it read.
func fdState(fd int, path string) (fileState, error) {
	return (&rawFile{fd: fd, path: path}).state()
}

// sniffFile reads the first headSize bytes of the regular file path,
// described by fi (from a stat), and returns them with the file's ID and
// its File.EdgeSum (0 if the file is now shorter than fi says), for
// Expand, which does this for every input file it opens. It takes three
// system calls (open, pread, close) on a bare descriptor, a rawFile, and a
// pread more for the last bytes of a file over headSize: over a folder of
// 6,576 tiny files, an *os.File's fcntl, finaliser and poller bookkeeping
// were a third of Expand's work per file. An error is an *fs.PathError
// that names path.
func sniffFile(path string, fi fs.FileInfo) (head []byte, edges uint64, id FileID, haveID bool, err error) {
	fd, err := openFD(path)
	if err != nil {
		return nil, 0, FileID{}, false, err
	}
	f := &rawFile{fd: fd, path: path}
	head = make([]byte, headSize)
	n, err := f.ReadAt(head, 0)
	if err == io.EOF {
		err = nil // a file shorter than headSize
	}
	head = head[:n]
	if err == nil {
		edges = sniffedEdges(f, head, fi.Size())
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, 0, FileID{}, false, err
	}
	id, haveID = statFileID(fi)
	return head, edges, id, haveID, nil
}

// mayRead reports whether the process may read the file that fi (from a
// stat) describes, by its permission bits, so that Expand can leave a
// small file unopened (ExpandOptions.GuessUpTo) and still refuse at plan
// time a file that the tasks could not read. Root reads everything. An
// access control list or a security module may still refuse what the
// bits allow; the task that opens the file then fails as it would for a
// file made unreadable after planning.
func mayRead(fi fs.FileInfo) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return false
	}
	perm := fi.Mode().Perm()
	uid := euid()
	switch {
	case uid == 0:
		return true
	case int(st.Uid) == uid:
		return perm&0o400 != 0
	case inGroup(int(st.Gid)):
		return perm&0o040 != 0
	}
	return perm&0o004 != 0
}

// euid is the process's effective user ID, looked up once: os.Geteuid is
// a system call, which mayRead would otherwise make for every file.
var euid = sync.OnceValue(os.Geteuid)

// groups are the process's effective and supplementary group IDs, looked
// up once.
var groups = sync.OnceValue(func() []int {
	g, _ := os.Getgroups()
	return append(g, os.Getegid())
})

// inGroup reports whether the process is in group gid.
func inGroup(gid int) bool { return slices.Contains(groups(), gid) }
