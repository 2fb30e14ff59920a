package input

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
	"pgregory.net/rapid"
)

// refLine is a line as the reference splitter sees it.
type refLine struct {
	text string
	off  int64
}

// refLines splits a whole file into lines by the rules of LineReader,
// written independently of it: byte by byte, no buffering.
func refLines(data []byte) []refLine {
	var out []refLine
	start := 0
	for i, c := range data {
		if c != '\n' {
			continue
		}
		end := i
		if end > start && data[end-1] == '\r' {
			end--
		}
		out = append(out, refLine{string(data[start:end]), int64(start)})
		start = i + 1
	}
	if start < len(data) {
		out = append(out, refLine{string(data[start:]), int64(start)})
	}
	return out
}

// tb is what the helpers need of *testing.T and *rapid.T alike (rapid.T
// does not implement testing.TB).
type tb interface {
	Helper()
	Fatalf(format string, args ...any)
}

// readAll drains lr, copying the lines, and checks that Close succeeds.
func readAll(t tb, lr *LineReader) ([]refLine, error) {
	t.Helper()
	var out []refLine
	for {
		line, off, ok := lr.Next()
		if !ok {
			break
		}
		out = append(out, refLine{string(line), off})
	}
	err := lr.Err()
	if cerr := lr.Close(); cerr != nil {
		t.Fatalf("Close: %v", cerr)
	}
	return out, err
}

// splitSource returns the reader NewLineReader expects for s over data.
func splitSource(data []byte, s Split) io.Reader {
	from := int64(0)
	if s.Start > 0 {
		from = s.Start - 1
	}
	return bytes.NewReader(data[from:])
}

// readSplits reads every split of a plain in-memory file of data, cut at
// splitSize, with a buffer of bufSize and src wrapped by wrap. It checks
// the per-split invariants and returns the concatenated lines.
func readSplits(t tb, data []byte, splitSize int64, bufSize int, wrap func(io.Reader) io.Reader) []refLine {
	t.Helper()
	f := File{Path: "mem.txt", Size: int64(len(data))}
	splits, err := Plan([]File{f}, splitSize)
	if err != nil {
		t.Fatalf("Plan: %v", err)
	}
	var all []refLine
	var total int64
	for _, s := range splits {
		lr := newLineReaderSize(wrap(splitSource(data, s)), s, bufSize)
		lines, err := readAll(t, lr)
		if err != nil {
			t.Fatalf("split %v: %v", s, err)
		}
		for _, l := range lines {
			if l.off < s.Start || l.off >= s.End {
				t.Fatalf("split %v returned a line at offset %d outside it", s, l.off)
			}
		}
		total += lr.BytesRead()
		all = append(all, lines...)
	}
	if total != int64(len(data)) {
		t.Fatalf("BytesRead over all splits = %d, want file size %d", total, len(data))
	}
	return all
}

func equalLines(t tb, got, want []refLine) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d lines, want %d\ngot:  %s\nwant: %s", len(got), len(want), showLines(got), showLines(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("line %d: got %q at %d, want %q at %d", i, short(got[i].text), got[i].off, short(want[i].text), want[i].off)
		}
	}
}

func short(s string) string {
	if len(s) > 40 {
		return fmt.Sprintf("%s...(%d bytes)", s[:40], len(s))
	}
	return s
}

func showLines(ls []refLine) string {
	if len(ls) > 20 {
		ls = ls[:20]
	}
	var b strings.Builder
	for _, l := range ls {
		fmt.Fprintf(&b, "%d:%q ", l.off, short(l.text))
	}
	return b.String()
}

// genFile draws file contents that stress line splitting: mostly "ab\n\r",
// with runs of CRLF and empty lines, occasional NUL and invalid UTF-8, and
// occasional long lines.
func genFile(t *rapid.T) []byte {
	chunks := rapid.SliceOfN(rapid.IntRange(0, 9), 0, 40).Draw(t, "chunks")
	var data []byte
	for i, kind := range chunks {
		switch kind {
		case 0:
			n := rapid.IntRange(1, 300).Draw(t, fmt.Sprintf("long%d", i))
			data = append(data, bytes.Repeat([]byte{'x'}, n)...)
		case 1:
			data = append(data, 0, 0xff, 0xfe, 0xc3)
		case 2:
			data = append(data, "\r\n\r\n\n"...)
		default:
			s := rapid.SliceOfN(rapid.SampledFrom([]byte("ab\n\r")), 0, 12).Draw(t, fmt.Sprintf("s%d", i))
			data = append(data, s...)
		}
	}
	return data
}

var wrappers = map[string]func(io.Reader) io.Reader{
	"plain":   func(r io.Reader) io.Reader { return r },
	"onebyte": iotest.OneByteReader,
	"half":    iotest.HalfReader,
	"dataerr": iotest.DataErrReader,
}

func TestLineReaderProperty(t *testing.T) {
	names := []string{"plain", "onebyte", "half", "dataerr"}
	rapid.Check(t, func(t *rapid.T) {
		data := genFile(t)
		splitSize := rapid.Int64Range(1, int64(len(data))+3).Draw(t, "splitSize")
		bufSize := rapid.IntRange(1, 64).Draw(t, "bufSize")
		wrap := wrappers[rapid.SampledFrom(names).Draw(t, "wrap")]
		got := readSplits(t, data, splitSize, bufSize, wrap)
		equalLines(t, got, refLines(data))
	})
}

func TestLineReaderCases(t *testing.T) {
	cases := []struct {
		name string
		data string
		want []refLine
	}{
		{"empty", "", nil},
		{"newline", "\n", []refLine{{"", 0}}},
		{"one", "a\n", []refLine{{"a", 0}}},
		{"no trailing newline", "a\nbc", []refLine{{"a", 0}, {"bc", 2}}},
		{"crlf", "a\r\nb\r\n", []refLine{{"a", 0}, {"b", 3}}},
		{"lone cr stays", "a\rb\n\r", []refLine{{"a\rb", 0}, {"\r", 4}}},
		{"cr before crlf", "a\r\r\n", []refLine{{"a\r", 0}}},
		{"empty lines", "\n\n\r\n", []refLine{{"", 0}, {"", 1}, {"", 2}}},
	}
	for _, c := range cases {
		if got := refLines([]byte(c.data)); fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Fatalf("%s: reference splitter gives %v, want %v", c.name, got, c.want)
		}
		for wname, wrap := range wrappers {
			for _, bufSize := range []int{1, 2, 3, defaultBufSize} {
				for splitSize := int64(1); splitSize <= int64(len(c.data))+1; splitSize++ {
					t.Run(fmt.Sprintf("%s/%s/buf%d/split%d", c.name, wname, bufSize, splitSize), func(t *testing.T) {
						got := readSplits(t, []byte(c.data), splitSize, bufSize, wrap)
						equalLines(t, got, c.want)
					})
				}
			}
		}
	}
}

// TestLineReaderHugeLine uses the real buffer size: a 3 MiB line, far
// longer than the buffer, between short lines, read with small splits
// so that many splits start inside it and must skip it.
func TestLineReaderHugeLine(t *testing.T) {
	var data []byte
	data = append(data, "first\r\n"...)
	data = append(data, bytes.Repeat([]byte("0123456789abcdef"), 3<<20/16)...)
	data = append(data, "\r\nshort\nlast"...)
	want := refLines(data)
	for _, splitSize := range []int64{100 << 10, 1 << 20, int64(len(data))} {
		got := readSplits(t, data, splitSize, defaultBufSize, wrappers["plain"])
		equalLines(t, got, want)
	}
}

// TestLineReaderShrinks checks that the buffer goes back to its normal
// size once the long line that grew it has been returned.
func TestLineReaderShrinks(t *testing.T) {
	const bufSize = 16
	data := []byte(strings.Repeat("y", 1000) + "\n" + strings.Repeat("ab\n", 100))
	s := Split{File: File{Path: "mem", Size: int64(len(data))}, End: int64(len(data))}
	lr := newLineReaderSize(iotest.HalfReader(bytes.NewReader(data)), s, bufSize)
	defer lr.Close()
	line, _, ok := lr.Next()
	if !ok || len(line) != 1000 {
		t.Fatalf("first line: ok=%v len=%d, want 1000 bytes", ok, len(line))
	}
	if len(lr.buf) < 1000 {
		t.Fatalf("buffer is %d bytes, cannot hold the 1000-byte line", len(lr.buf))
	}
	n := 1
	for _, _, ok := lr.Next(); ok; _, _, ok = lr.Next() {
		n++
	}
	if err := lr.Err(); err != nil {
		t.Fatal(err)
	}
	if n != 101 {
		t.Fatalf("read %d lines, want 101", n)
	}
	if len(lr.buf) != bufSize {
		t.Fatalf("buffer is %d bytes after the long line, want it back to %d", len(lr.buf), bufSize)
	}
}

// TestLineReaderNoCopy checks the hot path: lines are slices of the
// buffer, and reading a split allocates nothing per line.
func TestLineReaderNoCopy(t *testing.T) {
	data := bytes.Repeat([]byte("the quick brown fox jumps over the lazy dog\n"), 2000)
	s := Split{File: File{Path: "mem", Size: int64(len(data))}, End: int64(len(data))}
	src := bytes.NewReader(data)
	lr := NewLineReader(src, s)
	allocs := testing.AllocsPerRun(1, func() {
		for _, _, ok := lr.Next(); ok; _, _, ok = lr.Next() {
		}
	})
	if lr.Err() != nil {
		t.Fatal(lr.Err())
	}
	if lr.BytesRead() != int64(len(data)) {
		t.Fatalf("BytesRead = %d, want %d", lr.BytesRead(), len(data))
	}
	if allocs > 0 {
		t.Fatalf("reading %d lines allocated %v times", 2000, allocs)
	}
}

var errBoom = errors.New("boom")

func TestLineReaderReadError(t *testing.T) {
	data := []byte("aa\nbb\ncc\ndd\n")
	f := File{Path: "/data/in.txt", Size: int64(len(data))}
	for _, tc := range []struct {
		name      string
		split     Split
		failAfter int // bytes of src delivered before the error
		want      []refLine
	}{
		{"first split", Split{File: f, Start: 0, End: 7}, 4, []refLine{{"aa", 0}}},
		{"later split", Split{File: f, Start: 4, End: 12}, 6, []refLine{{"cc", 6}}},
		{"inside a line", Split{File: f, Start: 4, End: 12}, 5, nil},
		{"at once", Split{File: f, Start: 0, End: 12}, 0, nil},
		{"while skipping", Split{File: f, Start: 4, End: 12}, 1, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := io.MultiReader(io.LimitReader(splitSource(data, tc.split), int64(tc.failAfter)), iotest.ErrReader(errBoom))
			lr := newLineReaderSize(src, tc.split, 4)
			got, err := readAll(t, lr)
			equalLines(t, got, tc.want)
			if !errors.Is(err, errBoom) {
				t.Fatalf("Err() = %v, want it to wrap %v", err, errBoom)
			}
			if !strings.Contains(err.Error(), tc.split.String()) {
				t.Fatalf("Err() = %q does not name the split %s", err, tc.split)
			}
		})
	}
}

// TestLineReaderNoProgress checks that a source that never returns data
// nor an error is reported instead of spinning forever.
func TestLineReaderNoProgress(t *testing.T) {
	s := Split{File: File{Path: "stuck", Size: 10}, End: 10}
	_, err := readAll(t, NewLineReader(emptyReader{}, s))
	if !errors.Is(err, io.ErrNoProgress) {
		t.Fatalf("Err() = %v, want io.ErrNoProgress", err)
	}
}

type emptyReader struct{}

func (emptyReader) Read([]byte) (int, error) { return 0, nil }

func TestLineReaderBadSplit(t *testing.T) {
	f := File{Path: "x", Size: 10}
	for _, s := range []Split{
		{File: f, Start: -1, End: 3},
		{File: f, Start: 5, End: 4},
		{File: File{Path: "x.gz", Size: 10, Compression: Gzip}, Start: 2, End: 10},
	} {
		if _, err := readAll(t, NewLineReader(bytes.NewReader(nil), s)); !errors.Is(err, ErrBadSplit) {
			t.Errorf("NewLineReader(%v): Err() = %v, want ErrBadSplit", s, err)
		}
		if _, err := Open(s); !errors.Is(err, ErrBadSplit) {
			t.Errorf("Open(%v) = %v, want ErrBadSplit", s, err)
		}
	}
}

func compress(t testing.TB, c Compression, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	switch c {
	case Gzip:
		w := gzip.NewWriter(&buf)
		if _, err := w.Write(data); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	case Zstd:
		w, err := zstd.NewWriter(&buf, zstd.WithEncoderConcurrency(1))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(data); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	case Xz:
		w, err := xz.NewWriter(&buf)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(data); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	case Bzip2:
		// Go has no bzip2 writer: the one bzip2 stream is a fixture.
		if !bytes.Equal(data, foxText()) {
			t.Fatalf("compress: bzip2 is only available for foxText()")
		}
		raw, err := os.ReadFile("testdata/fox.txt.bz2")
		if err != nil {
			t.Fatal(err)
		}
		return raw
	default:
		return data
	}
	return buf.Bytes()
}

// foxText is the text of testdata/fox.txt.bz2, made by
// `python3 -c "..." | bzip2 -9` from these lines.
func foxText() []byte {
	var b bytes.Buffer
	for i := range 3000 {
		fmt.Fprintf(&b, "line %d: the quick brown fox jumps over %d lazy dogs\n", i, i*7%13)
	}
	return b.Bytes()
}

// writeInput writes data to dir/name, compressed as name's extension
// says, and returns the whole-file split.
func writeInput(t testing.TB, dir, name string, data []byte) Split {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, compress(t, CompressionOf(name), data), 0o644); err != nil {
		t.Fatal(err)
	}
	files, err := Expand([]string{path})
	if err != nil {
		t.Fatal(err)
	}
	splits, err := Plan(files, 1<<40)
	if err != nil || len(splits) != 1 {
		t.Fatalf("Plan: %v, %d splits", err, len(splits))
	}
	return splits[0]
}

// sample has long and short lines, CRLF and no final newline, and is
// bigger than the buffer, so that compressed reads cross fills.
func sample() []byte {
	var b bytes.Buffer
	for i := range 20000 {
		fmt.Fprintf(&b, "line %d %s\r\n", i, strings.Repeat("z", i%97))
		if i%5000 == 0 {
			b.WriteString(strings.Repeat("L", 300<<10) + "\n\n")
		}
	}
	b.WriteString("tail")
	return b.Bytes()
}

func TestOpenCompressed(t *testing.T) {
	data := sample()
	want := refLines(data)
	dir := t.TempDir()
	for _, name := range []string{"in.txt", "in.txt.gz", "in.txt.zst", "in.ZSTD"} {
		t.Run(name, func(t *testing.T) {
			s := writeInput(t, dir, name, data)
			if s.File.Compression != CompressionOf(name) {
				t.Fatalf("compression %v, want %v", s.File.Compression, CompressionOf(name))
			}
			lr, err := Open(s)
			if err != nil {
				t.Fatal(err)
			}
			got, err := readAll(t, lr)
			if err != nil {
				t.Fatal(err)
			}
			equalLines(t, got, want)
			if lr.BytesRead() != int64(len(data)) {
				t.Fatalf("BytesRead = %d, want uncompressed size %d", lr.BytesRead(), len(data))
			}
		})
	}
}

// TestNewLineReaderCompressed feeds compressed bytes through the iotest
// readers.
func TestNewLineReaderCompressed(t *testing.T) {
	data := []byte("alpha\nbeta\r\n\ngamma")
	want := refLines(data)
	for _, c := range []Compression{Gzip, Zstd} {
		z := compress(t, c, data)
		s := Split{File: File{Path: "mem." + c.String(), Size: int64(len(z)), Compression: c}, End: int64(len(z))}
		for wname, wrap := range wrappers {
			t.Run(c.String()+"/"+wname, func(t *testing.T) {
				got, err := readAll(t, NewLineReader(wrap(bytes.NewReader(z)), s))
				if err != nil {
					t.Fatal(err)
				}
				equalLines(t, got, want)
			})
		}
	}
}

// TestPlainSplitsOfFile reads a real file through Open, split finely, to
// cover the seek to Start-1.
func TestPlainSplitsOfFile(t *testing.T) {
	data := []byte("a\r\n\nbb\nccc\r\ndddd\n\n\neeeee")
	s := writeInput(t, t.TempDir(), "f.txt", data)
	for splitSize := int64(1); splitSize <= s.File.Size+1; splitSize++ {
		splits, err := Plan([]File{s.File}, splitSize)
		if err != nil {
			t.Fatal(err)
		}
		var got []refLine
		for _, sp := range splits {
			lr, err := Open(sp)
			if err != nil {
				t.Fatal(err)
			}
			lines, err := readAll(t, lr)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, lines...)
		}
		equalLines(t, got, refLines(data))
	}
}

func TestOpenMissing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gone.txt")
	s := Split{File: File{Path: path, Size: 5}, End: 5}
	_, err := Open(s)
	if !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), s.String()) {
		t.Fatalf("Open = %v, want ErrNotExist naming %s", err, s)
	}
}

func TestCorruptCompressed(t *testing.T) {
	data := sample()
	dir := t.TempDir()
	gz := compress(t, Gzip, data)
	zs := compress(t, Zstd, data)
	corrupt := bytes.Clone(zs)
	for i := len(corrupt) / 2; i < len(corrupt)/2+16; i++ {
		corrupt[i] ^= 0x5a
	}
	for _, tc := range []struct {
		name string
		body []byte
	}{
		{"truncated.gz", gz[:len(gz)/2]},
		{"truncated-header.gz", gz[:5]},
		{"empty.gz", nil},
		{"not-gzip.gz", []byte("plain text, not gzip\n")},
		{"truncated.zst", zs[:len(zs)/2]},
		{"corrupt.zst", corrupt},
		{"not-zstd.zst", []byte("plain text, not zstd\n")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, tc.name)
			if err := os.WriteFile(path, tc.body, 0o644); err != nil {
				t.Fatal(err)
			}
			// Size the split as if the file were not empty: Plan would
			// give an empty file no split at all.
			s := Split{File: File{Path: path, Size: int64(len(tc.body)) + 1, Compression: CompressionOf(path)}, End: int64(len(tc.body)) + 1}
			lr, err := Open(s)
			if err == nil {
				_, err = readAll(t, lr)
			}
			if err == nil {
				t.Fatal("no error from a damaged file")
			}
			if !strings.Contains(err.Error(), path) {
				t.Fatalf("error %q does not name the file %s", err, path)
			}
			t.Log(err)
		})
	}
}

// TestConcatenatedStreams checks files made by `cat a.gz b.gz` (or pigz,
// or zstd's multi-frame output): every member is read, and a line may
// span two members.
func TestConcatenatedStreams(t *testing.T) {
	parts := [][]byte{[]byte("one\ntw"), []byte("o\r\nthree\n"), nil, []byte("four")}
	whole := bytes.Join(parts, nil)
	dir := t.TempDir()
	for _, c := range []Compression{Gzip, Zstd} {
		var z []byte
		for _, p := range parts {
			z = append(z, compress(t, c, p)...)
		}
		path := filepath.Join(dir, "cat."+map[Compression]string{Gzip: "gz", Zstd: "zst"}[c])
		if err := os.WriteFile(path, z, 0o644); err != nil {
			t.Fatal(err)
		}
		lr, err := Open(Split{File: File{Path: path, Size: int64(len(z)), Compression: c}, End: int64(len(z))})
		if err != nil {
			t.Fatal(err)
		}
		got, err := readAll(t, lr)
		if err != nil {
			t.Fatalf("%v: %v", c, err)
		}
		equalLines(t, got, refLines(whole))
	}
}

// TestLineReaderPoolsBuffer checks that every reader, of a tiny file or of
// a file larger than its buffer, takes its buffer from readBufs and gives
// it back on Close: a task reading a folder of books one file after
// another then reuses one buffer, instead of zeroing and faulting in a
// fresh 256 KiB per file, which pushed the combiner's table out of the
// cache.
func TestLineReaderPoolsBuffer(t *testing.T) {
	for _, size := range []int{100, 10 << 10, defaultBufSize, 400 << 10} {
		data := bytes.Repeat([]byte("abcdefghi\n"), size/10)
		s := Split{File: File{Path: "mem", Size: int64(len(data))}, End: int64(len(data))}
		lr := NewLineReader(bytes.NewReader(data), s)
		if lr.pooled == nil {
			t.Errorf("%d-byte file: the reader's buffer is its own, not one from readBufs", len(data))
			continue
		}
		n := 0
		for _, _, ok := lr.Next(); ok; _, _, ok = lr.Next() {
			n++
		}
		if err := lr.Err(); err != nil || n != size/10 {
			t.Errorf("%d-byte file: %d lines, error %v; want %d lines", len(data), n, err, size/10)
		}
		lr.Close()
		if lr.pooled != nil {
			t.Errorf("%d-byte file: Close kept the buffer", len(data))
		}
	}
}

// TestNextContainingProperty reads every split of a random file with
// NextContaining and checks that it returns exactly the lines Next would
// that hold sub, at their offsets, and counts every other line as
// skipped, with the bytes read as Next reads them.
func TestNextContainingProperty(t *testing.T) {
	names := []string{"plain", "onebyte", "half", "dataerr"}
	rapid.Check(t, func(t *rapid.T) {
		data := genFile(t)
		sub := rapid.SliceOfN(rapid.SampledFrom([]byte("abx\x00\xff")), 1, 3).Draw(t, "sub")
		splitSize := rapid.Int64Range(1, int64(len(data))+3).Draw(t, "splitSize")
		bufSize := rapid.IntRange(1, 64).Draw(t, "bufSize")
		wrap := wrappers[rapid.SampledFrom(names).Draw(t, "wrap")]
		splits, err := Plan([]File{{Path: "mem.txt", Size: int64(len(data))}}, splitSize)
		if err != nil {
			t.Fatalf("Plan: %v", err)
		}
		var got []refLine
		var skipped, bytesRead int64
		for _, s := range splits {
			lr := newLineReaderSize(wrap(splitSource(data, s)), s, bufSize)
			for {
				line, off, n, ok := lr.NextContaining(sub)
				skipped += n
				if !ok {
					break
				}
				if line == nil {
					continue
				}
				if off < s.Start || off >= s.End {
					t.Fatalf("split %v returned a line at offset %d outside it", s, off)
				}
				got = append(got, refLine{string(line), off})
			}
			if err := lr.Err(); err != nil {
				t.Fatalf("split %v: %v", s, err)
			}
			bytesRead += lr.BytesRead()
			lr.Close()
		}
		all := refLines(data)
		var want []refLine
		for _, l := range all {
			if strings.Contains(l.text, string(sub)) {
				want = append(want, l)
			}
		}
		equalLines(t, got, want)
		if n := int64(len(got)) + skipped; n != int64(len(all)) {
			t.Fatalf("%d lines returned and %d skipped, want %d lines in all", len(got), skipped, len(all))
		}
		if bytesRead != int64(len(data)) {
			t.Fatalf("BytesRead over all splits = %d, want file size %d", bytesRead, len(data))
		}
	})
}

func TestValidFilter(t *testing.T) {
	for sub, want := range map[string]bool{"": false, "a": true, `" 50`: true, "a\nb": false, "a\r": false, "\x00": true} {
		if got := ValidFilter([]byte(sub)); got != want {
			t.Errorf("ValidFilter(%q) = %v, want %v", sub, got, want)
		}
	}
}

// TestStopAtProperty: a reader stopped at any offset, after any number of
// lines, and a reader of the split from that offset on read between them
// exactly the lines of the whole split, each once; a refused stop changes
// nothing.
func TestStopAtProperty(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		data := genFile(t)
		n := int64(len(data))
		start := rapid.Int64Range(0, n).Draw(t, "start")
		end := rapid.Int64Range(start, n).Draw(t, "end")
		s := Split{File: File{Path: "mem.txt", Size: n}, Start: start, End: end}
		var want []refLine
		for _, l := range refLines(data) {
			if l.off >= start && l.off < end {
				want = append(want, l)
			}
		}
		bufSize := rapid.IntRange(1, 64).Draw(t, "bufSize")
		lr := newLineReaderSize(splitSource(data, s), s, bufSize)
		var got []refLine
		for range rapid.IntRange(0, len(want)+1).Draw(t, "before") {
			line, off, ok := lr.Next()
			if !ok {
				break
			}
			got = append(got, refLine{string(line), off})
		}
		at := rapid.Int64Range(0, n+2).Draw(t, "at")
		stopped := lr.StopAt(at)
		rest, err := readAll(t, lr)
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		got = append(got, rest...)
		if stopped {
			if at >= end || at <= start {
				t.Fatalf("StopAt(%d) of %v accepted", at, s)
			}
			for _, l := range got {
				if l.off >= at {
					t.Fatalf("stopped at %d, but returned the line at %d", at, l.off)
				}
			}
			after := Split{File: s.File, Start: at, End: end}
			more, err := readAll(t, newLineReaderSize(splitSource(data, after), after, bufSize))
			if err != nil {
				t.Fatalf("read %v: %v", after, err)
			}
			got = append(got, more...)
		}
		equalLines(t, got, want)
	})
}
