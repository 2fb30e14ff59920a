package input

import (
	"io/fs"
	"os"

	"golang.org/x/sys/windows"
)

// statID returns the volume serial number and file index of the file at
// path (fi, from os.Stat, is not used: Windows' stat does not carry them).
// The file is opened to ask, as os.SameFile does; a directory opens too.
func statID(path string, _ fs.FileInfo) (FileID, bool) {
	f, err := os.Open(path)
	if err != nil {
		return FileID{}, false
	}
	defer f.Close()
	return openID(f, nil)
}

// openID returns the volume serial number and file index of the open
// file f, the identity NTFS keeps across renames and hard links (the
// inode's counterpart).
func openID(f *os.File, _ fs.FileInfo) (FileID, bool) {
	var d windows.ByHandleFileInformation
	if err := windows.GetFileInformationByHandle(windows.Handle(f.Fd()), &d); err != nil {
		return FileID{}, false
	}
	return FileID{Device: uint64(d.VolumeSerialNumber), Inode: uint64(d.FileIndexHigh)<<32 | uint64(d.FileIndexLow)}, true
}
