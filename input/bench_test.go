package input

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/quern-dev/quern/internal/testenv"
)

// benchText returns about size bytes of ~60-byte lines of words.
func benchText(size int) []byte {
	words := []string{"the", "quick", "brown", "fox", "jumps", "over", "lazy", "dog", "map", "reduce", "shuffle", "spill"}
	rng := rand.New(rand.NewPCG(1, 2))
	var b bytes.Buffer
	b.Grow(size + 100)
	for b.Len() < size {
		n := 0
		for n < 55 {
			w := words[rng.IntN(len(words))]
			b.WriteString(w)
			b.WriteByte(' ')
			n += len(w) + 1
		}
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// BenchmarkLineReader reads a whole 16 MiB file of ~60-byte lines through
// Open, as a map task does; MB/s counts uncompressed bytes. "mem" reads
// from memory to show the line splitting alone.
func BenchmarkLineReader(b *testing.B) {
	data := benchText(16 << 20)
	dir := b.TempDir()
	b.Run("mem", func(b *testing.B) {
		s := Split{File: File{Path: "mem", Size: int64(len(data))}, End: int64(len(data))}
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			lr := NewLineReader(bytes.NewReader(data), s)
			drain(b, lr, len(data))
		}
	})
	for _, name := range []string{"plain.txt", "gzip.gz", "zstd.zst"} {
		s := writeInput(b, dir, name, data)
		b.Run(name[:len(name)-len(filepath.Ext(name))], func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				lr, err := Open(s)
				if err != nil {
					b.Fatal(err)
				}
				drain(b, lr, len(data))
			}
		})
	}
}

func drain(b *testing.B, lr *LineReader, size int) {
	n := 0
	for line, _, ok := lr.Next(); ok; line, _, ok = lr.Next() {
		n += len(line)
	}
	if err := lr.Err(); err != nil {
		b.Fatal(err)
	}
	if err := lr.Close(); err != nil {
		b.Fatal(err)
	}
	if lr.BytesRead() != int64(size) || n == 0 {
		b.Fatalf("read %d bytes, want %d", lr.BytesRead(), size)
	}
}

// BenchmarkNextContaining greps 16 MiB of ~60-byte lines in memory for
// `brawn [a-z]+`, which about one line in two hundred matches: "lines" cuts
// every line and matches each, as a map task without a filter hands grep's
// Map every line; "buffer" searches the buffer for the pattern's literal
// prefix (LineReader.NextContaining) and matches only the lines that hold
// it. The search for a short literal runs at about 2 GB/s (bytes.Index)
// where cutting lines runs at 8: what the filter saves is the lines not
// handed on and matched one by one.
func BenchmarkNextContaining(b *testing.B) {
	data := bytes.ReplaceAll(benchText(16<<20), []byte("quick brown fox"), []byte("quick brawn fox"))
	re := regexp.MustCompile(`brawn [a-z]+`)
	prefix, _ := re.LiteralPrefix()
	sub := []byte(prefix)
	s := Split{File: File{Path: "mem", Size: int64(len(data))}, End: int64(len(data))}
	want := 0
	for line := range bytes.Lines(data) {
		if re.Match(line) {
			want++
		}
	}
	if want == 0 || want > len(data)/60/100 {
		b.Fatalf("%d lines match %v", want, re)
	}
	b.Run("lines", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			lr := NewLineReader(bytes.NewReader(data), s)
			n := 0
			for line, _, ok := lr.Next(); ok; line, _, ok = lr.Next() {
				if re.Match(line) {
					n++
				}
			}
			checkFound(b, lr, n, want)
		}
	})
	b.Run("buffer", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			lr := NewLineReader(bytes.NewReader(data), s)
			n := 0
			for {
				line, _, _, ok := lr.NextContaining(sub)
				if !ok {
					break
				}
				if line != nil && re.Match(line) {
					n++
				}
			}
			checkFound(b, lr, n, want)
		}
	})
}

func checkFound(b *testing.B, lr *LineReader, n, want int) {
	if err := lr.Err(); err != nil {
		b.Fatal(err)
	}
	if n != want {
		b.Fatalf("found %d lines, want %d", n, want)
	}
}

// BenchmarkPlan plans 10,000 files of 1 GiB into 64 MiB splits; MB/s
// counts the input bytes planned.
func BenchmarkPlan(b *testing.B) {
	files := make([]File, 10000)
	var total int64
	for i := range files {
		files[i] = File{Path: fmt.Sprintf("/data/part-%05d", i), Size: 1 << 30}
		if i%10 == 0 {
			files[i].Compression = Zstd
		}
		total += files[i].Size
	}
	b.SetBytes(total)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Plan(files, 64<<20); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkExpand lists a directory of 1,000 files.
func BenchmarkExpand(b *testing.B) {
	dir := b.TempDir()
	for i := range 1000 {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("part-%04d", i)), []byte("x\n"), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		if files, err := Expand([]string{dir}); err != nil || len(files) != 1000 {
			b.Fatal(len(files), err)
		}
	}
}

// BenchmarkCompressedMapWork reads a gzip file of about 25 MB (96 MiB of
// text) and does per-line work like a word count's map function (a
// rune-by-rune scan for letters), with the read-ahead goroutine and
// without it. MB/s counts uncompressed bytes. With the read-ahead,
// decompression overlaps the scan, so wall time drops while CPU time
// stays about the same: compare `-cpu 2` wall times, and user+sys.
func BenchmarkCompressedMapWork(b *testing.B) {
	data := benchText(96 << 20)
	s := writeInput(b, b.TempDir(), "big.txt.gz", data)
	data = nil
	for _, ahead := range []bool{false, true} {
		b.Run(fmt.Sprintf("readahead=%v", ahead), func(b *testing.B) {
			noReadAhead = !ahead
			defer func() { noReadAhead = false }()
			b.SetBytes(s.File.Size)
			var words int
			cpu := testenv.CPUTime()
			for b.Loop() {
				lr, err := Open(s)
				if err != nil {
					b.Fatal(err)
				}
				for line, _, ok := lr.Next(); ok; line, _, ok = lr.Next() {
					words += countLetterRuns(line)
				}
				if err := errors.Join(lr.Err(), lr.Close()); err != nil {
					b.Fatal(err)
				}
				b.SetBytes(lr.BytesRead())
			}
			if words == 0 {
				b.Fatal("no words")
			}
			b.ReportMetric(float64(testenv.CPUTime()-cpu)/float64(b.N), "cpu-ns/op")
			b.ReportMetric(float64(s.File.Size)/1e6, "gz-MB")
		})
	}
}

// countLetterRuns counts maximal runs of letters in line, rune by rune,
// as a word count's map function does.
func countLetterRuns(line []byte) int {
	n, in := 0, false
	for i := 0; i < len(line); {
		r, size := utf8.DecodeRune(line[i:])
		i += size
		letter := unicode.IsLetter(r)
		if letter && !in {
			n++
		}
		in = letter
	}
	return n
}

// BenchmarkTinyFiles lists, plans and reads 2,000 files of 10 KiB, as a
// job over a folder of tiny files does in its driver and workers: what it
// measures is the cost per file (opening, checking, reading, closing),
// beside which the lines are nothing. It reports CPU time per file.
func BenchmarkTinyFiles(b *testing.B) { benchTinyFiles(b, ExpandOptions{}) }

// BenchmarkTinyFilesGuessed is BenchmarkTinyFiles with the planner's
// option (ExpandOptions.GuessUpTo): Expand leaves the files unopened, and
// the readers decide their compression.
func BenchmarkTinyFilesGuessed(b *testing.B) { benchTinyFiles(b, ExpandOptions{GuessUpTo: 1 << 20}) }

// BenchmarkTinyFilesRead is the map task's part of BenchmarkTinyFilesGuessed
// alone: the files are planned once, and each round reads them all, as the
// tasks of a job over a folder of tiny files do.
func BenchmarkTinyFilesRead(b *testing.B) {
	splits, text, n := plannedTinyFiles(b)
	benchReadLines(b, splits, text, n, func(i int) (RecordReader, error) { return OpenRecords(splits[i]) })
}

// BenchmarkTinyFilesPrefetch is BenchmarkTinyFilesRead as a map task reads
// the files, through a Prefetcher: in bursts through io_uring where the
// system has it, and one file at a time as on a system without.
func BenchmarkTinyFilesPrefetch(b *testing.B) {
	splits, text, n := plannedTinyFiles(b)
	for _, br := range burstReaders[:2] {
		b.Run(br.name, func(b *testing.B) {
			saved := readFiles
			readFiles = br.read
			defer func() { readFiles = saved }()
			var p *Prefetcher
			benchReadLines(b, splits, text, n, func(i int) (RecordReader, error) {
				if i == 0 {
					p = NewPrefetcher(splits)
				}
				return p.OpenRecords(i)
			})
		})
	}
}

// plannedTinyFiles is tinyFiles planned as a job plans them, the small
// files' compression guessed from their names.
func plannedTinyFiles(b *testing.B) (splits []Split, text []byte, n int) {
	dir, text, n := tinyFiles(b)
	files, err := ExpandWith([]string{dir}, ExpandOptions{GuessUpTo: 1 << 20})
	if err != nil {
		b.Fatal(err)
	}
	splits, err = Plan(files, 32<<20)
	if err != nil {
		b.Fatal(err)
	}
	return splits, text, n
}

// benchReadLines reads every line of splits, n files of text, through
// open each round, and reports the CPU time a file.
func benchReadLines(b *testing.B, splits []Split, text []byte, n int, open func(i int) (RecordReader, error)) {
	b.SetBytes(int64(n * len(text)))
	b.ReportAllocs()
	start := testenv.CPUTime()
	for b.Loop() {
		if lines := countLines(b, splits, open); lines != n*bytes.Count(text, []byte{'\n'}) {
			b.Fatalf("%d lines", lines)
		}
	}
	b.ReportMetric(float64(testenv.CPUTime()-start)/float64(b.N*n), "cpu-ns/file")
}

// BenchmarkTinyGzipFilesRead is BenchmarkTinyFilesRead over the same files
// gzipped: what a task pays per compressed file (a decompressor from the
// pool, the look at its first decompressed bytes, the read-ahead).
func BenchmarkTinyGzipFilesRead(b *testing.B) {
	dir, text, n := tinyFiles(b)
	for i := range n {
		name := filepath.Join(dir, fmt.Sprintf("doc-%05d.txt", i))
		var z bytes.Buffer
		zw := gzip.NewWriter(&z)
		if _, err := zw.Write(text); err != nil {
			b.Fatal(err)
		}
		if err := errors.Join(zw.Close(), os.WriteFile(name+".gz", z.Bytes(), 0o644), os.Remove(name)); err != nil {
			b.Fatal(err)
		}
	}
	files, err := ExpandWith([]string{dir}, ExpandOptions{})
	if err != nil {
		b.Fatal(err)
	}
	splits, err := Plan(files, 32<<20)
	if err != nil {
		b.Fatal(err)
	}
	benchReadLines(b, splits, text, n, func(i int) (RecordReader, error) { return OpenRecords(splits[i]) })
}

// tinyFiles writes the 2,000 files of 10 KiB of the tiny-file benchmarks
// into a temporary folder.
func tinyFiles(b *testing.B) (dir string, text []byte, n int) {
	dir = b.TempDir()
	text = benchText(10 << 10)
	n = 2000
	for i := range n {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("doc-%05d.txt", i)), text, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	return dir, text, n
}

// countLines reads every record of splits, each opened by open, as a map
// task does, and returns how many there were.
func countLines(b *testing.B, splits []Split, open func(i int) (RecordReader, error)) int {
	var lines int
	for i := range splits {
		r, err := open(i)
		if err != nil {
			b.Fatal(err)
		}
		for _, ok := r.Next(); ok; _, ok = r.Next() {
			lines++
		}
		if err := errors.Join(r.Err(), r.Close()); err != nil {
			b.Fatal(err)
		}
	}
	return lines
}

func benchTinyFiles(b *testing.B, opt ExpandOptions) {
	dir, text, n := tinyFiles(b)
	b.SetBytes(int64(n * len(text)))
	b.ReportAllocs()
	start := testenv.CPUTime()
	for b.Loop() {
		files, err := ExpandWith([]string{dir}, opt)
		if err != nil {
			b.Fatal(err)
		}
		splits, err := Plan(files, 32<<20)
		if err != nil {
			b.Fatal(err)
		}
		open := func(i int) (RecordReader, error) { return OpenRecords(splits[i]) }
		if lines := countLines(b, splits, open); lines != n*bytes.Count(text, []byte{'\n'}) {
			b.Fatalf("%d lines", lines)
		}
	}
	b.ReportMetric(float64(testenv.CPUTime()-start)/float64(b.N*n), "cpu-ns/file")
}
