// Package kvtable is a hash table from short byte-string keys to dense slot
// numbers, built for the map side's combiner: a word count looks up every
// word it emits, and with map[string]int32 that lookup was half the map
// task's CPU (runtime.mapaccess2_faststr 49% in a profile, its string
// comparison chasing a pointer to the key on every probe).
//
// Slots are 0, 1, 2, ... in insertion order, so a caller keeps its values
// in a plain slice indexed by slot and walks keys in insertion order with
// Key. Keys are copied into one arena, so a table holds no pointers the
// garbage collector has to trace and allocates only when it grows.
//
// # Layout
//
// The index is open addressing with linear probing over a power-of-two
// array of 32-byte entries, two to a cache line:
//
//	p      uint64  key bytes 0..7, little-endian, zero-padded
//	q      uint64  key bytes 8..15, little-endian, zero-padded
//	tag    uint32  hash bits 40..63 << 8 | min(len(key), 255)
//	idx    uint32  slot+1; 0 marks an empty entry
//	val    uint64  the caller's value (Upsert), 0 until it sets one
//
// A key of at most 16 bytes (all but a few words) is equal to an entry's
// key exactly when p, q and tag match, since the tag's low byte is then its
// exact length and the zero padding is canonical: the probe decides it
// without touching the arena. Longer keys also compare their bytes after
// the 16th against the arena.
//
// A key's home entry is the top log2(len(index)) bits of its hash, which
// the tag also holds: the table grows to twice its size at 3/4 load by
// moving each entry to the home its tag gives (in one sequential pass, see
// moveByTag); only an index past 2^24 entries rehashes keys from the arena.
//
// # Measurements
//
// BenchmarkTable against BenchmarkGoMap (the combiner's former
// map[string]int32), 16 MiB of bench/gen text, 6 interleaved runs on a
// shared 2-core Xeon: 26.97 against 45.16 ns per word, 1.67x.
//
// Entries first held only 8 key bytes (16-byte entries, four to a cache
// line). On that stream a fifth of the words are 9 to 16 bytes, and a
// profile put 20% of the time in their arena comparison, two dependent
// cache misses (offset, then key). Holding 16 bytes made the table 1.5x
// larger and measured 30.1 against 34.1 ns per word (n=6, p=0.13: within
// the machine's noise, but no slower), and it frees the common path from
// the arena, so it stays. A miss on the entry itself (the first touch of a
// cold key's cell) remains the largest cost, about a third of the time.
//
// The value field made entries 32 bytes, so none straddles a cache line and
// a combiner's count sits in the line its probe loads. CPU seconds for 20
// passes of BenchmarkTable/BenchmarkUpsert (user+sys, 4 alternating runs,
// about 0.35 s of it generating the stream): 24-byte entries with a slice
// of counts 1.66, 32-byte entries with the slice 1.89, Upsert 1.53.
//
// With 32-byte entries, `go test -bench . ./internal/kvtable` (n=6, one
// run, quiet machine): Upsert 52.4 ms, Table 69.0 ms, GoMap 97.4 ms per
// 16 MiB of text, so 1.86x and 1.41x a Go map.
package kvtable

import (
	"encoding/binary"
	"iter"
	"math/bits"
	"math/rand/v2"
)

// entry is one cell of the open-addressing index; see the package comment.
type entry struct {
	p, q uint64
	tag  uint32
	idx  uint32
	val  uint64
}

const (
	entrySize = 32 // unsafe.Sizeof(entry{}), kept constant for Bytes
	minSize   = 16 // entries in the smallest index
	// maxSlots bounds Len so that slot+1 fits idx and slots fit int32.
	maxSlots = 1<<31 - 1
)

// Table maps byte-string keys to dense int32 slots. The zero value is an
// empty table ready to use; New only sizes it in advance. A Table is not
// safe for concurrent use.
type Table struct {
	entries []entry
	shift   uint // a key's home entry is hash >> shift: 64 - log2(len(entries))
	n       int  // keys held
	growAt  int  // n at which the index doubles
	arena   []byte
	offs    []int // key i is arena[offs[i]:offs[i+1]]; len(offs) == n+1
	seed    [2]uint64
	vals    []uint64 // All's values by slot, kept for its next call
}

// New returns an empty table sized to hold capacityHint keys before it has
// to grow.
func New(capacityHint int) *Table {
	t := &Table{}
	if capacityHint > 0 {
		t.init(capacityHint)
	}
	return t
}

// init allocates an index for n keys at under 3/4 load.
func (t *Table) init(n int) {
	size := minSize
	for size*3/4 <= n && size < 1<<32 {
		size *= 2
	}
	// The seed is per table and random: the table lives inside one process,
	// and a random seed keeps adversarial keys from forcing long probes.
	// (A test may have set one already; seed[0] is odd once set.)
	if t.seed[0] == 0 {
		t.seed = [2]uint64{rand.Uint64() | 1, rand.Uint64()}
	}
	t.setIndex(size)
	if t.offs == nil {
		t.offs = make([]int, 1, n+1)
	}
}

func (t *Table) setIndex(size int) {
	t.entries = make([]entry, size)
	t.shift = uint(64 - bits.TrailingZeros(uint(size)))
	t.growAt = size * 3 / 4
}

// Len reports the number of keys in the table.
func (t *Table) Len() int { return t.n }

// Key returns the key of slot, which must be in [0, Len()). The slice is a
// view into the table's arena, valid until Reset; its capacity ends at its
// length, so appending to it copies instead of overwriting the next key.
func (t *Table) Key(slot int32) []byte {
	lo, hi := t.offs[slot], t.offs[slot+1]
	return t.arena[lo:hi:hi]
}

// Bytes estimates the memory the table's contents take: the key bytes, an
// offset and a value slot for All per key, and the index entries a table
// of Len keys needs at its maximum load. It is meant for a caller's flush
// budget, so it falls to zero on Reset even though Reset keeps the arrays:
// because arrays grow by doubling, the memory actually held stays within
// about twice the largest Bytes the caller let the table reach.
func (t *Table) Bytes() int {
	return len(t.arena) + t.n*(16+entrySize*4/3)
}

// Reset empties the table and keeps its capacity, so a table refilled to the
// same size allocates nothing. Views returned by Key become invalid.
func (t *Table) Reset() {
	clear(t.entries)
	t.n = 0
	t.arena = t.arena[:0]
	if t.offs != nil {
		t.offs = t.offs[:1]
	}
}

// FindOrInsert returns the slot of key, inserting it with the next slot
// number (Len before the call) when it is absent; inserted says which
// happened. An inserted key is copied, so the caller may reuse key's memory.
//
// When cap(key) reaches 16 bytes past its start, FindOrInsert loads the
// first 16 bytes in two words and masks off those past len(key): it reads,
// but never uses, bytes between len and cap, so the caller must not be
// writing them concurrently.
//
// The table holds at most 2^31-1 keys; FindOrInsert panics beyond that,
// which a caller flushing at any sane memory budget never reaches.
func (t *Table) FindOrInsert(key []byte) (slot int32, inserted bool) {
	e, inserted := t.find(key)
	return int32(e.idx - 1), inserted
}

// Upsert is FindOrInsert for a caller that keeps a value of up to 8 bytes
// per key in the table itself: it returns a pointer to key's value, 0 when
// the key is inserted, for the caller to read and set. The value sits in
// the entry the probe has just loaded, so it costs no second cache miss, as
// a slice indexed by slot would on a table larger than the cache. The
// pointer is valid until the next FindOrInsert, Upsert or Reset, any of
// which may move the entries. Values are read back with All.
func (t *Table) Upsert(key []byte) (val *uint64, inserted bool) {
	e, inserted := t.find(key)
	return &e.val, inserted
}

// find returns key's entry, inserting key when it is absent.
func (t *Table) find(key []byte) (*entry, bool) {
	if t.n >= t.growAt {
		t.grow()
	}
	// load16 and hash, inlined by hand since each is over the inliner's
	// budget. As calls they were a quarter of FindOrInsert's profile (310
	// and 220 of 2000 ms); what inlining saved was within the machine's
	// noise, but it cannot be slower.
	n := len(key)
	var p, q uint64
	if cap(key) >= 16 {
		w := key[:16:16]
		p = binary.LittleEndian.Uint64(w) & (^uint64(0) >> (64 - 8*min(n, 8)))
		q = binary.LittleEndian.Uint64(w[8:]) & (^uint64(0) >> (64 - 8*min(max(n-8, 0), 8)))
	} else {
		p, q = load16Short(key)
	}
	b := q ^ k0
	if n > 16 {
		b ^= t.hashTail(key)
	}
	h := mix(mix(p^t.seed[0], b)^k1, uint64(n)^k2)
	tag := uint32(h>>32)&^0xff | uint32(min(n, 255))
	es := t.entries
	mask := uint64(len(es) - 1)
	for i := h >> t.shift; ; i = (i + 1) & mask {
		e := &es[i]
		if e.idx == 0 {
			t.insert(e, key, p, q, tag)
			return e, true
		}
		if e.tag == tag && e.p == p && e.q == q && (n <= 16 || t.tailEqual(e.idx-1, key)) {
			return e, false
		}
	}
}

// All yields each key of the table with its value (see Upsert) in slot
// order, the order the keys were inserted. The keys are views as Key
// returns them.
//
// It copies the values into a slice by slot in one pass over the entries,
// then reads the offsets and the arena in sequence. Walking the entries
// and reading each one's key instead read the arena in the order of the
// keys' hashes, a cache miss per key once the table outgrows the cache:
// BenchmarkFlush (a million distinct keys, each hashed as a combiner's
// flush does for its partition), 4 runs each on the shared 2-core Xeon:
// 121-135 ns per key in hash order, 42-50 in slot order. The random
// writes of the first pass cost little, as nothing waits on them.
func (t *Table) All() iter.Seq2[[]byte, uint64] {
	return func(yield func([]byte, uint64) bool) {
		if cap(t.vals) < t.n {
			t.vals = make([]uint64, t.n)
		}
		vals := t.vals[:t.n]
		for i := range t.entries {
			if e := &t.entries[i]; e.idx != 0 {
				vals[e.idx-1] = e.val
			}
		}
		for slot, v := range vals {
			lo, hi := t.offs[slot], t.offs[slot+1]
			if !yield(t.arena[lo:hi:hi], v) {
				return
			}
		}
	}
}

// tailEqual compares the bytes after the 16th of key and of slot's key;
// the caller has already matched the first 16 and the length.
func (t *Table) tailEqual(slot uint32, key []byte) bool {
	lo, hi := t.offs[slot], t.offs[slot+1]
	return string(t.arena[lo+16:hi]) == string(key[16:])
}

func (t *Table) insert(e *entry, key []byte, p, q uint64, tag uint32) {
	if t.n >= maxSlots {
		panic("kvtable: more than 2^31-1 keys")
	}
	slot := t.n
	t.n++
	t.arena = append(t.arena, key...)
	t.offs = append(t.offs, len(t.arena))
	*e = entry{p: p, q: q, tag: tag, idx: uint32(slot + 1)}
}

// grow doubles the index (or allocates the first one) and reinserts every
// entry.
func (t *Table) grow() {
	if t.entries == nil {
		t.init(0)
		return
	}
	old := t.entries
	t.setIndex(len(old) * 2)
	if 64-t.shift <= tagHashBits {
		t.moveByTag(old)
	} else {
		t.moveByRehash(old)
	}
}

// tagHashBits is how many of the hash's top bits an entry's tag keeps
// (bits 40..63, in tag bits 8..31): enough to place it in an index of up to
// 2^24 entries (512 MiB) without hashing its key again.
const tagHashBits = 24

// moveByTag reinserts old's entries into the new index at the home entries
// their tags give. A home entry is the hash's top bits, so old's entries
// lie in about the order of their homes in the new index too: one
// sequential pass over both arrays, reading no key from the arena. With
// homes from the hash's low bits and each key rehashed from the arena, the
// doublings of a worker's first table (random reads of the arena, random
// writes of the index) were 68 of 2,027 perf samples of a 64 MiB word count
// (2 workers, one 32 MiB task each), beside 40 more in page faults.
// BenchmarkUpsertFresh, best of 6 alternated runs on the loaded machine:
// 33.7 → 20.0 ns per word (BenchmarkUpsert, whose table never grows:
// 29.7 both).
func (t *Table) moveByTag(old []entry) {
	es := t.entries
	mask := uint64(len(es) - 1)
	shift := t.shift - (64 - tagHashBits)
	for _, e := range old {
		if e.idx == 0 {
			continue
		}
		i := uint64(e.tag>>8) >> shift
		for es[i].idx != 0 {
			i = (i + 1) & mask
		}
		es[i] = e
	}
}

// moveByRehash reinserts old's entries into an index too large for their
// tags to place them, recomputing each key's hash from the arena.
func (t *Table) moveByRehash(old []entry) {
	es := t.entries
	mask := uint64(len(es) - 1)
	for _, e := range old {
		if e.idx == 0 {
			continue
		}
		key := t.Key(int32(e.idx - 1))
		i := t.hash(key, e.p, e.q) >> t.shift
		for es[i].idx != 0 {
			i = (i + 1) & mask
		}
		es[i] = e
	}
}

// load16 returns bytes 0-7 and 8-15 of b as little-endian integers, zero
// padded past len(b). With 16 bytes of capacity it is two loads and two
// masks, no branch on the length: keys of mixed lengths would mispredict.
func load16(b []byte) (p, q uint64) {
	if cap(b) < 16 {
		return load16Short(b)
	}
	n := len(b)
	w := b[:16:16]
	// A shift by 64 gives 0 in Go, which masks out a whole word.
	p = binary.LittleEndian.Uint64(w) & (^uint64(0) >> (64 - 8*min(n, 8)))
	q = binary.LittleEndian.Uint64(w[8:]) & (^uint64(0) >> (64 - 8*min(max(n-8, 0), 8)))
	return p, q
}

// load16Short is load16 for a slice with less than 16 bytes of capacity,
// reading only within len(b).
func load16Short(b []byte) (p, q uint64) {
	p = load8(b)
	if len(b) > 8 {
		q = load8(b[8:])
	}
	return p, q
}

// load8 returns the first 8 bytes of b as a little-endian integer, zero
// padded when b is shorter, without reading past len(b).
func load8(b []byte) uint64 {
	switch n := len(b); {
	case n >= 8:
		return binary.LittleEndian.Uint64(b)
	case n >= 4:
		// Two 4-byte loads that overlap when n < 8; the overlapping bytes
		// are the same, so OR merges them.
		lo := uint64(binary.LittleEndian.Uint32(b))
		hi := uint64(binary.LittleEndian.Uint32(b[n-4:]))
		return lo | hi<<(8*(n-4))
	case n > 0:
		return uint64(b[0]) | uint64(b[n/2])<<(8*(n/2)) | uint64(b[n-1])<<(8*(n-1))
	}
	return 0
}

// Multipliers from wyhash (public domain), odd with mixed bits.
const (
	k0 = 0xa0761d6478bd642f
	k1 = 0xe7037ed1a0b428db
	k2 = 0x8ebc6af09c88c6e3
)

// mix is wyhash's mum: the 128-bit product of a and b folded to 64 bits.
func mix(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	return hi ^ lo
}

// hash is a wyhash-style hash of key, whose first 16 bytes (zero padded)
// the caller has loaded into p and q: two multiplies for keys of up to 16
// bytes, and one more per further 16-byte block. FindOrInsert has a copy
// inlined; the two must agree.
func (t *Table) hash(key []byte, p, q uint64) uint64 {
	a, b := p^t.seed[0], q^k0
	if len(key) > 16 {
		b ^= t.hashTail(key)
	}
	return mix(mix(a, b)^k1, uint64(len(key))^k2)
}

// hashTail folds the bytes after the 16th of key (len(key) > 16) in 16-byte
// blocks; the last block overlaps the one before it when the length is not
// a multiple of 16.
func (t *Table) hashTail(key []byte) uint64 {
	s := t.seed[1]
	n := len(key)
	for b := key[16:]; len(b) > 16; b = b[16:] {
		s = mix(binary.LittleEndian.Uint64(b)^k1, binary.LittleEndian.Uint64(b[8:])^s)
	}
	return mix(binary.LittleEndian.Uint64(key[n-16:])^k2, binary.LittleEndian.Uint64(key[n-8:])^s)
}
