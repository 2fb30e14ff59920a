package input

import (
	"errors"
	"fmt"
	"strconv"
)

// ErrSplitSize is returned by [Plan] for a split size that is not positive.
var ErrSplitSize = errors.New("input: split size must be > 0")

// Split is the unit of work of one map task: the byte range [Start, End) of
// a file in a line format, or a range of row groups (Parquet) or record
// batches (Arrow IPC file), as Unit says. A compressed file, and an Arrow
// IPC stream, is always one split with Unit Bytes, Start = 0 and
// End = File.Size (the size on disk); all its records are read whatever
// their uncompressed offsets.
type Split struct {
	// Index numbers the splits of a plan from 0, in file order then offset
	// order.
	Index int
	File  File
	// Start and End delimit, in units of Unit, the part of File whose
	// records this split reads: for Bytes the lines that start there, for
	// RowGroups and Batches the row groups or batches with index in
	// [Start, End).
	Start, End int64
	// Unit says what Start and End count. The zero value, Bytes, is right
	// for every line format.
	Unit Unit
	// Chunk, when set, is a file on local disk that holds bytes
	// [Start, End) of File's decompressed contents, whole lines, written
	// by [Spool]: the split reads its lines from there, and they keep
	// File's name and their offsets in the decompressed file.
	Chunk string `json:",omitempty"`
	// ChunkOffset, for a chunk cut after its first line (a map task gave
	// up the rest of it: Task.CutAt), is where in the Chunk file the
	// split's Start is; the split then starts at the first line that
	// starts there or after, as a split of a plain file does. 0: at the
	// chunk file's start, where Start is a line's.
	ChunkOffset int64 `json:",omitempty"`
	// FirstRow, for a split of Arrow batches, is the row number in File
	// of its first row, counted when the file was planned, so that the
	// split need not read the batches before it to number its rows. 0
	// with Start > 0: not counted (a split made by hand).
	FirstRow int64 `json:",omitempty"`
}

// String returns "path:[start,end)" for a byte range,
// "path:decompressed [start,end)" for a chunk of a compressed file (see
// [Spool]) and "path:row groups [start,end)" or "path:batches
// [start,end)" otherwise, the way errors name a split.
func (s Split) String() string {
	b := make([]byte, 0, len(s.File.Path)+36)
	b = append(b, s.File.Path...)
	b = append(b, ':')
	switch {
	case s.Chunk != "":
		b = append(b, "decompressed "...)
	case s.Unit != Bytes:
		b = append(b, s.Unit.String()...)
		b = append(b, ' ')
	}
	b = append(b, '[')
	b = strconv.AppendInt(b, s.Start, 10)
	b = append(b, ',')
	b = strconv.AppendInt(b, s.End, 10)
	b = append(b, ')')
	return string(b)
}

// Len returns End - Start, the number of units the split stands for: bytes
// (the compressed size for a compressed file), row groups or batches.
func (s Split) Len() int64 { return s.End - s.Start }

// Plan cuts files into splits of about splitSize bytes, in the order of
// files, numbering them from 0. An empty file gives no split.
//
// Line formats (Text, CSV, TSV, JSONL) are cut into byte ranges of
// splitSize bytes without reading them, but for the last split of a file,
// which holds the rest: at most splitSize plus a tenth (see [SplitSlop]),
// and possibly much shorter. A compressed file gives exactly one split, whatever its size,
// because a compressed stream cannot be entered in the middle; so does a
// file read whole (the WholeFile format), which must not be larger than
// WholeFileLimit if it is not compressed.
//
// Columnar files are opened to read their metadata. A Parquet file is cut
// into ranges of whole row groups, each holding about splitSize bytes of
// compressed row groups (at least one row group, so a row group larger
// than splitSize is a split of its own). An Arrow IPC file is cut into
// ranges of record batches, assuming the batches are of equal size (the
// footer does not say how big each is). An Arrow IPC stream, or a
// compressed Arrow file, is one split read as a stream. A compressed
// Parquet file is an error: Parquet compresses its pages itself, and its
// footer, at the end, cannot be reached without decompressing everything.
func Plan(files []File, splitSize int64) ([]Split, error) {
	if splitSize <= 0 {
		return nil, fmt.Errorf("%w (got %d)", ErrSplitSize, splitSize)
	}
	n := 0
	for _, f := range files {
		switch {
		case f.Size < 0:
			return nil, fmt.Errorf("input: plan %s: negative size %d", f.Path, f.Size)
		case f.Size == 0:
		case !f.splittable():
			n++ // at least; columnar files may add more
		default:
			n += int(byteSplits(f.Size, splitSize))
		}
	}
	splits := make([]Split, 0, n)
	for _, f := range files {
		if f.Size == 0 {
			continue
		}
		if f.Format.columnar() {
			var err error
			if splits, err = planColumnar(splits, f, splitSize); err != nil {
				return nil, err
			}
			continue
		}
		if !f.splittable() {
			if err := checkWholeFileSize(f); err != nil {
				return nil, err
			}
			splits = append(splits, Split{Index: len(splits), File: f, Start: 0, End: f.Size})
			continue
		}
		slop := splitSize / SplitSlop
		for start := int64(0); start < f.Size; {
			// Written so that start+splitSize cannot overflow.
			end := f.Size
			if rest := f.Size - start; rest > splitSize && rest-splitSize > slop {
				end = start + splitSize
			}
			splits = append(splits, Split{Index: len(splits), File: f, Start: start, End: end})
			start = end
		}
	}
	return splits, nil
}

// SplitSlop sets how much longer than the split size the last split of a
// file may be: a rest of at most splitSize + splitSize/SplitSlop bytes is
// one split, not a full split and a sliver. A sliver costs a map task
// (or, packed, a second open of the file and a partial line read twice)
// for almost no bytes. Hadoop's FileInputFormat does the same with
// SPLIT_SLOP = 1.1.
const SplitSlop = 10

// byteSplits is how many splits [Plan] cuts a plain file of size bytes
// into: full splits of splitSize while more than splitSize plus the slop
// remains, then one for the rest.
func byteSplits(size, splitSize int64) int64 {
	switch {
	case size <= 0:
		return 0
	case size <= splitSize || size-splitSize <= splitSize/SplitSlop:
		return 1
	}
	over := size - splitSize - splitSize/SplitSlop // what the last split cannot hold
	return (over-1)/splitSize + 2
}
