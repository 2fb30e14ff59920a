package shuffle

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"testing"

	"github.com/quern-dev/quern/spill"
	"pgregory.net/rapid"
)

type group struct {
	key    string
	values []string
}

// referenceGroups splits sorted records into runs of equal keys.
func referenceGroups(recs []spill.KV) []group {
	var out []group
	for _, r := range recs {
		if len(out) == 0 || out[len(out)-1].key != string(r.Key) {
			out = append(out, group{key: string(r.Key)})
		}
		g := &out[len(out)-1]
		g.values = append(g.values, string(r.Value))
	}
	return out
}

func TestGrouperMatchesReference(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		recs := referenceMerge(genInputs(t, 5))
		want := referenceGroups(recs)
		// For each group, how many values to take in a first loop before
		// breaking, and whether to resume with a second Values call.
		takes := rapid.SliceOfN(rapid.IntRange(0, 8), len(want), len(want)).Draw(t, "takes")
		resumes := rapid.SliceOfN(rapid.Bool(), len(want), len(want)).Draw(t, "resumes")

		si := newSliceIter(recs)
		g := NewGrouper(si)
		i := 0
		for g.NextGroup() {
			if i >= len(want) {
				t.Fatalf("extra group %q", g.Key())
			}
			if string(g.Key()) != want[i].key {
				t.Fatalf("group %d key %q, want %q", i, g.Key(), want[i].key)
			}
			var got []string
			if takes[i] > 0 {
				for v := range g.Values() {
					got = append(got, string(v))
					if len(got) == takes[i] {
						break
					}
				}
			}
			if resumes[i] {
				for v := range g.Values() {
					got = append(got, string(v))
				}
				if fmt.Sprint(got) != fmt.Sprint(want[i].values) {
					t.Fatalf("group %q values %q, want %q", want[i].key, got, want[i].values)
				}
			} else {
				n := min(takes[i], len(want[i].values))
				if fmt.Sprint(got) != fmt.Sprint(want[i].values[:n]) {
					t.Fatalf("group %q first %d values %q, want %q", want[i].key, n, got, want[i].values[:n])
				}
			}
			// The key survives iterating values (the iterator reused
			// its buffers meanwhile).
			if string(g.Key()) != want[i].key {
				t.Fatalf("group %d key changed to %q while reading values", i, g.Key())
			}
			i++
		}
		if err := g.Err(); err != nil {
			t.Fatalf("Err: %v", err)
		}
		if i != len(want) {
			t.Fatalf("got %d groups, want %d", i, len(want))
		}
		for range g.Values() {
			t.Fatalf("Values after the last group yielded a value")
		}
		if g.NextGroup() {
			t.Fatalf("NextGroup true after the end")
		}
		if err := g.Close(); err != nil || si.closed != 1 {
			t.Fatalf("Close = %v, input closed %d times", err, si.closed)
		}
	})
}

// countingIter yields groups keys[i] with counts[i] values each, generating
// records on the fly so that a huge group costs no memory in the test.
type countingIter struct {
	keys   []string
	counts []int
	g, n   int
	kv     spill.KV
	val    [8]byte
	err    error // reported once all groups are done, if non-nil
}

func (c *countingIter) Next() *spill.KV {
	for c.g < len(c.keys) && c.n == c.counts[c.g] {
		c.g++
		c.n = 0
	}
	if c.g == len(c.keys) {
		return nil
	}
	binary.BigEndian.PutUint64(c.val[:], uint64(c.n))
	c.n++
	c.kv.Key = append(c.kv.Key[:0], c.keys[c.g]...)
	c.kv.Value = c.val[:]
	return &c.kv
}

func (c *countingIter) Error() error {
	if c.g == len(c.keys) {
		return c.err
	}
	return nil
}

func (c *countingIter) Close() error { return nil }

func TestGrouperHugeGroupStreams(t *testing.T) {
	const n = 2_000_000
	it := &countingIter{keys: []string{"a", "huge", "z"}, counts: []int{1, n, 2}}
	g := NewGrouper(it)
	defer g.Close()

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	var peak uint64
	var groups, values int
	for g.NextGroup() {
		groups++
		for v := range g.Values() {
			if string(g.Key()) == "huge" && binary.BigEndian.Uint64(v) != uint64(values-1) {
				t.Fatalf("value %d out of order: %d", values, binary.BigEndian.Uint64(v))
			}
			values++
			if values%250_000 == 0 {
				runtime.ReadMemStats(&after)
				peak = max(peak, after.HeapInuse)
			}
		}
	}
	if err := g.Err(); err != nil {
		t.Fatal(err)
	}
	if groups != 3 || values != n+3 {
		t.Fatalf("got %d groups and %d values, want 3 and %d", groups, values, n+3)
	}
	if growth := int64(peak) - int64(before.HeapInuse); growth > 16<<20 {
		t.Fatalf("heap in use grew by %d bytes while streaming one group", growth)
	}
	if allocs := after.Mallocs - before.Mallocs; allocs > 1000 {
		t.Fatalf("%d allocations while streaming %d values", allocs, n)
	}
}

func TestGrouperSkipsUnreadHugeGroup(t *testing.T) {
	it := &countingIter{keys: []string{"a", "b", "c"}, counts: []int{3, 100_000, 2}}
	g := NewGrouper(it)
	defer g.Close()
	var keys []string
	for g.NextGroup() {
		keys = append(keys, string(g.Key()))
	}
	if err := g.Err(); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(keys) != "[a b c]" {
		t.Fatalf("keys %q, want [a b c]", keys)
	}
}

func TestGrouperErrorMidGroup(t *testing.T) {
	si := newSliceIter(kvs("a", "1", "b", "1", "b", "2", "b", "3", "c", "1"))
	si.failAt, si.failErr = 3, errTest // fails after b=2
	g := NewGrouper(si)
	defer g.Close()
	if !g.NextGroup() || string(g.Key()) != "a" {
		t.Fatalf("first group missing")
	}
	if !g.NextGroup() || string(g.Key()) != "b" {
		t.Fatalf("second group missing")
	}
	var got []string
	for v := range g.Values() {
		got = append(got, string(v))
	}
	if fmt.Sprint(got) != "[1 2]" {
		t.Fatalf("values before the error %q, want [1 2]", got)
	}
	if g.NextGroup() {
		t.Fatalf("NextGroup true after an input error (key %q)", g.Key())
	}
	err := g.Err()
	if !errors.Is(err, errTest) {
		t.Fatalf("Err = %v, want %v", err, errTest)
	}
	if !bytes.Contains([]byte(err.Error()), []byte(`"b"`)) {
		t.Fatalf("Err %q does not say which key it followed", err)
	}
}

func TestGrouperErrorWhileSkipping(t *testing.T) {
	it := &countingIter{keys: []string{"a", "b"}, counts: []int{5, 5}, err: errTest}
	g := NewGrouper(it)
	defer g.Close()
	n := 0
	for g.NextGroup() {
		n++
	}
	if n != 2 || !errors.Is(g.Err(), errTest) {
		t.Fatalf("got %d groups and Err %v, want 2 and %v", n, g.Err(), errTest)
	}
}

func TestGrouperEmpty(t *testing.T) {
	g := NewGrouper(newSliceIter(nil))
	if g.NextGroup() {
		t.Fatal("NextGroup true on an empty input")
	}
	if err := errors.Join(g.Err(), g.Close()); err != nil {
		t.Fatal(err)
	}
}

// TestGrouperValuesAreViews pins the lifetimes that Reduce documents on top
// of the Grouper (mapreduce.Job.Reduce): a value is the iterator's own
// bytes, not a copy, so it lives only until the next value is read; the key
// is the Grouper's copy, so it lives for the whole group.
func TestGrouperValuesAreViews(t *testing.T) {
	si := newSliceIter([]spill.KV{
		{Key: []byte("a"), Value: []byte("1")},
		{Key: []byte("a"), Value: []byte("2")},
		{Key: []byte("b"), Value: []byte("3")},
	})
	g := NewGrouper(si)
	defer g.Close()
	var got []string
	for g.NextGroup() {
		if &g.Key()[0] == &si.kv.Key[0] {
			t.Fatalf("key %q aliases the iterator's buffer", g.Key())
		}
		for v := range g.Values() {
			if &v[0] != &si.kv.Value[0] {
				t.Fatalf("value %q is a copy, not a view of the iterator's buffer", v)
			}
			got = append(got, string(g.Key())+"="+string(v))
		}
	}
	if err := g.Err(); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != "[a=1 a=2 b=3]" {
		t.Fatalf("got %q", got)
	}
}
