package spill

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
)

// Run file format
//
// A run file holds one sorted run of a map task's output: a segment per
// partition, then an index of the segments and their blocks, then a
// fixed-size footer. All integers are little-endian. Offsets are absolute
// byte offsets from the start of the file.
//
//	+-----------+-----------+-----+---------------+-------+--------+
//	| segment 0 | segment 1 | ... | segment P-1   | index | footer |
//	+-----------+-----------+-----+---------------+-------+--------+
//
// Segment. Each segment is a complete, self-contained Arrow IPC stream
// (https://arrow.apache.org/docs/format/Columnar.html#ipc-streaming-format)
// with schema {key: binary, value: binary}, the records of one partition
// sorted by key (bytes.Compare, ties in emit order), and Arrow's own body
// compression (LZ4_FRAME or ZSTD, or none; DefaultCompression is LZ4, see compression.go
// for the measurement) in every record batch. An empty
// partition has an empty segment: length 0, no blocks, not even a schema.
//
// Block. A segment is cut into blocks along IPC message boundaries, so that
// a reader can verify a CRC before it decodes anything and hold one block in
// memory at a time:
//
//	block 0      the schema message
//	block 1..n-1 one record batch message each (~BlockSize uncompressed)
//	block n      the last record batch message followed by the 8-byte
//	             end-of-stream marker (ff ff ff ff 00 00 00 00)
//
// (With no record batches at all there is no segment, see above.) Blocks of
// a segment are contiguous: block 0 starts at the segment's offset and the
// lengths sum to the segment's length.
//
// Index. Two fixed-size tables, so that segment p is found without scanning:
//
//	partition table, P entries of 32 bytes:
//	  0  uint64  segment offset
//	  8  uint64  segment length in bytes
//	 16  uint64  record count
//	 24  uint32  first block (index into the block table)
//	 28  uint32  block count
//	block table, B entries of 20 bytes (all segments' blocks, in file order):
//	  0  uint64  block offset
//	  8  uint64  block length in bytes
//	 16  uint32  CRC-32C (Castagnoli) of the block's bytes
//
// Footer, 56 bytes at the very end of the file:
//
//	  0  uint64   index offset
//	  8  uint64   index length (= 32*P + 20*B)
//	 16  uint64   largest uncompressed record batch in bytes (keys, values
//	              and offsets); readers refuse any allocation beyond it, so a
//	              corrupt length inside Arrow data cannot exhaust memory
//	 24  uint32   partition count P (>= 1)
//	 28  uint32   block count B
//	 32  uint32   CRC-32C of the index bytes
//	 36  uint32   compression the writer used (0 none, 1 lz4, 2 zstd); informative,
//	              since every Arrow batch names its own compression
//	 40  uint32   format version (see formatVersion)
//	 44  uint32   CRC-32C of footer bytes [0, 44)
//	 48  [8]byte  magic "QUERNRUN"
//
// A reader checks, in order: size >= 56, magic, version, footer CRC, index
// bounds and length, index CRC, then every entry's bounds (segments inside
// [0, index offset), blocks contiguous within their segment).
//
// Worked example: one partition holding one record, key "k" and value "v",
// compression none, written by Create, Add and Close (TestWorkedExample pins it):
//
//	offset  len  what
//	     0  160  block 0: schema message: ff ff ff ff, int32 metadata
//	             length 152, flatbuffer Schema {key: binary, value: binary}
//	   160  264  block 1: record batch message: ff ff ff ff, int32 metadata
//	             length 216, flatbuffer RecordBatch (1 row), then a 32-byte
//	             body: key offsets 0,1 | "k" | value offsets 0,1 | "v",
//	             each padded to 8 bytes; then EOS ff ff ff ff 00 00 00 00
//	   424   72  index (below)
//	   496   56  footer (below)
//
// Index bytes (424..496):
//
//	00 00 00 00 00 00 00 00  partition 0 segment offset 0
//	a8 01 00 00 00 00 00 00  segment length 424
//	01 00 00 00 00 00 00 00  1 record
//	00 00 00 00 02 00 00 00  first block 0, 2 blocks
//	00 00 00 00 00 00 00 00  block 0 offset 0
//	a0 00 00 00 00 00 00 00  length 160
//	80 c9 40 d7              crc 0xd740c980
//	a0 00 00 00 00 00 00 00  block 1 offset 160
//	08 01 00 00 00 00 00 00  length 264
//	7a 84 ab 9a              crc 0x9aab847a
//
// Footer bytes (496..552):
//
//	a8 01 00 00 00 00 00 00  index offset 424
//	48 00 00 00 00 00 00 00  index length 72 = 32*1 + 20*2
//	12 00 00 00 00 00 00 00  largest batch 18 = 1 + 1 + 8 (two int32
//	                         offsets per record) + 8 (the extra offsets)
//	01 00 00 00 02 00 00 00  1 partition, 2 blocks
//	f0 72 6f 96 00 00 00 00  index crc 0x966f72f0, compression 0 (none)
//	01 00 00 00 0a e8 d4 d6  version 1, footer crc 0xd6d4e80a
//	51 55 45 52 4e 52 55 4e  "QUERNRUN"
//
// The file is 552 bytes; bytes [0, 424) are an Arrow IPC stream that
// pyarrow.ipc.open_stream reads as one batch with one row.

// formatVersion is the run file format version stored in the footer. Readers
// reject versions they do not know; new versions get a new constant and old
// ones stay readable.
type formatVersion uint32

const (
	// formatVersionInvalid is never written: a zeroed footer is not a run.
	formatVersionInvalid formatVersion = iota
	// formatVersionV1 is the first format: Arrow IPC stream segments cut
	// into CRC-32C-checked blocks, fixed-size partition and block tables,
	// a 56-byte footer.
	formatVersionV1

	formatVersionCurrent = formatVersionV1
)

const (
	footerSize         = 56
	partitionEntrySize = 32
	blockEntrySize     = 20
	magic              = "QUERNRUN"
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// eosMarker is Arrow IPC's end-of-stream marker: continuation token and a
// zero metadata length.
var eosMarker = [8]byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0}

// segmentHandle locates one partition's segment.
type segmentHandle struct {
	offset     int64
	length     int64
	records    int64
	firstBlock uint32
	blockCount uint32
}

// blockHandle locates one block and carries its checksum.
type blockHandle struct {
	offset int64
	length int64
	crc    uint32
}

type footer struct {
	indexOffset int64
	indexLength int64
	maxBatch    int64
	partitions  uint32
	blocks      uint32
	indexCRC    uint32
	compression uint32
	version     formatVersion
}

func (f *footer) encode(dst []byte) []byte {
	var b [footerSize]byte
	binary.LittleEndian.PutUint64(b[0:], uint64(f.indexOffset))
	binary.LittleEndian.PutUint64(b[8:], uint64(f.indexLength))
	binary.LittleEndian.PutUint64(b[16:], uint64(f.maxBatch))
	binary.LittleEndian.PutUint32(b[24:], f.partitions)
	binary.LittleEndian.PutUint32(b[28:], f.blocks)
	binary.LittleEndian.PutUint32(b[32:], f.indexCRC)
	binary.LittleEndian.PutUint32(b[36:], f.compression)
	binary.LittleEndian.PutUint32(b[40:], uint32(f.version))
	binary.LittleEndian.PutUint32(b[44:], crc32.Checksum(b[:44], crcTable))
	copy(b[48:], magic)
	return append(dst, b[:]...)
}

// decodeFooter parses and checks the last footerSize bytes of a file of the
// given size. It does not read the index.
func decodeFooter(name string, b []byte, size int64) (footer, error) {
	var f footer
	if string(b[48:56]) != magic {
		return f, fmt.Errorf("%w: %s: bad magic %q", ErrCorrupt, name, b[48:56])
	}
	f.version = formatVersion(binary.LittleEndian.Uint32(b[40:]))
	if f.version == formatVersionInvalid || f.version > formatVersionCurrent {
		return f, fmt.Errorf("%w: %s: unknown format version %d", ErrCorrupt, name, f.version)
	}
	if got, want := crc32.Checksum(b[:44], crcTable), binary.LittleEndian.Uint32(b[44:]); got != want {
		return f, fmt.Errorf("%w: %s: footer crc %08x, want %08x", ErrChecksum, name, got, want)
	}
	f.indexOffset = int64(binary.LittleEndian.Uint64(b[0:]))
	f.indexLength = int64(binary.LittleEndian.Uint64(b[8:]))
	f.maxBatch = int64(binary.LittleEndian.Uint64(b[16:]))
	f.partitions = binary.LittleEndian.Uint32(b[24:])
	f.blocks = binary.LittleEndian.Uint32(b[28:])
	f.indexCRC = binary.LittleEndian.Uint32(b[32:])
	f.compression = binary.LittleEndian.Uint32(b[36:])
	switch {
	case f.maxBatch < 0:
		return f, fmt.Errorf("%w: %s: negative batch size %d", ErrCorrupt, name, f.maxBatch)
	case f.partitions == 0:
		return f, fmt.Errorf("%w: %s: zero partitions", ErrCorrupt, name)
	case f.indexLength != int64(f.partitions)*partitionEntrySize+int64(f.blocks)*blockEntrySize:
		return f, fmt.Errorf("%w: %s: index length %d does not fit %d partitions and %d blocks",
			ErrCorrupt, name, f.indexLength, f.partitions, f.blocks)
	case f.indexOffset < 0 || f.indexLength < 0 || f.indexOffset+f.indexLength != size-footerSize:
		return f, fmt.Errorf("%w: %s: index at [%d, +%d) does not end at the footer (file size %d)",
			ErrCorrupt, name, f.indexOffset, f.indexLength, size)
	}
	return f, nil
}

// appendIndex encodes the partition table and then the block table.
func appendIndex(dst []byte, segs []segmentHandle, blocks []blockHandle) []byte {
	for _, s := range segs {
		dst = binary.LittleEndian.AppendUint64(dst, uint64(s.offset))
		dst = binary.LittleEndian.AppendUint64(dst, uint64(s.length))
		dst = binary.LittleEndian.AppendUint64(dst, uint64(s.records))
		dst = binary.LittleEndian.AppendUint32(dst, s.firstBlock)
		dst = binary.LittleEndian.AppendUint32(dst, s.blockCount)
	}
	for _, b := range blocks {
		dst = binary.LittleEndian.AppendUint64(dst, uint64(b.offset))
		dst = binary.LittleEndian.AppendUint64(dst, uint64(b.length))
		dst = binary.LittleEndian.AppendUint32(dst, b.crc)
	}
	return dst
}

// decodeIndex parses an index whose CRC has been checked and validates every
// offset against the file layout, so that readers can trust the handles.
func decodeIndex(name string, b []byte, f footer) ([]segmentHandle, []blockHandle, error) {
	segs := make([]segmentHandle, f.partitions)
	blocks := make([]blockHandle, f.blocks)
	for i := range segs {
		e := b[i*partitionEntrySize:]
		segs[i] = segmentHandle{
			offset:     int64(binary.LittleEndian.Uint64(e[0:])),
			length:     int64(binary.LittleEndian.Uint64(e[8:])),
			records:    int64(binary.LittleEndian.Uint64(e[16:])),
			firstBlock: binary.LittleEndian.Uint32(e[24:]),
			blockCount: binary.LittleEndian.Uint32(e[28:]),
		}
	}
	tb := b[len(segs)*partitionEntrySize:]
	for i := range blocks {
		e := tb[i*blockEntrySize:]
		blocks[i] = blockHandle{
			offset: int64(binary.LittleEndian.Uint64(e[0:])),
			length: int64(binary.LittleEndian.Uint64(e[8:])),
			crc:    binary.LittleEndian.Uint32(e[16:]),
		}
	}
	var end int64 // segments and blocks must appear in file order
	for p, s := range segs {
		bad := func(format string, args ...any) error {
			return fmt.Errorf("%w: %s: partition %d: %s", ErrCorrupt, name, p, fmt.Sprintf(format, args...))
		}
		if s.offset < end || s.length < 0 || s.records < 0 || s.offset > f.indexOffset || s.length > f.indexOffset-s.offset {
			return nil, nil, bad("segment [%d, +%d) outside [%d, %d)", s.offset, s.length, end, f.indexOffset)
		}
		if uint64(s.firstBlock)+uint64(s.blockCount) > uint64(len(blocks)) {
			return nil, nil, bad("blocks [%d, +%d) outside the %d-entry block table", s.firstBlock, s.blockCount, len(blocks))
		}
		if (s.length == 0) != (s.blockCount == 0) || (s.length == 0 && s.records != 0) {
			return nil, nil, bad("segment length %d with %d blocks and %d records", s.length, s.blockCount, s.records)
		}
		off := s.offset
		for bi := s.firstBlock; bi < s.firstBlock+s.blockCount; bi++ {
			bh := blocks[bi]
			if bh.offset != off || bh.length <= 0 || bh.length > s.offset+s.length-off {
				return nil, nil, bad("block %d at [%d, +%d) not contiguous in segment [%d, +%d)",
					bi-s.firstBlock, bh.offset, bh.length, s.offset, s.length)
			}
			off += bh.length
		}
		if off != s.offset+s.length {
			return nil, nil, bad("blocks cover %d of %d segment bytes", off-s.offset, s.length)
		}
		end = s.offset + s.length
	}
	return segs, blocks, nil
}
