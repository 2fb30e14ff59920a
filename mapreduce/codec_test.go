package mapreduce_test

import (
	"bytes"
	"cmp"
	"math"
	"testing"

	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"github.com/quern-dev/quern/mapreduce"
)

// checkOrdered asserts that a key codec round-trips and orders bytes as
// cmp.Compare orders values.
func checkOrdered[T cmp.Ordered](t *rapid.T, c mapreduce.Codec[T], a, b T) {
	ea, eb := c.Append(nil, a), c.Append(nil, b)
	if got, want := bytes.Compare(ea, eb), cmp.Compare(a, b); got != want {
		t.Fatalf("order of %v and %v: bytes.Compare=%d, want %d", a, b, got, want)
	}
	da, err := c.Decode(ea)
	if err != nil || cmp.Compare(da, a) != 0 {
		t.Fatalf("round trip of %v gave %v, %v", a, da, err)
	}
}

func TestKeyCodecsPreserveOrder(t *testing.T) {
	t.Run("int64", rapid.MakeCheck(func(t *rapid.T) {
		checkOrdered(t, mapreduce.KeyCodecFor[int64](), rapid.Int64().Draw(t, "a"), rapid.Int64().Draw(t, "b"))
	}))
	t.Run("int8", rapid.MakeCheck(func(t *rapid.T) {
		checkOrdered(t, mapreduce.KeyCodecFor[int8](), rapid.Int8().Draw(t, "a"), rapid.Int8().Draw(t, "b"))
	}))
	t.Run("uint64", rapid.MakeCheck(func(t *rapid.T) {
		checkOrdered(t, mapreduce.KeyCodecFor[uint64](), rapid.Uint64().Draw(t, "a"), rapid.Uint64().Draw(t, "b"))
	}))
	t.Run("float64", rapid.MakeCheck(func(t *rapid.T) {
		// Zeros of both signs and NaNs drawn often: equal numbers
		// must get equal bytes.
		f := rapid.OneOf(rapid.Float64(), rapid.SampledFrom([]float64{0, math.Copysign(0, -1), math.NaN(), math.Inf(-1)}))
		checkOrdered(t, mapreduce.KeyCodecFor[float64](), f.Draw(t, "a"), f.Draw(t, "b"))
	}))
	t.Run("string", rapid.MakeCheck(func(t *rapid.T) {
		checkOrdered(t, mapreduce.KeyCodecFor[string](), rapid.String().Draw(t, "a"), rapid.String().Draw(t, "b"))
	}))
	type userID int32
	t.Run("named int", rapid.MakeCheck(func(t *rapid.T) {
		checkOrdered(t, mapreduce.KeyCodecFor[userID](), userID(rapid.Int32().Draw(t, "a")), userID(rapid.Int32().Draw(t, "b")))
	}))
	type tag string
	t.Run("named string", rapid.MakeCheck(func(t *rapid.T) {
		checkOrdered(t, mapreduce.KeyCodecFor[tag](), tag(rapid.String().Draw(t, "a")), tag(rapid.String().Draw(t, "b")))
	}))
}

func TestFloatCodecEdgeCases(t *testing.T) {
	c := mapreduce.KeyCodecFor[float64]()
	// Equal as numbers, equal as keys: -0 and +0 group together, and so
	// do NaNs, which sort first as cmp.Compare says.
	require.Equal(t, c.Append(nil, 0), c.Append(nil, math.Copysign(0, -1)), "-0 and +0 are one key")
	require.Equal(t, c.Append(nil, math.NaN()), c.Append(nil, -math.NaN()), "every NaN is one key")
	require.Negative(t, bytes.Compare(c.Append(nil, math.NaN()), c.Append(nil, math.Inf(-1))), "NaN sorts before -Inf")
	nan, err := c.Decode(c.Append(nil, math.NaN()))
	require.NoError(t, err)
	require.True(t, math.IsNaN(nan), "a NaN key decodes as NaN, got %v", nan)
	ordered := []float64{math.Inf(-1), -math.MaxFloat64, -1, -math.SmallestNonzeroFloat64, 0, math.SmallestNonzeroFloat64, 1, math.MaxFloat64, math.Inf(1)}
	for i := 1; i < len(ordered); i++ {
		require.Negative(t, bytes.Compare(c.Append(nil, ordered[i-1]), c.Append(nil, ordered[i])),
			"%v must sort before %v", ordered[i-1], ordered[i])
	}
}

func TestValueCodecs(t *testing.T) {
	require.Len(t, mapreduce.ValueCodecFor[int64]().Append(nil, 1), 1, "small counts take one byte as values")
	type point struct{ X, Y int }
	c := mapreduce.ValueCodecFor[point]()
	got, err := c.Decode(c.Append(nil, point{3, -4}))
	require.NoError(t, err)
	require.Equal(t, point{3, -4}, got)
	require.Nil(t, mapreduce.KeyCodecFor[point](), "struct keys need a codec of their own")
	_, err = mapreduce.ValueCodecFor[int64]().Decode([]byte{0x80})
	require.ErrorIs(t, err, mapreduce.ErrCodec)
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{
		"0": 0, "100": 100, "64KiB": 64 << 10, "1MiB": 1 << 20, "1GiB": 1 << 30, "2 MiB": 2 << 20,
		"1kb": 1000, "16M": 16 << 20, "1G": 1 << 30, "3B": 3,
	} {
		got, err := mapreduce.ParseSize(in)
		require.NoError(t, err, in)
		require.Equal(t, want, got, in)
	}
	for _, bad := range []string{"", "-1", "1.5MiB", "12XB", "MiB", "99999999999999999999", "9999999999TiB"} {
		_, err := mapreduce.ParseSize(bad)
		require.Error(t, err, bad)
	}
	for _, n := range []int64{5, 64 << 10, 3 << 20, 1 << 30} {
		back, err := mapreduce.ParseSize(mapreduce.FormatSize(n))
		require.NoError(t, err)
		require.Equal(t, n, back)
	}
}
