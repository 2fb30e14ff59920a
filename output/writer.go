package output

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"github.com/quern-dev/quern/internal/pathfmt"
)

// Writer writes typed records to one file. Not safe for concurrent use.
//
// Write's errors name the file and the record, so callers need not wrap
// them. After the first error every later call returns it again; the
// caller then calls Abort.
type Writer[K, V any] interface {
	// Write appends one record. k and v may be reused by the caller as soon
	// as Write returns.
	Write(k K, v V) error
	// Records is the number of records written so far.
	Records() int64
	// Bytes is the number of bytes written to the file so far; after
	// Close it is the file size.
	Bytes() int64
	// Close flushes, fsyncs and closes the file, so that a part committed
	// by rename afterwards is on disk. Its error, like Write's, names the
	// file once: a caller adds where it was, not the path again.
	Close() error
	// Abort closes and removes the file. It is safe after Close (the file
	// is removed then too) and more than once.
	Abort()
}

// KeyWriter is a Writer that can write a record of a key alone. Only the
// text format has such records: a line with no tab.
type KeyWriter[K any] interface {
	WriteKey(k K) error
}

// Create creates (truncates) the file at path and returns a Writer for
// records of type (K, V) in the format of opts. The encoders for K and V are
// chosen here, once; a type no format can express falls back to JSON.
func Create[K, V any](path string, opts Options) (Writer[K, V], error) {
	if err := opts.validate(); err != nil {
		return nil, fmt.Errorf("create output %s: %w", path, err)
	}
	if (opts.Format == Parquet || opts.Format == Arrow) && isNone[K]() && isNone[V]() {
		return nil, fmt.Errorf("create output %s: %s needs a key or a value column, both are None", path, opts.Format)
	}
	s, err := createSink(path, opts)
	if err != nil {
		return nil, err
	}
	var w Writer[K, V]
	switch opts.Format {
	case Text:
		w = newTextWriter[K, V](s)
	case JSONL:
		w, err = newJSONLWriter[K, V](s, opts)
	case Parquet:
		w, err = newParquetWriter[K, V](s, opts)
	case Arrow:
		w, err = newArrowWriter[K, V](s, opts)
	}
	if err != nil {
		s.abort()
		return nil, fmt.Errorf("create output %s: %w", path, err)
	}
	return w, nil
}

// bufferSize is the buffer in front of the file (and in front of a
// compressor): large enough that the file sees few large writes.
const bufferSize = 256 << 10

// sink is the byte stream under every format: a buffer, an optional
// compressor, a second buffer when compressing (compressors write in small
// pieces), a byte counter and the file.
type sink struct {
	path   string
	f      *os.File
	n      int64 // bytes that reached f
	fileBW *bufio.Writer
	comp   io.WriteCloser // nil when not compressing
	w      *bufio.Writer  // what formats write to
	closed bool
}

// countingFile counts the bytes written to the file so that Bytes needs no
// stat call.
type countingFile sink

func (c *countingFile) Write(p []byte) (int, error) {
	n, err := c.f.Write(p)
	c.n += int64(n)
	return n, err
}

func createSink(path string, opts Options) (*sink, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("create output %s: %w", path, err)
	}
	s := &sink{path: path, f: f}
	var under io.Writer = (*countingFile)(s)
	if opts.Format == Text || opts.Format == JSONL {
		switch opts.Compression {
		case Gzip:
			s.fileBW = bufio.NewWriterSize(under, bufferSize)
			s.comp, err = gzip.NewWriterLevel(s.fileBW, gzip.DefaultCompression)
		case Zstd:
			s.fileBW = bufio.NewWriterSize(under, bufferSize)
			s.comp, err = zstd.NewWriter(s.fileBW, zstd.WithEncoderConcurrency(1), zstd.WithLowerEncoderMem(true))
		}
		if err != nil {
			f.Close()
			os.Remove(path)
			return nil, fmt.Errorf("create output %s: %w", path, err)
		}
		if s.comp != nil {
			under = s.comp
		}
	}
	s.w = bufio.NewWriterSize(under, bufferSize)
	return s, nil
}

// close flushes every layer, syncs and closes the file.
func (s *sink) close() error {
	if s.closed {
		return fmt.Errorf("close output %s: %w", s.path, os.ErrClosed)
	}
	s.closed = true
	err := s.w.Flush()
	if s.comp != nil {
		err = errors.Join(err, s.comp.Close())
	}
	if s.fileBW != nil && err == nil {
		err = s.fileBW.Flush()
	}
	if err == nil {
		err = s.f.Sync()
	}
	err = errors.Join(err, s.f.Close())
	if err != nil {
		return pathfmt.Wrap("close output", s.path, err)
	}
	return nil
}

func (s *sink) abort() {
	if !s.closed {
		s.closed = true
		if s.comp != nil {
			s.comp.Close() // releases encoder goroutines and buffers
		}
		s.f.Close()
	}
	os.Remove(s.path)
}

// writeErr is the error of writing the output file path at where
// ("record 12"). It names the file once: the system's error names it
// already ("write PATH: no space left on device") when it is one.
func writeErr(path, where string, err error) error {
	if pathfmt.Named(err, path) {
		return fmt.Errorf("write output, %s: %w", where, err)
	}
	return fmt.Errorf("write output %s, %s: %w", path, where, err)
}
