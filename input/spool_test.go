package input

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// spoolAll spools s into dir and returns the chunks onChunk heard of, in
// order.
func spoolAll(t *testing.T, s Split, opt SpoolOptions) ([]Split, error) {
	t.Helper()
	var chunks []Split
	err := Spool(context.Background(), s, opt, func(c Split, stored int64) error {
		if stored <= 0 || stored > s.File.Size {
			t.Errorf("chunk %d: %d compressed bytes read, of %d", c.Index, stored, s.File.Size)
		}
		chunks = append(chunks, c)
		return nil
	})
	return chunks, err
}

// checkChunks checks chunks against data, the file's decompressed bytes:
// they cover it in order, each is cut at a line start at or past its
// size (first, then doubling up to size), each chunk file holds its
// range, and reading the chunks as splits gives the file's lines with
// their offsets in the whole file.
func checkChunks(t *testing.T, data []byte, chunks []Split, first, size int64) {
	t.Helper()
	var got []refLine
	var at int64
	want := first
	for k, c := range chunks {
		if c.Index != k || c.Start != at || c.End <= c.Start {
			t.Fatalf("chunk %d is %v, want it to start at %d", k, c, at)
		}
		// The cut: the first line start at or past Start+want.
		end := int64(len(data))
		if i := bytes.IndexByte(data[min(c.Start+want-1, end):], '\n'); i >= 0 {
			end = min(c.Start+want-1, end) + int64(i) + 1
		}
		if c.End != end {
			t.Fatalf("chunk %d ends at %d, want %d (size %d)", k, c.End, end, want)
		}
		onDisk, err := os.ReadFile(c.Chunk)
		if err != nil || !bytes.Equal(onDisk, data[c.Start:c.End]) {
			t.Fatalf("chunk %d file %s: %v, %d bytes, want %d", k, c.Chunk, err, len(onDisk), c.End-c.Start)
		}
		r, err := OpenRecords(c)
		if err != nil {
			t.Fatal(err)
		}
		for {
			rec, ok := r.Next()
			if !ok {
				break
			}
			got = append(got, refLine{string(rec.Value), rec.Offset})
		}
		if err := r.Err(); err != nil {
			t.Fatal(err)
		}
		if r.BytesRead() != c.Len() {
			t.Errorf("chunk %d: BytesRead %d, want %d", k, r.BytesRead(), c.Len())
		}
		r.Close()
		at = c.End
		want = min(2*want, size)
	}
	if at != int64(len(data)) {
		t.Fatalf("chunks end at %d, want %d", at, len(data))
	}
	equalLines(t, got, refLines(data))
}

// TestSpool cuts compressed files into chunks: single and multi-member
// gzip, zstd and xz, with lines longer than a chunk, CRLF and no final
// newline; every line is read once from the chunks, at its offset in the
// decompressed file.
func TestSpool(t *testing.T) {
	data := sample()
	// A line ends exactly at a chunk's size: the cut is there, not at
	// the next newline.
	exact := append(bytes.Repeat([]byte("abc\n"), 4096), "end"...)
	for _, tc := range []struct {
		name        string
		data        []byte
		first, size int64
	}{
		{"a.gz", data, 64 << 10, 256 << 10},
		{"b.zst", data, 100 << 10, 100 << 10},
		{"c.xz", data, 1 << 20, 1 << 20},
		{"exact.gz", exact, 4096, 4096},
		{"one.gz", data, 1 << 30, 1 << 30},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			s := writeInput(t, dir, tc.name, tc.data)
			chunks, err := spoolAll(t, s, SpoolOptions{Dir: dir, First: tc.first, Size: tc.size})
			if err != nil {
				t.Fatal(err)
			}
			checkChunks(t, tc.data, chunks, tc.first, tc.size)
			if strings.HasPrefix(tc.name, "exact") && chunks[0].End != 4096 {
				t.Errorf("first chunk ends at %d, want 4096", chunks[0].End)
			}
			if tmp, _ := filepath.Glob(filepath.Join(dir, "*.tmp")); len(tmp) > 0 {
				t.Errorf("temporary files left: %v", tmp)
			}
		})
	}
	t.Run("multi-member", func(t *testing.T) {
		dir := t.TempDir()
		// Members cut mid-line, as `cat a.gz b.gz` of any two files.
		var z []byte
		for i := 0; i < len(data); i += 77777 {
			z = append(z, compress(t, Gzip, data[i:min(i+77777, len(data))])...)
		}
		path := filepath.Join(dir, "members.gz")
		must(t, os.WriteFile(path, z, 0o644))
		s := Split{File: File{Path: path, Size: int64(len(z)), Compression: Gzip}, End: int64(len(z))}
		chunks, err := spoolAll(t, s, SpoolOptions{Dir: dir, First: 50 << 10, Size: 200 << 10})
		if err != nil {
			t.Fatal(err)
		}
		checkChunks(t, data, chunks, 50<<10, 200<<10)
	})
}

// TestSpoolSkip checks that a second Spool of a file, told that the first
// wrote k chunks, cuts the same chunks, hands on only the rest, and leaves
// the first k files alone.
func TestSpoolSkip(t *testing.T) {
	data := sample()
	dir := t.TempDir()
	s := writeInput(t, dir, "a.gz", data)
	opt := SpoolOptions{Dir: dir, First: 32 << 10, Size: 128 << 10}
	all, err := spoolAll(t, s, opt)
	if err != nil || len(all) < 4 {
		t.Fatalf("%d chunks, %v", len(all), err)
	}
	// Mark the first two chunk files: a rewrite would lose the mark.
	for _, c := range all[:2] {
		must(t, os.WriteFile(c.Chunk, []byte("kept\n"), 0o644))
	}
	opt.Skip = 2
	rest, err := spoolAll(t, s, opt)
	if err != nil {
		t.Fatal(err)
	}
	if len(rest) != len(all)-2 {
		t.Fatalf("got %d chunks after skipping 2, want %d", len(rest), len(all)-2)
	}
	for i, c := range rest {
		if c != all[i+2] {
			t.Errorf("chunk %d is %v, was %v", i+2, c, all[i+2])
		}
	}
	for _, c := range all[:2] {
		if b, _ := os.ReadFile(c.Chunk); string(b) != "kept\n" {
			t.Errorf("%s was written again", c.Chunk)
		}
	}
}

// TestSpoolErrors: a corrupt or truncated file fails naming the file and
// leaves no temporary chunk; a file changed since it was planned is a
// ChangedError; an error from onChunk and a cancelled context stop it.
func TestSpoolErrors(t *testing.T) {
	data := sample()
	dir := t.TempDir()
	s := writeInput(t, dir, "a.gz", data)
	z, err := os.ReadFile(s.File.Path)
	must(t, err)
	opt := SpoolOptions{Dir: dir, First: 32 << 10, Size: 32 << 10}

	noTemp := func(t *testing.T) {
		t.Helper()
		if tmp, _ := filepath.Glob(filepath.Join(dir, "*.tmp")); len(tmp) > 0 {
			t.Errorf("temporary files left: %v", tmp)
		}
	}
	t.Run("truncated", func(t *testing.T) {
		path := filepath.Join(dir, "cut.gz")
		must(t, os.WriteFile(path, z[:len(z)/2], 0o644))
		cut := Split{File: File{Path: path, Size: int64(len(z) / 2), Compression: Gzip}, End: int64(len(z) / 2)}
		_, err := spoolAll(t, cut, opt)
		if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "truncated") {
			t.Fatalf("got %v, want ErrCorrupt naming %s as truncated", err, path)
		}
		noTemp(t)
	})
	t.Run("corrupt", func(t *testing.T) {
		bad := bytes.Clone(z)
		bad[len(bad)/2] ^= 0xff
		path := filepath.Join(dir, "bad.gz")
		must(t, os.WriteFile(path, bad, 0o644))
		_, err := spoolAll(t, Split{File: File{Path: path, Size: int64(len(bad)), Compression: Gzip}, End: int64(len(bad))}, opt)
		if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), path) {
			t.Fatalf("got %v, want ErrCorrupt naming %s", err, path)
		}
		noTemp(t)
	})
	t.Run("changed", func(t *testing.T) {
		changed := s
		changed.File.Size++
		_, err := spoolAll(t, changed, opt)
		var ce *ChangedError
		if !errors.As(err, &ce) {
			t.Fatalf("got %v, want a ChangedError", err)
		}
	})
	t.Run("onChunk fails", func(t *testing.T) {
		stop := errors.New("stop")
		err := Spool(context.Background(), s, opt, func(Split, int64) error { return stop })
		if !errors.Is(err, stop) {
			t.Fatalf("got %v, want %v", err, stop)
		}
		noTemp(t)
	})
	t.Run("cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		n := 0
		err := Spool(ctx, s, opt, func(Split, int64) error { n++; cancel(); return nil })
		if !errors.Is(err, context.Canceled) || n != 1 {
			t.Fatalf("got %v after %d chunks, want context.Canceled after 1", err, n)
		}
		noTemp(t)
	})
	t.Run("plain file", func(t *testing.T) {
		plain := writeInput(t, dir, "p.txt", data)
		if _, err := spoolAll(t, plain, opt); !errors.Is(err, ErrBadSplit) {
			t.Fatalf("got %v, want ErrBadSplit", err)
		}
	})
}
