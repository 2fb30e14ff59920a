package input

import (
	"bytes"
	"io"
	"slices"

	"github.com/quern-dev/quern/internal/uring"
	"github.com/quern-dev/quern/objstore"
)

// Reading small files in bursts.
//
// A tiny file costs its reader four system calls: open, read, fstat and
// close. On a machine whose kernel isolates its page tables without PCID,
// as many virtual machines' do, each call empties the TLB, and the map
// function's hash-table lookups run slower for microseconds after it, while
// the TLB fills again. Read one at a time, between the records of the
// others, a tiny file paid that refill four times. A Prefetcher reads the
// next small files of a task back to back, a burst of calls, and the map
// function meets the refill once a burst. A word count over 104,857 files
// of 10 KB took 4.89 s instead of 5.30 (medians of six runs, interleaved,
// 9.2 CPU-seconds instead of 9.9; docs/benchmarks.md, "Session 34").
// Where the system has io_uring, a burst takes fewer calls still: three
// for the burst and an fstat a file (package uring).

const (
	// prefetchBytes bounds the bytes of a burst, small beside a task's
	// sort buffer: the slab that holds them is reused from burst to burst.
	prefetchBytes = 512 << 10
	// prefetchFiles bounds the files of a burst, so that a folder of
	// empty or near-empty files still maps its records between bursts.
	prefetchFiles = 64
)

// A Prefetcher opens the splits of a task in order, as [OpenRecords]
// does, and reads the small plain files among them ahead, a burst at a
// time. A split it did not read ahead, or whose file it could not read
// whole, consistent with an fstat after the read, is opened by
// OpenRecords itself, so that every error and every change to a file is
// met as OpenRecords would meet it.
type Prefetcher struct {
	splits []Split
	slab   []byte       // holds the files of the burst
	reads  []uring.Read // the burst's files, for uring.ReadFiles
	states []fileState  // states[i] is reads[i]'s fstat after its read
	burst  []*memFile   // burst[i] is splits[from+i]'s file, nil if not read
	from   int
	opened []*memFile // the files of the burst handed out
}

// NewPrefetcher returns a Prefetcher of splits.
func NewPrefetcher(splits []Split) *Prefetcher {
	return &Prefetcher{splits: splits}
}

// OpenRecords returns a reader of the records of the i-th split, as
// [OpenRecords] does. The caller must Close it.
func (p *Prefetcher) OpenRecords(i int) (RecordReader, error) {
	s := p.splits[i]
	if !prefetchable(s) {
		return OpenRecords(s)
	}
	if i < p.from || i >= p.from+len(p.burst) {
		p.read(i)
	}
	f := p.burst[i-p.from]
	if f == nil {
		return OpenRecords(s)
	}
	p.burst[i-p.from] = nil
	p.opened = append(p.opened, f)
	return openRecords(s, f)
}

// prefetchable reports whether s is a whole small local file of a line
// format that Open reads by one read (oneRead), and that the plan has a
// stat of, to which a change shows.
func prefetchable(s Split) bool {
	switch s.File.Format {
	case Text, JSONL, CSV, TSV:
	default:
		return false
	}
	return s.Chunk == "" && s.Start == 0 && s.End >= s.File.Size && oneRead(s) &&
		!s.File.ModTime.IsZero() && !objstore.IsURL(s.File.Path)
}

// read reads the burst of small files from the i-th split on, which is
// prefetchable: a small file's oneRead bound (defaultBufSize) is under
// prefetchBytes, so the burst holds at least that split.
func (p *Prefetcher) read(i int) {
	for _, f := range p.opened {
		if !f.closed {
			// Its reader may still read the slab: leave the slab to it.
			p.slab = nil
			break
		}
	}
	if p.slab == nil {
		p.slab = make([]byte, prefetchBytes)
	}
	clear(p.burst)
	p.from, p.burst, p.opened, p.reads = i, p.burst[:0], p.opened[:0], p.reads[:0]
	free := p.slab
	for _, s := range p.splits[i:] {
		n := int(s.File.Size) + 1 // one byte more, to see the end
		if len(p.reads) == prefetchFiles || !prefetchable(s) || n > len(free) {
			break
		}
		p.reads = append(p.reads, uring.Read{Path: s.File.Path, Buf: free[:n:n]})
		free = free[n:]
	}
	p.states = slices.Grow(p.states[:0], len(p.reads))[:len(p.reads)]
	err := readFiles(p.reads, func(i, fd int) (err error) {
		p.states[i], err = fdState(fd, p.reads[i].Path)
		return err
	})
	for i, r := range p.reads {
		switch {
		case err != nil: // the ring broke: its results cannot be trusted
			p.burst = append(p.burst, readWhole(r.Path, r.Buf))
		case r.Err != nil:
			p.burst = append(p.burst, nil)
		default:
			p.burst = append(p.burst, wholeFile(r.Buf, r.N, p.states[i]))
		}
	}
}

// readFiles reads a burst's files whole, through io_uring where the
// system has it (see package uring); tests replace it to take the path of
// a system without.
var readFiles = uring.ReadFiles

// memFile is a small file read whole, a lineFile for Open.
type memFile struct {
	*bytes.Reader
	st     fileState
	closed bool
}

func (f *memFile) Close() error              { f.closed = true; return nil }
func (f *memFile) state() (fileState, error) { return f.st, nil }

// readWhole reads the file at path into buf, which must be longer than the
// file, and returns it as a memFile, or nil if it cannot be read or its
// fstat after the read does not say that the bytes read are all of it.
func readWhole(path string, buf []byte) *memFile {
	f, err := openSmall(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	n, err := f.Read(buf)
	if err == io.EOF {
		n, err = 0, nil
	}
	if err != nil {
		return nil
	}
	st, err := f.state()
	if err != nil {
		return nil
	}
	return wholeFile(buf, n, st)
}

// wholeFile is the memFile of the n bytes read into buf, or nil if they are
// not all of the file: they fill buf (one byte longer than the file was
// planned), or the fstat after the read, st, gives another size.
func wholeFile(buf []byte, n int, st fileState) *memFile {
	if n == len(buf) || st.size != int64(n) {
		return nil
	}
	return &memFile{Reader: bytes.NewReader(buf[:n]), st: st}
}
