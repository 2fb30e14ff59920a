package input

import (
	"io"
	"sync"
)

// Read-ahead of decompressed bytes.
//
// Decompressing is most of the CPU time of reading a compressed file, and
// a map function spends its own on the lines. A shell pipeline such as
// `zcat big.gz | wc` runs the two at once for free, in two processes; a
// readAhead does the same inside one task: a goroutine decompresses into a
// small ring of buffers while the reader consumes the ones already filled.

const (
	// readAheadBufs buffers of readAheadSize bytes make the ring: enough
	// that neither side waits for the other over a burst, small enough
	// (1 MiB) to be nothing beside a task's sort buffer.
	readAheadBufs = 4
	readAheadSize = 256 << 10
)

// readAheadPool recycles ring buffers between the many small compressed
// files of a task.
var readAheadPool = sync.Pool{New: func() any { b := make([]byte, readAheadSize); return &b }}

// chunk is one filled buffer, and the error src returned after its bytes
// (io.EOF at the end).
type chunk struct {
	buf *[]byte
	n   int
	err error
}

// readAhead reads src in its own goroutine, started by newReadAhead and
// stopped by Close. It is not safe for concurrent use.
type readAhead struct {
	full chan chunk
	free chan *[]byte
	stop chan struct{}
	wg   sync.WaitGroup

	cur  chunk
	pos  int
	have bool // cur holds a chunk from full
}

// newReadAhead starts reading src ahead of Read. The caller must Close the
// readAhead before it releases src.
func newReadAhead(src io.Reader) *readAhead {
	ra := &readAhead{
		full: make(chan chunk, readAheadBufs),
		free: make(chan *[]byte, readAheadBufs),
		stop: make(chan struct{}),
	}
	for range readAheadBufs {
		ra.free <- readAheadPool.Get().(*[]byte)
	}
	ra.wg.Add(1)
	go ra.fill(src)
	return ra
}

// fill runs in the read-ahead goroutine: it fills free buffers from src,
// whole (fewer hand-overs), and passes them on until src fails or ends or
// Close says stop.
func (ra *readAhead) fill(src io.Reader) {
	defer ra.wg.Done()
	for {
		var buf *[]byte
		select {
		case buf = <-ra.free:
		case <-ra.stop:
			return
		}
		b := *buf
		n, empty := 0, 0
		var err error
		for n < len(b) && err == nil {
			var m int
			m, err = src.Read(b[n:])
			n += m
			if m == 0 && err == nil {
				if empty++; empty == maxEmptyReads {
					err = io.ErrNoProgress
				}
			}
		}
		select {
		case ra.full <- chunk{buf: buf, n: n, err: err}:
		case <-ra.stop:
			ra.free <- buf
			return
		}
		if err != nil {
			return
		}
	}
}

// Read copies decompressed bytes into p, waiting for the goroutine when no
// filled buffer is at hand. After src's error (io.EOF at the end) it
// returns that error for ever.
func (ra *readAhead) Read(p []byte) (int, error) {
	for !ra.have || ra.pos == ra.cur.n {
		if ra.have {
			if ra.cur.err != nil {
				return 0, ra.cur.err
			}
			ra.free <- ra.cur.buf
		}
		ra.cur, ra.pos, ra.have = <-ra.full, 0, true
	}
	n := copy(p, (*ra.cur.buf)[ra.pos:ra.cur.n])
	ra.pos += n
	return n, nil
}

// Close stops the goroutine, waiting until it has returned (it may be in
// the middle of one read of src), and gives the buffers back to the pool.
// It is idempotent.
func (ra *readAhead) Close() {
	if ra.stop == nil {
		return
	}
	close(ra.stop)
	ra.wg.Wait()
	ra.stop = nil
	if ra.have {
		ra.free <- ra.cur.buf
		ra.have = false
	}
	for {
		select {
		case c := <-ra.full:
			readAheadPool.Put(c.buf)
		case b := <-ra.free:
			readAheadPool.Put(b)
		default:
			return
		}
	}
}
