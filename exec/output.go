package exec

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// taskEndMark is what a worker writes to its stderr after a task's handler
// returns and before it sends the task's result or error. Stderr and the
// result travel on different pipes, so without it the pool could read the
// result before the task's last lines of output; with it, the pool reads
// the mark, and so every byte of the task's output, before it returns the
// result (awaitTaskEnd). The mark never reaches PoolOptions.Stderr. It is
// shorter than PIPE_BUF, so a write of it is never interleaved with other
// output.
const taskEndMark = "\x00\x1bquern:task-end\x00"

// taskEndWait bounds how long the pool waits for a task's end mark after
// its result, should the worker's stderr be stuck.
const taskEndWait = 2 * time.Second

// tailBuffer forwards a worker's output to the pool's writer, keeps the
// last tailSize bytes for error reports, and copies the output of the
// running task to that task's log (Task.Log) up to the task's end mark.
type tailBuffer struct {
	out   io.Writer
	outMu *sync.Mutex

	mu      sync.Mutex
	buf     []byte
	partial []byte   // a prefix of taskEndMark that ended the last write
	logPath string   // the running task's Task.Log, "" for none
	log     *os.File // opened at the task's first byte of output
	marks   int      // end marks seen
	marked  chan struct{}
}

// startLog makes the output that follows go to path too, until the task's
// end mark or stopLog.
func (b *tailBuffer) startLog(path string) {
	b.mu.Lock()
	b.logPath = path
	b.mu.Unlock()
}

// stopLog closes the task's log.
func (b *tailBuffer) stopLog() {
	b.mu.Lock()
	b.stopLogLocked()
	b.mu.Unlock()
}

func (b *tailBuffer) stopLogLocked() {
	if b.log != nil {
		b.log.Close()
	}
	b.logPath, b.log = "", nil
}

// awaitTaskEnd waits until n end marks have been read, or for timeout.
func (b *tailBuffer) awaitTaskEnd(n int, timeout time.Duration) {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		b.mu.Lock()
		if b.marked == nil {
			b.marked = make(chan struct{})
		}
		marks, marked := b.marks, b.marked
		b.mu.Unlock()
		if marks >= n {
			return
		}
		select {
		case <-marked:
		case <-timer.C:
			return
		}
	}
}

// Write takes the end marks out of p and passes the rest on.
func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	data := p
	if len(b.partial) > 0 {
		data = append(b.partial, p...)
		b.partial = nil
	}
	for len(data) > 0 {
		i := bytes.IndexByte(data, taskEndMark[0])
		if i < 0 {
			b.pass(data)
			break
		}
		b.pass(data[:i])
		data = data[i:]
		switch {
		case bytes.HasPrefix(data, []byte(taskEndMark)):
			b.marks++
			b.stopLogLocked()
			if b.marked != nil {
				close(b.marked)
				b.marked = nil
			}
			data = data[len(taskEndMark):]
		case len(data) < len(taskEndMark) && bytes.HasPrefix([]byte(taskEndMark), data):
			b.partial = bytes.Clone(data) // the rest comes with the next write
			data = nil
		default:
			b.pass(data[:1])
			data = data[1:]
		}
	}
	return len(p), nil
}

// pass sends output on to the pool's writer, the task's log and the tail.
// b.mu is held.
func (b *tailBuffer) pass(p []byte) {
	if len(p) == 0 {
		return
	}
	b.outMu.Lock()
	// A failing destination must not block the child, so errors are dropped.
	_, _ = b.out.Write(p)
	b.outMu.Unlock()
	if b.logPath != "" && b.log == nil {
		if err := os.MkdirAll(filepath.Dir(b.logPath), 0o755); err == nil {
			b.log, _ = os.OpenFile(b.logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		}
		if b.log == nil {
			b.logPath = "" // keep the output flowing; the log is best effort
		}
	}
	if b.log != nil {
		_, _ = b.log.Write(p)
	}
	if len(p) >= tailSize {
		b.buf = append(b.buf[:0], p[len(p)-tailSize:]...)
	} else {
		if len(b.buf)+len(p) > 2*tailSize {
			n := copy(b.buf, b.buf[len(b.buf)-tailSize:])
			b.buf = b.buf[:n]
		}
		b.buf = append(b.buf, p...)
	}
}

// String returns the last tailSize bytes written.
func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	t := b.buf
	if len(t) > tailSize {
		t = t[len(t)-tailSize:]
	}
	return string(t)
}
