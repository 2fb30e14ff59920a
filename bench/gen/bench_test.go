package gen

import (
	"io"
	randv1 "math/rand"
	"math/rand/v2"
	"testing"
)

// BenchmarkGenerate measures each generator writing 4 MiB to io.Discard.
//
//	go test -run '^$' -bench Generate ./bench/gen
func BenchmarkGenerate(b *testing.B) {
	const size = 4 << 20
	for _, kind := range Kinds {
		b.Run(kind, func(b *testing.B) {
			textVocab() // built once per process; not part of the figure
			logTables()
			b.ReportAllocs()
			var n int64
			for i := 0; b.Loop(); i++ {
				var err error
				n, err = Generate(kind, io.Discard, size, uint64(i))
				if err != nil {
					b.Fatal(err)
				}
			}
			b.SetBytes(n)
		})
	}
}

// BenchmarkZipf compares the samplers over the 50,100-word text vocabulary:
// the alias table (used), its plain twin the binary-searched CDF, and
// math/rand's rejection-inversion Zipf (which needs exponent > 1, so it runs
// with 1.0001). b.SetBytes(1) makes MB/s read as millions of draws per second.
func BenchmarkZipf(b *testing.B) {
	v := textVocab()
	var sink uint32
	b.Run("alias", func(b *testing.B) {
		r := newRNG(1, 0)
		b.SetBytes(1)
		for b.Loop() {
			sink += v.zipf.sample(r)
		}
	})
	b.Run("cdf", func(b *testing.B) {
		r := newRNG(1, 0)
		b.SetBytes(1)
		for b.Loop() {
			sink += v.zipf.sampleCDF(r)
		}
	})
	b.Run("mathrand", func(b *testing.B) {
		z := randv1.NewZipf(randv1.New(&pcgSource{rand.NewPCG(1, 0)}), 1.0001, 1, uint64(v.n()-1))
		b.SetBytes(1)
		for b.Loop() {
			sink += uint32(z.Uint64())
		}
	})
	_ = sink
}
