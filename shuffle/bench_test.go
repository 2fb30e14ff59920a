package shuffle

import (
	"encoding/binary"
	"fmt"
	"testing"

	"github.com/quern-dev/quern/spill"
)

// genIter yields n records with 16-byte keys holding the counter
// (i/group)*stride + off in big endian, and 8-byte values, generated into
// reused buffers so a benchmark measures the consumer, not the data. With
// shared set, the counter sits after an 8-byte prefix common to all keys,
// the worst case for the merge's prefix comparison.
type genIter struct {
	i, n, stride, off, group int
	at                       int // offset of the counter in key
	key                      [16]byte
	val                      [8]byte
	kv                       spill.KV
}

func newGenIter(n, stride, off, group int, shared bool) *genIter {
	g := &genIter{n: n, stride: stride, off: off, group: group}
	if shared {
		copy(g.key[:], "sharedpf")
		g.at = 8
	} else {
		copy(g.key[8:], "-padding")
	}
	g.kv = spill.KV{Key: g.key[:], Value: g.val[:]}
	return g
}

func (g *genIter) Next() *spill.KV {
	if g.i == g.n {
		return nil
	}
	binary.BigEndian.PutUint64(g.key[g.at:], uint64((g.i/g.group)*g.stride+g.off))
	binary.LittleEndian.PutUint64(g.val[:], uint64(g.i))
	g.i++
	return &g.kv
}

func (g *genIter) Error() error { return nil }
func (g *genIter) Close() error { return nil }

const benchRecordBytes = 16 + 8

func BenchmarkMerge(b *testing.B) {
	const perInput = 100_000
	for _, shape := range []string{"interleaved", "shared", "blocks"} {
		for _, inputs := range []int{2, 16, 64} {
			b.Run(fmt.Sprintf("%s/inputs=%d", shape, inputs), func(b *testing.B) {
				b.SetBytes(int64(inputs * perInput * benchRecordBytes))
				b.ReportAllocs()
				its := make([]spill.Iterator, inputs)
				for b.Loop() {
					for j := range its {
						switch shape {
						case "interleaved", "shared":
							// Every Next moves to another input:
							// the worst case for the heap.
							its[j] = newGenIter(perInput, inputs, j, 1, shape == "shared")
						case "blocks":
							// Input j holds the j-th range of
							// keys: the top input stays on top.
							its[j] = newGenIter(perInput, 1, j*perInput, 1, false)
						}
					}
					m := NewMerger(its)
					n := 0
					for kv := m.Next(); kv != nil; kv = m.Next() {
						n++
					}
					if n != inputs*perInput {
						b.Fatalf("merged %d records, want %d", n, inputs*perInput)
					}
					m.Close()
				}
			})
		}
	}
}

func BenchmarkGrouper(b *testing.B) {
	const records = 1_000_000
	for _, group := range []int{1, 10, 1000} {
		b.Run(fmt.Sprintf("group=%d", group), func(b *testing.B) {
			b.SetBytes(records * benchRecordBytes)
			b.ReportAllocs()
			for b.Loop() {
				g := NewGrouper(newGenIter(records, 1, 0, group, false))
				n := 0
				for g.NextGroup() {
					for range g.Values() {
						n++
					}
				}
				if n != records || g.Err() != nil {
					b.Fatalf("%d values, err %v", n, g.Err())
				}
			}
		})
	}
}

func BenchmarkHashPartitioner(b *testing.B) {
	for _, size := range []int{8, 16, 64} {
		b.Run(fmt.Sprintf("key=%dB", size), func(b *testing.B) {
			key := make([]byte, size)
			b.SetBytes(int64(size))
			var sink int
			var p HashPartitioner
			for i := 0; b.Loop(); i++ {
				binary.LittleEndian.PutUint64(key, uint64(i))
				sink += p.Partition(key, 64)
			}
			_ = sink
		})
	}
}

func BenchmarkRangePartitioner(b *testing.B) {
	sample := make([][]byte, 10_000)
	for i := range sample {
		sample[i] = binary.BigEndian.AppendUint64(nil, uint64(i)*0x9E3779B97F4A7C15)
	}
	rp := NewRangePartitioner(sample, 64)
	key := make([]byte, 8)
	b.SetBytes(8)
	var sink int
	for i := 0; b.Loop(); i++ {
		binary.BigEndian.PutUint64(key, uint64(i)*0x9E3779B97F4A7C15)
		sink += rp.Partition(key, 64)
	}
	_ = sink
}

// BenchmarkOpenPartition reads one partition from 16 spill runs end to end:
// decoding, merging and, with a small fan-in, writing and re-reading
// intermediate runs.
func BenchmarkOpenPartition(b *testing.B) {
	const runs, perRun = 16, 50_000
	dir := b.TempDir()
	segs := make([]Segment, runs)
	for r := range runs {
		path := fmt.Sprintf("%s/run%02d.spill", dir, r)
		w, err := spill.Create(path, spill.Options{Partitions: 1, Compression: spill.ZstdCompression})
		if err != nil {
			b.Fatal(err)
		}
		g := newGenIter(perRun, runs, r, 1, false)
		for kv := g.Next(); kv != nil; kv = g.Next() {
			if err := w.Add(0, kv.Key, kv.Value); err != nil {
				b.Fatal(err)
			}
		}
		if _, err := w.Close(); err != nil {
			b.Fatal(err)
		}
		segs[r] = Segment{Path: path}
	}
	for _, fanIn := range []int{4, 64} {
		b.Run(fmt.Sprintf("fanIn=%d", fanIn), func(b *testing.B) {
			b.SetBytes(runs * perRun * benchRecordBytes)
			b.ReportAllocs()
			for b.Loop() {
				it, _, err := OpenPartition(segs, MergeOptions{FanIn: fanIn, TempDir: dir, Compression: spill.LZ4Compression})
				if err != nil {
					b.Fatal(err)
				}
				n := 0
				for kv := it.Next(); kv != nil; kv = it.Next() {
					n++
				}
				if err := it.Close(); err != nil || n != runs*perRun {
					b.Fatalf("%d records, err %v", n, err)
				}
			}
		})
	}
}
