package spill

import (
	"bytes"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"sync"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// KV is one key/value pair. Key and Value are valid only until the next
// call to Next (or Close) on the iterator that returned it.
type KV struct {
	Key, Value []byte
}

// Iterator walks key/value pairs in key order (bytes.Compare).
//
// Next returns the next pair, or nil when the iterator is exhausted or has
// failed; Error then says which. Close releases the iterator's memory and
// returns the same error as Error.
type Iterator interface {
	Next() *KV
	Error() error
	Close() error
}

// Reader reads a run file. It verifies the footer and index when opened and
// each block when a segment iterator reaches it. Several segment iterators
// may be open at once, from one goroutine or several; each must be closed,
// and all before the Reader.
type Reader struct {
	name   string
	ra     io.ReaderAt
	file   *os.File // nil when the ReaderAt was supplied by the caller
	segs   []segmentHandle
	blocks []blockHandle
	// allocLimit bounds every single allocation Arrow makes while decoding:
	// nothing honest is larger than the largest batch or block, and a
	// corrupt length must become an error, not an out-of-memory crash.
	allocLimit int64
	mem        memory.Allocator
}

// Open opens the run file at path and checks its footer and index.
func Open(path string) (*Reader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("spill: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("spill: %w", err)
	}
	r, err := NewReader(f, st.Size(), path)
	if err != nil {
		f.Close()
		return nil, err
	}
	r.file = f
	return r, nil
}

// NewReader reads a run file of the given size from ra; name appears in
// errors. Close does not close ra. It is Open for runs that do not live in
// a file of their own.
func NewReader(ra io.ReaderAt, size int64, name string) (*Reader, error) {
	if size < footerSize {
		return nil, fmt.Errorf("%w: %s: %d bytes is shorter than the %d-byte footer", ErrCorrupt, name, size, footerSize)
	}
	var fb [footerSize]byte
	if err := readAt(ra, fb[:], size-footerSize); err != nil {
		return nil, fmt.Errorf("spill: %s: reading footer: %w", name, err)
	}
	ft, err := decodeFooter(name, fb[:], size)
	if err != nil {
		return nil, err
	}
	idx := make([]byte, ft.indexLength)
	if err := readAt(ra, idx, ft.indexOffset); err != nil {
		return nil, fmt.Errorf("spill: %s: reading index at %d: %w", name, ft.indexOffset, err)
	}
	if got := crc32.Checksum(idx, crcTable); got != ft.indexCRC {
		return nil, fmt.Errorf("%w: %s: index crc %08x, want %08x", ErrChecksum, name, got, ft.indexCRC)
	}
	segs, blocks, err := decodeIndex(name, idx, ft)
	if err != nil {
		return nil, err
	}
	limit := ft.maxBatch
	for _, b := range blocks {
		limit = max(limit, b.length)
	}
	limit += allocSlack
	return &Reader{
		name:       name,
		ra:         ra,
		segs:       segs,
		blocks:     blocks,
		allocLimit: limit,
		mem:        &cappedAllocator{Allocator: memory.DefaultAllocator, limit: limit},
	}, nil
}

// allocSlack covers Arrow's padding and small side allocations (validity
// bitmaps, metadata) on top of the largest batch or block.
const allocSlack = 64 << 10

// errAllocLimit is what cappedAllocator panics with; the iterator recovers
// it and reports ErrCorrupt.
var errAllocLimit = errors.New("allocation beyond the run's largest batch")

// cappedAllocator refuses single allocations above limit by panicking,
// which is the only way an Allocator can fail; Arrow's IPC reader and the
// iterator recover the panic.
type cappedAllocator struct {
	memory.Allocator
	limit int64
}

func (a *cappedAllocator) Allocate(size int) []byte {
	if size < 0 || int64(size) > a.limit {
		panic(fmt.Errorf("%w: %d bytes, limit %d", errAllocLimit, size, a.limit))
	}
	return a.Allocator.Allocate(size)
}

func (a *cappedAllocator) Reallocate(size int, b []byte) []byte {
	if size < 0 || int64(size) > a.limit {
		panic(fmt.Errorf("%w: %d bytes, limit %d", errAllocLimit, size, a.limit))
	}
	return a.Allocator.Reallocate(size, b)
}

// readAt reads exactly len(p) bytes at off. io.ReaderAt may report io.EOF
// together with a full read at the end of the input; that is success.
func readAt(ra io.ReaderAt, p []byte, off int64) error {
	n, err := ra.ReadAt(p, off)
	if n == len(p) {
		return nil
	}
	if err == nil || err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return err
}

// Partitions returns the number of partitions (segments) in the file.
func (r *Reader) Partitions() int { return len(r.segs) }

// Records returns the number of records in partition p, or 0 when p is out
// of range.
func (r *Reader) Records(p int) int64 {
	if p < 0 || p >= len(r.segs) {
		return 0
	}
	return r.segs[p].records
}

// SegmentBytes returns the on-disk size of partition p's segment, or 0 when
// p is out of range.
func (r *Reader) SegmentBytes(p int) int64 {
	if p < 0 || p >= len(r.segs) {
		return 0
	}
	return r.segs[p].length
}

// Close closes the file if Open opened it.
func (r *Reader) Close() error {
	if r.file == nil {
		return nil
	}
	err := r.file.Close()
	r.file = nil
	if err != nil {
		return fmt.Errorf("spill: %w", err)
	}
	return nil
}

// Segment returns an iterator over partition p's records in key order. It
// holds about one block in memory. Checksum failures and undecodable data
// are reported by the iterator's Error, wrapping ErrChecksum or ErrCorrupt
// and naming the file, partition and block.
func (r *Reader) Segment(p int) (Iterator, error) {
	if p < 0 || p >= len(r.segs) {
		return nil, fmt.Errorf("spill: %s: partition %d out of range [0, %d)", r.name, p, len(r.segs))
	}
	s := r.segs[p]
	it := &segmentIter{
		part:    p,
		records: s.records,
		src: blockSource{
			r:      r,
			part:   p,
			blocks: r.blocks[s.firstBlock : s.firstBlock+s.blockCount],
		},
	}
	if s.length == 0 {
		it.done = true
	}
	return it, nil
}

// blockSource is an io.Reader over one segment that serves its blocks one
// after another, each only after its CRC has been verified. The Arrow IPC
// reader reads through it and so never sees unverified bytes.
type blockSource struct {
	r      *Reader
	part   int
	blocks []blockHandle
	next   int    // index of the next block to load
	buf    []byte // the current block, verified
	pos    int    // read position in buf
	err    error  // first error; the IPC reader may wrap or drop it
}

func (s *blockSource) Read(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	for s.pos == len(s.buf) {
		if s.next == len(s.blocks) {
			return 0, io.EOF
		}
		if err := s.load(); err != nil {
			s.err = err
			return 0, err
		}
	}
	n := copy(p, s.buf[s.pos:])
	s.pos += n
	return n, nil
}

func (s *blockSource) load() error {
	b := s.blocks[s.next]
	if int64(cap(s.buf)) < b.length {
		s.buf = make([]byte, b.length)
	}
	s.buf, s.pos = s.buf[:b.length], 0
	if err := readAt(s.r.ra, s.buf, b.offset); err != nil {
		s.buf = s.buf[:0]
		return fmt.Errorf("spill: %s: partition %d block %d at %d: %w", s.r.name, s.part, s.next, b.offset, err)
	}
	if got := crc32.Checksum(s.buf, crcTable); got != b.crc {
		s.buf = s.buf[:0]
		return fmt.Errorf("%w: %s: partition %d block %d at %d: crc %08x, want %08x",
			ErrChecksum, s.r.name, s.part, s.next, b.offset, got, b.crc)
	}
	if s.next == 0 && !bytes.Equal(s.buf, schemaMessage()) {
		// Only this package writes runs, and runs live no longer than the
		// job that wrote them, so the schema message is always these exact
		// bytes. Checking them keeps Arrow from parsing a damaged schema,
		// whose field counts it trusts when allocating.
		s.buf = s.buf[:0]
		return fmt.Errorf("%w: %s: partition %d block 0 at %d: not the {key: binary, value: binary} schema message",
			ErrCorrupt, s.r.name, s.part, b.offset)
	}
	s.next++
	return nil
}

// schemaMessage returns the encoded IPC schema message every segment
// starts with. The writer also uses it to start segments after the first.
var schemaMessage = sync.OnceValue(func() []byte {
	p := ipc.GetSchemaPayload(schema, memory.DefaultAllocator)
	defer p.Release()
	var buf bytes.Buffer
	if _, err := p.WritePayload(&buf); err != nil {
		panic(fmt.Sprintf("spill: encoding the schema message: %v", err)) // writes to memory cannot fail
	}
	return buf.Bytes()
})

// exhausted reports whether every byte of every block has been served.
func (s *blockSource) exhausted() bool { return s.next == len(s.blocks) && s.pos == len(s.buf) }

// segmentIter iterates one segment: blockSource → ipc.Reader → batches.
type segmentIter struct {
	part    int
	records int64 // expected, from the index
	seen    int64
	src     blockSource
	// wrap, when set, interposes on the reader between blockSource and the
	// IPC reader; tests use it to feed Arrow through iotest readers.
	wrap func(io.Reader) io.Reader

	ipcr       *ipc.Reader
	mem        recycler // what ipcr allocates from
	keys, vals *array.Binary
	row, rows  int
	kv         KV
	err        error
	done       bool
	closed     bool
}

var _ Iterator = (*segmentIter)(nil)

// Next returns the next pair; its slices point into the decoded Arrow
// batch (zero copy) and stay valid until the next call to Next.
func (it *segmentIter) Next() *KV {
	for it.row >= it.rows {
		if it.done || it.err != nil || !it.nextBatch() {
			return nil
		}
	}
	i := it.row
	it.row++
	it.kv.Key = it.keys.Value(i)
	it.kv.Value = it.vals.Value(i)
	return &it.kv
}

// nextBatch advances to the next record batch, or records why there is none.
// Arrow may panic on malformed input that slipped past the checksums (a bug
// in a writer, not a disk error); the panic becomes ErrCorrupt.
func (it *segmentIter) nextBatch() (ok bool) {
	defer func() {
		if p := recover(); p != nil {
			it.corrupt(fmt.Errorf("arrow panicked: %v", p))
			ok = false
		}
	}()
	it.row, it.rows, it.keys, it.vals = 0, 0, nil, nil
	if it.ipcr == nil {
		var src io.Reader = &it.src
		if it.wrap != nil {
			src = it.wrap(src)
		}
		// ipc.NewReader ignores the size limits; NewMessageReader honours
		// them, and no message can be larger than the run's largest block.
		lim := it.src.r.allocLimit
		it.mem.Allocator = it.src.r.mem
		mr := ipc.NewMessageReader(src, ipc.WithAllocator(&it.mem),
			ipc.WithMetadataSizeLimit(lim), ipc.WithBodySizeLimit(lim))
		r, err := ipc.NewReaderFromMessageReader(mr, ipc.WithSchema(schema), ipc.WithAllocator(&it.mem))
		if err != nil {
			it.fail(err)
			return false
		}
		it.ipcr = r
	}
	if !it.ipcr.Next() {
		if err := it.ipcr.Err(); err != nil {
			it.fail(err)
			return false
		}
		if it.src.err != nil {
			it.fail(it.src.err)
			return false
		}
		// A clean end of stream must also be the end of the segment and
		// account for every record the index promised.
		switch {
		case !it.src.exhausted():
			it.corrupt(errors.New("end-of-stream marker before the end of the segment"))
		case it.seen != it.records:
			it.corrupt(fmt.Errorf("segment holds %d records, index says %d", it.seen, it.records))
		default:
			it.done = true
		}
		return false
	}
	rec := it.ipcr.RecordBatch()
	keys, ok1 := rec.Column(0).(*array.Binary)
	vals, ok2 := rec.Column(1).(*array.Binary)
	if !ok1 || !ok2 || rec.NumCols() != 2 {
		it.corrupt(errors.New("record batch columns are not (binary, binary)"))
		return false
	}
	if err := checkBinary(keys); err != nil {
		it.corrupt(fmt.Errorf("key column: %w", err))
		return false
	}
	if err := checkBinary(vals); err != nil {
		it.corrupt(fmt.Errorf("value column: %w", err))
		return false
	}
	n := keys.Len()
	if vals.Len() != n || int64(n) != rec.NumRows() {
		it.corrupt(fmt.Errorf("column lengths %d and %d in a batch of %d rows", n, vals.Len(), rec.NumRows()))
		return false
	}
	it.seen += int64(n)
	if it.seen > it.records {
		it.corrupt(fmt.Errorf("segment holds more than the %d records the index says", it.records))
		return false
	}
	it.keys, it.vals, it.rows = keys, vals, n
	return true
}

// checkBinary verifies what Value(i) relies on: no nulls (the writer never
// writes any) and offsets that are non-decreasing and inside the data.
// Arrow's IPC reader does not check these, and a bad offset would make
// Value panic or return bytes of another record.
func checkBinary(a *array.Binary) error {
	if a.NullN() != 0 {
		return fmt.Errorf("%d nulls", a.NullN())
	}
	offs := a.ValueOffsets()
	if len(offs) != a.Len()+1 {
		return fmt.Errorf("%d offsets for %d values", len(offs), a.Len())
	}
	data := len(a.ValueBytes())
	prev := offs[0]
	if prev < 0 {
		return fmt.Errorf("negative offset %d", prev)
	}
	for _, o := range offs[1:] {
		if o < prev {
			return fmt.Errorf("offsets decrease (%d after %d)", o, prev)
		}
		prev = o
	}
	if int(prev) > data {
		return fmt.Errorf("offset %d beyond %d data bytes", prev, data)
	}
	return nil
}

// fail records err, preferring the block source's own error (a checksum or
// I/O failure) to the IPC reader's rendering of it.
func (it *segmentIter) fail(err error) {
	if it.src.err != nil {
		err = it.src.err
	} else if !errors.Is(err, ErrChecksum) && !errors.Is(err, ErrCorrupt) {
		err = fmt.Errorf("%w: %s: partition %d: %w", ErrCorrupt, it.src.r.name, it.part, err)
	}
	if it.err == nil {
		it.err = err
	}
}

func (it *segmentIter) corrupt(err error) {
	if it.src.err != nil {
		it.fail(it.src.err)
		return
	}
	blk := max(it.src.next-1, 0)
	it.fail(fmt.Errorf("%w: %s: partition %d block %d: %w", ErrCorrupt, it.src.r.name, it.part, blk, err))
}

// Error returns the error that ended the iteration, or nil.
func (it *segmentIter) Error() error { return it.err }

// Close releases the decoded batch and the block buffer.
func (it *segmentIter) Close() error {
	if it.closed {
		return it.err
	}
	it.closed = true
	if it.ipcr != nil {
		it.ipcr.Release()
		it.ipcr = nil
	}
	it.keys, it.vals, it.rows, it.row = nil, nil, 0, 0
	it.src.buf = nil
	it.mem.free = nil
	it.done = true
	return it.err
}

// recycler hands the memory of a released batch to the next one. The IPC
// reader allocates a body (and, for compressed runs, one buffer per column)
// for every block; from the Go heap, that was a block's worth of garbage
// per block read, which the reducer's memory limit returned to the OS and
// faulted back in. A few buffers circulate instead. Like every Arrow
// allocator it returns zeroed memory.
type recycler struct {
	memory.Allocator
	free [][]byte
}

// maxFree bounds the buffers a recycler holds: a block's body and, when
// compressed, its four column buffers, with one spare.
const maxFree = 6

func (r *recycler) Allocate(size int) []byte {
	for i, b := range r.free {
		if cap(b) >= size {
			r.free[i] = r.free[len(r.free)-1]
			r.free = r.free[:len(r.free)-1]
			b = b[:size]
			clear(b)
			return b
		}
	}
	return r.Allocator.Allocate(size)
}

func (r *recycler) Free(b []byte) {
	if len(r.free) < maxFree && cap(b) > 0 {
		r.free = append(r.free, b)
	}
}
