package inflate

import (
	"bytes"
	"compress/gzip"
	"io"
	"math/rand/v2"
	"testing"

	kgzip "github.com/klauspost/compress/gzip"
)

// BenchmarkGzip decodes 8 MiB of text compressed at gzip's default level
// with this package and with the two readers it replaces; MB/s are of
// decompressed bytes.
func BenchmarkGzip(b *testing.B) {
	data := text(rand.New(rand.NewPCG(9, 10)), 8<<20)
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
