//go:build !linux

package input

import (
	"io/fs"
	"os"
)

// openDirHandle closes f: here a directory's files are stat'ed by their
// paths.
func openDirHandle(f *os.File) *dirHandle {
	f.Close()
	return nil
}

// statAt is never called: there are no directory handles.
func statAt(int, string, string) (fs.FileInfo, error) {
	panic("input: statAt without a directory handle")
}
