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
// value bytes: a uint32 partition, two int32 offsets and two 16-byte sort
// index entries (the index and the radix sort's scratch copy).
const perRecordOverhead = 4 + 4 + 4 + 16 + 16

// maxData is the most key (or value) bytes a Buffer or a run batch holds:
// Arrow's binary layout addresses them with int32 offsets. It is a variable
// so that tests can lower it.
var maxData = 1<<31 - 1

// Buffer is the map side's in-memory sort buffer. It holds records in
// Arrow's columnar layout, three columns side by side (partition uint32,
// key binary, value binary: offsets plus one data array each), and a sort
// index over them.
//
// Records are appended with Add, ordered by Sort and read back with At.
// Reset empties the buffer but keeps its arrays, so a buffer refilled to
// the same size allocates nothing: on this path every fresh page costs a
// fault, and a map task refills its buffer once per spill. The zero value
// is an empty buffer ready to use. A Buffer is not safe for concurrent use.
type Buffer struct {
	parts   []uint32
	keyOffs []int32 // Arrow offsets: key i is keyData[keyOffs[i]:keyOffs[i+1]]
	keyData []byte
	valOffs []int32
	valData []byte

	sorted bool
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

// NewBuffer returns an empty Buffer; it is the same as new(Buffer).
func NewBuffer() *Buffer { return new(Buffer) }

// Add appends one record and reports whether it fit: false, with nothing
// added, when the keys or values would pass the 2 GiB that Arrow's int32
// offsets address (only buffers of gigabytes get there; the caller spills
// and adds again). partition must fit in a uint32. Add copies key and
// value, so the caller may reuse them at once. Adding to a sorted buffer is
// allowed but undoes the sort.
func (b *Buffer) Add(partition int, key, value []byte) bool {
	if len(b.keyData)+len(key) > maxData || len(b.valData)+len(value) > maxData || len(b.parts) >= maxData {
		return false
	}
	if len(b.keyOffs) == 0 {
		b.keyOffs = append(b.keyOffs, 0)
		b.valOffs = append(b.valOffs, 0)
	}
	b.parts = append(grow(b.parts, 1), uint32(partition))
	b.keyData = append(grow(b.keyData, len(key)), key...)
	b.keyOffs = append(grow(b.keyOffs, 1), int32(len(b.keyData)))
	b.valData = append(grow(b.valData, len(value)), value...)
	b.valOffs = append(grow(b.valOffs, 1), int32(len(b.valData)))
	b.sorted = false
	return true
}

// grow returns s with room for n more elements: s itself when it has the
// room, else a copy with twice the capacity (or len+n, if more).
//
// append would do the same at up to about 1.25 times the capacity for a
// large slice, and clears the new array's spare capacity at once. A map
// task's first fill of its buffer (later ones reuse the arrays) then
// copied each array about four times over and touched every page of the
// spare room: in a worker's first sort map task, 31% of the samples were
// in memmove, 10% in memclr and 34% in the kernel's page faults. make
// leaves memory fresh from the kernel untouched, so its pages fault in as
// Add fills them.
func grow[S ~[]E, E any](s S, n int) S {
	if cap(s)-len(s) >= n {
		return s
	}
	t := make(S, len(s), max(2*cap(s), len(s)+n, 1024))
	copy(t, s)
	return t
}

// Len returns the number of buffered records.
func (b *Buffer) Len() int { return len(b.parts) }

// Bytes returns the memory held by the buffered data: key and value bytes
// plus a fixed per-record overhead for the partition, offsets and sort
// index. It counts what is used, not spare capacity, so the caller's spill
// point does not jump as the arrays double.
func (b *Buffer) Bytes() int {
	return len(b.keyData) + len(b.valData) + len(b.parts)*perRecordOverhead
}

// Sort orders the records by (partition, key), keeping records with equal
// partition and key in the order they were added so that output is
// deterministic. It radix-sorts an index of (partition, 8-byte big-endian
// key prefix) and then compares full keys only within runs of equal
// prefixes.
func (b *Buffer) Sort() {
	if b.sorted {
		return
	}
	n := b.Len()
	parts, offs, data := b.parts, b.keyOffs, b.keyData

	b.order = slices.Grow(b.order[:0], n)[:n]
	for i := range b.order {
		k := data[offs[i]:offs[i+1]]
		pre := keyPrefix(k)
		b.order[i] = sortEntry{hi: uint64(parts[i])<<32 | pre>>32, lo: pre<<32 | uint64(i)}
	}
	b.scratch = slices.Grow(b.scratch[:0], n)[:n]
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
	if b.sorted {
		i = int(b.order[i].idx())
	}
	return int(b.parts[i]), b.keyData[b.keyOffs[i]:b.keyOffs[i+1]:b.keyOffs[i+1]],
		b.valData[b.valOffs[i]:b.valOffs[i+1]:b.valOffs[i+1]]
}

// Reset empties the buffer for reuse, keeping its arrays.
func (b *Buffer) Reset() {
	b.parts, b.keyData, b.valData = b.parts[:0], b.keyData[:0], b.valData[:0]
	b.keyOffs, b.valOffs = b.keyOffs[:0], b.valOffs[:0]
	b.order, b.sorted = b.order[:0], false
}

// Release drops the buffer's arrays, leaving it empty; it may be used again
// and will allocate anew.
func (b *Buffer) Release() { *b = Buffer{} }

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

// Record returns the buffered records, in insertion order, as an Arrow
// record batch {partition: uint32, key: binary, value: binary} that shares
// the buffer's memory (no copy). The batch is valid until the next Add,
// Reset or Release; release it when done.
func (b *Buffer) Record() arrow.RecordBatch {
	n := b.Len()
	offsets := func(o []int32) *memory.Buffer {
		if len(o) == 0 {
			o = []int32{0}
		}
		return memory.NewBufferBytes(arrow.Int32Traits.CastToBytes(o))
	}
	parts := array.NewData(arrow.PrimitiveTypes.Uint32, n,
		[]*memory.Buffer{nil, memory.NewBufferBytes(arrow.Uint32Traits.CastToBytes(b.parts))}, nil, 0, 0)
	keys := array.NewData(arrow.BinaryTypes.Binary, n,
		[]*memory.Buffer{nil, offsets(b.keyOffs), memory.NewBufferBytes(b.keyData)}, nil, 0, 0)
	vals := array.NewData(arrow.BinaryTypes.Binary, n,
		[]*memory.Buffer{nil, offsets(b.valOffs), memory.NewBufferBytes(b.valData)}, nil, 0, 0)
	cols := []arrow.Array{array.MakeFromData(parts), array.MakeFromData(keys), array.MakeFromData(vals)}
	rec := array.NewRecordBatch(bufferSchema, cols, int64(n))
	for i, d := range []arrow.ArrayData{parts, keys, vals} {
		d.Release()
		cols[i].Release()
	}
	return rec
}

var bufferSchema = arrow.NewSchema([]arrow.Field{
	{Name: "partition", Type: arrow.PrimitiveTypes.Uint32},
	{Name: "key", Type: arrow.BinaryTypes.Binary},
	{Name: "value", Type: arrow.BinaryTypes.Binary},
}, nil)
