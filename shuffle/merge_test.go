package shuffle

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/quern-dev/quern/spill"
	"pgregory.net/rapid"
)

// fataler is the part of testing.TB that *rapid.T also has.
type fataler interface {
	Helper()
	Fatalf(format string, args ...any)
}

// requireKVs fails t unless got and want hold the same records in order.
func requireKVs(t fataler, got, want []spill.KV) {
	t.Helper()
	for i := 0; i < min(len(got), len(want)); i++ {
		if !bytes.Equal(got[i].Key, want[i].Key) || !bytes.Equal(got[i].Value, want[i].Value) {
			t.Fatalf("record %d: got (%q, %q), want (%q, %q)", i, got[i].Key, got[i].Value, want[i].Key, want[i].Value)
		}
	}
	if len(got) != len(want) {
		t.Fatalf("got %d records, want %d", len(got), len(want))
	}
}

// genKey draws keys that are often equal, and that straddle the 8-byte
// prefix the merge's loser tree compares first: short keys, keys that share
// 7 or 8 bytes, and zero bytes, which the prefix's zero padding must not
// confuse with the end of a key. Keys starting with eight 0xFF bytes have
// the prefix the tree gives exhausted inputs, which must still sort last.
var genKey = rapid.Custom(func(t *rapid.T) []byte {
	head := rapid.SampledFrom([]string{"", "", "\x00\x00\x00\x00\x00\x00\x00", "abcdefgh", "\xff\xff\xff\xff\xff\xff\xff\xff"}).Draw(t, "head")
	tail := rapid.SliceOfN(rapid.SampledFrom([]byte{0, 'a', 'b'}), 0, 3).Draw(t, "tail")
	return append([]byte(head), tail...)
})

// genInputs draws up to maxInputs sorted inputs with keys from a small
// alphabet, so equal keys within and across inputs are common. Each value
// names its input and position, so a tie broken the wrong way is visible.
func genInputs(t *rapid.T, maxInputs int) [][]spill.KV {
	n := rapid.IntRange(0, maxInputs).Draw(t, "inputs")
	inputs := make([][]spill.KV, n)
	for i := range inputs {
		keys := rapid.SliceOfN(genKey, 0, 30).Draw(t, fmt.Sprintf("keys%d", i))
		slices.SortFunc(keys, bytes.Compare)
		for j, k := range keys {
			inputs[i] = append(inputs[i], spill.KV{Key: k, Value: fmt.Appendf(nil, "%d/%d", i, j)})
		}
	}
	return inputs
}

// referenceMerge is the specification of a merge: concatenate the inputs in
// order and sort stably by key, so equal keys keep input order.
func referenceMerge(inputs [][]spill.KV) []spill.KV {
	var all []spill.KV
	for _, in := range inputs {
		all = append(all, in...)
	}
	slices.SortStableFunc(all, func(a, b spill.KV) int { return bytes.Compare(a.Key, b.Key) })
	return all
}

func sliceIters(inputs [][]spill.KV) ([]spill.Iterator, []*sliceIter) {
	its := make([]spill.Iterator, len(inputs))
	sis := make([]*sliceIter, len(inputs))
	for i, in := range inputs {
		sis[i] = newSliceIter(in)
		its[i] = sis[i]
	}
	return its, sis
}

func TestMergerMatchesReference(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		inputs := genInputs(t, 100)
		its, sis := sliceIters(inputs)
		if len(its) > 0 {
			// A nil input is empty (NewMerger's contract).
			i := rapid.IntRange(0, len(its)).Draw(t, "nil input")
			its = slices.Insert(its, i, spill.Iterator(nil))
			inputs = slices.Insert(inputs, i, nil)
			sis = slices.Insert(sis, i, newSliceIter(nil))
			sis[i].closed = 1
		}
		m := NewMerger(its)
		got := drain(m)
		if err := m.Error(); err != nil {
			t.Fatalf("Error: %v", err)
		}
		if err := m.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		requireKVs(t, got, referenceMerge(inputs))
		for i, s := range sis {
			if s.closed != 1 {
				t.Fatalf("input %d closed %d times, want 1", i, s.closed)
			}
		}
		if m.Next() != nil {
			t.Fatalf("Next after Close returned a record")
		}
	})
}

func TestMergerFixedCases(t *testing.T) {
	for _, tc := range []struct {
		name   string
		inputs [][]spill.KV
	}{
		{"none", nil},
		{"one empty", [][]spill.KV{nil}},
		{"one", [][]spill.KV{kvs("a", "1", "b", "2")}},
		{"two interleaved", [][]spill.KV{kvs("a", "1", "c", "3"), kvs("b", "2", "d", "4")}},
		{"empties around", [][]spill.KV{nil, kvs("a", "1"), nil, kvs("a", "2"), nil}},
		{"ties keep input order", [][]spill.KV{kvs("k", "0a", "k", "0b"), kvs("k", "1a"), kvs("j", "2a", "k", "2b")}},
		{"empty key first", [][]spill.KV{kvs("a", "1"), kvs("", "2")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			its, _ := sliceIters(tc.inputs)
			m := NewMerger(its)
			defer m.Close()
			requireKVs(t, drain(m), referenceMerge(tc.inputs))
		})
	}
}

func TestMergerInputError(t *testing.T) {
	for _, failAt := range []int{0, 1, 3} {
		t.Run(fmt.Sprint("failAt=", failAt), func(t *testing.T) {
			a := newSliceIter(kvs("a", "1", "c", "1", "e", "1", "g", "1"))
			b := newSliceIter(kvs("b", "2", "d", "2", "f", "2", "h", "2"))
			b.failAt, b.failErr = failAt, errTest
			// Like spill's iterators, Close repeats the error; the
			// merger must not report it twice.
			b.closeErr = errTest
			m := NewMerger([]spill.Iterator{a, b})
			got := drain(m)
			err := m.Error()
			if !errors.Is(err, errTest) {
				t.Fatalf("Error = %v, want it to wrap %v", err, errTest)
			}
			if want := "merge input 1"; !bytes.Contains([]byte(err.Error()), []byte(want)) {
				t.Fatalf("Error %q does not name the input (%q)", err, want)
			}
			// Records before the failure come out in order; none after it.
			if len(got) > 2*failAt+1 {
				t.Fatalf("got %d records past a failure at input 1 position %d", len(got), failAt)
			}
			if m.Next() != nil {
				t.Fatal("Next after an error returned a record")
			}
			if err := m.Close(); err != nil {
				t.Fatalf("Close = %v, want nil: Error already reported the failure", err)
			}
			if a.closed != 1 || b.closed != 1 {
				t.Fatalf("inputs closed %d and %d times, want 1 each", a.closed, b.closed)
			}
		})
	}
}

func TestMergerCloseJoinsErrors(t *testing.T) {
	errA, errB := errors.New("close a"), errors.New("close b")
	a, b, c := newSliceIter(nil), newSliceIter(nil), newSliceIter(nil)
	a.closeErr, c.closeErr = errA, errB
	m := NewMerger([]spill.Iterator{a, b, c})
	err := m.Close()
	if !errors.Is(err, errA) || !errors.Is(err, errB) {
		t.Fatalf("Close = %v, want both close errors", err)
	}
	if b.closed != 1 {
		t.Fatalf("input without error closed %d times, want 1", b.closed)
	}
	if err := m.Close(); err != nil {
		t.Fatalf("second Close = %v, want nil", err)
	}
}
