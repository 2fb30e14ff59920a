package output

import (
	"fmt"
	"path/filepath"
	"testing"
)

// BenchmarkWrite measures writing wordcount-style (string, int64) records;
// SetBytes counts the text form of a record ("word\tcount\n"), so MB/s
// compare across formats as "text-equivalent" throughput.
func BenchmarkWrite(b *testing.B) {
	const nWords = 4096
	words := make([]string, nWords)
	textBytes := 0
	for i := range words {
		words[i] = fmt.Sprintf("word%05d", i*7919%100000)
		textBytes += len(words[i]) + 1 + 4 + 1
	}
	for _, opts := range []Options{
		{Format: Text}, {Format: Text, Compression: Zstd}, {Format: JSONL},
		{Format: Parquet}, {Format: Arrow}, {Format: Arrow, Compression: Zstd},
	} {
		name := opts.Format.String()
		if opts.Compression != None {
			name += "-" + opts.Compression.String()
		}
		b.Run(name, func(b *testing.B) {
			path := filepath.Join(b.TempDir(), "part"+opts.Ext())
			w, err := Create[string, int64](path, opts)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(textBytes) / nWords)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				if err := w.Write(words[i%nWords], int64(1000+i%9000)); err != nil {
					b.Fatal(err)
				}
			}
			if err := w.Close(); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(w.Records())/b.Elapsed().Seconds(), "rec/s")
		})
	}
}
