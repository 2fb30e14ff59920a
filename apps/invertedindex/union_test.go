package invertedindex

import (
	"slices"
	"testing"

	"pgregory.net/rapid"
)

// TestUnion checks union against a set union of random sorted lists, in
// every shape the combiner meets (b one path before, at or after a's
// last, an empty list, or a longer one), and that it leaves b as it was.
func TestUnion(t *testing.T) {
	paths := []string{"a", "b", "c", "d", "dir/e", "dir/f", "g"}
	list := func(t *rapid.T, label string) docList {
		picked := rapid.SliceOfDistinct(rapid.SampledFrom(paths), rapid.ID).Draw(t, label)
		slices.Sort(picked)
		// Spare capacity, as a list the combiner grew has: union may
		// append into a's, and must not into b's.
		return listOf(slices.Grow(picked, 4))
	}
	rapid.Check(t, func(t *rapid.T) {
		a, b := list(t, "a"), list(t, "b")
		bBefore := slices.Clone(b.earlier[:cap(b.earlier)])
		want := slices.Compact(slices.Sorted(slices.Values(append(a.appendPaths(nil), b.appendPaths(nil)...))))
		wantSize := 0
		for _, p := range want {
			wantSize += pathSize(p)
		}
		got := union(a, b)
		if !slices.Equal(got.appendPaths(nil), want) || got.size != wantSize {
			t.Fatalf("union(%q, %q) = %q (size %d), want %q (size %d)", a.appendPaths(nil), b.appendPaths(nil), got.appendPaths(nil), got.size, want, wantSize)
		}
		if !slices.Equal(b.earlier[:cap(b.earlier)], bBefore) {
			t.Fatalf("union changed b: %q, was %q", b.earlier[:cap(b.earlier)], bBefore)
		}
	})
}

// TestDocListCodec round-trips lists through the shuffle's encoding.
func TestDocListCodec(t *testing.T) {
	var c docListCodec
	for _, paths := range [][]string{nil, {"one"}, {"a b", "dir/c,d", "é\tf"}} {
		l := listOf(paths)
		got, err := c.Decode(c.Append(nil, l))
		if err != nil || !slices.Equal(got.appendPaths(nil), paths) || got.size != l.size {
			t.Fatalf("round trip of %q: %q size %d, %v; want size %d", paths, got.appendPaths(nil), got.size, err, l.size)
		}
	}
}
