package input

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"os"
	"sync"

	"github.com/quern-dev/quern/objstore"
)

// ErrBadSplit is wrapped by the error of a [LineReader] whose [Split] is
// malformed: a negative Start, End < Start, or a compressed split that does
// not start at 0.
var ErrBadSplit = errors.New("input: malformed split")

const (
	// defaultBufSize is the size of a LineReader's buffer. Large enough
	// that a read syscall and the per-fill bookkeeping are amortised over
	// thousands of lines, small enough to stay in L2 cache while the lines
	// are consumed. Lines longer than this grow the buffer temporarily.
	defaultBufSize = 256 << 10

	// compressedReadSize is the size of the buffered reader between a
	// compressed file and its decompressor, which would otherwise issue
	// small reads (klauspost gzip wraps a plain reader in a 4 KiB bufio).
	compressedReadSize = 64 << 10

	// maxEmptyReads bounds the number of consecutive (0, nil) reads
	// tolerated before giving up with io.ErrNoProgress, as bufio does.
	maxEmptyReads = 100
)

// LineReader reads the lines of one [Split].
//
// A line belongs to the split that contains its first byte. A split whose
// Start > 0 begins at the first line start >= Start (position p is a line
// start iff p == 0 or byte p-1 is '\n') and reads every line that starts
// before End, reading past End to finish the last one. Lines are returned
// without their terminator: "\n" and a "\r\n" pair are removed; a lone "\r"
// stays, also at the very end of a file without a final newline. A final
// line without a newline is a line; "a\n" is one line; "" has none; "\n"
// is one empty line. Lines of any length are returned whole: the buffer
// grows to hold a line longer than itself and shrinks back afterwards.
//
// Use it like bufio.Scanner: loop on Next, then check Err, then Close.
type LineReader struct {
	split Split
	// end is the exclusive bound on line start offsets: split.End, or no
	// bound for a compressed split, whose End counts compressed bytes.
	end int64

	src      io.Reader    // uncompressed bytes, from offset off+(w-r) on
	file     lineFile     // opened by Open, closed by Close
	object   io.Closer    // an object's reader, opened by Open, closed by Close
	ahead    *readAhead   // decompresses ahead of src's reader; stopped by Close
	closeDec func() error // releases the decompressor; called by Close

	buf  []byte // buf[r:w] holds bytes read but not yet returned
	base []byte // the defaultBufSize buffer, kept while buf is grown
	// pooled is base as readBufs gave it, to which Close returns it;
	// nil for a buffer of the reader's own.
	pooled *[]byte
	r, w   int
	scan   int   // buf[r:scan] is known to hold no '\n'
	off    int64 // uncompressed file offset of buf[r]

	// size, when > 0, is the size the file had when it was planned: a
	// plain file opened by Open ends there, without the read that would
	// return io.EOF. Of a file grown since (checkLines), the bytes past
	// size that the last read brought finish the line that holds the
	// planned last byte, as a split's last line is finished past its end.
	size int64
	// grown is set when the file is found larger than planned and is
	// read as planned (Grown).
	grown bool

	skip      bool // the partial line before the first owned line is not yet skipped
	eof       bool // src returned io.EOF
	done      bool // Next returns no more lines
	err       error
	bytesRead int64
	// stored is the file under the decompressor of a compressed file
	// that Open opened (nil otherwise): the read-ahead goroutine counts
	// the compressed bytes in it, and decodeFailed looks at it.
	stored *countingReader
}

// lineFile is a file that a LineReader opened: an *os.File (osFile), or,
// on Unix, a bare descriptor for a file read in one go (rawFile,
// open_unix.go), which spares the system calls and allocations an
// *os.File costs on top of the open, read, fstat and close that reading
// a tiny file takes.
type lineFile interface {
	io.ReadSeekCloser
	io.ReaderAt
	// state is a stat of the open file, for checkLines.
	state() (fileState, error)
}

// osFile is an *os.File as a lineFile.
type osFile struct{ *os.File }

func (f osFile) state() (fileState, error) {
	fi, err := f.Stat()
	if err != nil {
		return fileState{}, err
	}
	id, haveID := openID(f.File, fi)
	return stateOf(fi, id, haveID), nil
}

// Open opens the file of s and returns a reader of the lines of s. Plain
// files are read from s.Start-1 on with large reads, never whole;
// compressed files are decompressed as a stream, by a goroutine that works
// ahead of the reader. The caller must Close the reader.
//
// Open fails, and Next stops with the error at the end of the split, if
// the file is no longer what [Expand] found (see [ChangedError]).
func Open(s Split) (*LineReader, error) {
	return openLines(s, nil)
}

// openLines is Open, which reads a small file (oneRead) from small if it
// is not nil: the file already read, by a Prefetcher.
func openLines(s Split, small lineFile) (*LineReader, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	if s.Chunk != "" {
		return openChunk(s)
	}
	if objstore.IsURL(s.File.Path) {
		return openObjectLines(s)
	}
	var f lineFile
	var grown bool
	if oneRead(s) {
		// Checked once, at the end of the split (stop): a check at
		// open would fstat the same descriptor a moment earlier.
		var err error
		if f = small; f == nil {
			if f, err = openSmall(s.File.Path); err != nil {
				return nil, openError(s, err)
			}
		}
	} else {
		of, err := openFile(s.File.Path)
		if err != nil {
			return nil, openError(s, err)
		}
		f = osFile{of}
		if grown, err = checkLines(f, s); err != nil {
			f.Close()
			return nil, err
		}
	}
	if s.File.Guessed {
		lr, err := openGuessed(f, s)
		if lr != nil || err != nil {
			return lr, err
		}
		// Compressed, or a first read too short to decide by: sniff
		// apart, then open as any file.
		if s.File, err = sniffOpened(f, s); err != nil {
			f.Close()
			return nil, err
		}
	}
	if s.Start > 0 {
		// One byte before Start, to learn whether Start is a line start.
		if _, err := f.Seek(s.Start-1, io.SeekStart); err != nil {
			f.Close()
			return nil, fmt.Errorf("input: open split %v: %w", s, err)
		}
	}
	var src io.Reader = f
	var counted *countingReader
	if s.File.Compression != None {
		counted = &countingReader{r: f}
		src = bufio.NewReaderSize(counted, compressedReadSize)
	}
	lr := newLineReaderFrom(src, s, opened{file: f, stored: counted})
	if counted == nil && !s.File.ModTime.IsZero() {
		lr.size = s.File.Size
	}
	lr.grown = grown
	if lr.err != nil {
		// A bad gzip header is known at once; report it from Open.
		err := lr.err
		lr.Close()
		return nil, err
	}
	return lr, nil
}

// openGuessed is Open for the open file f of split s, whose compression
// Expand guessed from its name (File.Guessed), when the name says plain:
// it reads f's first buffer as plain and decides the compression from its
// first bytes, so that the sniff costs no read of its own (a small file is
// one split, read whole by that first read). It returns the reader, or the
// error by which Expand would have refused the file (f closed), or neither
// when the name says compressed (sniffOpened's pread of a few bytes then
// costs less than a wasted first read), the bytes say compressed, or they
// are too few to decide by: then f is open, at offset 0, for Open to go on
// with.
func openGuessed(f lineFile, s Split) (*LineReader, error) {
	if s.Start != 0 || s.File.Compression != None {
		return nil, nil
	}
	plain := s
	plain.File.Compression, plain.File.Guessed = None, false
	lr := newLineReader(f, plain)
	if !s.File.ModTime.IsZero() {
		lr.size = s.File.Size
	}
	lr.fill()
	if lr.err != nil || lr.w < headSize && !lr.eof {
		lr.Close() // f stays open: lr.file is not set
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			f.Close()
			return nil, fmt.Errorf("input: open split %v: %w", s, err)
		}
		return nil, nil
	}
	c, err := decideCompression(s.File.Path, lr.buf[:min(lr.w, headSize)])
	if err != nil {
		lr.Close()
		f.Close()
		return nil, fmt.Errorf("input: split %v: %w", s, err)
	}
	if c == None {
		lr.file = f
		return lr, nil
	}
	lr.Close()
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		f.Close()
		return nil, fmt.Errorf("input: open split %v: %w", s, err)
	}
	return nil, nil
}

// sniffOpened decides the compression of the open file f of split s,
// which Expand left unopened and whose compression it guessed from the
// name (File.Guessed), by its first bytes, as Expand would have; it
// returns s's File with the compression decided, or the error, wrapping
// ErrCompression, by which Expand would have refused the file. It reads
// with pread, so f's offset is unchanged.
func sniffOpened(f lineFile, s Split) (File, error) {
	head := make([]byte, headSize)
	n, err := f.ReadAt(head, 0)
	if err != nil && err != io.EOF {
		return File{}, fmt.Errorf("input: open split %v: %w", s, err)
	}
	c, err := decideCompression(s.File.Path, head[:n])
	if err != nil {
		return File{}, fmt.Errorf("input: split %v: %w", s, err)
	}
	file := s.File
	file.Compression, file.Guessed = c, false
	return file, nil
}

// openChunk is Open for a chunk of a compressed file that Spool wrote:
// plain whole lines, all of them the split's, or those from ChunkOffset
// on. The compressed file itself was checked for changes by Spool.
func openChunk(s Split) (*LineReader, error) {
	f, err := openFile(s.Chunk)
	if err != nil {
		return nil, fmt.Errorf("input: open split %v: %w", s, err)
	}
	if s.ChunkOffset > 0 {
		// From the byte before, which says whether a line starts there.
		if _, err := f.Seek(s.ChunkOffset-1, io.SeekStart); err != nil {
			f.Close()
			return nil, fmt.Errorf("input: open split %v: %w", s, err)
		}
	}
	lr := newLineReader(f, s)
	lr.file = osFile{f}
	return lr, nil
}

// openObjectLines is Open for a split of an object: one ranged read from
// Start-1 to the object's end, stopped by Close.
func openObjectLines(s Split) (*LineReader, error) {
	rc, err := openObject(s, max(s.Start-1, 0))
	if err != nil {
		return nil, err
	}
	var src io.Reader = rc
	var counted *countingReader
	if s.File.Compression != None {
		counted = &countingReader{r: rc}
		src = bufio.NewReaderSize(counted, compressedReadSize)
	}
	lr := newLineReaderFrom(src, s, opened{object: rc, stored: counted})
	if lr.err != nil {
		err := lr.err
		lr.Close()
		return nil, err
	}
	return lr, nil
}

// NewLineReader returns a reader of the lines of s whose bytes come from
// src. src yields the file's bytes as stored (compressed if
// s.File.Compression says so) starting at offset s.Start-1 when
// s.Start > 0, else at offset 0: the byte before Start tells whether Start
// is itself a line start. src is read beyond s.End up to the end of the
// last line that starts before s.End.
//
// Errors, including a bad compressed header, are reported by Err after
// Next returns false. Close releases the decompressor but does not close
// src.
func NewLineReader(src io.Reader, s Split) *LineReader {
	return newLineReader(src, s)
}

func newLineReader(src io.Reader, s Split) *LineReader {
	return newLineReaderFrom(src, s, opened{})
}

// opened is what Open opened for a LineReader, which Close closes: a file
// or an object's reader, and for a compressed one the counting reader
// under the decompressor. It is set before the decompressor reads the
// first bytes, so that a bad header is told apart from a failed read
// (decodeFailed) as any later error is.
type opened struct {
	file   lineFile
	object io.Closer
	stored *countingReader
}

// newLineReaderFrom is newLineReader for the source that Open opened.
func newLineReaderFrom(src io.Reader, s Split, from opened) *LineReader {
	b := readBufs.get(bufSizeFor(s))
	lr := newLineReaderBuf(src, s, *b, from)
	lr.pooled = b
	return lr
}

// bufSizeFor is defaultBufSize, or less for the rest of a small plain
// file: from Start-1 to the end, plus one byte so the read that finds EOF
// needs no growth. Allocating (and zeroing) 256 KiB for each 12 KB file
// took a fifth of the CPU of a word count over 20,000 such files. A file
// that has grown since it was planned only makes the buffer grow.
func bufSizeFor(s Split) int {
	if rest := s.File.Size - s.Start + 2; s.File.Compression == None && rest < defaultBufSize {
		return int(max(rest, 4<<10))
	}
	return defaultBufSize
}

// readBufs keeps the buffers of finished readers for the next file: a
// task of many files reads them one after another, and a fresh buffer for
// each (with the page faults of copying into new memory) made the read
// system call cost as much as the word count of a tiny file's bytes. Files
// of a few hundred KB (a folder of books) each took a fresh 256 KiB buffer
// too: zeroed, faulted in and filled, it pushed the combiner's hash table
// out of the cache, and a word count's table probes cost a fifth more than
// on one file of the same bytes (perf, 256 MiB, 655 files).
var readBufs bufPool

// bufPool is a free list of byte slices in power-of-two size classes from
// 4 KiB up to defaultBufSize.
type bufPool struct {
	classes [7]sync.Pool // minPooledBuf<<6 == defaultBufSize
}

const minPooledBuf = 4 << 10

// poolClass is the index of the smallest class of at least n bytes.
func poolClass(n int) int {
	return bits.Len(uint((max(n, minPooledBuf) - 1) / minPooledBuf))
}

// get returns a slice of at least n bytes, n <= defaultBufSize, of which
// nothing is to be assumed. It comes boxed, as the pool keeps it, so
// that put needs no new box: one allocation per small file read.
func (p *bufPool) get(n int) *[]byte {
	c := poolClass(n)
	if b, ok := p.classes[c].Get().(*[]byte); ok {
		return b
	}
	b := make([]byte, minPooledBuf<<c)
	return &b
}

// put gives back a slice that get returned.
func (p *bufPool) put(b *[]byte) {
	c := poolClass(len(*b))
	if len(*b) != minPooledBuf<<c {
		return // not one of ours
	}
	p.classes[c].Put(b)
}

// oneRead reports whether the rest of a plain file, from s.Start-1 on,
// fits in the buffer bufSizeFor gives s, so that the split is read whole
// by one read: a tiny file.
func oneRead(s Split) bool {
	return s.File.Compression == None && bufSizeFor(s) < defaultBufSize
}

// newLineReaderSize lets tests use a tiny buffer, so that lines longer
// than the buffer, and lines across fills, are common in random tests.
func newLineReaderSize(src io.Reader, s Split, bufSize int) *LineReader {
	return newLineReaderBuf(src, s, make([]byte, max(bufSize, 1)), opened{})
}

// newLineReaderBuf is newLineReaderFrom reading into buf.
func newLineReaderBuf(src io.Reader, s Split, buf []byte, from opened) *LineReader {
	lr := &LineReader{split: s, end: s.End, base: buf, buf: buf,
		file: from.file, object: from.object, stored: from.stored}
	if err := s.check(); err != nil {
		lr.err, lr.done = err, true
		return lr
	}
	if s.Chunk != "" {
		// Every line of a chunk is the split's, and src starts at the
		// first, whose offset is Start; for a chunk cut after its first
		// line, src starts at the byte before Start, as for a plain
		// file's split.
		lr.off, lr.src = s.Start, src
		if s.ChunkOffset > 0 {
			lr.off, lr.skip = s.Start-1, true
		}
		return lr
	}
	if s.Start > 0 {
		lr.off = s.Start - 1
		lr.skip = true
	}
	if s.File.Compression == None {
		lr.src = src
		return lr
	}
	lr.end = math.MaxInt64
	dec, closeDec, err := decompressor(src, s.File.Compression, 1)
	if err != nil {
		lr.err, lr.done = lr.wrap(err), true
		return lr
	}
	lr.closeDec = closeDec
	if noReadAhead {
		lr.src = dec
		return lr
	}
	lr.ahead = newReadAhead(dec)
	lr.src = lr.ahead
	return lr
}

// noReadAhead makes compressed files decompress in the reading goroutine,
// as before the read-ahead; benchmarks set it to measure what the
// read-ahead is worth.
var noReadAhead bool

// check reports whether s is well formed.
func (s Split) check() error {
	switch {
	case s.Start < 0 || s.End < s.Start:
		return fmt.Errorf("%w %v", ErrBadSplit, s)
	case s.Unit != Bytes:
		return fmt.Errorf("%w %v: lines are read from a byte range", ErrBadSplit, s)
	case s.File.Compression != None && s.Start != 0 && s.Chunk == "":
		return fmt.Errorf("%w %v: a %v file is read whole, from offset 0", ErrBadSplit, s, s.File.Compression)
	}
	return nil
}

// Next returns the next line, without its terminator, and the offset of
// its first byte in the (uncompressed) file. ok is false at the end of the
// split or on error; then see Err. The line is valid until the next call
// to Next and must not be modified.
func (r *LineReader) Next() (line []byte, offset int64, ok bool) {
	if r.done {
		return nil, 0, false
	}
	if r.skip && !r.skipPartial() {
		return r.stop()
	}
	if r.off >= r.end {
		return r.stop()
	}
	for {
		if i := bytes.IndexByte(r.buf[r.scan:r.w], '\n'); i >= 0 {
			i += r.scan
			line, offset = r.buf[r.r:i], r.off
			n := i + 1 - r.r
			r.r, r.scan = i+1, i+1
			r.off += int64(n)
			r.bytesRead += int64(n)
			if len(line) > 0 && line[len(line)-1] == '\r' {
				line = line[:len(line)-1]
			}
			return line, offset, true
		}
		r.scan = r.w
		if r.eof || r.err != nil {
			if r.err != nil || r.r == r.w {
				return r.stop()
			}
			r.stop()
			// A final line without a newline. A trailing '\r' stays: it
			// is not part of a "\r\n" pair.
			line, offset = r.buf[r.r:r.w], r.off
			n := r.w - r.r
			r.r = r.w
			r.off += int64(n)
			r.bytesRead += int64(n)
			return line, offset, true
		}
		r.fill()
	}
}

// NextContaining is [LineReader.Next] for the lines whose bytes contain
// sub, which must not be empty nor hold '\n' or '\r' (ValidFilter): the
// lines before the one it returns are read, as Next would read them, and
// counted in skipped, but not returned. A job that looks for a literal in
// lines (grep) is then handed a small part of its input: the buffer is
// searched for sub at once, as GNU grep searches, and only the lines that
// hold it are cut out.
//
// It returns ok with a nil line when it has passed over a buffer of lines
// without finding sub, so that its caller can look up from a long search
// (to see whether it is cancelled, to report progress) before it calls
// again; ok is false at the end of the split or on error, as for Next.
//
// What Next would do with a line (fail a line too long, see the file
// changed at the end of the split) NextContaining does too, but for the
// lines it passes over whole within the buffer, which are only counted:
// these cannot be what Next fails on.
func (r *LineReader) NextContaining(sub []byte) (line []byte, offset int64, skipped int64, ok bool) {
	if !r.done && !r.skip && r.off < r.end {
		// The whole lines in the buffer that start before end: a line
		// that starts at or after end is the next split's, and a line
		// whose end is not yet read is left to Next.
		region := r.buf[r.r:r.w]
		if limit := r.end - r.off; int64(len(region)) > limit {
			region = region[:limit]
		}
		if last := bytes.LastIndexByte(region, '\n'); last >= 0 {
			whole := region[:last+1]
			pass := len(whole) // bytes of the lines without sub
			i := bytes.Index(whole, sub)
			if i >= 0 {
				pass = bytes.LastIndexByte(whole[:i], '\n') + 1
			}
			skipped = int64(bytes.Count(whole[:pass], newline))
			r.r += pass
			r.scan = max(r.scan, r.r)
			r.off += int64(pass)
			r.bytesRead += int64(pass)
			if i < 0 {
				return nil, 0, skipped, true
			}
			// The line in which sub was found, whole in the buffer:
			// Next cuts it out, and it needs no second look.
			line, offset, ok = r.Next()
			return line, offset, skipped, ok
		}
	}
	// The first line of the split, or one not yet wholly read.
	line, offset, ok = r.Next()
	if ok && !bytes.Contains(line, sub) {
		return nil, 0, skipped + 1, true
	}
	return line, offset, skipped, ok
}

var newline = []byte{'\n'}

// ValidFilter reports whether sub can be searched for by NextContaining:
// it is not empty and holds neither '\n' nor '\r', the bytes that end a
// line.
func ValidFilter(sub []byte) bool {
	return len(sub) > 0 && !bytes.ContainsAny(sub, "\r\n")
}

// stop ends the split: Next returns no more lines. Reaching the end is when
// a change to the file while it was read shows (see [ChangedError]); the
// check is one fstat per split.
func (r *LineReader) stop() (line []byte, offset int64, ok bool) {
	r.done = true
	if r.err == nil && r.file != nil && r.split.Chunk == "" {
		var grown bool
		grown, r.err = checkLines(r.file, r.split)
		r.grown = r.grown || grown
	}
	return nil, 0, false
}

// StopAt makes the reader end its split at end, as if the split were
// [Start, end): the lines that start at or after end are left to a split
// that starts there. It reports whether it did: end must lie past every
// line returned so far (and past the partial line a split skips at its
// start) and before the split's end, and the split must be a byte range
// of a plain file or of a chunk (not of a compressed file, read from its
// start), whose lines a split can start amid. A map task that gives up
// the rest of its split to another task stops this way.
func (r *LineReader) StopAt(end int64) bool {
	s := r.split
	switch {
	case r.done || s.File.Compression != None && s.Chunk == "" || end >= r.end:
		return false
	case r.skip && end <= s.Start, !r.skip && end <= r.off:
		return false
	}
	r.end = end
	r.split.End = end
	return true
}

// Grown reports whether the reader found its file larger than when the job
// was planned, a log being written, and read it as planned: the lines
// that start before the planned size (see checkLines). It is known once
// Next has returned false without an error.
func (r *LineReader) Grown() bool { return r.grown }

// skipPartial discards the bytes from Start-1 up to and including the
// first '\n', so that r.off is the first line start >= Start. It reports
// false if the input ends (or fails) first.
func (r *LineReader) skipPartial() bool {
	for {
		if i := bytes.IndexByte(r.buf[r.r:r.w], '\n'); i >= 0 {
			r.r += i + 1
			r.scan = r.r
			r.off += int64(i + 1)
			r.skip = false
			return true
		}
		// Discard without growing the buffer, however long the line.
		r.off += int64(r.w - r.r)
		r.r, r.w, r.scan = 0, 0, 0
		if r.eof || r.err != nil {
			return false
		}
		r.fill()
	}
}

// fill makes room in the buffer and reads once more from src, setting
// r.eof or r.err when src ends or fails.
func (r *LineReader) fill() {
	unread := r.w - r.r
	switch {
	case len(r.buf) > len(r.base) && unread < len(r.base):
		// The long line that grew the buffer has been returned: move
		// back to the small buffer so the memory can be collected.
		copy(r.base, r.buf[r.r:r.w])
		r.buf = r.base
		r.scan -= r.r
		r.r, r.w = 0, unread
	case r.r > 0:
		// Keep the partial line at the front; it is short except for
		// long lines, which are copied O(log n) times as the buffer
		// doubles.
		copy(r.buf, r.buf[r.r:r.w])
		r.scan -= r.r
		r.r, r.w = 0, unread
	case r.w == len(r.buf):
		// One line fills the whole buffer: double it, but not past
		// MaxLine (see longline.go).
		size := 2 * len(r.buf)
		if most := MaxLine(); most > 0 {
			if int64(len(r.buf)) >= most {
				r.err = lineTooLong(r.split, r.off, len(r.buf))
				return
			}
			size = int(min(int64(size), most))
		}
		nb := make([]byte, size)
		copy(nb, r.buf[:r.w])
		r.buf = nb
	}
	for range maxEmptyReads {
		n, err := r.src.Read(r.buf[r.w:])
		if n < 0 || n > len(r.buf)-r.w {
			r.err = r.wrap(fmt.Errorf("invalid Read count %d", n))
			return
		}
		r.w += n
		if err == io.EOF || r.size > 0 && r.off+int64(r.w-r.r) >= r.size {
			r.eof = true
			return
		}
		if err != nil {
			r.err = r.wrap(err)
			return
		}
		if n > 0 {
			return
		}
	}
	r.err = r.wrap(io.ErrNoProgress)
}

// wrap adds the split and the offset reached to a read or decompression
// error.
func (r *LineReader) wrap(err error) error {
	at := r.off + int64(r.w-r.r)
	if r.split.File.Compression == None || r.split.Chunk != "" {
		return fmt.Errorf("input: read split %v at offset %d: %w", r.split, at, err)
	}
	if r.stored == nil {
		// The caller's source (NewLineReader): a failed read of it
		// cannot be told from bytes that do not decode.
		return decompressError(r.split, at, err)
	}
	var unchanged func() error
	if r.file != nil {
		unchanged = func() error {
			_, err := checkLines(r.file, r.split)
			return err
		}
	}
	return decodeFailed(r.split, at, err, r.stored, unchanged)
}

// Err returns the first error met by Next, or nil at a clean end. Errors
// name the split (file and byte range) and wrap the underlying error; a
// truncated or corrupt compressed file gives the decompressor's error.
func (r *LineReader) Err() error { return r.err }

// BytesRead returns the bytes of the lines returned so far, terminators
// included: uncompressed bytes for a compressed file. Over all the splits
// of a file it sums to the file's (uncompressed) size. The partial line a
// split skips at its start is counted by the split that owns it.
func (r *LineReader) BytesRead() int64 { return r.bytesRead }

// StoredBytesRead returns how far the reader is through its split in the
// split's own units, the file's bytes as stored: for a plain file
// BytesRead; for a compressed file opened by Open the compressed bytes read
// so far, which the read-ahead may have taken a few buffers ahead of the
// lines returned. Progress is reported in it, since a split's length is.
func (r *LineReader) StoredBytesRead() int64 {
	if r.stored == nil {
		return r.bytesRead
	}
	return r.stored.n.Load()
}

// Split returns the split being read.
func (r *LineReader) Split() Split { return r.split }

// Close releases the decompressor and the file opened by Open. It does not
// close the reader given to NewLineReader. After Close, Next returns false.
func (r *LineReader) Close() error {
	var errs []error
	if r.ahead != nil {
		// Stop the goroutine before the decompressor it reads goes.
		r.ahead.Close()
		r.ahead = nil
	}
	if r.closeDec != nil {
		// The decompressor's Close repeats the decoding error that Err
		// already reports; anything else is news.
		if err := r.closeDec(); err != nil && r.err == nil {
			errs = append(errs, r.wrap(err))
		}
		r.closeDec = nil
	}
	if r.file != nil {
		if err := r.file.Close(); err != nil {
			errs = append(errs, fmt.Errorf("input: close split %v: %w", r.split, err))
		}
		r.file = nil
	}
	if r.object != nil {
		// Closing a ranged read before its end is how a split stops
		// reading past its last line; any error is of no interest.
		r.object.Close()
		r.object = nil
	}
	r.done = true
	if r.pooled != nil {
		readBufs.put(r.pooled)
		r.pooled = nil
	}
	r.buf, r.base = nil, nil
	r.r, r.w, r.scan = 0, 0, 0
	return errors.Join(errs...)
}
