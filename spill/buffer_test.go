package spill

import (
	"bytes"
	"cmp"
	"path/filepath"
	"slices"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/array"
	"pgregory.net/rapid"
)

func bufferRecs(b *Buffer) []rec {
	out := make([]rec, b.Len())
	for i := range out {
		p, k, v := b.At(i)
		out[i] = rec{p, string(k), string(v)}
	}
	return out
}

func TestBufferSortStable(t *testing.T) {
	b := NewBuffer()
	defer b.Release()
	in := []rec{
		{1, "b", "0"}, {0, "b", "1"}, {1, "a", "2"}, {0, "b", "3"},
		{0, "", "4"}, {0, "abcdefgh", "5"}, {0, "abcdefgh\x00", "6"}, {0, "abcdefg", "7"},
		{1, "a", "8"}, {0, "abcdefgh", "9"},
	}
	for _, r := range in {
		b.Add(r.part, []byte(r.key), []byte(r.value))
	}
	if got := bufferRecs(b); !slices.Equal(got, in) {
		t.Fatalf("before Sort, At = %v, want insertion order", got)
	}
	b.Sort()
	want := []rec{
		{0, "", "4"}, {0, "abcdefg", "7"}, {0, "abcdefgh", "5"}, {0, "abcdefgh", "9"}, {0, "abcdefgh\x00", "6"},
		{0, "b", "1"}, {0, "b", "3"},
		{1, "a", "2"}, {1, "a", "8"}, {1, "b", "0"},
	}
	if got := bufferRecs(b); !slices.Equal(got, want) {
		t.Fatalf("sorted:\n got %+v\nwant %+v", got, want)
	}
}

// TestBufferSortRapid checks Sort against a reference stable sort on random
// inputs, keys drawn from a small alphabet so that ties and shared 8-byte
// prefixes are common.
func TestBufferSortRapid(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		parts := rapid.IntRange(1, 4).Draw(t, "parts")
		n := rapid.IntRange(0, 200).Draw(t, "n")
		in := make([]rec, n)
		b := NewBuffer()
		defer b.Release()
		for i := range in {
			k := rapid.SliceOfN(rapid.ByteRange(0, 2), 0, 12).Draw(t, "key")
			in[i] = rec{rapid.IntRange(0, parts-1).Draw(t, "part"), string(k), string(rune('0' + i%64))}
			b.Add(in[i].part, k, []byte(in[i].value))
		}
		b.Sort()
		want := slices.Clone(in)
		slices.SortStableFunc(want, func(x, y rec) int {
			return cmp.Or(cmp.Compare(x.part, y.part), bytes.Compare([]byte(x.key), []byte(y.key)))
		})
		if got := bufferRecs(b); !slices.Equal(got, want) {
			t.Fatalf("Sort:\n got %+v\nwant %+v", got, want)
		}
	})
}

func TestBufferResetReuse(t *testing.T) {
	b := NewBuffer()
	defer b.Release()
	for round := range 3 {
		if b.Len() != 0 || b.Bytes() != 0 {
			t.Fatalf("round %d: fresh buffer has Len %d Bytes %d", round, b.Len(), b.Bytes())
		}
		for i := range 100 {
			b.Add(i%3, []byte{byte(100 - i), byte(round)}, []byte("v"))
		}
		if b.Len() != 100 || b.Bytes() != 100*(3+perRecordOverhead) {
			t.Fatalf("round %d: Len %d Bytes %d", round, b.Len(), b.Bytes())
		}
		b.Sort()
		prevP, prevK, _ := b.At(0)
		for i := 1; i < b.Len(); i++ {
			p, k, _ := b.At(i)
			if p < prevP || (p == prevP && bytes.Compare(k, prevK) < 0) {
				t.Fatalf("round %d: record %d (%d, %q) after (%d, %q)", round, i, p, k, prevP, prevK)
			}
			if k[1] != byte(round) {
				t.Fatalf("round %d: stale record from an earlier round: %q", round, k)
			}
			prevP, prevK = p, k
		}
		b.Reset()
	}
}

func TestBufferAddAfterSort(t *testing.T) {
	b := NewBuffer()
	defer b.Release()
	b.Add(0, []byte("b"), []byte("1"))
	b.Add(0, []byte("a"), []byte("2"))
	b.Sort()
	b.Add(0, []byte("0"), []byte("3"))
	if got, want := bufferRecs(b), []rec{{0, "b", "1"}, {0, "a", "2"}, {0, "0", "3"}}; !slices.Equal(got, want) {
		t.Fatalf("after Add following Sort: %+v, want insertion order %+v", got, want)
	}
	b.Sort()
	if got, want := bufferRecs(b), []rec{{0, "0", "3"}, {0, "a", "2"}, {0, "b", "1"}}; !slices.Equal(got, want) {
		t.Fatalf("re-sorted: %+v, want %+v", got, want)
	}
}

func TestWriteBuffer(t *testing.T) {
	b := NewBuffer()
	defer b.Release()
	var want []rec
	for i := range 500 {
		r := rec{i % 5, string(rune('a' + i%26)), string(rune('A' + i%7))}
		want = append(want, r)
		b.Add(r.part, []byte(r.key), []byte(r.value))
	}
	sortRecs(want)
	dir := t.TempDir()

	// Unsorted: refused, and the partial file is gone.
	unsorted := filepath.Join(dir, "unsorted")
	if _, err := WriteBuffer(unsorted, b, Options{Partitions: 5}); err == nil {
		t.Fatal("WriteBuffer of an unsorted buffer succeeded")
	}
	if _, err := Open(unsorted); err == nil {
		t.Fatal("partial file left behind")
	}

	b.Sort()
	info, err := WriteBuffer(filepath.Join(dir, "run"), b, Options{Partitions: 5, Compression: LZ4Compression})
	if err != nil {
		t.Fatal(err)
	}
	got, err := readAll(t, info.Path)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("WriteBuffer round trip differs")
	}
}

// TestBufferSortWidePartitions covers partition numbers whose higher bytes
// differ, which the radix sort orders in passes of their own.
func TestBufferSortWidePartitions(t *testing.T) {
	b := NewBuffer()
	defer b.Release()
	parts := []int{1 << 24, 256, 65536, 0, 1<<24 + 1, 255, 257, 65535, 0}
	for i, p := range parts {
		b.Add(p, []byte{byte(9 - i)}, nil)
	}
	b.Sort()
	want := slices.Clone(parts)
	slices.Sort(want)
	for i := range want {
		p, _, _ := b.At(i)
		if p != want[i] {
			t.Fatalf("position %d: partition %d, want %d (all: %v)", i, p, want[i], want)
		}
	}
	// Partition 0 holds keys 6 and 1 (added in that order); 1 sorts first.
	if _, k, _ := b.At(0); k[0] != 1 {
		t.Fatalf("partition 0 first key %d, want 1", k[0])
	}
}

// TestBufferRecord checks that the Arrow view of a buffer holds its records
// in insertion order, before and after Sort (which only orders the index).
func TestBufferRecord(t *testing.T) {
	var b Buffer
	empty := b.Record()
	if empty.NumRows() != 0 || empty.NumCols() != 3 {
		t.Fatalf("empty buffer: %d rows, %d columns", empty.NumRows(), empty.NumCols())
	}
	empty.Release()
	in := []rec{{2, "b", "x"}, {0, "", "yy"}, {1, "a", ""}}
	for _, r := range in {
		b.Add(r.part, []byte(r.key), []byte(r.value))
	}
	b.Sort()
	rb := b.Record()
	defer rb.Release()
	parts := rb.Column(0).(*array.Uint32)
	keys := rb.Column(1).(*array.Binary)
	vals := rb.Column(2).(*array.Binary)
	var got []rec
	for i := range int(rb.NumRows()) {
		got = append(got, rec{int(parts.Value(i)), string(keys.Value(i)), string(vals.Value(i))})
	}
	if !slices.Equal(got, in) {
		t.Fatalf("Record rows %+v, want %+v", got, in)
	}
}

// TestBufferAddRefusesBeyondOffsets lowers the data limit Arrow's int32
// offsets impose and checks that Add refuses, adding nothing, a record that
// would pass it, and takes it again after a Reset.
func TestBufferAddRefusesBeyondOffsets(t *testing.T) {
	defer func(m int) { maxData = m }(maxData)
	maxData = 10
	var b Buffer
	if !b.Add(0, []byte("12345"), []byte("v")) || !b.Add(0, []byte("123"), nil) {
		t.Fatal("records within the limit refused")
	}
	if b.Add(1, []byte("123"), nil) {
		t.Fatal("key bytes beyond the limit accepted")
	}
	if b.Add(1, []byte("k"), bytes.Repeat([]byte("v"), 10)) {
		t.Fatal("value bytes beyond the limit accepted")
	}
	if got := bufferRecs(&b); !slices.Equal(got, []rec{{0, "12345", "v"}, {0, "123", ""}}) {
		t.Fatalf("after refusals the buffer holds %+v", got)
	}
	b.Reset()
	if !b.Add(1, []byte("123"), nil) {
		t.Fatal("refused after Reset")
	}
}

// TestGrow checks the growth policy Add relies on: room is used in place,
// a full slice doubles, contents survive, and a request larger than the
// doubling is met whole.
func TestGrow(t *testing.T) {
	s := make([]byte, 3, 8)
	copy(s, "abc")
	if same := grow(s, 5); &same[:1][0] != &s[:1][0] {
		t.Error("grow reallocated a slice that had room")
	}
	s = s[:8]
	if g := grow(s, 1); len(g) != 8 || cap(g) != 1024 || string(g[:3]) != "abc" {
		t.Errorf("grow of a full 8-byte slice: len %d cap %d %q; want len 8, cap 1024 (the minimum), \"abc\"", len(g), cap(g), g[:3])
	}
	big := make([]int32, 5000)
	big[4999] = 7
	if g := grow(big, 1); cap(g) != 10000 || g[4999] != 7 {
		t.Errorf("grow of a full slice of 5000: cap %d, last %d; want it doubled to 10000, last 7", cap(g), g[4999])
	}
	if g := grow(big, 20000); cap(g) != 25000 {
		t.Errorf("grow(5000 full, 20000): cap %d, want 25000", cap(g))
	}
}
