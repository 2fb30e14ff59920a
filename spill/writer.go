package spill

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/quern-dev/quern/internal/pathfmt"
)

// DefaultBlockSize is the target uncompressed size of one record batch when
// Options.BlockSize is 0. A block is what a reader holds in memory per open
// segment, and what Arrow compresses in one go: 1 MiB keeps a 64-way merge
// under ~200 MiB of block buffers while amortising Arrow's per-batch costs
// (flatbuffer metadata, a fresh decompressor per batch) to noise.
const DefaultBlockSize = 1 << 20

// writeBufferSize is the bufio buffer in front of the file; large writes go
// straight through, small metadata writes are coalesced.
const writeBufferSize = 256 << 10

// schema is the Arrow schema of every segment.
var schema = arrow.NewSchema([]arrow.Field{
	{Name: "key", Type: arrow.BinaryTypes.Binary},
	{Name: "value", Type: arrow.BinaryTypes.Binary},
}, nil)

// Options configure a Writer.
type Options struct {
	// Partitions is the number of partitions (segments) in the file; it
	// must be at least 1.
	Partitions int
	// Compression is the Arrow body compression of the record batches.
	Compression Compression
	// BlockSize is the target uncompressed bytes per record batch (block);
	// 0 means DefaultBlockSize. A single record larger than BlockSize makes
	// a block of its own.
	BlockSize int
}

// Info describes a finished run file.
type Info struct {
	Path    string
	Records int64 // total records
	Bytes   int64 // file size
	// PartitionRecords holds the record count of each partition.
	PartitionRecords []int64
	// PartitionBytes holds the on-disk size of each partition's segment,
	// compressed and including Arrow framing; it is what a reducer reads.
	PartitionBytes []int64
}

// Writer writes one run file. Records must be added in non-decreasing
// (partition, key) order; a record out of order is refused with
// ErrOutOfOrder, after which every call fails, so that no file with a
// valid footer can hold out-of-order data. A Writer is not safe for
// concurrent use.
type Writer struct {
	path string
	opts Options
	f    *os.File
	bw   *bufio.Writer
	off  int64 // bytes written to bw so far
	err  error // sticky

	segs   []segmentHandle
	blocks []blockHandle

	// Current segment.
	part int         // partition being written, -1 before the first record
	ipcw *ipc.Writer // shared by all segments, made on the first batch
	// needSchema is set when a segment after the first starts: its stream
	// needs the schema message the shared IPC writer will not repeat.
	needSchema bool
	// The batch being filled, in Arrow's binary layout (offsets, data),
	// reused from batch to batch: flushBatch wraps it in Arrow arrays
	// without copying.
	keyOffs, valOffs []int32
	keyData, valData []byte
	batchLen         int // uncompressed bytes in keys+vals
	maxBatch         int // largest batchLen flushed, for the footer
	// lastKey is a copy of the segment's last flushed key, for the order
	// check of the next batch's first record; within a batch the previous
	// key is in keyData.
	lastKey []byte

	// Block being written: it started at blockOff and has a running CRC.
	inBlock  bool
	blockOff int64
	blockCRC uint32
}

// Create creates (or truncates) the file at path and returns a Writer for
// it. Callers that need atomicity write to a temporary name and rename.
func Create(path string, opts Options) (*Writer, error) {
	if opts.Partitions < 1 || int64(opts.Partitions) > 1<<31 {
		return nil, fmt.Errorf("spill: create %s: partitions %d out of range [1, 2^31]", path, opts.Partitions)
	}
	if !opts.Compression.valid() {
		return nil, fmt.Errorf("spill: create %s: unknown compression %d", path, opts.Compression)
	}
	if opts.BlockSize < 0 {
		return nil, fmt.Errorf("spill: create %s: negative block size %d", path, opts.BlockSize)
	}
	if opts.BlockSize == 0 {
		opts.BlockSize = DefaultBlockSize
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("spill: %w", err)
	}
	w := &Writer{
		path: path,
		opts: opts,
		f:    f,
		bw:   bufio.NewWriterSize(f, writeBufferSize),
		segs: make([]segmentHandle, 0, opts.Partitions),
		part: -1,
		// The first offset of each column is always 0.
		keyOffs: []int32{0},
		valOffs: []int32{0},
	}
	return w, nil
}

// Add appends one record. key and value are copied before Add returns.
func (w *Writer) Add(partition int, key, value []byte) error {
	if w.err != nil {
		return w.err
	}
	if partition < 0 || partition >= w.opts.Partitions {
		return w.fail(fmt.Errorf("spill: %s: partition %d out of range [0, %d)", w.path, partition, w.opts.Partitions))
	}
	if partition < w.part || (partition == w.part && bytes.Compare(key, w.prevKey()) < 0) {
		return w.fail(fmt.Errorf("%w: %s: partition %d key %q after partition %d key %q",
			ErrOutOfOrder, w.path, partition, key, w.part, w.prevKey()))
	}
	if partition != w.part {
		if err := w.finishSegment(); err != nil {
			return err
		}
		w.startSegments(partition)
	}
	if len(w.keyData)+len(key) > maxData || len(w.valData)+len(value) > maxData {
		return w.fail(fmt.Errorf("spill: %s: partition %d: record of %d bytes beyond a batch's 2 GiB", w.path, partition, len(key)+len(value)))
	}
	w.keyData = append(w.keyData, key...)
	w.keyOffs = append(w.keyOffs, int32(len(w.keyData)))
	w.valData = append(w.valData, value...)
	w.valOffs = append(w.valOffs, int32(len(w.valData)))
	w.segs[partition].records++
	// 8 bytes: the two int32 offsets Arrow stores per record.
	w.batchLen += len(key) + len(value) + 8
	if w.batchLen >= w.opts.BlockSize {
		return w.flushBatch()
	}
	return nil
}

// prevKey returns the key added last to the current segment.
func (w *Writer) prevKey() []byte {
	if n := len(w.keyOffs) - 1; n > 0 {
		return w.keyData[w.keyOffs[n-1]:w.keyOffs[n]]
	}
	return w.lastKey
}

func (w *Writer) fail(err error) error {
	if w.err == nil {
		w.err = err
	}
	return w.err
}

// startSegments records empty segments for partitions skipped since the last
// record and opens partition p's segment.
func (w *Writer) startSegments(p int) {
	for len(w.segs) <= p {
		w.segs = append(w.segs, segmentHandle{offset: w.off, firstBlock: uint32(len(w.blocks))})
	}
	w.part = p
	w.lastKey = w.lastKey[:0]
	// The first segment's schema message comes from the IPC writer itself;
	// later segments get the same bytes from blockWriter.
	w.needSchema = w.ipcw != nil
}

// newIPCWriter returns the one IPC writer that encodes every segment's
// batches. Sharing it across segments shares its compressor: a zstd encoder
// costs megabytes to set up, and a run may have hundreds of segments.
func (w *Writer) newIPCWriter() *ipc.Writer {
	opts := []ipc.Option{ipc.WithSchema(schema)}
	switch w.opts.Compression {
	case LZ4Compression:
		opts = append(opts, ipc.WithLZ4())
	case ZstdCompression:
		opts = append(opts, ipc.WithZstd())
	}
	return ipc.NewWriterWithPayloadWriter((*blockWriter)(w), opts...)
}

// flushBatch writes the batch's records as one record batch (one block).
func (w *Writer) flushBatch() error {
	n := len(w.keyOffs) - 1
	if n == 0 {
		return nil
	}
	w.lastKey = append(w.lastKey[:0], w.prevKey()...)
	rec := array.NewRecordBatch(schema, []arrow.Array{binaryArray(w.keyOffs, w.keyData), binaryArray(w.valOffs, w.valData)}, int64(n))
	// +8: one more offset per column than records.
	w.maxBatch = max(w.maxBatch, w.batchLen+8)
	if w.ipcw == nil {
		w.ipcw = w.newIPCWriter()
	}
	// The IPC writer is done with the batch's memory when Write returns:
	// it writes uncompressed bodies straight through and compresses into
	// buffers of its own.
	err := w.ipcw.Write(rec)
	for _, col := range rec.Columns() {
		col.Release()
	}
	rec.Release()
	w.keyOffs, w.valOffs = w.keyOffs[:1], w.valOffs[:1]
	w.keyData, w.valData = w.keyData[:0], w.valData[:0]
	w.batchLen = 0
	if err != nil {
		return w.fail(w.fileErr(fmt.Sprintf("partition %d", w.part), err))
	}
	return nil
}

// binaryArray wraps Arrow binary layout (offsets, data) in an array that
// shares the memory.
func binaryArray(offsets []int32, data []byte) *array.Binary {
	d := array.NewData(arrow.BinaryTypes.Binary, len(offsets)-1,
		[]*memory.Buffer{nil, memory.NewBufferBytes(arrow.Int32Traits.CastToBytes(offsets)), memory.NewBufferBytes(data)}, nil, 0, 0)
	defer d.Release()
	return array.NewBinaryData(d)
}

// finishSegment flushes the current segment and ends its IPC stream.
func (w *Writer) finishSegment() error {
	if w.part < 0 {
		return nil
	}
	if err := w.flushBatch(); err != nil {
		return err
	}
	// The shared IPC writer stays open; the end-of-stream marker that its
	// Close would write is written here, into the segment's last block.
	if _, err := (*blockWriter)(w).Write(eosMarker[:]); err != nil {
		return w.fail(w.fileErr(fmt.Sprintf("partition %d", w.part), err))
	}
	w.endBlock()
	s := &w.segs[w.part]
	s.length = w.off - s.offset
	s.blockCount = uint32(len(w.blocks)) - s.firstBlock
	return nil
}

// blockWriter is the Writer seen as an ipc.PayloadWriter: every IPC message
// starts a new block, and the end-of-stream marker joins the last one.
type blockWriter Writer

var _ ipc.PayloadWriter = (*blockWriter)(nil)

func (bw *blockWriter) Start() error { return nil }

func (bw *blockWriter) WritePayload(p ipc.Payload) error {
	w := (*Writer)(bw)
	if w.needSchema {
		// A new segment on the shared IPC writer, which wrote its schema
		// once: begin the segment's stream with the schema message.
		w.needSchema = false
		w.startBlock()
		if _, err := bw.Write(schemaMessage()); err != nil {
			return err
		}
	}
	w.startBlock()
	_, err := p.WritePayload(bw)
	return err
}

// Close does nothing: finishSegment writes each segment's end-of-stream
// marker, and the shared IPC writer is closed only to release it.
func (bw *blockWriter) Close() error { return nil }

func (w *Writer) startBlock() {
	w.endBlock()
	w.inBlock, w.blockOff, w.blockCRC = true, w.off, 0
}

// Write sends bytes of the current block to the file, updating its CRC.
func (bw *blockWriter) Write(p []byte) (int, error) {
	w := (*Writer)(bw)
	w.blockCRC = crc32.Update(w.blockCRC, crcTable, p)
	n, err := w.bw.Write(p)
	w.off += int64(n)
	return n, err
}

func (w *Writer) endBlock() {
	if w.inBlock && w.off > w.blockOff {
		w.blocks = append(w.blocks, blockHandle{offset: w.blockOff, length: w.off - w.blockOff, crc: w.blockCRC})
	}
	w.inBlock = false
}

// Close finishes the last segment, writes the index and footer and closes
// the file. On error it removes nothing: the caller owns the path (Abort
// removes it).
func (w *Writer) Close() (Info, error) {
	if w.f == nil {
		return Info{}, fmt.Errorf("spill: %s: writer already closed", w.path)
	}
	err := w.err
	if err == nil {
		err = w.finish()
	}
	w.releaseEncoder()
	if cerr := w.f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("spill: %w", cerr)
	}
	w.f = nil
	if err != nil {
		w.fail(err)
		return Info{}, err
	}
	info := Info{
		Path:             w.path,
		Bytes:            w.off,
		PartitionRecords: make([]int64, len(w.segs)),
		PartitionBytes:   make([]int64, len(w.segs)),
	}
	for i, s := range w.segs[:w.opts.Partitions] {
		info.Records += s.records
		info.PartitionRecords[i] = s.records
		info.PartitionBytes[i] = s.length
	}
	return info, nil
}

func (w *Writer) finish() error {
	if err := w.finishSegment(); err != nil {
		return err
	}
	for len(w.segs) < w.opts.Partitions {
		w.segs = append(w.segs, segmentHandle{offset: w.off, firstBlock: uint32(len(w.blocks))})
	}
	if len(w.blocks) > 1<<32-1 {
		return fmt.Errorf("spill: %s: %d blocks exceed the format's limit", w.path, len(w.blocks))
	}
	idx := appendIndex(make([]byte, 0, len(w.segs)*partitionEntrySize+len(w.blocks)*blockEntrySize+footerSize), w.segs, w.blocks)
	ft := footer{
		indexOffset: w.off,
		indexLength: int64(len(idx)),
		maxBatch:    int64(w.maxBatch),
		partitions:  uint32(len(w.segs)),
		blocks:      uint32(len(w.blocks)),
		indexCRC:    crc32.Checksum(idx, crcTable),
		compression: uint32(w.opts.Compression),
		version:     formatVersionCurrent,
	}
	buf := ft.encode(idx)
	n, err := w.bw.Write(buf)
	w.off += int64(n)
	if err == nil {
		err = w.bw.Flush()
	}
	if err != nil {
		return w.fileErr("", err)
	}
	return nil
}

// fileErr wraps err, met writing the file while doing what (if not
// ""), naming the file once: the system's errors ("write PATH: no space
// left on device") name it already, also inside Arrow's.
func (w *Writer) fileErr(what string, err error) error {
	prefix := "spill: " + w.path + ": "
	if pathfmt.Named(err, w.path) {
		prefix = "spill: "
	}
	if what != "" {
		prefix += what + ": "
	}
	return fmt.Errorf("%s%w", prefix, err)
}

// releaseEncoder lets go of the IPC writer and its compressor.
func (w *Writer) releaseEncoder() {
	if w.ipcw != nil {
		// The IPC writer has started (it is made on the first batch), so
		// Close writes nothing; it releases the encoder.
		_ = w.ipcw.Close()
		w.ipcw = nil
	}
}

// Abort closes the file and removes it. It is safe after Close and safe to
// call more than once.
func (w *Writer) Abort() {
	w.fail(errors.New("spill: writer aborted"))
	if w.f != nil {
		w.releaseEncoder()
		_ = w.f.Close()
		w.f = nil
	}
	_ = os.Remove(w.path)
}

// WriteBuffer writes the sorted records of b to a new run file at path.
// b must have been sorted with Sort; an unsorted buffer yields
// ErrOutOfOrder (unless its records happen to be in order already), and the
// partial file is removed.
func WriteBuffer(path string, b *Buffer, opts Options) (Info, error) {
	w, err := Create(path, opts)
	if err != nil {
		return Info{}, err
	}
	for i := 0; i < b.Len(); i++ {
		p, k, v := b.At(i)
		if err := w.Add(p, k, v); err != nil {
			w.Abort()
			return Info{}, err
		}
	}
	info, err := w.Close()
	if err != nil {
		w.Abort()
		return Info{}, err
	}
	return info, nil
}

var _ io.Writer = (*blockWriter)(nil)
