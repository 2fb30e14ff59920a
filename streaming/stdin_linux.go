package streaming

import (
	"errors"
	"io"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// stdinPipe makes the pipe to a program's stdin: the program's end, and
// the worker's, which paces its writes (see pacedWriter).
func stdinPipe() (program *os.File, worker io.WriteCloser, err error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, nil, err
	}
	raw, err := w.SyscallConn()
	if err != nil {
		r.Close()
		w.Close()
		return nil, nil, err
	}
	pw := &pacedWriter{File: w, raw: raw, size: 64 << 10, wait: minPace}
	raw.Control(func(fd uintptr) {
		if n, err := unix.FcntlInt(fd, unix.F_SETPIPE_SZ, pipeSize); err == nil {
			pw.size = n
		} else if n, err := unix.FcntlInt(fd, unix.F_GETPIPE_SZ, 0); err == nil {
			pw.size = n
		}
	})
	return r, pw, nil
}

// pipeSize is the capacity asked for a program's stdin pipe: Linux's
// default limit for an unprivileged process (/proc/sys/fs/pipe-max-size).
const pipeSize = 1 << 20

// A pacedWriter writes to a program that reads slower than the worker
// writes, as most mappers do, without a wake-up for each read the program
// makes. A plain write to a full pipe waits, in Go's network poller, for
// room, and the program's every read (Python's is 4 KiB or 8 KiB) makes
// room: the worker would wake, write a few KiB and wait again, thousands of
// times a second, which cost it more processor time than all its other
// work (about 25 ms per MB fed to a Python word count mapper). Instead,
// when the pipe is full the writer sleeps for about the time the program
// takes to read half of it, measured from how much room the last sleep
// made, and fills it again: a hundred wake-ups a second at most. The pipe
// is enlarged to pipeSize so that what it holds outlasts a sleep, and the
// half left is a margin for a late wake-up on a loaded machine (a Python
// mapper reads 1 MiB in about 100 ms).
type pacedWriter struct {
	*os.File
	raw  syscall.RawConn
	size int           // the pipe's capacity
	wait time.Duration // the next sleep when the pipe is full
}

// The sleeps are between minPace and maxPace: the first is short, a
// program that reads nothing sleeps its writer longer and longer.
const (
	minPace = 100 * time.Microsecond
	maxPace = 10 * time.Millisecond
)

func (w *pacedWriter) Write(b []byte) (int, error) {
	written := 0
	slept := false
	for len(b) > 0 {
		var n int
		var werr error
		if err := w.raw.Write(func(fd uintptr) bool {
			n, werr = syscall.Write(int(fd), b)
			return true // never wait in the poller
		}); err != nil {
			return written, err // closed (Abort)
		}
		if n > 0 {
			b, written = b[n:], written+n
		}
		if slept && (len(b) > 0 || errors.Is(werr, syscall.EAGAIN)) {
			w.pace(max(n, 0))
		}
		slept = false
		switch {
		case werr == nil, errors.Is(werr, syscall.EINTR):
		case errors.Is(werr, syscall.EAGAIN):
			time.Sleep(w.wait)
			slept = true
		default:
			return written, &os.PathError{Op: "write", Path: w.Name(), Err: werr}
		}
	}
	return written, nil
}

// pace sets the next sleep from the room the last one made: drained bytes,
// the pipe being full again after them.
func (w *pacedWriter) pace(drained int) {
	target := w.size / 2
	if drained <= 0 {
		w.wait *= 2
	} else {
		w.wait = time.Duration(float64(w.wait) * float64(target) / float64(drained))
	}
	w.wait = min(max(w.wait, minPace), maxPace)
}
