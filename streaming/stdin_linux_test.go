package streaming

import (
	"io"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// On Linux a program's stdin pipe holds a megabyte, so that the feeder's
// sleeps while it is full (pacedWriter) never leave the program waiting.
func TestStdinPipeIsLarge(t *testing.T) {
	p, err := Start(Options{Role: "mapper", Command: "cat >/dev/null", Log: io.Discard})
	require.NoError(t, err)
	defer p.Abort()
	raw, err := p.stdin.(interface {
		SyscallConn() (syscall.RawConn, error)
	}).SyscallConn()
	require.NoError(t, err)
	var size int
	var sizeErr error
	require.NoError(t, raw.Control(func(fd uintptr) {
		size, sizeErr = unix.FcntlInt(fd, unix.F_GETPIPE_SZ, 0)
	}))
	require.NoError(t, sizeErr)
	require.Equal(t, pipeSize, size)
}
