package input

import "testing"

// mkfifo reports false: Windows has no FIFOs in the file system.
func mkfifo(t *testing.T, path string) bool { return false }
