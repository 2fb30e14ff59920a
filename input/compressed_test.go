package input

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"testing/iotest"
	"time"

	"go.uber.org/goleak"
)

func TestOpenBzip2AndXz(t *testing.T) {
	data := foxText()
	dir := t.TempDir()
	for _, name := range []string{"fox.txt.bz2", "fox.txt.xz", "fox-xz-unnamed"} {
		c := CompressionOf(name)
		if name == "fox-xz-unnamed" {
			c = Xz
		}
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, compress(t, c, data), 0o644); err != nil {
			t.Fatal(err)
		}
		files, err := Expand([]string{path})
		if err != nil {
			t.Fatal(err)
		}
		if files[0].Compression != c {
			t.Fatalf("%s: compression %v, want %v", name, files[0].Compression, c)
		}
		splits, err := Plan(files, 1024)
		if err != nil || len(splits) != 1 {
			t.Fatalf("%s: Plan = %v, %v; want one split", name, splits, err)
		}
		lr, err := Open(splits[0])
		if err != nil {
			t.Fatal(err)
		}
		got, err := readAll(t, lr)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		equalLines(t, got, refLines(data))
	}
}

// TestCorruptCompressedFails damages a file of each compression in the
// middle, cuts one short and appends bytes to one: reading it by lines,
// whole or by Spool must fail, naming the file, never end early as if
// the file were shorter; and since the file is the one planned and its
// reads did not fail, the error is ErrCorrupt, which no retry can cure.
func TestCorruptCompressedFails(t *testing.T) {
	data := foxText()
	dir := t.TempDir()
	for _, c := range []Compression{Gzip, Zstd, Bzip2, Xz} {
		z := compress(t, c, data)
		flipped := bytes.Clone(z)
		flipped[len(z)/2] ^= 0x55
		for name, body := range map[string][]byte{
			"flipped": flipped,
			"cut":     z[:len(z)*3/5],
			"garbage": append(bytes.Clone(z), "garbage\n"...),
		} {
			path := filepath.Join(dir, name+"."+c.String())
			if err := os.WriteFile(path, body, 0o644); err != nil {
				t.Fatal(err)
			}
			files, err := Expand([]string{path})
			if err != nil {
				t.Fatal(err)
			}
			if files[0].Compression != c {
				t.Fatalf("%s: compression %v, want %v", path, files[0].Compression, c)
			}
			splits, err := Plan(files, 1<<20)
			if err != nil {
				t.Fatal(err)
			}
			lr, err := Open(splits[0])
			if err == nil {
				_, err = readAll(t, lr)
				lr.Close()
			}
			wantCorrupt(t, "lines", err, splits[0])

			whole := splits[0]
			whole.File.Format = WholeFile
			r, err := OpenRecords(whole)
			if err == nil {
				_, _ = r.Next()
				err = r.Err()
				r.Close()
			}
			wantCorrupt(t, "whole file", err, whole)

			err = Spool(context.Background(), splits[0], SpoolOptions{Dir: t.TempDir(), Size: 1 << 10},
				func(Split, int64) error { return nil })
			wantCorrupt(t, "spool", err, splits[0])
		}
	}
}

// wantCorrupt checks that err, from reading split s, is ErrCorrupt
// naming the split.
func wantCorrupt(t *testing.T, how string, err error, s Split) {
	t.Helper()
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), s.File.Path) {
		t.Errorf("%s, read as %s: error %v, want ErrCorrupt naming the file", s.File.Path, how, err)
	}
}

// failAfter is a source that fails with err after its first n bytes.
func failAfter(b []byte, n int, err error) io.Reader {
	return io.MultiReader(bytes.NewReader(b[:n]), iotest.ErrReader(err))
}

// TestDecodeErrorOrReadError: a decompressor's error is ErrCorrupt only
// when the file's bytes are at fault. A read of the file that fails (an
// I/O error) makes it the read's error, and a file that changed since it
// was planned a ChangedError: a retry may get past either.
func TestDecodeErrorOrReadError(t *testing.T) {
	data := foxText()
	z := compress(t, Gzip, data)
	eio := &fs.PathError{Op: "read", Path: "f.gz", Err: syscall.EIO}
	s := Split{File: File{Path: "f.gz", Size: int64(len(z)), Compression: Gzip}, End: int64(len(z))}
	for _, tc := range []struct {
		name    string
		src     io.Reader
		corrupt bool
	}{
		{"read fails in the header", failAfter(z, 5, eio), false},
		{"read fails mid-way", failAfter(z, len(z)/2, eio), false},
		{"cut short", bytes.NewReader(z[:len(z)/2]), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			counted := &countingReader{r: tc.src}
			lr := newLineReaderFrom(bufio.NewReader(counted), s, opened{stored: counted})
			_, err := readAll(t, lr)
			lr.Close()
			if err == nil || !strings.Contains(err.Error(), s.String()) {
				t.Fatalf("error %v, want one naming the split", err)
			}
			if errors.Is(err, ErrCorrupt) != tc.corrupt {
				t.Fatalf("error %v: ErrCorrupt %v, want %v", err, !tc.corrupt, tc.corrupt)
			}
			if !tc.corrupt && !errors.Is(err, syscall.EIO) {
				t.Fatalf("error %v, want the read's EIO", err)
			}
		})
	}

	t.Run("changed", func(t *testing.T) {
		flipped := bytes.Clone(z)
		flipped[len(z)/2] ^= 0x55
		path := filepath.Join(t.TempDir(), "f.gz")
		lr := openWritten(t, path, flipped)
		must(t, os.Chtimes(path, time.Time{}, time.Now().Add(time.Hour)))
		_, err := readAll(t, lr)
		var ce *ChangedError
		if !errors.As(err, &ce) || errors.Is(err, ErrCorrupt) {
			t.Fatalf("error %v, want a ChangedError and not ErrCorrupt", err)
		}
	})
}

// TestGzipAfterTheLastMember reads gzip files the way gzip -d does:
// several members are one file, trailing zero bytes end it, and other
// trailing bytes fail the read naming the file and calling them trailing
// bytes, not a truncated file (which they used to be called).
func TestGzipAfterTheLastMember(t *testing.T) {
	data := foxText()
	one := compress(t, Gzip, data)
	two := append(bytes.Clone(one), compress(t, Gzip, data)...)
	dir := t.TempDir()
	read := func(name string, body []byte) ([]refLine, error) {
		t.Helper()
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, body, 0o644); err != nil {
			t.Fatal(err)
		}
		files, err := Expand([]string{path})
		if err != nil {
			t.Fatal(err)
		}
		splits, err := Plan(files, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		lr, err := Open(splits[0])
		if err != nil {
			return nil, err
		}
		defer lr.Close()
		return readAll(t, lr)
	}

	got, err := read("two.gz", two)
	if err != nil {
		t.Fatal(err)
	}
	equalLines(t, got, refLines(append(bytes.Clone(data), data...)))

	got, err = read("padded.gz", append(bytes.Clone(two), make([]byte, 5000)...))
	if err != nil {
		t.Fatalf("zero padding after the last member: %v", err)
	}
	equalLines(t, got, refLines(append(bytes.Clone(data), data...)))

	for name, tail := range map[string][]byte{
		"garbage.gz":  []byte("garbage\n"),            // shorter than a gzip header
		"longtail.gz": bytes.Repeat([]byte("x"), 100), // longer than one
	} {
		_, err = read(name, append(bytes.Clone(one), tail...))
		if err == nil {
			t.Fatalf("%s: read with trailing bytes succeeded", name)
		}
		msg := err.Error()
		if !strings.Contains(msg, name) || !strings.Contains(msg, fmt.Sprintf("followed by %d bytes", len(tail))) ||
			strings.Contains(msg, "truncated") {
			t.Errorf("%s: error %q, want one naming the file and its %d trailing bytes", name, msg, len(tail))
		}
	}

	// A second member cut short is a truncated file.
	_, err = read("cut.gz", append(bytes.Clone(one), compress(t, Gzip, data)[:40]...))
	if err == nil || !strings.Contains(err.Error(), "truncated") {
		t.Errorf("cut second member: error %v, want one saying the file is truncated", err)
	}
}

// TestReadAheadStopsOnClose closes readers of every compression in the
// middle of a file, as a cancelled or failed task does: the read-ahead
// goroutine must be gone when Close returns.
func TestReadAheadStopsOnClose(t *testing.T) {
	defer goleak.VerifyNone(t)
	data := bytes.Repeat(foxText(), 4) // several ring buffers' worth
	dir := t.TempDir()
	for _, c := range []Compression{Gzip, Zstd, Xz} {
		s := writeInput(t, dir, "big."+map[Compression]string{Gzip: "gz", Zstd: "zst", Xz: "xz"}[c], data)
		for _, lines := range []int{0, 1, 1000} {
			lr, err := Open(s)
			if err != nil {
				t.Fatal(err)
			}
			if lr.ahead == nil {
				t.Fatalf("%v: no read-ahead goroutine started", c)
			}
			for range lines {
				if _, _, ok := lr.Next(); !ok {
					t.Fatal(lr.Err())
				}
			}
			if err := lr.Close(); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestChangedFileFails changes a planned file in every way a user can:
// each split opened afterwards, and a split being read while it changes,
// fails with a ChangedError that names the file.
func TestChangedFileFails(t *testing.T) {
	data := bytes.Repeat([]byte("some words on a line\n"), 500)
	later := time.Now().Add(time.Hour)
	for _, tc := range []struct {
		name   string
		change func(t *testing.T, path string)
		says   string
	}{
		{"truncated", func(t *testing.T, p string) { must(t, os.Truncate(p, int64(len(data)/3))) }, "size"},
		// Appending is no change to a reader of lines (TestGrownFile).
		{"rewritten longer", func(t *testing.T, p string) {
			must(t, os.WriteFile(p, append(bytes.ToUpper(data), "more\n"...), 0o644))
		}, "rewritten, not appended to"},
		{"rewritten in place", func(t *testing.T, p string) {
			must(t, os.WriteFile(p, bytes.ToUpper(data), 0o644))
			must(t, os.Chtimes(p, later, later))
		}, "modified"},
		{"replaced by rename", func(t *testing.T, p string) { must(t, replaceByRename(p, data)) }, "inode"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "in.txt")
			must(t, os.WriteFile(path, data, 0o644))
			files, err := Expand([]string{path})
			must(t, err)
			splits, err := Plan(files, int64(len(data)/2))
			must(t, err)

			// Changed while a split is read: the end of the split tells.
			lr, err := Open(splits[0])
			must(t, err)
			if _, _, ok := lr.Next(); !ok {
				t.Fatal(lr.Err())
			}
			if tc.name == "replaced by rename" && !renameOverOpenFile {
				if err := replaceByRename(path, data); err == nil {
					t.Fatal("a file open for reading was replaced by a rename; Windows refuses that")
				}
				_, err = readAll(t, lr) // the planned file, unchanged
				must(t, err)
				tc.change(t, path)
			} else {
				tc.change(t, path)
				_, err = readAll(t, lr)
				wantChanged(t, err, path, tc.says, tc.name != "replaced by rename")
			}

			// Changed before a split is opened.
			for _, s := range splits {
				r, err := OpenRecords(s)
				if err == nil {
					for _, ok := r.Next(); ok; _, ok = r.Next() {
					}
					err = errors.Join(r.Err(), r.Close())
				}
				wantChanged(t, err, path, tc.says, true)
			}
		})
	}
}

// replaceByRename replaces the file at p by a copy of data renamed over
// it, with the same modification time: only the inode (on Windows the file
// index) differs.
func replaceByRename(p string, data []byte) error {
	fi, err := os.Stat(p)
	if err != nil {
		return err
	}
	tmp := p + ".new"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	if err := os.Chtimes(tmp, fi.ModTime(), fi.ModTime()); err != nil {
		return err
	}
	if err := os.Rename(tmp, p); err != nil {
		return errors.Join(err, os.Remove(tmp))
	}
	return nil
}

// wantChanged checks err is the ChangedError for path, saying what
// changed; a file replaced after it was opened is still the planned file
// to its reader, so then no error is also right (want false).
func wantChanged(t *testing.T, err error, path, says string, want bool) {
	t.Helper()
	var ce *ChangedError
	if !errors.As(err, &ce) {
		if want || err != nil {
			t.Fatalf("error %v, want a ChangedError", err)
		}
		return
	}
	msg := err.Error()
	if !strings.Contains(msg, "input file "+path+" changed since the job was planned") || !strings.Contains(msg, says) {
		t.Fatalf("error %q does not name %s and say what changed (%s)", msg, path, says)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestWholeFile(t *testing.T) {
	dir := t.TempDir()
	docs := map[string][]byte{
		"a.html":          []byte("<html>\n<p>one document\nover lines</p>\n</html>"),
		"b.json":          []byte(`{"whole": "file", "no": "newline at the end"}`),
		"c.txt.gz":        foxText(),
		"sub/d.xml.xz":    []byte("<d>\r\n</d>\n"),
		"sub/e.bin":       {0, 1, 2, '\n', 0xff},
		"sub/fox.txt.bz2": foxText(),
	}
	for name, body := range docs {
		p := filepath.Join(dir, name)
		must(t, os.MkdirAll(filepath.Dir(p), 0o755))
		must(t, os.WriteFile(p, compress(t, CompressionOf(name), body), 0o644))
	}
	files, err := Expand([]string{dir})
	must(t, err)
	SetFormat(files, WholeFile)
	splits, err := Plan(files, 8) // far smaller than every file
	must(t, err)
	if len(splits) != len(docs) {
		t.Fatalf("%d splits for %d files, want one each", len(splits), len(docs))
	}
	for _, s := range splits {
		r, err := OpenRecords(s)
		must(t, err)
		rec, ok := r.Next()
		if !ok {
			t.Fatalf("%v: no record: %v", s, r.Err())
		}
		name, _ := filepath.Rel(dir, s.File.Path)
		name = filepath.ToSlash(name) // docs is keyed with /
		if rec.Offset != 0 || !bytes.Equal(rec.Value, docs[name]) {
			t.Errorf("%s: record at %d of %d bytes, want the whole file's %d", name, rec.Offset, len(rec.Value), len(docs[name]))
		}
		if _, ok := r.Next(); ok || r.Err() != nil {
			t.Errorf("%s: a second record, or error %v", name, r.Err())
		}
		if r.BytesRead() != int64(len(docs[name])) {
			t.Errorf("%s: BytesRead %d, want %d", name, r.BytesRead(), len(docs[name]))
		}
		must(t, r.Close())
	}
}

func TestWholeFileTooLarge(t *testing.T) {
	dir := t.TempDir()
	// A sparse file: over the limit at no cost. Refused by the planner.
	big := filepath.Join(dir, "big.txt")
	f, err := os.Create(big)
	must(t, err)
	must(t, errors.Join(f.Truncate(WholeFileLimit+1), f.Close()))
	files, err := Expand([]string{big})
	must(t, err)
	SetFormat(files, WholeFile)
	if _, err := Plan(files, 1<<20); !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), big) {
		t.Fatalf("Plan of a %d-byte whole file: %v, want ErrTooLarge naming it", WholeFileLimit+1, err)
	}
	// A small compressed file that decompresses past the limit: refused
	// by the reader.
	bomb := filepath.Join(dir, "bomb.zst")
	must(t, os.WriteFile(bomb, compress(t, Zstd, make([]byte, WholeFileLimit+1)), 0o644))
	files, err = Expand([]string{bomb})
	must(t, err)
	SetFormat(files, WholeFile)
	splits, err := Plan(files, 1<<20)
	must(t, err)
	r, err := OpenRecords(splits[0])
	must(t, err)
	defer r.Close()
	if _, ok := r.Next(); ok || !errors.Is(r.Err(), ErrTooLarge) || !strings.Contains(r.Err().Error(), bomb) {
		t.Fatalf("reading a whole file over the limit: ok %v, error %v; want ErrTooLarge naming it", ok, r.Err())
	}
}

// TestStoredBytesRead reads a third of a gzip file's lines: StoredBytesRead
// must be about a third of the file as stored (plus what the read-ahead
// took), not the uncompressed bytes returned, which is what progress
// against a split's stored length needs; at the end it is the whole file.
func TestStoredBytesRead(t *testing.T) {
	data := benchText(8 << 20)
	gz := compress(t, Gzip, data)
	if len(gz) > len(data)/2 {
		t.Fatalf("text compressed to %d of %d bytes: too little for this test to tell the units apart", len(gz), len(data))
	}
	lr := openWritten(t, filepath.Join(t.TempDir(), "t.gz"), gz)
	for lr.BytesRead() < int64(len(data)/3) {
		if _, _, ok := lr.Next(); !ok {
			t.Fatal(lr.Err())
		}
	}
	// Read-ahead: the bufio reader and four chunks of the goroutine.
	const ahead = compressedReadSize + 4*256<<10
	if got, most := lr.StoredBytesRead(), int64(len(gz)/3+ahead); got <= 0 || got > most {
		t.Fatalf("after a third of the lines: StoredBytesRead %d, want (0, %d] (file %d bytes stored)", got, most, len(gz))
	}
	for {
		if _, _, ok := lr.Next(); !ok {
			break
		}
	}
	must(t, lr.Err())
	if got := lr.StoredBytesRead(); got != int64(len(gz)) {
		t.Fatalf("at the end: StoredBytesRead %d, want the file's %d", got, len(gz))
	}
}

// openWritten writes data to path and opens the whole file as a job would
// (planned by Expand, one split); the reader is closed when t ends.
func openWritten(t *testing.T, path string, data []byte) *LineReader {
	t.Helper()
	must(t, os.WriteFile(path, data, 0o644))
	files, err := Expand([]string{path})
	must(t, err)
	lr, err := Open(Split{File: files[0], End: files[0].Size})
	must(t, err)
	t.Cleanup(func() { lr.Close() })
	return lr
}

// TestGzipReaderReleasedOnce: releasing a gzip decompressor twice puts its
// reader back in the pool once, so that two files never share a reader
// (which would interleave their bytes).
func TestGzipReaderReleasedOnce(t *testing.T) {
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	zw.Write([]byte("one line\n"))
	zw.Close()
	open := func() io.Reader {
		r, release, err := decompressor(bytes.NewReader(z.Bytes()), Gzip, 1)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { release() })
		return r
	}
	_, release, err := decompressor(bytes.NewReader(z.Bytes()), Gzip, 1)
	if err != nil {
		t.Fatal(err)
	}
	release()
	release()
	if a, b := open(), open(); a == b {
		t.Fatal("two open decompressors share one gzip reader")
	}
}
