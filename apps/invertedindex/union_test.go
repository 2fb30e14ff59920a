package invertedindex

import (
	"slices"
	"testing"

	"pgregory.net/rapid"
)

// TestUnion checks union against a set union of random sorted lists, in
// every shape the combiner meets (b one path before, at or after a's
// last, or a longer list), and that it leaves b as it was.
func TestUnion(t *testing.T) {
	paths := []string{"a", "b", "c", "d", "dir/e", "dir/f", "g"}
	list := func(t *rapid.T, label string) docList {
		picked := rapid.SliceOfDistinct(rapid.SampledFrom(paths), rapid.ID).Draw(t, label)
		slices.Sort(picked)
		l := docList{paths: picked}
		for _, p := range picked {
			l.size += pathSize(p)
		}
		// Spare capacity, as a list the combiner grew has: union may
		// append into a's, and must not into b's.
		l.paths = slices.Grow(l.paths, 4)
		return l
	}
	rapid.Check(t, func(t *rapid.T) {
		a, b := list(t, "a"), list(t, "b")
		bBefore := slices.Clone(b.paths[:cap(b.paths)])
		want := slices.Compact(slices.Sorted(slices.Values(append(slices.Clone(a.paths), b.paths...))))
		wantSize := 0
		for _, p := range want {
			wantSize += pathSize(p)
		}
		got := union(a, b)
		if !slices.Equal(got.paths, want) || got.size != wantSize {
			t.Fatalf("union(%q, %q) = %q (size %d), want %q (size %d)", a.paths, b.paths, got.paths, got.size, want, wantSize)
		}
		if !slices.Equal(b.paths[:cap(b.paths)], bBefore) {
			t.Fatalf("union changed b: %q, was %q", b.paths[:cap(b.paths)], bBefore)
		}
	})
}

// TestDocListCodec round-trips lists through the shuffle's encoding.
func TestDocListCodec(t *testing.T) {
	var c docListCodec
	for _, paths := range [][]string{{"one"}, {"a b", "dir/c,d", "é\tf"}} {
		l := docList{paths: paths}
		for _, p := range paths {
			l.size += pathSize(p)
		}
		got, err := c.Decode(c.Append(nil, l))
		if err != nil || !slices.Equal(got.paths, paths) || got.size != l.size {
			t.Fatalf("round trip of %q: %q size %d, %v; want size %d", paths, got.paths, got.size, err, l.size)
		}
	}
}
