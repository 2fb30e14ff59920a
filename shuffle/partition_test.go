package shuffle

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"
	"testing"

	"pgregory.net/rapid"
)

// TestHash64Vectors pins Hash64 to XXH64 (seed 0) with reference vectors,
// covering the short (< 32 bytes) and long (striped) code paths.
func TestHash64Vectors(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want uint64
	}{
		{"", 0xef46db3751d8e999},
		{"a", 0xd24ec4f1a98c6e5b},
		{"abc", 0x44bc2cf5ad770999},
		{"The quick brown fox jumps over the lazy dog", 0x0b242d361fda71bc},
	} {
		if got := Hash64([]byte(tc.in)); got != tc.want {
			t.Errorf("Hash64(%q) = %#x, want %#x", tc.in, got, tc.want)
		}
	}
}

// TestHashPartitionerStable pins a few partitions: a change here moves keys
// between reducers and must be deliberate (it changes which part file holds
// a key).
func TestHashPartitionerStable(t *testing.T) {
	for _, tc := range []struct {
		key  string
		n    int
		want int
	}{
		{"", 7, 6},
		{"a", 7, 5},
		{"abc", 7, 1},
		{"hello", 7, 1},
		{"the", 7, 2},
		{"key-0001", 7, 2},
		{"quern", 64, 63},
		{"key-0001", 64, 27},
		{"0123456789abcdef0123456789abcdef", 7, 2},
		{"anything", 1, 0},
		{"anything", 0, 0},
	} {
		if got := (HashPartitioner{}).Partition([]byte(tc.key), tc.n); got != tc.want {
			t.Errorf("Partition(%q, %d) = %d, want %d", tc.key, tc.n, got, tc.want)
		}
	}
}

// TestHashPartitionerSpread checks a chi-square statistic over 100k keys in
// 7 partitions, for textual keys and for structured binary keys (big-endian
// counters, the order-preserving encoding of integers) whose bytes differ
// only in the low positions.
func TestHashPartitionerSpread(t *testing.T) {
	const keys, n = 100_000, 7
	for name, gen := range map[string]func(i int, buf []byte) []byte{
		"text":   func(i int, buf []byte) []byte { return fmt.Appendf(buf, "word-%d", i) },
		"uint64": func(i int, buf []byte) []byte { return binary.BigEndian.AppendUint64(buf, uint64(i)) },
		"long": func(i int, buf []byte) []byte {
			return fmt.Appendf(buf, "a-shared-prefix-longer-than-32-bytes/%08d", i)
		},
	} {
		var counts [n]int
		var buf []byte
		for i := range keys {
			buf = gen(i, buf[:0])
			p := (HashPartitioner{}).Partition(buf, n)
			if p < 0 || p >= n {
				t.Fatalf("%s: partition %d out of range", name, p)
			}
			counts[p]++
		}
		expected := float64(keys) / n
		var chi2 float64
		for _, c := range counts {
			d := float64(c) - expected
			chi2 += d * d / expected
		}
		// 6 degrees of freedom: P(chi2 > 22.5) = 0.001 for a uniform hash.
		if chi2 > 22.5 {
			t.Errorf("%s: chi-square %.1f over counts %v: keys are not spread evenly", name, chi2, counts)
		}
	}
}

func TestRangePartitionerTotalOrder(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		key := rapid.SliceOfN(rapid.ByteRange('a', 'e'), 0, 4)
		sample := rapid.SliceOf(key).Draw(t, "sample")
		n := rapid.IntRange(1, 10).Draw(t, "n")
		keys := rapid.SliceOf(key).Draw(t, "keys")
		rp := NewRangePartitioner(sample, n)
		if len(sample) > 0 && n > 1 && len(rp.Splits) != n-1 {
			t.Fatalf("%d splits for %d partitions", len(rp.Splits), n)
		}
		slices.SortFunc(keys, bytes.Compare)
		prev := 0
		for _, k := range keys {
			p := rp.Partition(k, n)
			if p < 0 || p >= n {
				t.Fatalf("Partition(%q) = %d, out of [0, %d)", k, p, n)
			}
			// Keys in sorted order never go to an earlier partition: so
			// every key of partition i is <= every key of partition i+1.
			if p < prev {
				t.Fatalf("key %q in partition %d after a smaller key in partition %d", k, p, prev)
			}
			prev = p
		}
	})
}

func TestRangePartitionerBalanced(t *testing.T) {
	sample := make([][]byte, 1000)
	for i := range sample {
		// Shuffled order: NewRangePartitioner must sort its sample.
		sample[i] = fmt.Appendf(nil, "k%04d", (i*389)%1000)
	}
	orig := slices.Clone(sample)
	rp := NewRangePartitioner(sample, 4)
	if !slices.EqualFunc(sample, orig, bytes.Equal) {
		t.Fatal("NewRangePartitioner modified its sample")
	}
	var counts [4]int
	for _, k := range sample {
		counts[rp.Partition(k, 4)]++
	}
	if counts != [4]int{250, 250, 250, 250} {
		t.Fatalf("partition sizes %v, want 250 each", counts)
	}
	// Splits do not alias the sample.
	sample[250][0] = 'X'
	if rp.Splits[0][0] != 'k' {
		t.Fatal("splits alias the sample")
	}
}

func TestRangePartitionerEdges(t *testing.T) {
	rp := RangePartitioner{Splits: [][]byte{[]byte("b"), []byte("d")}}
	for _, tc := range []struct {
		key  string
		n    int
		want int
	}{
		{"", 3, 0}, {"a", 3, 0}, {"b", 3, 1}, {"c", 3, 1}, {"d", 3, 2}, {"z", 3, 2},
		// A caller's n smaller than the splits imply still gets [0, n).
		{"z", 2, 1}, {"z", 1, 0},
	} {
		if got := rp.Partition([]byte(tc.key), tc.n); got != tc.want {
			t.Errorf("Partition(%q, %d) = %d, want %d", tc.key, tc.n, got, tc.want)
		}
	}
	if got := NewRangePartitioner(nil, 5).Partition([]byte("x"), 5); got != 0 {
		t.Errorf("empty sample: partition %d, want 0", got)
	}
}
