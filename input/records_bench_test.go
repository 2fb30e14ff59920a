package input

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// benchCSV returns about size bytes of CSV: a header, then rows of an
// integer, a word, a quoted field with a comma and an escaped quote, and a
// float.
func benchCSV(size int) []byte {
	words := []string{"alpha", "beta", "gamma", "delta", "epsilon", "zeta"}
	rng := rand.New(rand.NewPCG(3, 4))
	var b strings.Builder
	b.Grow(size + 200)
	b.WriteString("id,word,note,score\n")
	for i := 0; b.Len() < size; i++ {
		fmt.Fprintf(&b, "%d,%s,\"%s, \"\"%s\"\"\",%.3f\n", i, words[rng.IntN(len(words))],
			words[rng.IntN(len(words))], words[rng.IntN(len(words))], rng.Float64()*1000)
	}
	return []byte(b.String())
}

// BenchmarkCSV reads a 16 MiB CSV file through Plan and OpenRecords as one
// split; MB/s counts file bytes.
func BenchmarkCSV(b *testing.B) {
	data := benchCSV(16 << 20)
	path := filepath.Join(b.TempDir(), "bench.csv")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		b.Fatal(err)
	}
	benchDelimited(b, path, int64(len(data)))
}

// BenchmarkTSV is BenchmarkCSV's data with tabs and no quotes.
func BenchmarkTSV(b *testing.B) {
	data := []byte(strings.NewReplacer(", ", " ", ",", "\t", "\"", "").Replace(string(benchCSV(16 << 20))))
	path := filepath.Join(b.TempDir(), "bench.tsv")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		b.Fatal(err)
	}
	benchDelimited(b, path, int64(len(data)))
}

func benchDelimited(b *testing.B, path string, size int64) {
	files, err := Expand([]string{path})
	if err != nil {
		b.Fatal(err)
	}
	splits, err := Plan(files, 1<<40)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(size)
	b.ReportAllocs()
	for b.Loop() {
		n := drainRecords(b, splits[0])
		if n == 0 {
			b.Fatal("no records")
		}
	}
}

func drainRecords(b *testing.B, s Split) int {
	rr, err := OpenRecords(s)
	if err != nil {
		b.Fatal(err)
	}
	n := 0
	for rec, ok := rr.Next(); ok; rec, ok = rr.Next() {
		n += len(rec.Fields)
	}
	if err := rr.Err(); err != nil {
		b.Fatal(err)
	}
	if err := rr.Close(); err != nil {
		b.Fatal(err)
	}
	return n
}

// BenchmarkParquet reads 100,000 rows of the nine-column test table (in
// row groups of 10,000) as one split, rendering Fields and the JSON Value
// of every row; rows/s is the figure to watch.
func BenchmarkParquet(b *testing.B) {
	const rows = 100_000
	path := filepath.Join(b.TempDir(), "bench.parquet")
	writeParquet(b, path, rows, 10_000)
	benchColumnar(b, path, rows)
}

// BenchmarkArrow is BenchmarkParquet over an Arrow IPC file of ten
// batches.
func BenchmarkArrow(b *testing.B) {
	const rows = 100_000
	path := filepath.Join(b.TempDir(), "bench.arrow")
	sizes := make([]int, 10)
	for i := range sizes {
		sizes[i] = rows / 10
	}
	writeArrow(b, path, sizes, false)
	benchColumnar(b, path, rows)
}

func benchColumnar(b *testing.B, path string, rows int) {
	files, err := Expand([]string{path})
	if err != nil {
		b.Fatal(err)
	}
	splits, err := Plan(files, 1<<40)
	if err != nil || len(splits) != 1 {
		b.Fatal(len(splits), err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if n := drainRecords(b, splits[0]); n != rows*len(testColumns) {
			b.Fatalf("%d fields, want %d", n, rows*len(testColumns))
		}
	}
	b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}
