//go:build unix

package input

import (
	"syscall"
	"testing"
)

// mkfifo makes a FIFO at path.
func mkfifo(t *testing.T, path string) bool {
	t.Helper()
	if err := syscall.Mkfifo(path, 0o644); err != nil {
		t.Fatal(err)
	}
	return true
}

// renameOverOpenFile: Unix lets a file be replaced by a rename while a
// reader has it open (the reader keeps the old inode).
const renameOverOpenFile = true

// guessesSmallFiles: Unix permission bits tell Expand that a small file
// may be read without opening it, so GuessUpTo leaves it unopened.
const guessesSmallFiles = true
