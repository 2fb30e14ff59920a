//go:build !linux

package streaming

import (
	"io"
	"os"
	osexec "os/exec"
)

// stdinPipe gives cmd a stdin the worker writes to: a pipe. Only Linux
// has the socket of stdin_linux.go, whose wake-ups it was measured on.
func stdinPipe(cmd *osexec.Cmd) (w io.WriteCloser, child *os.File, err error) {
	w, err = cmd.StdinPipe()
	return w, nil, err
}
