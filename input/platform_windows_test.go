package input

import "testing"

// mkfifo reports false: Windows has no FIFOs in the file system.
func mkfifo(t *testing.T, path string) bool { return false }

// renameOverOpenFile: Windows refuses to replace a file that is open (Go
// opens files without FILE_SHARE_DELETE), so a reader never sees it
// happen; a rename between two reads is caught by the file index.
const renameOverOpenFile = false
