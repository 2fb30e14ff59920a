package input

import "testing"

// mkfifo reports false: Windows has no FIFOs in the file system.
func mkfifo(t *testing.T, path string) bool { return false }

// renameOverOpenFile: Windows refuses to replace a file that is open (Go
// opens files without FILE_SHARE_DELETE), so a reader never sees it
// happen; a rename between two reads is caught by the file index.
const renameOverOpenFile = false

// guessesSmallFiles: Windows has no permission bits to tell that a file
// may be read, so Expand opens and sniffs every file (mayRead is false).
const guessesSmallFiles = false
