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
// prefix (decided by the arena tail), long keys (the block hash) and keys
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
			buf := bytes.Clone(key)
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

// TestTagCollisions inserts enough keys of one length and one 8-byte prefix
// that some share their 24 tag bits too (about 75 pairs expected among
// 50,000), so that lookups must tell them apart by the arena tail.
func TestTagCollisions(t *testing.T) {
	tab := New(0)
	const n = 50000
	key := []byte("prefix__0000")
	for i := range n {
		binary.BigEndian.PutUint32(key[8:], uint32(i))
		if slot, ins := tab.FindOrInsert(key); !ins || slot != int32(i) {
			t.Fatalf("insert %d: got %d, %v", i, slot, ins)
		}
	}
	for i := range n {
		binary.BigEndian.PutUint32(key[8:], uint32(i))
		if slot, ins := tab.FindOrInsert(key); ins || slot != int32(i) {
			t.Fatalf("find %d: got %d, %v", i, slot, ins)
		}
	}
	tags := map[uint32]int{}
	collided := false
	for _, e := range tab.entries {
		if e.idx != 0 {
			tags[e.tag]++
			collided = collided || tags[e.tag] > 1
		}
	}
	if !collided {
		t.Fatal("no two keys shared a tag; the test did not reach the tail comparison")
	}
}

func TestLoad8(t *testing.T) {
	src := []byte("\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a")
	for n := range len(src) + 1 {
		var pad [8]byte
		copy(pad[:], src[:n])
		if got, want := load8(src[:n]), binary.LittleEndian.Uint64(pad[:]); got != want {
			t.Errorf("load8(%d bytes) = %#x, want %#x", n, got, want)
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
