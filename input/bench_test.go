package input

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
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
