package input

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/quern-dev/quern/internal/uring"
)

// burstReaders are the ways a Prefetcher's bursts are read: through
// io_uring where the system has it (else one at a time), one at a time as
// on a system without it, and by a ring that breaks after filling the
// buffers with bytes that are not the files', which the Prefetcher must
// not trust.
var burstReaders = []struct {
	name string
	read func([]uring.Read, func(i, fd int) error) error
}{
	{"as the system allows", uring.ReadFiles},
	{"one at a time", func([]uring.Read, func(i, fd int) error) error { return errors.ErrUnsupported }},
	{"ring broken", func(reads []uring.Read, _ func(i, fd int) error) error {
		for i := range reads {
			r := &reads[i]
			for j := range r.Buf {
				r.Buf[j] = 'X'
			}
			r.N, r.Err = len(r.Buf)-1, nil
		}
		return errors.New("io_uring_enter: broken")
	}},
}

// forEachBurstReader runs test once with each of burstReaders.
func forEachBurstReader(t *testing.T, test func(t *testing.T)) {
	for _, br := range burstReaders {
		t.Run(br.name, func(t *testing.T) {
			saved := readFiles
			readFiles = br.read
			t.Cleanup(func() { readFiles = saved })
			test(t)
		})
	}
}

// recordsOf reads every split through open, in order, and returns each
// record as "offset:value|fields", then the split's error, if any.
func recordsOf(t *testing.T, splits []Split, open func(i int) (RecordReader, error)) []string {
	t.Helper()
	var out []string
	for i, s := range splits {
		r, err := open(i)
		if err != nil {
			out = append(out, "open error: "+err.Error())
			continue
		}
		for rec, ok := r.Next(); ok; rec, ok = r.Next() {
			out = append(out, fmt.Sprintf("%s %d:%q|%q", filepath.Base(s.File.Path), rec.Offset, rec.Value, rec.Fields))
		}
		if err := r.Err(); err != nil {
			out = append(out, "error: "+err.Error())
		}
		out = append(out, fmt.Sprintf("grown %v bytes %d", grown(r), r.BytesRead()))
		must(t, r.Close())
	}
	return out
}

// grown reports whether r found its file grown since the plan.
func grown(r RecordReader) bool {
	g, ok := r.(interface{ Grown() bool })
	return ok && g.Grown()
}

// prefetchFolder writes a folder of files of every kind a Prefetcher
// meets: more tiny ones than a burst holds, empty ones, CSV and JSONL
// among text, a gzip named .txt (its compression known only from its
// bytes), a file too large to read ahead and lines without a final newline.
func prefetchFolder(t *testing.T) (dir string) {
	dir = t.TempDir()
	write := func(name string, b []byte) { must(t, os.WriteFile(filepath.Join(dir, name), b, 0o644)) }
	for i := range 150 {
		var b strings.Builder
		for j := range i % 40 {
			fmt.Fprintf(&b, "file %d line %d %s\n", i, j, strings.Repeat("x", i%7))
		}
		if i%3 == 0 {
			b.WriteString("no newline at the end")
		}
		write(fmt.Sprintf("t%03d.txt", i), []byte(b.String()))
	}
	write("a.csv", []byte("name,n\n\"x, y\",1\nz,2\n"))
	write("b.jsonl", []byte("\xef\xbb\xbf{\"a\":1}\n{\"a\":2}\n"))
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, err := zw.Write([]byte("compressed one\ncompressed two\n"))
	must(t, err)
	must(t, zw.Close())
	write("z-gzip-named.txt", gz.Bytes())
	write("big.txt", bytes.Repeat([]byte("a big file's line\n"), 20000)) // 360 KB
	return dir
}

// planFolder expands dir as a job does, with small files left unopened
// (ExpandOptions.GuessUpTo) if guess is set, and cuts it into splits of
// splitSize.
func planFolder(t *testing.T, dir string, splitSize int64, guess bool) []Split {
	t.Helper()
	files, err := ExpandWith([]string{dir}, ExpandOptions{GuessUpTo: 1 << 20 * int64(btoi(guess))})
	must(t, err)
	splits, err := Plan(files, splitSize)
	must(t, err)
	return splits
}

// A Prefetcher reads every split as OpenRecords does: the same records,
// offsets, fields, byte counts and errors, whether the file was read in a
// burst or not.
func TestPrefetcherReadsAsOpenRecords(t *testing.T) {
	forEachBurstReader(t, prefetchReadsAsOpenRecords)
}

func prefetchReadsAsOpenRecords(t *testing.T) {
	dir := prefetchFolder(t)
	for _, splitSize := range []int64{64 << 20, 100 << 10} { // whole files; big.txt in splits
		splits := planFolder(t, dir, splitSize, true)
		want := recordsOf(t, splits, func(i int) (RecordReader, error) { return OpenRecords(splits[i]) })
		p := NewPrefetcher(splits)
		got := recordsOf(t, splits, p.OpenRecords)
		if len(want) < 2000 {
			t.Fatalf("split size %d: only %d records and counts: the folder was not read", splitSize, len(want))
		}
		for i := range min(len(got), len(want)) {
			if got[i] != want[i] {
				t.Fatalf("split size %d: record %d: got %s, want %s", splitSize, i, got[i], want[i])
			}
		}
		if len(got) != len(want) {
			t.Fatalf("split size %d: %d records, want %d", splitSize, len(got), len(want))
		}
	}
}

// The readers of a burst may be read after the next burst is read: the
// slab that holds a file still being read is not reused. (A reader of a
// file whose compression is guessed reads its first bytes when it opens;
// one of a file Expand opened reads nothing before Next.)
func TestPrefetcherReadersOutliveTheirBurst(t *testing.T) {
	dir := prefetchFolder(t)
	splits := planFolder(t, dir, 64<<20, false)
	want := recordsOf(t, splits, func(i int) (RecordReader, error) { return OpenRecords(splits[i]) })
	p := NewPrefetcher(splits)
	readers := make([]RecordReader, len(splits))
	for i := range splits {
		r, err := p.OpenRecords(i)
		must(t, err)
		readers[i] = r
	}
	got := recordsOf(t, splits, func(i int) (RecordReader, error) { return readers[i], nil })
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("records read after later bursts differ from OpenRecords':\n%s", firstDifference(got, want))
	}
}

// firstDifference describes where got and want first differ.
func firstDifference(got, want []string) string {
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			return fmt.Sprintf("record %d: got %s, want %s", i, got[i], want[i])
		}
	}
	return fmt.Sprintf("%d records, want %d", len(got), len(want))
}

// A file changed between the plan and its burst fails, or is read as
// planned, as OpenRecords would have it: removed, rewritten shorter,
// rewritten as long, appended to.
func TestPrefetcherMeetsChangedFiles(t *testing.T) {
	forEachBurstReader(t, func(t *testing.T) {
		for _, guess := range []bool{true, false} {
			t.Run(fmt.Sprintf("compression guessed %v", guess), func(t *testing.T) { prefetchChangedFiles(t, guess) })
		}
	})
}

func prefetchChangedFiles(t *testing.T, guess bool) {
	dir := t.TempDir()
	for i := range 8 {
		must(t, os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%d.txt", i)), []byte(fmt.Sprintf("line one of %d\nline two\n", i)), 0o644))
	}
	splits := planFolder(t, dir, 64<<20, guess)
	must(t, os.Remove(filepath.Join(dir, "f1.txt")))
	must(t, os.WriteFile(filepath.Join(dir, "f3.txt"), []byte("short\n"), 0o644))
	appendTo(t, filepath.Join(dir, "f5.txt"), "appended after the plan\n")
	// Rewritten with as many bytes: its modification time tells, unless
	// the clock did not move (a coarse file system), then nothing can.
	f7 := filepath.Join(dir, "f7.txt")
	must(t, os.WriteFile(f7, []byte("LINE ONE OF 7\nLINE TWO\n"), 0o644))
	planned := splits[7].File.ModTime
	must(t, os.Chtimes(f7, planned.Add(3e9), planned.Add(3e9)))

	want := recordsOf(t, splits, func(i int) (RecordReader, error) { return OpenRecords(splits[i]) })
	got := recordsOf(t, splits, NewPrefetcher(splits).OpenRecords)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("a Prefetcher read changed files unlike OpenRecords:\n%s", firstDifference(got, want))
	}
	all := strings.Join(want, "\n")
	for _, must := range []string{"f1.txt", "f3.txt", "f7.txt", "grown true"} {
		if !strings.Contains(all, must) {
			t.Errorf("the reads say nothing of %q:\n%s", must, all)
		}
	}
	if strings.Contains(all, "appended after the plan") {
		t.Errorf("the line appended after the plan was read:\n%s", all)
	}
	var changed *ChangedError
	r, err := NewPrefetcher(splits[3:4]).OpenRecords(0)
	must(t, err)
	for _, ok := r.Next(); ok; _, ok = r.Next() {
	}
	if !errors.As(r.Err(), &changed) {
		t.Errorf("a file rewritten shorter: %v, want a ChangedError", r.Err())
	}
	must(t, r.Close())
}

// The small files of a burst are read when its first is opened, and
// handed out from memory: removed after that, they are read as planned,
// and those of the next burst are found gone.
func TestPrefetcherReadsAhead(t *testing.T) {
	forEachBurstReader(t, func(t *testing.T) {
		dir := t.TempDir()
		for i := range prefetchFiles + 2 {
			must(t, os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%03d.txt", i)), []byte(fmt.Sprintf("line of file %d\n", i)), 0o644))
		}
		splits := planFolder(t, dir, 64<<20, true)
		want := recordsOf(t, splits, func(i int) (RecordReader, error) { return OpenRecords(splits[i]) })
		p := NewPrefetcher(splits)
		first, err := p.OpenRecords(0)
		must(t, err)
		for _, s := range splits {
			must(t, os.Remove(s.File.Path))
		}
		got := recordsOf(t, splits, func(i int) (RecordReader, error) {
			if i == 0 {
				return first, nil
			}
			return p.OpenRecords(i)
		})
		burst := 2 * prefetchFiles // a name and a count a file
		if strings.Join(got[:burst], "\n") != strings.Join(want[:burst], "\n") {
			t.Fatalf("the burst's files, removed after it was read:\n%s", firstDifference(got[:burst], want[:burst]))
		}
		if rest := strings.Join(got[burst:], "\n"); strings.Count(rest, "removed") != 2 {
			t.Fatalf("the files after the burst, removed before it was read:\n%s", rest)
		}
	})
}
