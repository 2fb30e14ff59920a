//go:build unix

package input

import (
	"io/fs"
	"syscall"
)

// fileID returns the device and inode of the file fi describes.
func fileID(fi fs.FileInfo) (FileID, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return FileID{}, false
	}
	//nolint:unconvert // Dev is int32 on Darwin, uint64 on Linux
	return FileID{Device: uint64(st.Dev), Inode: uint64(st.Ino)}, true
}
