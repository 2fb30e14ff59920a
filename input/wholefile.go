package input

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/quern-dev/quern/objstore"
)

// WholeFileLimit is the largest file, in decompressed bytes, that the
// WholeFile format reads: a record is held in memory whole, and a task
// holds one record at a time. Larger files are an error that names them
// (at planning time for an uncompressed file, while reading for a
// compressed one); read them with a line format instead.
const WholeFileLimit = 64 << 20

// ErrTooLarge is wrapped by the error for a file larger than
// [WholeFileLimit] read with the WholeFile format.
var ErrTooLarge = errors.New("input: file too large to read whole")

// checkWholeFileSize refuses, before any task runs, an uncompressed file
// too large for the WholeFile format.
func checkWholeFileSize(f File) error {
	if f.Format.wholeFile() && f.Compression == None && f.Size > WholeFileLimit {
		return tooLarge(f.Path, fmt.Sprintf("%d bytes", f.Size))
	}
	return nil
}

func tooLarge(path, size string) error {
	return fmt.Errorf("%w: %s is %s, more than the %d MiB a record of --input-format wholefile may hold; read it with a line format",
		ErrTooLarge, path, size, WholeFileLimit>>20)
}

// wholeFileRecords reads the one record of a WholeFile split: Offset 0
// and Value the file's whole decompressed contents.
type wholeFileRecords struct {
	split Split
	rec   Record
	read  bool
	err   error
	bytes int64
}

var _ RecordReader = (*wholeFileRecords)(nil)

func openWholeFile(s Split) (*wholeFileRecords, error) {
	if s.Start != 0 || s.End != s.File.Size {
		return nil, fmt.Errorf("%w %v: a file of format wholefile is read as one split", ErrBadSplit, s)
	}
	if err := checkWholeFileSize(s.File); err != nil {
		return nil, err
	}
	return &wholeFileRecords{split: s}, nil
}

// Next reads the file on its first call. Reading when Next is called
// rather than in Open keeps a task's memory to one file at a time.
func (r *wholeFileRecords) Next() (*Record, bool) {
	if r.read {
		return nil, false
	}
	r.read = true
	value, err := r.readAll()
	if err != nil {
		r.err = err
		return nil, false
	}
	r.rec.Value, r.bytes = value, int64(len(value))
	return &r.rec, true
}

// readAll returns the decompressed contents of the split's file, checking
// the limit and that the file did not change while it was read.
func (r *wholeFileRecords) readAll() ([]byte, error) {
	s := r.split
	var f *os.File
	var rc io.ReadCloser
	var err error
	if objstore.IsURL(s.File.Path) {
		rc, err = openObject(s, 0) // checked now: a GET reads one version
	} else {
		f, err = openUnchanged(s)
		rc = f
	}
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	var src io.Reader = rc
	counted := &countingReader{r: rc}
	var unchanged func() error // none for an object: a GET reads one version
	if f != nil {
		unchanged = func() error { return checkUnchanged(f, s) }
	}
	if s.File.Compression != None {
		src = bufio.NewReaderSize(counted, compressedReadSize)
	}
	dec, closeDec, err := decompressor(src, s.File.Compression, 1)
	if err != nil {
		return nil, decodeFailed(s, 0, err, counted, unchanged)
	}
	defer closeDec()
	// Plain files need exactly their size; a compressed one grows from it.
	buf := make([]byte, 0, min(max(s.File.Size, 512)+1, WholeFileLimit+1))
	for len(buf) <= WholeFileLimit {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		var n int
		n, err = dec.Read(buf[len(buf):min(cap(buf), WholeFileLimit+1)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			break
		}
		if err != nil && s.File.Compression == None {
			return nil, fmt.Errorf("input: read file %s after %d bytes: %w", s.File.Path, len(buf), err)
		}
		if err != nil {
			return nil, decodeFailed(s, int64(len(buf)), err, counted, unchanged)
		}
	}
	if len(buf) > WholeFileLimit {
		return nil, tooLarge(s.File.Path, fmt.Sprintf("more than %d bytes decompressed", WholeFileLimit))
	}
	if unchanged != nil {
		if err := unchanged(); err != nil {
			return nil, err
		}
	}
	return buf, nil
}

func (r *wholeFileRecords) Err() error       { return r.err }
func (r *wholeFileRecords) BytesRead() int64 { return r.bytes }

func (r *wholeFileRecords) Close() error {
	r.read, r.rec.Value = true, nil
	return nil
}

// checkedOpen is how OpenRecords opens a reader that opens its file itself
// (Parquet, Arrow): it checks first, by path, that the file is the one
// planned. An object is checked by each of its reads instead
// (objectReaderAt, openObject).
func checkedOpen[R RecordReader](s Split, open func(Split) (R, error)) (RecordReader, error) {
	if objstore.IsURL(s.File.Path) {
		return open(s)
	}
	if err := checkPath(s); err != nil {
		return nil, err
	}
	return open(s)
}
