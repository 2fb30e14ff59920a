package parbzip2

import (
	"bytes"
	stdbzip2 "compress/bzip2"
	"fmt"
	"io"
	"sync"
	"testing"

	"github.com/dsnet/compress/bzip2"
)

// benchInput is 16 MiB of text compressed at level 9 (900 kB blocks), as
// bzip2 -9 (its default) writes.
var benchInput = sync.OnceValues(func() ([]byte, int) {
	data := text(16<<20, 9)
	var b bytes.Buffer
	zw, _ := bzip2.NewWriter(&b, &bzip2.WriterConfig{Level: 9})
	zw.Write(data)
	zw.Close()
	return b.Bytes(), len(data)
})

func benchDecode(b *testing.B, open func(io.Reader) io.Reader) {
	z, n := benchInput()
	b.SetBytes(int64(n))
	for b.Loop() {
		if _, err := io.Copy(io.Discard, open(bytes.NewReader(z))); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecode compares the standard library's and dsnet's sequential
// decoders with Reader at 1, 2 and 4 goroutines (MB/s of output).
func BenchmarkDecode(b *testing.B) {
	b.Run("std", func(b *testing.B) {
		benchDecode(b, func(r io.Reader) io.Reader { return stdbzip2.NewReader(r) })
	})
	b.Run("dsnet", func(b *testing.B) {
		benchDecode(b, func(r io.Reader) io.Reader { zr, _ := bzip2.NewReader(r, nil); return zr })
	})
	for _, w := range []int{1, 2, 4} {
		b.Run(fmt.Sprintf("parallel-%d", w), func(b *testing.B) {
			var open []*Reader
			benchDecode(b, func(r io.Reader) io.Reader { pr := NewReader(r, w); open = append(open, pr); return pr })
			for _, r := range open {
				r.Close()
			}
		})
	}
}

// BenchmarkScan is the scanner alone: finding the blocks of the input.
func BenchmarkScan(b *testing.B) {
	z, _ := benchInput()
	b.SetBytes(int64(len(z)))
	for b.Loop() {
		s := scanner{src: bytes.NewReader(z)}
		s.run(func(*piece) bool { return true })
	}
}
