package input

import (
	"errors"
	"fmt"
	"io"
	"sync/atomic"
)

// Corrupt compressed files.
//
// A compressed file that does not decode (a damaged byte, a checksum that
// does not match, a stream cut short, bytes after the last gzip member)
// fails the same way every time it is read, as long as it is the same
// file: the plan records each file's size, modification time and inode,
// and a reader checks them (ChangedError). So when a decompressor fails, a
// reader tells three causes apart: the file could not be read (an I/O
// error such as EIO, or a network error for an object), which a retry may
// get past; the file changed since the job was planned, which a retry
// reports as such; or neither, and then the stored bytes themselves are
// bad. Only the last is ErrCorrupt, which the driver takes as a refused
// input: it fails the job at once, with exit status 2, instead of retrying
// an attempt that cannot succeed (internal/driver/refusal.go).

// ErrCorrupt is wrapped by the error of a reader whose compressed file
// does not decode: a damaged or truncated gzip, zstd, bzip2 or xz stream,
// a checksum that does not match, bytes after the last gzip member. The
// reader has checked that no read of the file failed and that the file is
// still the one the job planned (see [ChangedError]), so reading it again
// would fail again at the same place.
var ErrCorrupt = errors.New("input: corrupt compressed file")

// countingReader is the file under a decompressor: it counts the bytes
// read through it, for StoredBytesRead and for the error of a corrupt
// file, and keeps the first error other than io.EOF it returned, by which
// decodeFailed tells an I/O error from a decoding one. err is written by
// the goroutine that reads (a LineReader's read-ahead) before the
// decompressor's error reaches the reader's owner over a channel, so the
// owner may read it once it has that error.
type countingReader struct {
	r   io.Reader
	n   atomic.Int64
	err error
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	if err != nil && err != io.EOF && c.err == nil {
		c.err = err
	}
	return n, err
}

// decodeFailed returns the error for err, met by the decompressor of the
// compressed split s after at uncompressed bytes. src is the file under
// the decompressor; unchanged, if not nil, checks that the file is still
// the one planned (an object needs no check: every read of it is of the
// planned version). If reading src failed, err is that I/O error, with
// the split and offset added; if the file changed, the error is the
// change; otherwise the bytes do not decode and the error wraps
// ErrCorrupt.
func decodeFailed(s Split, at int64, err error, src *countingReader, unchanged func() error) error {
	if errors.Is(err, errTarArchive) {
		return tarRefused(s.File.Path, s.File.Compression)
	}
	if src.err != nil {
		return decompressError(s, at, err)
	}
	if unchanged != nil {
		if cerr := unchanged(); cerr != nil {
			return cerr
		}
	}
	return fmt.Errorf("%w: %v split %v fails after %d uncompressed bytes%s, having read %d of its %d bytes: %w",
		ErrCorrupt, s.File.Compression, s, at, truncatedHint(err), src.n.Load(), s.File.Size, err)
}

// decompressError adds the file, and how far into its decompressed bytes
// the error came, to a decompression error of split s.
func decompressError(s Split, at int64, err error) error {
	if errors.Is(err, errTarArchive) {
		return tarRefused(s.File.Path, s.File.Compression)
	}
	return fmt.Errorf("input: read %v split %v after %d uncompressed bytes%s: %w",
		s.File.Compression, s, at, truncatedHint(err), err)
}

// truncatedHint is what a decompressor's error says about the file: a
// compressed stream that stops early was cut short, typically by an
// interrupted copy or a writer that was never closed.
func truncatedHint(err error) string {
	if errors.Is(err, io.ErrUnexpectedEOF) || err == io.EOF {
		return " (the file is truncated)"
	}
	return ""
}
