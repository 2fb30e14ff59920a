package pipeline

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"

	"github.com/quern-dev/quern/mapreduce"
	"github.com/quern-dev/quern/shuffle"
)

// This file holds the two unsorted file formats of state stages (state.go):
// exchange files, the pairs of a collection sent to one partition of a
// state stage in no order, and blob files, a state stage's per-partition
// state and the messages its partitions send each other between rounds.
// Both are local, written once by one task attempt and read by the tasks of
// the next step; both carry CRC-32C (Castagnoli) checksums, as spill runs
// do, so that a torn or corrupt file fails the reading task instead of
// feeding it wrong data.
//
// Exchange file (one per writing task and destination partition):
//
//	file    = "QXCH" u32-LE(version=1) block* end
//	block   = u32-LE(len(payload)) u32-LE(CRC-32C(payload)) payload     (len > 0)
//	payload = record*
//	record  = uvarint(len(key)) key uvarint(len(value)) value
//	end     = u32-LE(0xFFFFFFFF) u64-LE(number of records in the file)
//
// A reader that reaches the end of the file without the end marker, or
// whose record count differs from the marker's, reports the file as
// truncated.
//
// Blob file (a state or one message):
//
//	file = "QBLB" u32-LE(version=1) u64-LE(len(payload)) u32-LE(CRC-32C(payload)) u32(0) payload
//
// (the zero word puts the payload at offset 24, a multiple of 8).
//
// The payload's layout is the stage's business (the pagerank app documents
// its own next to its writer).

const (
	exchangeMagic   = "QXCH"
	blobMagic       = "QBLB"
	formatV1        = 1
	exchangeEnd     = 0xFFFFFFFF
	exchangeBlock   = 1 << 20 // payload bytes per block, at most (one record may exceed it)
	blobHeaderBytes = 4 + 4 + 8 + 4 + 4
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// exchangeWriter writes a collection consumed only by state stages: each
// pair is appended to the block of its key's partition (the partition of
// shuffle.HashPartitioner, as sorted runs use), with no sort; a block full
// or past the writer's share of the sort buffer goes to that partition's
// file.
type exchangeWriter struct {
	prefix  string
	parts   int
	budget  int64 // bytes of blocks held in memory, over all partitions
	held    int64
	blocks  [][]byte
	files   []*os.File
	bufs    []*bufio.Writer
	records []int64
	bytes   []int64
	rt      *taskAttempt
}

func newExchangeWriter(prefix string, parts int, budget int64, rt *taskAttempt) *exchangeWriter {
	return &exchangeWriter{prefix: prefix, parts: parts, budget: max(budget, 64<<10), rt: rt,
		blocks: make([][]byte, parts), files: make([]*os.File, parts), bufs: make([]*bufio.Writer, parts),
		records: make([]int64, parts), bytes: make([]int64, parts)}
}

func (w *exchangeWriter) add(key, value []byte) {
	p := shuffle.HashPartitioner{}.Partition(key, w.parts)
	b := w.blocks[p]
	before := len(b)
	b = binary.AppendUvarint(b, uint64(len(key)))
	b = append(b, key...)
	b = binary.AppendUvarint(b, uint64(len(value)))
	b = append(b, value...)
	w.blocks[p] = b
	w.records[p]++
	w.held += int64(len(b) - before)
	if len(b) >= exchangeBlock {
		w.flush(p)
	} else if w.held >= w.budget {
		for q := range w.parts {
			w.flush(q)
		}
	}
}

// flush writes partition p's block to its file, creating the file first.
func (w *exchangeWriter) flush(p int) {
	b := w.blocks[p]
	if len(b) == 0 || w.rt.err != nil {
		return
	}
	if w.files[p] == nil {
		f, err := os.Create(w.path(p))
		if err != nil {
			w.rt.fail(err)
			return
		}
		w.files[p], w.bufs[p] = f, bufio.NewWriterSize(f, 256<<10)
		w.bufs[p].WriteString(exchangeMagic)
		w.bufs[p].Write(binary.LittleEndian.AppendUint32(nil, formatV1))
		w.bytes[p] += 8
	}
	var head [8]byte
	binary.LittleEndian.PutUint32(head[:4], uint32(len(b)))
	binary.LittleEndian.PutUint32(head[4:], crc32.Checksum(b, castagnoli))
	w.bufs[p].Write(head[:])
	if _, err := w.bufs[p].Write(b); err != nil {
		w.rt.fail(fmt.Errorf("write %s: %w", w.path(p), err))
	}
	w.bytes[p] += int64(len(head) + len(b))
	w.held -= int64(len(b))
	w.blocks[p] = b[:0]
}

func (w *exchangeWriter) path(p int) string { return fmt.Sprintf("%s-to%05d.xch", w.prefix, p) }

// close ends every partition's file; each is one runFile whose records all
// belong to its partition.
func (w *exchangeWriter) close() ([]runFile, error) {
	var runs []runFile
	var total int64
	for p := range w.parts {
		w.flush(p)
		if w.files[p] == nil {
			continue
		}
		var end [12]byte
		binary.LittleEndian.PutUint32(end[:4], exchangeEnd)
		binary.LittleEndian.PutUint64(end[4:], uint64(w.records[p]))
		w.bufs[p].Write(end[:])
		w.bytes[p] += int64(len(end))
		err := w.bufs[p].Flush()
		if cerr := w.files[p].Close(); err == nil {
			err = cerr
		}
		w.files[p] = nil
		if err != nil {
			w.rt.fail(fmt.Errorf("write %s: %w", w.path(p), err))
			continue
		}
		r := runFile{Path: w.path(p), Records: w.records[p], Bytes: w.bytes[p], PartitionRecords: make([]int64, w.parts), PartitionBytes: make([]int64, w.parts)}
		r.PartitionRecords[p], r.PartitionBytes[p] = w.records[p], w.bytes[p]
		runs = append(runs, r)
		total += w.records[p]
	}
	w.rt.tc.Count(mapreduce.MapOutputRecords, total)
	countRuns(w.rt.tc, runs)
	return runs, w.rt.err
}

func (w *exchangeWriter) abort() {
	for p, f := range w.files {
		if f != nil {
			f.Close()
			w.files[p] = nil
		}
	}
}

// errTruncated reports an exchange file that ends before its end marker.
var errTruncated = errors.New("truncated (no end marker)")

// readExchange calls fn with each record of an exchange file, in the order
// they were written. key and value are valid only during the call.
func readExchange(path string, fn func(key, value []byte) error) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	// left bounds a block's length, so that a corrupt one fails as a
	// truncated file instead of allocating up to 4 GiB first.
	left := fi.Size() - 8
	r := bufio.NewReaderSize(f, 256<<10)
	var head [8]byte
	if _, err := io.ReadFull(r, head[:]); err != nil || string(head[:4]) != exchangeMagic {
		return fmt.Errorf("exchange file %s: bad header", path)
	}
	if v := binary.LittleEndian.Uint32(head[4:]); v != formatV1 {
		return fmt.Errorf("exchange file %s: format version %d, want %d", path, v, formatV1)
	}
	var block []byte
	var records uint64
	for {
		if _, err := io.ReadFull(r, head[:4]); err != nil {
			return fmt.Errorf("exchange file %s: %w", path, errTruncated)
		}
		n := binary.LittleEndian.Uint32(head[:4])
		if n == exchangeEnd {
			var count [8]byte
			if _, err := io.ReadFull(r, count[:]); err != nil {
				return fmt.Errorf("exchange file %s: %w", path, errTruncated)
			}
			if want := binary.LittleEndian.Uint64(count[:]); want != records {
				return fmt.Errorf("exchange file %s: %d records, its end marker says %d", path, records, want)
			}
			return nil
		}
		if left -= 8 + int64(n); left < 0 {
			return fmt.Errorf("exchange file %s: %w", path, errTruncated)
		}
		if _, err := io.ReadFull(r, head[4:]); err != nil {
			return fmt.Errorf("exchange file %s: %w", path, errTruncated)
		}
		if cap(block) < int(n) {
			block = make([]byte, n)
		}
		block = block[:n]
		if _, err := io.ReadFull(r, block); err != nil {
			return fmt.Errorf("exchange file %s: %w", path, errTruncated)
		}
		if crc32.Checksum(block, castagnoli) != binary.LittleEndian.Uint32(head[4:]) {
			return fmt.Errorf("exchange file %s: block checksum mismatch", path)
		}
		for b := block; len(b) > 0; records++ {
			var key, value []byte
			if key, b, err = cutField(b); err == nil {
				value, b, err = cutField(b)
			}
			if err != nil {
				return fmt.Errorf("exchange file %s: record %d: %w", path, records, err)
			}
			if err := fn(key, value); err != nil {
				return err
			}
		}
	}
}

// cutField splits a uvarint-length-prefixed field off b.
func cutField(b []byte) (field, rest []byte, err error) {
	n, w := binary.Uvarint(b)
	if w <= 0 || n > uint64(len(b)-w) {
		return nil, nil, errors.New("bad field length")
	}
	return b[w : w+int(n)], b[w+int(n):], nil
}

// writeBlob writes payload as a blob file.
func writeBlob(path string, payload []byte) (int64, error) {
	head := make([]byte, 0, blobHeaderBytes)
	head = append(head, blobMagic...)
	head = binary.LittleEndian.AppendUint32(head, formatV1)
	head = binary.LittleEndian.AppendUint64(head, uint64(len(payload)))
	head = binary.LittleEndian.AppendUint32(head, crc32.Checksum(payload, castagnoli))
	head = binary.LittleEndian.AppendUint32(head, 0)
	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	if _, err = f.Write(head); err == nil {
		_, err = f.Write(payload)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return 0, fmt.Errorf("write %s: %w", path, err)
	}
	return int64(len(head) + len(payload)), nil
}

// readBlob reads a blob file's payload, checking its length and checksum.
// The payload's first byte is 8-byte aligned (Go's allocator aligns large
// byte slices), so a stage may view it as an array of fixed-size numbers.
func readBlob(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(b) < blobHeaderBytes || !bytes.Equal(b[:4], []byte(blobMagic)) {
		return nil, fmt.Errorf("blob %s: bad header", path)
	}
	if v := binary.LittleEndian.Uint32(b[4:]); v != formatV1 {
		return nil, fmt.Errorf("blob %s: format version %d, want %d", path, v, formatV1)
	}
	n := binary.LittleEndian.Uint64(b[8:])
	if n != uint64(len(b)-blobHeaderBytes) {
		return nil, fmt.Errorf("blob %s: %d payload bytes, its header says %d (truncated?)", path, len(b)-blobHeaderBytes, n)
	}
	payload := b[blobHeaderBytes:]
	if crc32.Checksum(payload, castagnoli) != binary.LittleEndian.Uint32(b[16:]) {
		return nil, fmt.Errorf("blob %s: checksum mismatch", path)
	}
	return payload, nil
}
