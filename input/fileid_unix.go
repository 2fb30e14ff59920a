//go:build unix

package input

import (
	"io/fs"
	"os"
	"syscall"
)

// statID returns the device and inode of the file at path, which fi (from
// os.Stat) describes: on Unix the stat carries them.
func statID(_ string, fi fs.FileInfo) (FileID, bool) { return statFileID(fi) }

// openID returns the device and inode of the open file f, described by fi.
func openID(_ *os.File, fi fs.FileInfo) (FileID, bool) { return statFileID(fi) }

func statFileID(fi fs.FileInfo) (FileID, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return FileID{}, false
	}
	return stFileID(st), true
}

// stFileID is the device and inode of the file st describes.
func stFileID(st *syscall.Stat_t) FileID {
	//nolint:unconvert // Dev is int32 on Darwin, uint64 on Linux
	return FileID{Device: uint64(st.Dev), Inode: uint64(st.Ino)}
}
