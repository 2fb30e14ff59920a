package spill

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
)

// smallRun writes a run with several partitions and several blocks per
// partition, small enough to corrupt every byte of it.
func smallRun(t *testing.T, comp Compression) (path string, rs []rec) {
	return smallRunN(t, comp, 60)
}

func smallRunN(t *testing.T, comp Compression, n int) (path string, rs []rec) {
	t.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	rs = randRecs(rng, n, 3, 0)
	path, _ = writeRun(t, rs, Options{Partitions: 3, Compression: comp, BlockSize: 200})
	return path, rs
}

// readBytes reads a run held in memory; it must never panic.
func readBytes(t *testing.T, b []byte) ([]rec, error) {
	t.Helper()
	r, err := NewReader(bytes.NewReader(b), int64(len(b)), "mem")
	if err != nil {
		return nil, err
	}
	var out []rec
	for p := range r.Partitions() {
		it, err := r.Segment(p)
		if err != nil {
			return out, err
		}
		for kv := it.Next(); kv != nil; kv = it.Next() {
			out = append(out, rec{p, string(kv.Key), string(kv.Value)})
		}
		if err := it.Close(); err != nil {
			return out, err
		}
	}
	return out, nil
}

// TestCorruptBitFlip flips one bit in every byte of a run, in the blocks,
// the index and the footer: each flip must be caught as ErrChecksum or
// ErrCorrupt, never read back as data and never panic.
func TestCorruptBitFlip(t *testing.T) {
	for _, comp := range []Compression{NoCompression, ZstdCompression} {
		t.Run(comp.String(), func(t *testing.T) {
			path, _ := smallRun(t, comp)
			orig, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			r, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			r.Close()
			if len(r.blocks) < 6 {
				t.Fatalf("only %d blocks; the test wants several per segment", len(r.blocks))
			}
			indexOff := int64(len(orig)) - footerSize - int64(len(r.segs)*partitionEntrySize+len(r.blocks)*blockEntrySize)
			regions := map[string]int{}
			for i := range orig {
				if int64(i) < indexOff && i%3 != 0 {
					// Blocks are many and each costs a decode; a third of
					// their bytes, with rotating bits, keeps -race fast.
					continue
				}
				b := slices.Clone(orig)
				b[i] ^= 1 << (i % 8)
				_, err := readBytes(t, b)
				region := "block"
				switch {
				case int64(i) >= int64(len(orig))-footerSize:
					region = "footer"
				case int64(i) >= indexOff:
					region = "index"
				}
				regions[region]++
				if !errors.Is(err, ErrChecksum) && !errors.Is(err, ErrCorrupt) {
					t.Fatalf("flip in %s byte %d: err = %v, want ErrChecksum or ErrCorrupt", region, i, err)
				}
				if !strings.Contains(err.Error(), "mem") {
					t.Fatalf("error does not name the file: %v", err)
				}
				if region == "block" && !strings.Contains(err.Error(), "partition") {
					t.Fatalf("block error does not name the partition: %v", err)
				}
			}
			if regions["block"] == 0 || regions["index"] == 0 || regions["footer"] != footerSize {
				t.Fatalf("regions covered: %v", regions)
			}
		})
	}
}

// TestCorruptBlockChecksumNamed checks the error for a bad block names the
// file, partition and block, and that the pairs before it were served.
func TestCorruptBlockChecksumNamed(t *testing.T) {
	path, _ := smallRun(t, LZ4Compression)
	r, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	bh := r.blocks[r.segs[1].firstBlock+2]
	r.Close()
	b, _ := os.ReadFile(path)
	b[bh.offset+bh.length/2] ^= 0x10
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = readAll(t, path)
	if !errors.Is(err, ErrChecksum) {
		t.Fatalf("err = %v, want ErrChecksum", err)
	}
	for _, want := range []string{path, "partition 1", "block 2"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

// refreshChecksums recomputes every CRC in a run so that damage inside
// blocks reaches the Arrow decoder, as a buggy writer's output would.
func refreshChecksums(t *testing.T, b []byte) {
	t.Helper()
	ft := b[len(b)-footerSize:]
	idxOff := binary.LittleEndian.Uint64(ft[0:])
	idxLen := binary.LittleEndian.Uint64(ft[8:])
	p := binary.LittleEndian.Uint32(ft[24:])
	nb := binary.LittleEndian.Uint32(ft[28:])
	idx := b[idxOff : idxOff+idxLen]
	for i := range nb {
		e := idx[int(p)*partitionEntrySize+int(i)*blockEntrySize:]
		off, n := binary.LittleEndian.Uint64(e), binary.LittleEndian.Uint64(e[8:])
		binary.LittleEndian.PutUint32(e[16:], crc32.Checksum(b[off:off+n], crcTable))
	}
	binary.LittleEndian.PutUint32(ft[32:], crc32.Checksum(idx, crcTable))
	binary.LittleEndian.PutUint32(ft[44:], crc32.Checksum(ft[:44], crcTable))
}

// TestCorruptArrowNoPanic damages the bodies of record batch messages
// behind valid checksums, as a buggy writer might: the reader must return
// ErrCorrupt or data, never panic or exhaust memory (the iterator recovers
// Arrow's panics, and a capped allocator refuses absurd buffer lengths).
//
// Damage to a batch's flatbuffer metadata is not fuzzed: arrow-go sizes
// some slices by flatbuffer vector lengths without bounds, so such a file
// (impossible without a writer bug, since CRC-32C catches disk damage) may
// exhaust memory. The schema message is compared byte for byte instead, see
// TestCorruptSchemaMessage.
func TestCorruptArrowNoPanic(t *testing.T) {
	for _, comp := range []Compression{NoCompression, LZ4Compression, ZstdCompression} {
		t.Run(comp.String(), func(t *testing.T) {
			path, _ := smallRunN(t, comp, 30)
			orig, _ := os.ReadFile(path)
			r, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			r.Close()
			tried := 0
			for _, s := range r.segs {
				for bi := range s.blockCount {
					bh := r.blocks[s.firstBlock+bi]
					if bi == 0 {
						continue // schema
					}
					metaLen := int64(binary.LittleEndian.Uint32(orig[bh.offset+4:]))
					bodyEnd := bh.offset + bh.length
					if bi == s.blockCount-1 {
						bodyEnd -= int64(len(eosMarker))
					}
					for i := bh.offset + 8 + metaLen; i < bodyEnd; i++ {
						// Rotate through a low bit, a high bit (sign of
						// lengths and offsets) and a whole byte.
						mask := [...]byte{0x01, 0x80, 0xff}[i%3]
						b := slices.Clone(orig)
						b[i] ^= mask
						refreshChecksums(t, b)
						tried++
						if _, err := readBytes(t, b); err != nil && !errors.Is(err, ErrCorrupt) {
							t.Fatalf("byte %d ^ %#x: err = %v, want nil or ErrCorrupt", i, mask, err)
						}
					}
				}
			}
			if tried < 100 {
				t.Fatalf("only %d body bytes damaged", tried)
			}
		})
	}
}

func TestCorruptSchemaMessage(t *testing.T) {
	path, _ := smallRun(t, NoCompression)
	orig, _ := os.ReadFile(path)
	n := len(schemaMessage())
	for i := range n {
		b := slices.Clone(orig)
		b[i] ^= 0x04
		refreshChecksums(t, b)
		if _, err := readBytes(t, b); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "schema") {
			t.Fatalf("schema byte %d damaged: err = %v, want ErrCorrupt naming the schema", i, err)
		}
	}
}

func TestTruncated(t *testing.T) {
	path, _ := smallRun(t, ZstdCompression)
	orig, _ := os.ReadFile(path)
	for n := range len(orig) {
		_, err := readBytes(t, orig[:n])
		if !errors.Is(err, ErrCorrupt) {
			t.Fatalf("truncated to %d of %d bytes: err = %v, want ErrCorrupt", n, len(orig), err)
		}
	}
	// A run with its footer intact but a lying index offset is also corrupt
	// rather than out-of-range reads.
	if _, err := Open(filepath.Join(t.TempDir(), "missing")); err == nil || errors.Is(err, ErrCorrupt) {
		t.Fatalf("Open of a missing file: %v, want a not-exist error", err)
	}
}

func TestUnknownVersion(t *testing.T) {
	path, _ := smallRun(t, NoCompression)
	b, _ := os.ReadFile(path)
	ft := b[len(b)-footerSize:]
	binary.LittleEndian.PutUint32(ft[40:], uint32(formatVersionCurrent)+1)
	binary.LittleEndian.PutUint32(ft[44:], crc32.Checksum(ft[:44], crcTable))
	_, err := readBytes(t, b)
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "version") {
		t.Fatalf("err = %v, want ErrCorrupt naming the version", err)
	}
}

// TestWorkedExample pins the example drawn in format.go's doc comment.
func TestWorkedExample(t *testing.T) {
	path, info := writeRun(t, []rec{{0, "k", "v"}}, Options{Partitions: 1, Compression: NoCompression})
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if info.Bytes != 552 || info.PartitionBytes[0] != 424 {
		t.Fatalf("file %d bytes, segment %d; the doc comment says 552 and 424", info.Bytes, info.PartitionBytes[0])
	}
	want := "0000000000000000 a801000000000000 0100000000000000 0000000002000000" + // partition 0
		"0000000000000000 a000000000000000 80c940d7" + // block 0
		"a000000000000000 0801000000000000 7a84ab9a" + // block 1
		"a801000000000000 4800000000000000 1200000000000000" + // footer
		"0100000002000000 f0726f9600000000 010000000ae8d4d6 515545524e52554e"
	want = strings.ReplaceAll(want, " ", "")
	if got := hex.EncodeToString(b[424:]); got != want {
		t.Fatalf("index+footer:\n got %s\nwant %s", got, want)
	}
}

// eofReaderAt returns io.EOF along with a full read that ends at the end
// of the data, as io.ReaderAt allows.
type eofReaderAt struct{ b []byte }

func (r eofReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n := copy(p, r.b[off:])
	if off+int64(n) == int64(len(r.b)) {
		return n, io.EOF
	}
	return n, nil
}

var errInjected = errors.New("injected read error")

// failingReaderAt fails every read that touches the byte at failAt.
type failingReaderAt struct {
	b      []byte
	failAt int64
}

func (r failingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off <= r.failAt && r.failAt < off+int64(len(p)) {
		return 0, errInjected
	}
	return copy(p, r.b[off:]), nil
}

// TestAdversity reads runs through awkward readers: ReaderAt with EOF at
// the end, failing ReaderAt, and iotest readers between the verified blocks
// and the Arrow IPC decoder.
func TestAdversity(t *testing.T) {
	path, want := smallRun(t, ZstdCompression)
	orig, _ := os.ReadFile(path)

	readWith := func(ra io.ReaderAt, wrap func(io.Reader) io.Reader) ([]rec, error) {
		r, err := NewReader(ra, int64(len(orig)), "adverse")
		if err != nil {
			return nil, err
		}
		var out []rec
		for p := range r.Partitions() {
			it, err := r.Segment(p)
			if err != nil {
				return nil, err
			}
			it.(*segmentIter).wrap = wrap
			for kv := it.Next(); kv != nil; kv = it.Next() {
				out = append(out, rec{p, string(kv.Key), string(kv.Value)})
			}
			if err := it.Close(); err != nil {
				return out, err
			}
		}
		return out, r.Close()
	}

	wraps := map[string]func(io.Reader) io.Reader{
		"plain":   nil,
		"onebyte": iotest.OneByteReader,
		"half":    iotest.HalfReader,
		"dataerr": iotest.DataErrReader,
	}
	for name, wrap := range wraps {
		t.Run(name, func(t *testing.T) {
			got, err := readWith(eofReaderAt{orig}, wrap)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, want) {
				t.Fatalf("read %d records, want %d", len(got), len(want))
			}
		})
	}
	t.Run("readError", func(t *testing.T) {
		r, _ := Open(path)
		r.Close()
		failAt := r.blocks[r.segs[1].firstBlock+1].offset + 1
		got, err := readWith(failingReaderAt{orig, failAt}, nil)
		if !errors.Is(err, errInjected) {
			t.Fatalf("err = %v, want the injected read error", err)
		}
		if len(got) == 0 || len(got) >= len(want) || !slices.Equal(got, want[:len(got)]) {
			t.Fatalf("before the error: %d records, want a true prefix of %d", len(got), len(want))
		}
	})
}

func TestLargeValuesAndManyBlocks(t *testing.T) {
	big := bytes.Repeat([]byte("0123456789abcdef"), 3<<20/16) // 3 MiB
	rs := []rec{{0, "", ""}, {0, "a", string(big)}, {0, "b", "small"}, {1, "a", ""}, {1, "z", string(big[:1<<20+1])}}
	for i := range 3000 {
		rs = append(rs, rec{2, fmt.Sprintf("key%06d", i), fmt.Sprint(i)})
	}
	for _, comp := range []Compression{NoCompression, ZstdCompression} {
		t.Run(comp.String(), func(t *testing.T) {
			path, _ := writeRun(t, rs, Options{Partitions: 4, Compression: comp, BlockSize: 1 << 20})
			got, err := readAll(t, path)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, rs) {
				t.Fatal("round trip of large values differs")
			}
			r, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			// The 3 MiB value fills a block of its own: schema, big batch,
			// the batch after it.
			if n := r.segs[0].blockCount; n != 3 {
				t.Errorf("partition 0 has %d blocks, want 3", n)
			}
			if r.Records(3) != 0 || r.SegmentBytes(3) != 0 {
				t.Errorf("empty partition 3: %d records, %d bytes", r.Records(3), r.SegmentBytes(3))
			}
		})
	}
	// Many blocks: tiny blocks put roughly one record in each.
	path, _ := writeRun(t, rs[5:], Options{Partitions: 3, BlockSize: 16})
	r, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if n := r.segs[2].blockCount; n < 3000 {
		t.Fatalf("%d blocks for 3000 records with 16-byte blocks", n)
	}
	if got, err := readAll(t, path); err != nil || !slices.Equal(got, rs[5:]) {
		t.Fatalf("many-block round trip: err %v, %d records", err, len(got))
	}
}

func TestIteratorLifecycle(t *testing.T) {
	path, _ := writeRun(t, []rec{{0, "a", "1"}, {0, "b", "2"}, {1, "c", "3"}}, Options{Partitions: 2})
	r, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := r.Segment(2); err == nil {
		t.Fatal("Segment(2) of 2 partitions succeeded")
	}
	// Two iterators of one Reader interleave.
	a, _ := r.Segment(0)
	b, _ := r.Segment(1)
	if kv := a.Next(); kv == nil || string(kv.Key) != "a" {
		t.Fatalf("a: %v", kv)
	}
	if kv := b.Next(); kv == nil || string(kv.Key) != "c" || string(kv.Value) != "3" {
		t.Fatalf("b: %v", kv)
	}
	if kv := a.Next(); kv == nil || string(kv.Key) != "b" {
		t.Fatalf("a: %v", kv)
	}
	if kv := a.Next(); kv != nil || a.Error() != nil {
		t.Fatalf("a after end: %v, %v", kv, a.Error())
	}
	if a.Next() != nil {
		t.Fatal("Next after end returned a pair")
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if b.Next() != nil {
		t.Fatal("Next after Close returned a pair")
	}
}

func TestCreateOptions(t *testing.T) {
	dir := t.TempDir()
	for _, o := range []Options{{Partitions: 0}, {Partitions: 1, Compression: 9}, {Partitions: 1, BlockSize: -1}} {
		if _, err := Create(filepath.Join(dir, "x"), o); err == nil {
			t.Errorf("Create with %+v succeeded", o)
		}
	}
	w, err := Create(filepath.Join(dir, "x"), Options{Partitions: 2})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Add(2, nil, nil); err == nil {
		t.Error("Add to partition 2 of 2 succeeded")
	}
	w.Abort()
	if _, err := os.Stat(filepath.Join(dir, "x")); !os.IsNotExist(err) {
		t.Errorf("Abort left the file: %v", err)
	}
}

func TestParseCompression(t *testing.T) {
	for _, c := range []Compression{NoCompression, LZ4Compression, ZstdCompression} {
		got, err := ParseCompression(c.String())
		if err != nil || got != c {
			t.Errorf("ParseCompression(%q) = %v, %v", c.String(), got, err)
		}
	}
	if _, err := ParseCompression("snappy"); err == nil {
		t.Error("ParseCompression(snappy) succeeded")
	}
	if s := Compression(7).String(); s != "Compression(7)" {
		t.Errorf("Compression(7).String() = %q", s)
	}
}

// TestSegmentIsIPCStream reads each segment's byte range with Arrow's own
// stream reader, as pyarrow.ipc.open_stream would, without this package's
// block index.
func TestSegmentIsIPCStream(t *testing.T) {
	rs := []rec{{0, "a", "1"}, {0, "b", "2"}, {2, "c", "3"}, {3, "d", "4"}}
	for _, comp := range []Compression{NoCompression, LZ4Compression, ZstdCompression} {
		path, info := writeRun(t, rs, Options{Partitions: 4, Compression: comp, BlockSize: 1})
		b, _ := os.ReadFile(path)
		r, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		r.Close()
		var got []rec
		for p, s := range r.segs {
			if s.length == 0 {
				continue
			}
			ir, err := ipc.NewReader(bytes.NewReader(b[s.offset : s.offset+s.length]))
			if err != nil {
				t.Fatalf("%s partition %d: %v", comp, p, err)
			}
			for ir.Next() {
				rec := ir.RecordBatch()
				k, v := rec.Column(0).(*array.Binary), rec.Column(1).(*array.Binary)
				for i := range int(rec.NumRows()) {
					got = append(got, recOf(p, k.Value(i), v.Value(i)))
				}
			}
			if err := ir.Err(); err != nil {
				t.Fatalf("%s partition %d: %v", comp, p, err)
			}
			ir.Release()
		}
		if !slices.Equal(got, rs) || info.Records != int64(len(rs)) {
			t.Fatalf("%s: Arrow's stream reader saw %v, want %v", comp, got, rs)
		}
	}
}

func recOf(p int, k, v []byte) rec { return rec{p, string(k), string(v)} }
