package input

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"

	"github.com/quern-dev/quern/objstore"
)

// Spooling: one compressed file mapped on every core.
//
// A gzip, zstd, bzip2 or xz stream cannot be entered in the middle, so a
// compressed file is one split, and one task would map all of it on one
// core. Spool decompresses such a file once, into chunk files of about a
// split's size on local disk, each cut after a newline so that every line
// is whole in one chunk; each chunk is a split (Split.Chunk) that any
// task can map while the rest is still being decompressed. The chunks
// cost a write and a read of the decompressed bytes through the page
// cache, a fraction of decompressing them.
//
// Chunk k of a file is cut at the same place by every Spool of it (the
// cut depends on the bytes alone), so a second attempt after a failure
// can skip the chunks the first one finished, and a chunk mapped from
// either attempt is the same.

// Spoolable reports whether f is read by lines from a compressed local
// file, which Spool can cut into chunks: Text and JSONL, whose records
// never span a newline. CSV and TSV are not (a quoted field may), nor
// whole-file and columnar formats, nor objects in an object store, nor a
// file whose compression was only guessed (File.Guessed).
func Spoolable(f File) bool {
	return f.Compression != None && !f.Guessed && (f.Format == Text || f.Format == JSONL) && !objstore.IsURL(f.Path)
}

// SpoolOptions say how Spool cuts a file.
type SpoolOptions struct {
	// Dir holds the chunk files, chunk-00000, chunk-00001, ...
	Dir string
	// First is the size of the first chunk; each next chunk is twice the
	// one before, up to Size. Small first chunks give the other tasks
	// something to map at once; later ones are large, so that the file
	// is not many tiny tasks. First <= 0 means Size.
	First, Size int64
	// Skip is how many chunks an earlier Spool of the same file already
	// wrote: they are decompressed again, to reach the rest, but not
	// written, and not passed to onChunk.
	Skip int
	// DecodeCores is how many goroutines may decode the file at once
	// where its compression allows (bzip2's blocks); 0 means GOMAXPROCS.
	DecodeCores int
}

// chunkName is the name of chunk k in SpoolOptions.Dir.
func chunkName(k int) string { return fmt.Sprintf("chunk-%05d", k) }

// Spool decompresses the file of s, a whole compressed file for which
// Spoolable is true, into chunk files (see SpoolOptions). Chunk k holds
// the decompressed bytes [Start, End) of the file; it ends at the first
// line start at or past Start plus its size, or at the end of the file.
// As each chunk is complete on disk, Spool calls onChunk with its split
// (File is s.File, Chunk the chunk file, Start and End its decompressed
// range) and the compressed bytes read so far; an error from onChunk
// stops Spool with that error.
//
// Errors name the file: a corrupt or truncated stream ([ErrCorrupt]), a
// file changed since it was planned ([ChangedError]), a failed read, a
// chunk that cannot be written.
// A chunk being written when Spool fails is removed; finished chunks stay.
func Spool(ctx context.Context, s Split, opt SpoolOptions, onChunk func(chunk Split, stored int64) error) (err error) {
	if s.File.Compression == None || s.Start != 0 || s.Unit != Bytes {
		return fmt.Errorf("%w %v: only a whole compressed file is spooled", ErrBadSplit, s)
	}
	if opt.Size <= 0 {
		return fmt.Errorf("input: spool %v: chunk size must be > 0 (got %d)", s, opt.Size)
	}
	f, err := openUnchanged(s)
	if err != nil {
		return err
	}
	defer f.Close()
	counted := &countingReader{r: f}
	unchanged := func() error { return checkUnchanged(f, s) }
	dec, closeDec, err := decompressor(bufio.NewReaderSize(counted, compressedReadSize), s.File.Compression, cmp.Or(opt.DecodeCores, runtime.GOMAXPROCS(0)))
	if err != nil {
		return decodeFailed(s, 0, err, counted, unchanged)
	}
	defer closeDec()

	w := &chunkWriter{split: s, opt: opt, size: opt.First}
	if w.size <= 0 || w.size > opt.Size {
		w.size = opt.Size
	}
	defer w.abort()
	done := func(c Split) error {
		if err := onChunk(c, counted.n.Load()); err != nil {
			return err
		}
		return ctx.Err()
	}
	buf := make([]byte, 1<<20)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		n, rerr := dec.Read(buf)
		if err := w.write(buf[:n], done); err != nil {
			return err
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return decodeFailed(s, w.start+w.n, rerr, counted, unchanged)
		}
	}
	if err := w.finish(done); err != nil {
		return err
	}
	return unchanged()
}

// chunkWriter cuts a stream of decompressed bytes into chunks.
type chunkWriter struct {
	split Split
	opt   SpoolOptions
	size  int64 // of the current chunk
	k     int   // the current chunk's number
	start int64 // its first byte's offset in the decompressed file
	n     int64 // bytes in it so far
	last  byte  // the last of them
	open  bool  // a chunk is started: k, start, n and last are its
	f     *os.File
	tmp   string
}

// write adds p to the chunks, ending a chunk (and calling done with it)
// at the first line start at or past its size.
func (w *chunkWriter) write(p []byte, done func(Split) error) error {
	for len(p) > 0 {
		if !w.open {
			if err := w.begin(); err != nil {
				return err
			}
		}
		// Up to the chunk's size, then to the end of the line there
		// (a chunk that reached its size at a line's end was finished).
		take := len(p)
		if w.n < w.size {
			take = int(min(w.size-w.n, int64(len(p))))
		} else if i := bytes.IndexByte(p, '\n'); i >= 0 {
			take = i + 1
		}
		if w.f != nil {
			if _, err := w.f.Write(p[:take]); err != nil {
				return fmt.Errorf("input: spool %v: write chunk %d: %w", w.split, w.k, err)
			}
		}
		w.n += int64(take)
		w.last = p[take-1]
		p = p[take:]
		if w.n >= w.size && w.last == '\n' {
			if err := w.finish(done); err != nil {
				return err
			}
		}
	}
	return nil
}

// begin starts chunk w.k, in a temporary file unless an earlier Spool
// wrote it.
func (w *chunkWriter) begin() error {
	w.open, w.n, w.last = true, 0, 0
	if w.k < w.opt.Skip {
		return nil
	}
	f, err := os.CreateTemp(w.opt.Dir, chunkName(w.k)+"-*.tmp")
	if err != nil {
		return fmt.Errorf("input: spool %v: %w", w.split, err)
	}
	w.f, w.tmp = f, f.Name()
	return nil
}

// finish ends the current chunk, if one is started: its temporary file
// is renamed to its chunk name, and done hears of it.
func (w *chunkWriter) finish(done func(Split) error) error {
	if !w.open {
		return nil
	}
	path := filepath.Join(w.opt.Dir, chunkName(w.k))
	if w.f != nil {
		err := w.f.Close()
		w.f = nil
		if err == nil {
			err = os.Rename(w.tmp, path)
		}
		if err != nil {
			os.Remove(w.tmp)
			return fmt.Errorf("input: spool %v: chunk %d: %w", w.split, w.k, err)
		}
	}
	c := Split{Index: w.k, File: w.split.File, Start: w.start, End: w.start + w.n, Chunk: path}
	skipped := w.k < w.opt.Skip
	w.open = false
	w.start += w.n
	w.k++
	w.size = min(2*w.size, w.opt.Size)
	if skipped {
		return nil
	}
	return done(c)
}

// abort removes the chunk being written, if any.
func (w *chunkWriter) abort() {
	if w.f != nil {
		w.f.Close()
		os.Remove(w.tmp)
		w.f = nil
	}
}
