//go:build !linux

package streaming

import (
	"io"
	"os"
)

// stdinPipe makes the pipe to a program's stdin: the program's end and the
// worker's. Only Linux's (stdin_linux.go) paces its writes: it alone lets
// a pipe be made large enough for a sleep between writes.
func stdinPipe() (program *os.File, worker io.WriteCloser, err error) {
	return os.Pipe()
}
