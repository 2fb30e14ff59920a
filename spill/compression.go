// Package spill holds the map side's sort buffer and the on-disk run file
// format that the shuffle reads.
//
// A map task appends emitted pairs to a [Buffer], sorts it by (partition,
// key) when it reaches its memory budget and writes it out with
// [WriteBuffer] (or a [Writer] fed in order) as one run file. A reduce task
// opens every run with [Open] and streams its partition with
// [Reader.Segment]. Each partition's segment is an ordinary Arrow IPC stream,
// so tools outside Go (pyarrow) can read it; the layout is described beside
// the writer in format.go and in docs/run-format.md.
//
// spill knows nothing of processes, partitioners or jobs: partitions are
// small integers and keys and values are opaque bytes ordered by
// bytes.Compare.
package spill

import (
	"errors"
	"fmt"
)

// Errors returned by this package. They are wrapped with the file, partition
// and block they concern; match them with errors.Is.
var (
	// ErrChecksum reports that a block, the index or the footer does not
	// match its CRC-32C: the bytes on disk are not the bytes written.
	ErrChecksum = errors.New("spill: checksum mismatch")
	// ErrCorrupt reports a run file that cannot have been written by this
	// package: bad magic, unknown version, truncation, impossible offsets or
	// Arrow data that does not decode.
	ErrCorrupt = errors.New("spill: corrupt run file")
	// ErrOutOfOrder reports a record given to a Writer that sorts before its
	// predecessor by (partition, key).
	ErrOutOfOrder = errors.New("spill: records out of order")
)

// Compression is the body compression of a run file's Arrow record
// batches. It maps onto Arrow IPC's own body compression, so any Arrow
// implementation can decode it. (Keys and values are encoded by codecs,
// which are the mapreduce package's; a spill run compresses the bytes
// they made.)
type Compression uint8

const (
	// NoCompression stores Arrow buffers uncompressed.
	NoCompression Compression = iota
	// LZ4Compression compresses Arrow buffers with LZ4 frames (ipc.WithLZ4).
	LZ4Compression
	// ZstdCompression compresses Arrow buffers with Zstandard (ipc.WithZstd).
	ZstdCompression

	numCompressions
)

// DefaultCompression is this package's choice, LZ4, for a caller that
// wants it (Beam's sorter). Options' zero value compresses nothing
// (NoCompression is 0), and the local engine's jobs choose none too
// (driver.DefaultSpillCompression, measured on whole jobs).
//
// Measured with BenchmarkWrite and BenchmarkRead (1M text-like records,
// Zipf-distributed words as keys and line numbers as values, 11 MB of keys
// and values, 8 partitions, 1 MiB blocks) on the 2-core build machine, as
// CPU time per run (user+sys; the machine was shared, so wall-clock MB/s
// swung by 3x between runs while CPU time held steady):
//
//	comp.  write CPU  read CPU  file bytes  bytes / raw key+value bytes
//	none   309 ms      40 ms    19.6 MB     1.75
//	lz4    360 ms      41 ms    13.0 MB     1.17
//	zstd   405 ms     117 ms    10.5 MB     0.94
//
// LZ4 cuts the bytes on disk by a third for 17% more write CPU and no
// measurable read cost. zstd saves another 2.5 MB per 11 MB, which a disk
// sustaining ~350 MB/s writes and reads back in ~14 ms, but spends ~120 ms
// more CPU doing it, mostly in arrow-go building a new zstd decoder for
// every record batch. On a machine where the map workers already use every
// core, LZ4 is the better trade; choose zstd when disk space is short.
var DefaultCompression = LZ4Compression

var compressionNames = [numCompressions]string{
	NoCompression:   "none",
	LZ4Compression:  "lz4",
	ZstdCompression: "zstd",
}

// ParseCompression returns the compression named s: "none", "lz4" or "zstd".
func ParseCompression(s string) (Compression, error) {
	for c, name := range compressionNames {
		if s == name {
			return Compression(c), nil
		}
	}
	return 0, fmt.Errorf("spill: unknown compression %q (want none, lz4 or zstd)", s)
}

// String returns the compression's name as ParseCompression accepts it.
func (c Compression) String() string {
	if c < numCompressions {
		return compressionNames[c]
	}
	return fmt.Sprintf("Compression(%d)", uint8(c))
}

func (c Compression) valid() bool { return c < numCompressions }
