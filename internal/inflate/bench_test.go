package inflate

import (
	"bytes"
	"compress/gzip"
	"io"
	"math/rand/v2"
	"testing"

	kgzip "github.com/klauspost/compress/gzip"

	"github.com/quern-dev/quern/bench/gen"
)

// BenchmarkGzip decodes 16 MiB of text compressed at gzip's default level
// with this package and with the two readers it replaces; MB/s are of
// decompressed bytes. "bench" is `quern bench`'s own text (bench/gen),
// literal-heavy, as English is; "mixed" is the tests' text, with more
// and longer matches.
func BenchmarkGzip(b *testing.B) {
	var benchText bytes.Buffer
	if _, err := gen.Generate("text", &benchText, 16<<20, 1); err != nil {
		b.Fatal(err)
	}
	for _, input := range []struct {
		name string
		data []byte
	}{
		{"bench", benchText.Bytes()},
		{"mixed", text(rand.New(rand.NewPCG(9, 10)), 16<<20)},
	} {
		b.Run(input.name, func(b *testing.B) { benchmarkReaders(b, input.data) })
	}
}

func benchmarkReaders(b *testing.B, data []byte) {
	z := gzipOf(b, data, gzip.DefaultCompression, "", "", nil)
	readers := []struct {
		name string
		open func(io.Reader) (io.Reader, error)
	}{
		{"inflate", func(r io.Reader) (io.Reader, error) { return NewReader(r) }},
		{"klauspost", func(r io.Reader) (io.Reader, error) { return kgzip.NewReader(r) }},
		{"stdlib", func(r io.Reader) (io.Reader, error) { return gzip.NewReader(r) }},
	}
	buf := make([]byte, 1<<20)
	for _, r := range readers {
		b.Run(r.name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				zr, err := r.open(bytes.NewReader(z))
				if err != nil {
					b.Fatal(err)
				}
				if _, err := io.CopyBuffer(io.Discard, zr, buf); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
