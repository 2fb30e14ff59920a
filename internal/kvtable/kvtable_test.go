package kvtable

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"testing"

	"pgregory.net/rapid"
)

// keyGen draws keys that stress the table's shortcuts: the empty key, keys
// over a tiny alphabet with NUL (many duplicates, and keys like "a" and
// "a\x00" whose zero-padded prefixes are equal), keys sharing an 8-byte
// or 16-byte prefix (16 is where the arena tail starts), long keys (the block hash) and keys
// around 255 bytes, where the tag's length byte saturates.
func keyGen() *rapid.Generator[[]byte] {
	withPrefix := func(prefix string, max int) *rapid.Generator[[]byte] {
		return rapid.Map(rapid.SliceOfN(rapid.ByteRange(0, 2), 0, max), func(b []byte) []byte {
			return append([]byte(prefix), b...)
		})
	}
	return rapid.OneOf(
		rapid.Just([]byte{}),
		rapid.SliceOfN(rapid.SampledFrom([]byte{0, 'a', 'b'}), 0, 10),
		withPrefix("abcdefgh", 10),
		withPrefix("abcdefg", 3),
		withPrefix("abcdefghijklmno", 4),
		rapid.SliceOfN(rapid.Byte(), 17, 80),
		withPrefix(string(bytes.Repeat([]byte{'x'}, 253)), 4),
	)
}

// TestModel checks FindOrInsert, Len, Key and Reset against a Go map.
func TestModel(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		var tab *Table
		if rapid.Bool().Draw(rt, "zero") {
			tab = &Table{}
		} else {
			tab = New(rapid.IntRange(0, 100).Draw(rt, "hint"))
		}
		model := map[string]int32{}
		var order []string
		ops := rapid.IntRange(0, 400).Draw(rt, "ops")
		for range ops {
			if rapid.IntRange(0, 50).Draw(rt, "op") == 0 {
				tab.Reset()
				clear(model)
				order = order[:0]
				continue
			}
			key := keyGen().Draw(rt, "key")
			want, found := model[string(key)]
			if !found {
				want = int32(len(order))
				model[string(key)] = want
				order = append(order, string(key))
			}
			// Bytes past len(key) are garbage that FindOrInsert may read
			// but must ignore.
			buf := make([]byte, len(key), len(key)+rapid.IntRange(0, 20).Draw(rt, "extra"))
			copy(buf, key)
			for i := len(buf); i < cap(buf); i++ {
				buf[:cap(buf)][i] = byte(0xa5 + i)
			}
			slot, inserted := tab.FindOrInsert(buf)
			// The table must have copied the key.
			for i := range buf {
				buf[i] ^= 0xff
			}
			if slot != want || inserted == found {
				rt.Fatalf("FindOrInsert(%q) = %d, %v; want %d, %v", key, slot, inserted, want, !found)
			}
			if tab.Len() != len(order) {
				rt.Fatalf("Len = %d, want %d", tab.Len(), len(order))
			}
		}
		total := 0
		for i, k := range order {
			total += len(k)
			if got := tab.Key(int32(i)); string(got) != k {
				rt.Fatalf("Key(%d) = %q, want %q", i, got, k)
			}
		}
		if tab.Bytes() < total {
			rt.Fatalf("Bytes = %d, less than the %d key bytes held", tab.Bytes(), total)
		}
	})
}

// TestUpsertModel checks Upsert and All (in insertion order) against a Go
// map of sums, with FindOrInsert mixed in: both must agree on the keys,
// and values must survive the index's doublings and be zero again after
// Reset.
func TestUpsertModel(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		tab := New(rapid.IntRange(0, 20).Draw(rt, "hint"))
		model := map[string]uint64{}
		for range rapid.IntRange(0, 400).Draw(rt, "ops") {
			switch rapid.IntRange(0, 40).Draw(rt, "op") {
			case 0:
				tab.Reset()
				clear(model)
				continue
			case 1:
				key := keyGen().Draw(rt, "key")
				if _, inserted := tab.FindOrInsert(key); inserted {
					model[string(key)] = 0
				}
				continue
			}
			key := keyGen().Draw(rt, "key")
			add := rapid.Uint64Range(1, 1000).Draw(rt, "add")
			old, found := model[string(key)]
			v, inserted := tab.Upsert(key)
			if inserted == found || *v != old {
				rt.Fatalf("Upsert(%q) = %d, %v; want %d, %v", key, *v, inserted, old, !found)
			}
			*v += add
			model[string(key)] = old + add
		}
		got := map[string]uint64{}
		slot := int32(0)
		for k, v := range tab.All() {
			if _, dup := got[string(k)]; dup {
				rt.Fatalf("All yields %q twice", k)
			}
			if want := tab.Key(slot); string(k) != string(want) {
				rt.Fatalf("All's key %d is %q, slot %d's %q: want insertion order", slot, k, slot, want)
			}
			slot++
			got[string(k)] = v
		}
		if len(got) != len(model) || tab.Len() != len(model) {
			rt.Fatalf("All yields %d keys, Len %d; want %d", len(got), tab.Len(), len(model))
		}
		for k, want := range model {
			if got[k] != want {
				rt.Fatalf("value of %q = %d, want %d", k, got[k], want)
			}
		}
	})
}

// TestTagCollisions checks that keys with the same length, tag and home
// entry are told apart by their bytes, for each of the three ways keys are
// compared: first word, two words, two words and the arena tail. With a
// fixed seed it searches a key family that differs only in the compared
// part for such a pair (about 2^12 keys for the tag's 24 hash bits, which
// include the home entry's 4).
func TestTagCollisions(t *testing.T) {
	seed := [2]uint64{0x9e3779b97f4a7c15, 0x243f6a8885a308d3}
	for _, template := range []string{"kk....", "prefix8_....", "sixteen-byte-pfx...."} {
		probe := &Table{seed: seed}
		seen := map[[2]uint64]string{}
		var a, b []byte
		for i := uint32(0); a == nil && i < 1<<22; i++ {
			key := []byte(template)
			binary.BigEndian.PutUint32(key[len(key)-4:], i)
			p, q := load16(key)
			h := probe.hash(key, p, q)
			// The home entry (h >> 60 in a 16-entry index) is part of
			// the tag's hash bits.
			id := [2]uint64{0, h >> 40}
			if prev, ok := seen[id]; ok {
				a, b = []byte(prev), key
			}
			seen[id] = string(key)
		}
		if a == nil {
			t.Fatalf("%s: found no colliding pair", template)
		}
		tab := &Table{seed: seed}
		for _, k := range [][]byte{a, b} {
			if slot, ins := tab.FindOrInsert(k); !ins || slot != int32(tab.Len()-1) {
				t.Fatalf("%s: insert %q: got %d, %v", template, k, slot, ins)
			}
		}
		for want, k := range [][]byte{a, b} {
			if slot, ins := tab.FindOrInsert(k); ins || slot != int32(want) {
				t.Fatalf("%s: find %q: got %d, %v; want %d", template, k, slot, ins, want)
			}
		}
		if len(tab.entries) != minSize {
			t.Fatalf("%s: table has %d entries, the pair was searched for %d", template, len(tab.entries), minSize)
		}
	}
}

func TestLoad16(t *testing.T) {
	src := []byte("\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10\x11")
	for n := range len(src) + 1 {
		var pad [16]byte
		copy(pad[:], src[:n])
		wantP, wantQ := binary.LittleEndian.Uint64(pad[:]), binary.LittleEndian.Uint64(pad[8:])
		// src[:n] has capacity past 16 (the masked path), the clone has
		// capacity n (the byte-wise path).
		for _, b := range [][]byte{src[:n], src[:n:n]} {
			if p, q := load16(b); p != wantP || q != wantQ {
				t.Errorf("load16(%d bytes, cap %d) = %#x, %#x; want %#x, %#x", n, cap(b), p, q, wantP, wantQ)
			}
		}
	}
}

func TestKeyView(t *testing.T) {
	var tab Table
	tab.FindOrInsert([]byte("ab"))
	tab.FindOrInsert([]byte("cd"))
	k := tab.Key(0)
	if cap(k) != len(k) {
		t.Fatalf("Key(0) has capacity %d beyond its length %d", cap(k), len(k))
	}
	_ = append(k, 'x')
	if got := string(tab.Key(1)); got != "cd" {
		t.Fatalf("appending to Key(0) changed Key(1) to %q", got)
	}
}

// TestResetReuse checks that a table refilled after Reset gives slots from
// 0 again, forgets old keys and allocates nothing.
func TestResetReuse(t *testing.T) {
	keys := make([][]byte, 1000)
	for i := range keys {
		keys[i] = fmt.Appendf(nil, "key%d", i)
	}
	tab := New(0)
	for _, k := range keys {
		tab.FindOrInsert(k)
	}
	if tab.Bytes() == 0 {
		t.Fatal("Bytes = 0 for a full table")
	}
	tab.Reset()
	if tab.Len() != 0 || tab.Bytes() != 0 {
		t.Fatalf("after Reset: Len %d, Bytes %d", tab.Len(), tab.Bytes())
	}
	if slot, ins := tab.FindOrInsert(keys[500]); slot != 0 || !ins {
		t.Fatalf("first insert after Reset = %d, %v; want 0, true", slot, ins)
	}
	allocs := testing.AllocsPerRun(10, func() {
		tab.Reset()
		for i, k := range keys {
			if slot, ins := tab.FindOrInsert(k); slot != int32(i) || !ins {
				t.Fatalf("refill %q = %d, %v", k, slot, ins)
			}
		}
		for i, k := range keys {
			if slot, ins := tab.FindOrInsert(k); slot != int32(i) || ins {
				t.Fatalf("find %q = %d, %v", k, slot, ins)
			}
		}
	})
	if allocs != 0 {
		t.Fatalf("refill after Reset: %v allocations, want 0", allocs)
	}
}

// TestNewHint checks that New(n) holds n keys without growing.
func TestNewHint(t *testing.T) {
	for _, n := range []int{1, 11, 12, 13, 1000} {
		tab := New(n)
		size := len(tab.entries)
		for i := range n {
			tab.FindOrInsert(fmt.Appendf(nil, "%d", i))
		}
		if len(tab.entries) != size {
			t.Errorf("New(%d): index grew from %d to %d entries", n, size, len(tab.entries))
		}
		if tab.n >= len(tab.entries) {
			t.Errorf("New(%d): %d keys in %d entries", n, tab.n, len(tab.entries))
		}
	}
}

// TestGrowPaths checks both ways of doubling the index, from the tags'
// hash bits and by rehashing the keys (the way an index past 2^24 entries
// grows), against a Go map: every key must be found at its slot with its
// value after each doubling, whichever way it was placed.
func TestGrowPaths(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		byRehash := rapid.Bool().Draw(rt, "byRehash")
		tab := New(0)
		model := map[string]uint64{}
		for i := range rapid.IntRange(0, 300).Draw(rt, "keys") {
			key := keyGen().Draw(rt, "key")
			if len(model) >= 8 && len(tab.entries) < 1<<12 && rapid.IntRange(0, 30).Draw(rt, "double") == 0 {
				old := tab.entries
				tab.setIndex(2 * len(old))
				if byRehash {
					tab.moveByRehash(old)
				} else {
					tab.moveByTag(old)
				}
			}
			v, _ := tab.Upsert(key)
			*v += uint64(i) + 1
			model[string(key)] += uint64(i) + 1
		}
		for k, want := range model {
			v, inserted := tab.Upsert([]byte(k))
			if inserted || *v != want {
				rt.Fatalf("Upsert(%q) = %d, %v after the doublings; want %d, false", k, *v, inserted, want)
			}
		}
		if tab.Len() != len(model) {
			rt.Fatalf("Len = %d, want %d", tab.Len(), len(model))
		}
	})
}
