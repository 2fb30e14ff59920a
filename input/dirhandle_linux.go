package input

import (
	"io/fs"
	"os"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// openDirHandle keeps f, a directory open for reading, for the checks of
// its files; the walk holds the first reference.
func openDirHandle(f *os.File) *dirHandle {
	d := &dirHandle{f: f, fd: int(f.Fd())}
	d.refs.Store(1)
	return d
}

// unix.Stat_t is syscall.Stat_t, field for field, on every Linux
// architecture (both are the kernel's struct stat, as fstatat fills it);
// the rest of the package reads a stat's fields from a *syscall.Stat_t.
var _ [unsafe.Sizeof(syscall.Stat_t{})]byte = [unsafe.Sizeof(unix.Stat_t{})]byte{}

// statAt lstats name in the directory dirfd; path names it in an error.
func statAt(dirfd int, name, path string) (fs.FileInfo, error) {
	fi := &statInfo{name: name}
	st := (*unix.Stat_t)(unsafe.Pointer(&fi.st))
	for {
		err := unix.Fstatat(dirfd, name, st, unix.AT_SYMLINK_NOFOLLOW)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, &fs.PathError{Op: "lstat", Path: path, Err: err}
		}
		fi.mode = statMode(fi.st.Mode)
		return fi, nil
	}
}

// statInfo is an fs.FileInfo from a stat, as os.Lstat's.
type statInfo struct {
	name string
	mode fs.FileMode
	st   syscall.Stat_t
}

func (fi *statInfo) Name() string       { return fi.name }
func (fi *statInfo) Size() int64        { return fi.st.Size }
func (fi *statInfo) Mode() fs.FileMode  { return fi.mode }
func (fi *statInfo) ModTime() time.Time { return statModTime(&fi.st) }
func (fi *statInfo) IsDir() bool        { return fi.mode.IsDir() }
func (fi *statInfo) Sys() any           { return &fi.st }

// statMode is the fs.FileMode of a stat's mode, as package os makes it.
func statMode(m uint32) fs.FileMode {
	mode := fs.FileMode(m & 0o777)
	switch m & syscall.S_IFMT {
	case syscall.S_IFBLK:
		mode |= fs.ModeDevice
	case syscall.S_IFCHR:
		mode |= fs.ModeDevice | fs.ModeCharDevice
	case syscall.S_IFDIR:
		mode |= fs.ModeDir
	case syscall.S_IFIFO:
		mode |= fs.ModeNamedPipe
	case syscall.S_IFLNK:
		mode |= fs.ModeSymlink
	case syscall.S_IFSOCK:
		mode |= fs.ModeSocket
	}
	if m&syscall.S_ISGID != 0 {
		mode |= fs.ModeSetgid
	}
	if m&syscall.S_ISUID != 0 {
		mode |= fs.ModeSetuid
	}
	if m&syscall.S_ISVTX != 0 {
		mode |= fs.ModeSticky
	}
	return mode
}
