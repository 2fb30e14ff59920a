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
	buf := make([]byte, 1<<20)
	b.Run("inflate", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		zr, err := NewReader(bytes.NewReader(z))
		if err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			if err := zr.Reset(bytes.NewReader(z)); err != nil {
				b.Fatal(err)
			}
			if _, err := io.CopyBuffer(io.Discard, zr, buf); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("klauspost", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		zr, err := kgzip.NewReader(bytes.NewReader(z))
		if err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			if err := zr.Reset(bytes.NewReader(z)); err != nil {
				b.Fatal(err)
			}
			if _, err := io.CopyBuffer(io.Discard, zr, buf); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("stdlib", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		zr, err := gzip.NewReader(bytes.NewReader(z))
		if err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			if err := zr.Reset(bytes.NewReader(z)); err != nil {
				b.Fatal(err)
			}
			if _, err := io.CopyBuffer(io.Discard, zr, buf); err != nil {
				b.Fatal(err)
			}
		}
	})
}
