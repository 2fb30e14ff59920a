package streaming

import (
	"fmt"
	"io"
	"os"
	osexec "os/exec"
	"syscall"
)

// stdinBuffer is the send buffer asked for a program's stdin socket; Linux
// doubles it (to hold its own bookkeeping), after capping it at
// net.core.wmem_max, 208 KiB by default. The feeder then wakes when the
// program has about 128 KiB left to read, some 10 ms of a Python mapper's
// work; 1 MiB saved no measurable CPU more (feedx, 64 MiB through the
// example mapper: 0.07-0.09 CPU-s of feeding at 256 KiB and 1 MiB alike).
const stdinBuffer = 256 << 10

// stdinPipe gives cmd a stdin the worker writes to, and returns the
// worker's end and the program's end, which the worker closes once the
// program has started.
//
// On Linux the stdin is one end of a Unix socket pair, not a pipe. A mapper
// reads its input slower than the worker writes it, so whatever carries it
// is full most of the time, and the worker's feeder waits. A full pipe
// wakes its writer at every read that frees room, and Python reads 4 KiB at
// a time: 16,000 wake-ups of the feeder per 64 MiB, each a trip through
// Go's poller and scheduler, which cost the worker 25-54 ms of CPU per MB
// (BenchmarkFeed). A Unix socket wakes its writer only once three quarters
// of its send buffer have been read (unix_writable), so the feeder wakes a
// few hundred times per 64 MiB. The program reads its stdin as it would a
// pipe's: read(2) returns what is there, and end of file when the worker
// closes its end. The worker's end is shut for reading, so that a program
// that writes to its stdin gets an error (EPIPE), as with a pipe.
func stdinPipe(cmd *osexec.Cmd) (w io.WriteCloser, child *os.File, err error) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("stdin socket: %w", err)
	}
	ours, theirs := fds[0], fds[1]
	err = syscall.Shutdown(ours, syscall.SHUT_RD)
	if err == nil {
		err = syscall.SetsockoptInt(ours, syscall.SOL_SOCKET, syscall.SO_SNDBUF, stdinBuffer)
	}
	if err == nil {
		// Non-blocking, so that os.NewFile makes it pollable: Abort's
		// Close then ends a write that waits for a program that stopped
		// reading.
		err = syscall.SetNonblock(ours, true)
	}
	if err != nil {
		syscall.Close(ours)
		syscall.Close(theirs)
		return nil, nil, fmt.Errorf("stdin socket: %w", err)
	}
	child = os.NewFile(uintptr(theirs), "|0")
	cmd.Stdin = child
	return socketStdin{os.NewFile(uintptr(ours), "|1")}, child, nil
}

// socketStdin is the worker's end of a program's stdin socket.
type socketStdin struct{ *os.File }

// CloseWrite ends the program's input (it reads end of file) and keeps
// the socket open, so that LeftUnread can ask after the program's exit
// whether it read everything.
func (s socketStdin) CloseWrite() error {
	return s.control(func(fd int) error { return syscall.Shutdown(fd, syscall.SHUT_WR) })
}

// LeftUnread reports, once the program has exited, whether it left input
// unread. A program that stops reading while the worker still has input
// to write fails that write (EPIPE), but one that exits after the
// worker's last write, its input still queued, would not be noticed: a
// reducer `head -1` then passed or failed by how the scheduler ran it,
// and a retry could commit its cut-short output. Linux marks a stream
// socket ECONNRESET when its peer is closed with data still queued for it
// (unix_release_sock), and that is what this reads.
func (s socketStdin) LeftUnread() bool {
	var soErr int
	err := s.control(func(fd int) (err error) {
		soErr, err = syscall.GetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_ERROR)
		return err
	})
	return err == nil && soErr == int(syscall.ECONNRESET)
}

func (s socketStdin) control(f func(fd int) error) error {
	rc, err := s.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) { ferr = f(int(fd)) }); err != nil {
		return err
	}
	return ferr
}
