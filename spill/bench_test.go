package spill

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"path/filepath"
	"strconv"
	"testing"
)

// benchWords returns a vocabulary of pseudo-English words; textRecords
// draws keys from it with a Zipf distribution, as words in text are, so
// that the compressions see text-like redundancy.
func benchWords(rng *rand.Rand, n int) [][]byte {
	const letters = "etaoinshrdlcumwfgypbvkjxqz" // by English frequency
	words := make([][]byte, n)
	for i := range words {
		w := make([]byte, 2+rng.IntN(8))
		for j := range w {
			// Skewed letter choice: frequent letters dominate.
			w[j] = letters[int(math.Floor(math.Pow(rng.Float64(), 2.5)*float64(len(letters))))]
		}
		words[i] = w
	}
	return words
}

// textBuffer returns a sorted Buffer of n records of partition (word hash
// % parts), key word, value the decimal line number the word came from,
// like an inverted index's map output; and their total key+value bytes.
// A Buffer keeps the records in pointer-free Arrow memory, so the garbage
// collector does not rescan them during the benchmarks.
func textBuffer(n, parts int) (*Buffer, int64) {
	rng := rand.New(rand.NewPCG(7, 11))
	words := benchWords(rng, 20000)
	zipf := rand.NewZipf(rng, 1.1, 1, uint64(len(words)-1))
	b := NewBuffer()
	var size int64
	var v []byte
	for i := range n {
		w := words[zipf.Uint64()]
		h := uint32(2166136261)
		for _, c := range w {
			h = (h ^ uint32(c)) * 16777619
		}
		v = strconv.AppendInt(v[:0], int64(i/10), 10)
		b.Add(int(h%uint32(parts)), w, v)
		size += int64(len(w) + len(v))
	}
	b.Sort()
	return b, size
}

func BenchmarkBufferAdd(b *testing.B) {
	src, size := textBuffer(1<<16, 16)
	defer src.Release()
	buf := NewBuffer()
	defer buf.Release()
	b.SetBytes(size / int64(src.Len()))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		j := i % src.Len()
		if j == 0 {
			buf.Reset()
		}
		p, k, v := src.At(j)
		buf.Add(p, k, v)
	}
}

// BenchmarkBufferSort sorts 1M random ~10-byte keys in 16 partitions.
func BenchmarkBufferSort(b *testing.B) {
	const n = 1 << 20
	rng := rand.New(rand.NewPCG(3, 4))
	buf := NewBuffer()
	defer buf.Release()
	key := make([]byte, 12)
	var size int64
	for range n {
		k := key[:8+rng.IntN(5)]
		for j := range k {
			k[j] = byte(rng.Uint32())
		}
		buf.Add(rng.IntN(16), k, nil)
		size += int64(len(k))
	}
	buf.Sort() // finish the builders outside the timed loop
	b.SetBytes(size)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		buf.sorted = false
		buf.Sort()
	}
}

var benchCompressions = []Compression{NoCompression, LZ4Compression, ZstdCompression}

var benchBlock = 0 // DefaultBlockSize; change to study block size

const (
	benchRecords = 1 << 20 // ~11 MiB of text-like keys and values
	benchParts   = 8
)

func BenchmarkWrite(b *testing.B) {
	src, size := textBuffer(benchRecords, benchParts)
	defer src.Release()
	for _, comp := range benchCompressions {
		b.Run(comp.String(), func(b *testing.B) {
			path := filepath.Join(b.TempDir(), "run")
			b.SetBytes(size)
			b.ReportAllocs()
			var info Info
			for i := 0; i < b.N; i++ {
				var err error
				if info, err = WriteBuffer(path, src, Options{Partitions: benchParts, Compression: comp, BlockSize: benchBlock}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(size)/float64(info.Bytes), "ratio")
		})
	}
}

func BenchmarkRead(b *testing.B) {
	src, size := textBuffer(benchRecords, benchParts)
	defer src.Release()
	for _, comp := range benchCompressions {
		b.Run(comp.String(), func(b *testing.B) {
			path := filepath.Join(b.TempDir(), "run")
			info, err := WriteBuffer(path, src, Options{Partitions: benchParts, Compression: comp, BlockSize: benchBlock})
			if err != nil {
				b.Fatal(err)
			}
			r, err := Open(path)
			if err != nil {
				b.Fatal(err)
			}
			defer r.Close()
			b.SetBytes(size)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				var n int64
				for p := range benchParts {
					it, err := r.Segment(p)
					if err != nil {
						b.Fatal(err)
					}
					for kv := it.Next(); kv != nil; kv = it.Next() {
						n += int64(len(kv.Key))
					}
					if err := it.Close(); err != nil {
						b.Fatal(err)
					}
				}
				if n == 0 {
					b.Fatal("read nothing")
				}
			}
			b.ReportMetric(float64(size)/float64(info.Bytes), "ratio")
		})
	}
}

// BenchmarkBufferFirstFill fills a new Buffer with 32 MiB of 100-byte
// keys, as a worker's first map task of a sort fills its sort buffer
// (later tasks refill the arrays it grew). It measures how the arrays
// grow: the copies, and the page faults of memory the buffer touches.
func BenchmarkBufferFirstFill(b *testing.B) {
	const keySize, total = 100, 32 << 20
	key := make([]byte, keySize)
	b.SetBytes(total)
	for b.Loop() {
		buf := NewBuffer()
		for i := range total / keySize {
			binary.BigEndian.PutUint64(key, uint64(i)*0x9E3779B97F4A7C15)
			buf.Add(i%16, key, nil)
		}
		buf.Release()
	}
}
