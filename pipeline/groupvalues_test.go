package pipeline

import (
	"bytes"
	"encoding/binary"
	"iter"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/quern-dev/quern/mapreduce"
)

// TestGroupValues: one task's decoder hands each group its values, in
// order, stops at the first value it cannot decode and keeps the error,
// allocates nothing per group, and refuses to be iterated between calls.
func TestGroupValues(t *testing.T) {
	encoded := func(vs ...int64) iter.Seq[[]byte] {
		var bs [][]byte
		for _, v := range vs {
			bs = append(bs, binary.AppendVarint(nil, v))
		}
		return slices.Values(bs)
	}
	var derr error
	g := newGroupValues(mapreduce.ValueCodecFor[int64](), &derr)
	for _, group := range [][]int64{{1, 2, 3}, {-7}, {}} {
		g.current = encoded(group...)
		got := slices.Collect(g.seq)
		g.current = nil
		require.Equal(t, group, append([]int64{}, got...))
		require.NoError(t, derr)
	}

	g.current = slices.Values([][]byte{binary.AppendVarint(nil, 5), {0x80}, binary.AppendVarint(nil, 6)})
	require.Equal(t, []int64{5}, slices.Collect(g.seq))
	require.ErrorContains(t, derr, "decode value")
	derr = nil

	// A group of one value, iterated by a loop made once as a task's
	// would be: no allocation.
	one := encoded(42)
	var sum int64
	yield := func(v int64) bool { sum += v; return true }
	allocs := testing.AllocsPerRun(100, func() {
		g.current = one
		g.seq(yield)
		g.current = nil
	})
	require.Zero(t, allocs, "allocations per group")
	require.Equal(t, int64(42*101), sum)

	require.PanicsWithValue(t, "pipeline: a group's values iterated after its function returned", func() {
		for range g.seq {
		}
	})
}

// TestKeyDecoder: []byte keys are copies (a kept key survives the next
// decode, and an append to it cannot overwrite the next key), an empty
// key is nil as BytesCodec decodes it, keys share blocks instead of an
// allocation each, and other key types decode through their codec.
func TestKeyDecoder(t *testing.T) {
	decode := keyDecoder(mapreduce.KeyCodecFor[[]byte]())
	src := []byte("alpha")
	a, err := decode(src)
	require.NoError(t, err)
	copy(src, "XXXXX")
	b, _ := decode([]byte("beta"))
	require.Equal(t, "alpha", string(a))
	_ = append(a, '!')
	require.Equal(t, "beta", string(b))
	empty, _ := decode(nil)
	require.Nil(t, empty)
	long := bytes.Repeat([]byte("k"), 3*keyBlock)
	got, _ := decode(long)
	require.Equal(t, long, got)

	key := []byte("a word of a group")
	allocs := testing.AllocsPerRun(1000, func() { _, _ = decode(key) })
	require.Less(t, allocs, 0.01, "allocations per key")

	n, err := keyDecoder(mapreduce.KeyCodecFor[int64]())(mapreduce.KeyCodecFor[int64]().Append(nil, -3))
	require.NoError(t, err)
	require.Equal(t, int64(-3), n)
}
