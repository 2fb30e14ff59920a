package spill

import (
	"bytes"
	"encoding/binary"
	"slices"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// perRecordOverhead is what one buffered record costs beyond its key and
// value bytes: a uint32 partition, two int32 offsets, two validity bits
// (rounded up to a byte) and two 16-byte sort index entries (the index and
// the radix sort's scratch copy).
const perRecordOverhead = 4 + 4 + 4 + 1 + 16 + 16

// Buffer is the map side's in-memory sort buffer: three Arrow builders
// (partition uint32, key binary, value binary) and a sort index over them.
//
// Records are appended with Add, ordered by Sort and read back with At. The
// zero value is not usable; call NewBuffer. A Buffer is not safe for
// concurrent use.
type Buffer struct {
	mem memory.Allocator

	// While filling, records live in the builders. Sort turns the builders
	// into arrays so that comparisons read plain slices instead of going
	// through the builders' accessors.
	parts *array.Uint32Builder
	keys  *array.BinaryBuilder
	vals  *array.BinaryBuilder

	partArr *array.Uint32
	keyArr  *array.Binary
	valArr  *array.Binary

	n         int
	dataBytes int
	sorted    bool
	// order is the sort index; order[i].idx() is the insertion position of
	// the i-th record in sorted order. scratch is the radix sort's second
	// buffer.
	order   []sortEntry
	scratch []sortEntry
}

// sortEntry is one record in the index sort, packed so that comparing hi
// and then lo as unsigned integers orders by (partition, 8-byte big-endian
// key prefix, insertion index):
//
//	hi = partition<<32 | prefix>>32
//	lo = prefix<<32 | index
//
// Two integer compares decide most comparisons without touching key bytes.
type sortEntry struct {
	hi, lo uint64
}

func (e sortEntry) idx() uint32 { return uint32(e.lo) }

// NewBuffer returns an empty Buffer that allocates its Arrow memory from
// mem, or from memory.DefaultAllocator when mem is nil.
func NewBuffer(mem memory.Allocator) *Buffer {
	if mem == nil {
		mem = memory.DefaultAllocator
	}
	b := &Buffer{mem: mem}
	b.newBuilders()
	return b
}

func (b *Buffer) newBuilders() {
	b.parts = array.NewUint32Builder(b.mem)
	b.keys = array.NewBinaryBuilder(b.mem, arrow.BinaryTypes.Binary)
	b.vals = array.NewBinaryBuilder(b.mem, arrow.BinaryTypes.Binary)
}

// Add appends one record; partition must fit in a uint32. It copies key and value, so the caller may reuse
// them at once. Adding to a sorted buffer is allowed but undoes the sort
// (and copies the records back into builders); callers normally Reset first.
func (b *Buffer) Add(partition int, key, value []byte) {
	if b.partArr != nil {
		b.reopen()
	} else if b.parts == nil {
		b.newBuilders() // after Release
	}
	b.parts.Append(uint32(partition))
	b.keys.Append(key)
	b.vals.Append(value)
	b.n++
	b.dataBytes += len(key) + len(value)
	b.sorted = false
}

// reopen moves finished arrays back into fresh builders, in insertion
// order, so that Add can continue after Sort.
func (b *Buffer) reopen() {
	b.newBuilders()
	b.parts.Reserve(b.n)
	b.keys.Reserve(b.n)
	b.vals.Reserve(b.n)
	b.keys.ReserveData(len(b.keyArr.ValueBytes()))
	b.vals.ReserveData(len(b.valArr.ValueBytes()))
	for i := 0; i < b.n; i++ {
		b.parts.Append(b.partArr.Value(i))
		b.keys.Append(b.keyArr.Value(i))
		b.vals.Append(b.valArr.Value(i))
	}
	b.releaseArrays()
	b.sorted = false
}

// Len returns the number of buffered records.
func (b *Buffer) Len() int { return b.n }

// Bytes returns the memory held by the buffered data: key and value bytes
// plus a fixed per-record overhead for the partition, offsets, validity
// bits and sort index. It counts what is used, not the builders' spare
// capacity, so the caller's spill point does not jump as builders double.
func (b *Buffer) Bytes() int { return b.dataBytes + b.n*perRecordOverhead }

// Sort orders the records by (partition, key), keeping records with equal
// partition and key in the order they were added so that output is
// deterministic. It radix-sorts an index of (partition, 8-byte big-endian
// key prefix) and then compares full keys only within runs of equal
// prefixes.
func (b *Buffer) Sort() {
	if b.sorted {
		return
	}
	if b.partArr == nil {
		b.partArr = b.parts.NewUint32Array()
		b.keyArr = b.keys.NewBinaryArray()
		b.valArr = b.vals.NewBinaryArray()
		b.releaseBuilders()
	}
	parts := b.partArr.Uint32Values()
	offs := b.keyArr.ValueOffsets()
	data := b.keyArr.ValueBytes()

	b.order = slices.Grow(b.order[:0], b.n)[:b.n]
	for i := range b.order {
		k := data[offs[i]:offs[i+1]]
		pre := keyPrefix(k)
		b.order[i] = sortEntry{hi: uint64(parts[i])<<32 | pre>>32, lo: pre<<32 | uint64(i)}
	}
	b.scratch = slices.Grow(b.scratch[:0], b.n)[:b.n]
	radixSort(b.order, b.scratch)

	// The radix sort ordered by (partition, prefix) and, being stable, by
	// insertion index within equal prefixes. Keys that share an 8-byte
	// prefix may still differ beyond it (or in length), so sort each run
	// of equal prefixes by the full key; the run is usually already in
	// order (repeated words), which the check finds in one pass.
	keyCmp := func(x, y sortEntry) int {
		xi, yi := x.idx(), y.idx()
		return bytes.Compare(data[offs[xi]:offs[xi+1]], data[offs[yi]:offs[yi+1]])
	}
	for i := 0; i < len(b.order); {
		j := i + 1
		for j < len(b.order) && b.order[j].hi == b.order[i].hi && b.order[j].lo>>32 == b.order[i].lo>>32 {
			j++
		}
		if run := b.order[i:j]; len(run) > 1 && !slices.IsSortedFunc(run, keyCmp) {
			slices.SortStableFunc(run, keyCmp)
		}
		i = j
	}
	b.sorted = true
}

// keyPrefix returns the first 8 bytes of k as a big-endian integer, padded
// with zero bytes, so that integer order agrees with bytes.Compare on them.
func keyPrefix(k []byte) uint64 {
	if len(k) >= 8 {
		return binary.BigEndian.Uint64(k)
	}
	var p [8]byte
	copy(p[:], k)
	return binary.BigEndian.Uint64(p[:])
}

// At returns the i-th record: in sorted order after Sort, in insertion order
// before it. The slices alias the buffer and stay valid until the next Add,
// Reset or Release.
func (b *Buffer) At(i int) (partition int, key, value []byte) {
	if b.partArr == nil {
		return int(b.parts.Value(i)), b.keys.Value(i), b.vals.Value(i)
	}
	j := i
	if b.sorted {
		j = int(b.order[i].idx())
	}
	return int(b.partArr.Value(j)), b.keyArr.Value(j), b.valArr.Value(j)
}

// Reset empties the buffer for reuse. The sort index keeps its capacity, and
// the new builders reserve what the last fill used, so a map task's second
// and later fills allocate once instead of growing by doubling.
func (b *Buffer) Reset() {
	n, kb, vb := b.n, 0, 0
	if b.partArr != nil {
		kb, vb = len(b.keyArr.ValueBytes()), len(b.valArr.ValueBytes())
	} else {
		kb, vb = b.keys.DataLen(), b.vals.DataLen()
	}
	b.releaseArrays()
	b.releaseBuilders()
	b.newBuilders()
	if n > 0 {
		b.parts.Reserve(n)
		b.keys.Reserve(n)
		b.vals.Reserve(n)
		b.keys.ReserveData(kb)
		b.vals.ReserveData(vb)
	}
	b.n, b.dataBytes, b.sorted = 0, 0, false
	b.order = b.order[:0]
}

// Release frees the buffer's Arrow memory. The Buffer must not be used
// afterwards.
func (b *Buffer) Release() {
	b.releaseArrays()
	b.releaseBuilders()
	b.order, b.scratch = nil, nil
	b.n, b.dataBytes, b.sorted = 0, 0, false
}

func (b *Buffer) releaseBuilders() {
	if b.parts != nil {
		b.parts.Release()
		b.keys.Release()
		b.vals.Release()
		b.parts, b.keys, b.vals = nil, nil, nil
	}
}

func (b *Buffer) releaseArrays() {
	if b.partArr != nil {
		b.partArr.Release()
		b.keyArr.Release()
		b.valArr.Release()
		b.partArr, b.keyArr, b.valArr = nil, nil, nil
	}
}

// radixSort sorts entries by (hi, lo>>32) with a stable least-significant-
// byte-first radix sort over the 12 bytes that matter: the low 32 bits of lo
// hold the insertion index, which stability keeps in order. Passes whose
// byte is the same in every entry (the high bytes of small partition
// numbers, say) are skipped. The result ends up in order; scratch must be
// as long as order.
func radixSort(order, scratch []sortEntry) {
	if len(order) < 2 {
		return
	}
	// Byte d of the 12-byte key: d 0..3 are bits 32..63 of lo, d 4..11 are
	// bits 0..63 of hi.
	var counts [12][256]int
	for _, e := range order {
		for d := range 4 {
			counts[d][byte(e.lo>>(32+8*d))]++
		}
		for d := range 8 {
			counts[4+d][byte(e.hi>>(8*d))]++
		}
	}
	src, dst := order, scratch
	for d := range 12 {
		c := &counts[d]
		var shift uint
		var fromHi bool
		if d < 4 {
			shift = uint(32 + 8*d)
		} else {
			shift, fromHi = uint(8*(d-4)), true
		}
		if c[byte(src[0].word(fromHi)>>shift)] == len(src) {
			continue // every entry has the same byte here
		}
		pos := 0
		for i, n := range c {
			c[i] = pos
			pos += n
		}
		for _, e := range src {
			bkt := byte(e.word(fromHi) >> shift)
			dst[c[bkt]] = e
			c[bkt]++
		}
		src, dst = dst, src
	}
	if &src[0] != &order[0] {
		copy(order, src)
	}
}

func (e sortEntry) word(hi bool) uint64 {
	if hi {
		return e.hi
	}
	return e.lo
}
