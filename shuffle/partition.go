package shuffle

import (
	"bytes"
	"encoding/binary"
	"math/bits"
	"slices"
)

// Partitioner assigns an encoded key to one of n partitions, [0, n). It must
// be deterministic across processes and machines, because map tasks in
// different worker processes must send a key to the same reducer.
type Partitioner interface {
	Partition(key []byte, n int) int
}

// HashPartitioner spreads keys over partitions by a 64-bit hash of the key
// bytes. The zero value is ready to use.
//
// The hash is XXH64 with seed 0, written out in this package so that the
// partition of a key never changes under a dependency upgrade: partitions
// are part of the job's observable output (which part file holds a key).
// The hash is reduced to [0, n) by Lemire's multiply-shift instead of a
// modulo, which avoids a 64-bit division per record and uses the hash's
// well-mixed high bits.
type HashPartitioner struct{}

var _ Partitioner = HashPartitioner{}

// Partition returns the partition of key among n. It returns 0 when n <= 1.
func (HashPartitioner) Partition(key []byte, n int) int {
	if n <= 1 {
		return 0
	}
	hi, _ := bits.Mul64(Hash64(key), uint64(n))
	return int(hi)
}

// XXH64 constants (https://github.com/Cyan4973/xxHash/blob/dev/doc/xxhash_spec.md).
const (
	prime64x1 uint64 = 0x9E3779B185EBCA87
	prime64x2 uint64 = 0xC2B2AE3D27D4EB4F
	prime64x3 uint64 = 0x165667B19E3779F9
	prime64x4 uint64 = 0x85EBCA77C2B2AE63
	prime64x5 uint64 = 0x27D4EB2F165667C5
)

// Hash64 returns the XXH64 hash (seed 0) of b. It is the hash behind
// HashPartitioner, exported so that tools can predict a key's partition.
func Hash64(b []byte) uint64 {
	n := len(b)
	var h uint64
	if n >= 32 {
		p1, p2 := prime64x1, prime64x2 // variables: the sums wrap, which constants may not
		v1 := p1 + p2
		v2 := p2
		v3 := uint64(0)
		v4 := -p1
		for len(b) >= 32 {
			v1 = xxRound(v1, binary.LittleEndian.Uint64(b[0:8]))
			v2 = xxRound(v2, binary.LittleEndian.Uint64(b[8:16]))
			v3 = xxRound(v3, binary.LittleEndian.Uint64(b[16:24]))
			v4 = xxRound(v4, binary.LittleEndian.Uint64(b[24:32]))
			b = b[32:]
		}
		h = bits.RotateLeft64(v1, 1) + bits.RotateLeft64(v2, 7) +
			bits.RotateLeft64(v3, 12) + bits.RotateLeft64(v4, 18)
		h = xxMergeRound(h, v1)
		h = xxMergeRound(h, v2)
		h = xxMergeRound(h, v3)
		h = xxMergeRound(h, v4)
	} else {
		h = prime64x5
	}
	h += uint64(n)
	for ; len(b) >= 8; b = b[8:] {
		h ^= xxRound(0, binary.LittleEndian.Uint64(b))
		h = bits.RotateLeft64(h, 27)*prime64x1 + prime64x4
	}
	if len(b) >= 4 {
		h ^= uint64(binary.LittleEndian.Uint32(b)) * prime64x1
		h = bits.RotateLeft64(h, 23)*prime64x2 + prime64x3
		b = b[4:]
	}
	for _, c := range b {
		h ^= uint64(c) * prime64x5
		h = bits.RotateLeft64(h, 11) * prime64x1
	}
	h ^= h >> 33
	h *= prime64x2
	h ^= h >> 29
	h *= prime64x3
	h ^= h >> 32
	return h
}

func xxRound(acc, input uint64) uint64 {
	acc += input * prime64x2
	acc = bits.RotateLeft64(acc, 31)
	return acc * prime64x1
}

func xxMergeRound(acc, val uint64) uint64 {
	val = xxRound(0, val)
	acc ^= val
	return acc*prime64x1 + prime64x4
}

// RangePartitioner partitions keys by sorted split points, so that every key
// of partition i sorts at or before every key of partition i+1: concatenating
// the reducers' outputs in partition order gives a total order.
//
// Partition i holds the keys k with Splits[i-1] <= k < Splits[i] (the first
// partition has no lower bound, the last no upper bound). Splits must be
// sorted by bytes.Compare; equal neighbours leave a partition empty.
type RangePartitioner struct {
	Splits [][]byte
}

var _ Partitioner = RangePartitioner{}

// NewRangePartitioner picks n-1 split points at evenly spaced quantiles of a
// sample of keys. The sample is not modified and the splits do not alias it.
// With n <= 1 or an empty sample there are no splits and every key goes to
// partition 0.
func NewRangePartitioner(sample [][]byte, n int) *RangePartitioner {
	if n <= 1 || len(sample) == 0 {
		return &RangePartitioner{}
	}
	sorted := slices.Clone(sample)
	slices.SortFunc(sorted, bytes.Compare)
	splits := make([][]byte, n-1)
	for i := range splits {
		splits[i] = bytes.Clone(sorted[(i+1)*len(sorted)/n])
		if splits[i] == nil {
			// bytes.Clone keeps nil for a nil input; an empty key is a
			// valid split, so keep the slice non-nil for clarity.
			splits[i] = []byte{}
		}
	}
	return &RangePartitioner{Splits: splits}
}

// Partition returns the index of the first split point greater than key,
// by binary search. Only the first n-1 splits are used, so the result is
// always in [0, n) even if Splits is longer than the caller's n.
func (p RangePartitioner) Partition(key []byte, n int) int {
	splits := p.Splits
	if n <= 1 {
		return 0
	}
	if len(splits) > n-1 {
		splits = splits[:n-1]
	}
	lo, hi := 0, len(splits)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if bytes.Compare(key, splits[mid]) < 0 {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return lo
}
