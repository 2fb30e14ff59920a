package input

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// The row numbers of an Arrow IPC file's batches, from its metadata only.
//
// A split of batches [Start, End) numbers its rows from the count of rows
// in batches [0, Start). arrow-go's FileReader gives a batch only whole,
// body and all, so counting them that way reads every earlier batch: the
// last split of a file read nearly all of it, and an object store served
// two GETs per batch. The row count of a batch is in its message header,
// a few hundred bytes that the footer locates, so arrowBatchRows reads
// the footer and those headers only, once, when the file is planned
// (Split.FirstRow).
//
// The file, as the Arrow columnar format specifies it:
//
//	"ARROW1" 00 00 | stream: schema, dictionaries, batches | footer | int32 footer length | "ARROW1"
//
// The footer is a flatbuffer Footer table: field 3, recordBatches, a
// vector of Block structs of 24 bytes (int64 offset, int32
// metaDataLength, 4 bytes of padding, int64 bodyLength). At a block's
// offset is its encapsulated message: 0xFFFFFFFF, an int32 length, then
// a flatbuffer Message table (an old format has no 0xFFFFFFFF): field 1,
// header_type, is 3 for a RecordBatch; field 2, header, is the RecordBatch
// table, whose field 0 is the batch's length in rows (int64).

// errArrowMeta is wrapped by errors in an Arrow file's footer or headers.
var errArrowMeta = errors.New("corrupt Arrow file metadata")

// arrowBatchRows returns the row counts of the first n batches of the
// Arrow IPC file fh of size bytes (n < 0: of every batch).
func arrowBatchRows(fh io.ReaderAt, size int64, n int) ([]int64, error) {
	if n == 0 {
		return nil, nil
	}
	tail := make([]byte, 10)
	if size < int64(len(tail))+8 {
		return nil, fmt.Errorf("%w: %d bytes", errArrowMeta, size)
	}
	if _, err := fh.ReadAt(tail, size-10); err != nil {
		return nil, err
	}
	if !bytes.Equal(tail[4:], arrowMagic) {
		return nil, fmt.Errorf("%w: no ARROW1 at the end", errArrowMeta)
	}
	flen := int64(binary.LittleEndian.Uint32(tail))
	if flen <= 0 || flen > size-10-8 {
		return nil, fmt.Errorf("%w: footer length %d", errArrowMeta, flen)
	}
	footer := make([]byte, flen)
	if _, err := fh.ReadAt(footer, size-10-flen); err != nil {
		return nil, err
	}
	root, err := fbRoot(footer)
	if err != nil {
		return nil, err
	}
	start, count, err := root.vector(3)
	if err != nil {
		return nil, err
	}
	if n < 0 {
		n = count
	}
	if n > count || start+24*count > len(footer) {
		return nil, fmt.Errorf("%w: %d batches, %d wanted", errArrowMeta, count, n)
	}
	rows := make([]int64, n)
	for i := range n {
		b := footer[start+24*i:]
		off := int64(binary.LittleEndian.Uint64(b))
		metaLen := int64(int32(binary.LittleEndian.Uint32(b[8:])))
		if off < 0 || metaLen < 8 || off+metaLen > size || metaLen > 64<<20 {
			return nil, fmt.Errorf("%w: batch %d at %d, header %d bytes", errArrowMeta, i, off, metaLen)
		}
		meta := make([]byte, metaLen)
		if _, err := fh.ReadAt(meta, off); err != nil {
			return nil, err
		}
		k, err := batchLength(meta)
		if err != nil {
			return nil, fmt.Errorf("batch %d: %w", i, err)
		}
		rows[i] = k
	}
	return rows, nil
}

// batchLength returns the row count in an encapsulated RecordBatch
// message header.
func batchLength(meta []byte) (int64, error) {
	if binary.LittleEndian.Uint32(meta) == 0xFFFFFFFF {
		meta = meta[8:]
	} else {
		meta = meta[4:]
	}
	msg, err := fbRoot(meta)
	if err != nil {
		return 0, err
	}
	if kind, err := msg.uint8(1); err != nil || kind != 3 {
		return 0, fmt.Errorf("%w: message of type %d, not a record batch (%v)", errArrowMeta, kind, err)
	}
	batch, err := msg.table(2)
	if err != nil {
		return 0, err
	}
	return batch.int64(0)
}

// fbTable is a flatbuffer table: its position in buf. Every read is
// checked against buf's bounds, so that corrupt metadata is an error.
type fbTable struct {
	buf []byte
	pos int
}

func fbRoot(buf []byte) (fbTable, error) {
	p, err := fbU32(buf, 0)
	if err != nil {
		return fbTable{}, err
	}
	return fbTable{buf, p}, nil
}

func fbU32(buf []byte, at int) (int, error) {
	if at < 0 || at+4 > len(buf) {
		return 0, fmt.Errorf("%w: offset %d out of %d bytes", errArrowMeta, at, len(buf))
	}
	return int(binary.LittleEndian.Uint32(buf[at:])), nil
}

// field returns the position of field i, or 0 if the table lacks it.
func (t fbTable) field(i int) (int, error) {
	so, err := fbU32(t.buf, t.pos)
	if err != nil {
		return 0, err
	}
	vt := t.pos - int(int32(so))
	if vt < 0 || vt+4 > len(t.buf) {
		return 0, fmt.Errorf("%w: vtable at %d", errArrowMeta, vt)
	}
	vtLen := int(binary.LittleEndian.Uint16(t.buf[vt:]))
	at := 4 + 2*i
	if at+2 > vtLen || vt+at+2 > len(t.buf) {
		return 0, nil
	}
	fo := int(binary.LittleEndian.Uint16(t.buf[vt+at:]))
	if fo == 0 {
		return 0, nil
	}
	return t.pos + fo, nil
}

func (t fbTable) uint8(i int) (uint8, error) {
	p, err := t.field(i)
	if err != nil || p == 0 {
		return 0, err
	}
	if p >= len(t.buf) {
		return 0, fmt.Errorf("%w: field at %d", errArrowMeta, p)
	}
	return t.buf[p], nil
}

func (t fbTable) int64(i int) (int64, error) {
	p, err := t.field(i)
	if err != nil || p == 0 {
		return 0, err
	}
	if p+8 > len(t.buf) {
		return 0, fmt.Errorf("%w: field at %d", errArrowMeta, p)
	}
	return int64(binary.LittleEndian.Uint64(t.buf[p:])), nil
}

func (t fbTable) table(i int) (fbTable, error) {
	p, err := t.field(i)
	if err != nil {
		return fbTable{}, err
	}
	if p == 0 {
		return fbTable{}, fmt.Errorf("%w: no field %d", errArrowMeta, i)
	}
	o, err := fbU32(t.buf, p)
	if err != nil {
		return fbTable{}, err
	}
	return fbTable{t.buf, p + o}, nil
}

// vector returns where the elements of vector field i start, and how many
// there are.
func (t fbTable) vector(i int) (start, n int, err error) {
	p, err := t.field(i)
	if err != nil {
		return 0, 0, err
	}
	if p == 0 {
		return 0, 0, nil
	}
	o, err := fbU32(t.buf, p)
	if err != nil {
		return 0, 0, err
	}
	n, err = fbU32(t.buf, p+o)
	if err != nil {
		return 0, 0, err
	}
	return p + o + 4, n, nil
}
