package input

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/quern-dev/quern/objstore"
)

// randomAccess is what the Parquet and Arrow IPC file readers need of a
// file: reads at any offset (the footer first, then the column chunks or
// batches it locates), and a stream from the start for an Arrow stream.
type randomAccess interface {
	io.ReaderAt
	io.ReadSeeker
	io.Closer
}

// openRandomAccess opens f for the columnar readers: the file itself, or,
// for an object, a reader whose reads are ranged GETs (objectReaderAt).
func openRandomAccess(f File) (randomAccess, error) {
	if !objstore.IsURL(f.Path) {
		return os.Open(f.Path)
	}
	ctx := context.Background()
	s, u, err := objstore.Open(ctx, f.Path)
	if err != nil {
		return nil, err
	}
	o := &objectReaderAt{s: s, key: u.Key, f: f}
	return &objectFile{SectionReader: io.NewSectionReader(o, 0, f.Size), o: o}, nil
}

// objectFile is an object opened by openRandomAccess.
type objectFile struct {
	*io.SectionReader
	o *objectReaderAt
}

// exactReaderAt returns fh as a ReaderAt that fetches only the bytes each
// read asks for, without an object's read-ahead: for many small reads far
// apart (the Arrow batch headers of arrowBatchRows), where reading ahead
// would fetch the bodies between them.
func exactReaderAt(fh randomAccess) io.ReaderAt {
	if of, ok := fh.(*objectFile); ok {
		return exactObject{of.o}
	}
	return fh
}

type exactObject struct{ o *objectReaderAt }

func (e exactObject) ReadAt(p []byte, off int64) (int, error) {
	if off >= e.o.f.Size {
		return 0, io.EOF
	}
	return e.o.fetch(p[:min(int64(len(p)), e.o.f.Size-off)], off, len(p))
}

func (*objectFile) Close() error { return nil }

// objectReadAhead is the least an objectReaderAt fetches for a small read. The
// Arrow and Parquet readers make many small reads: the magic, the
// footer's length, the footer, and for each Arrow batch its message
// header and then its body, which for small batches are a few KiB. A GET
// costs a round trip (tens of milliseconds on S3 or GCS) and is billed,
// so a small read fetches this much and the reads that follow are served
// from it; a read of more than this is one GET of its own.
const objectReadAhead = 256 << 10

// objectReaderAt reads ranges of the object f, each checked to be of the
// object version planned (File.objectChanged). A small read fetches
// objectReadAhead bytes from its offset on, or, near the end, the last objectReadAhead
// bytes of the object, where the footers are.
type objectReaderAt struct {
	s   objstore.Store
	key string
	f   File

	mu     sync.Mutex
	buf    []byte // bytes [bufOff, bufOff+len(buf)) of the object
	bufOff int64
}

func (o *objectReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off >= o.f.Size {
		return 0, io.EOF
	}
	n := min(int64(len(p)), o.f.Size-off)
	// Parquet reads column chunks, one column at a time across row
	// groups, so a window ahead would be left before its next read:
	// only its footer, in the object's tail, is read ahead.
	tail := off >= o.f.Size-objectReadAhead
	if n >= objectReadAhead || o.f.Format == Parquet && !tail {
		return o.fetch(p[:n], off, len(p))
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if off < o.bufOff || off+n > o.bufOff+int64(len(o.buf)) {
		start := off
		end := min(o.f.Size, start+objectReadAhead)
		if end-start < objectReadAhead {
			start = max(0, end-objectReadAhead)
		}
		if cap(o.buf) < int(end-start) {
			o.buf = make([]byte, end-start)
		}
		o.buf = o.buf[:end-start]
		if got, err := o.fetch(o.buf, start, len(o.buf)); err != nil {
			o.buf = o.buf[:0]
			return 0, err
		} else if got < len(o.buf) {
			o.buf = o.buf[:got]
		}
		o.bufOff = start
	}
	got := copy(p[:n], o.buf[off-o.bufOff:])
	if got < len(p) {
		return got, io.EOF
	}
	return got, nil
}

// fetch reads len(p) bytes at off with one ranged GET; want is the length
// the caller asked for, to report io.EOF for a read past the end.
func (o *objectReaderAt) fetch(p []byte, off int64, want int) (int, error) {
	r, err := o.s.NewRangeReader(context.Background(), o.key, off, int64(len(p)))
	if err != nil {
		return 0, fmt.Errorf("read %s at %d: %w", o.f.Path, off, err)
	}
	defer r.Close()
	if err := o.f.objectChanged(r.Attrs()); err != nil {
		return 0, err
	}
	got, err := io.ReadFull(r, p)
	if err != nil {
		return got, fmt.Errorf("read %s at %d: %w", o.f.Path, off, err)
	}
	if got < want {
		return got, io.EOF
	}
	return got, nil
}
