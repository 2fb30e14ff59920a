package input

import (
	"errors"
	"fmt"
	"strconv"
)

// ErrSplitSize is returned by [Plan] for a split size that is not positive.
var ErrSplitSize = errors.New("input: split size must be > 0")

// Split is the byte range [Start, End) of one file, the unit of work of one
// map task. A compressed file is always one split with Start = 0 and
// End = File.Size (the compressed size); its lines are all read whatever
// their uncompressed offsets.
type Split struct {
	// Index numbers the splits of a plan from 0, in file order then offset
	// order.
	Index int
	File  File
	// Start and End delimit the bytes of File whose lines (the lines that
	// start there) this split reads.
	Start, End int64
}

// String returns "path:[start,end)", the way errors name a split.
func (s Split) String() string {
	b := make([]byte, 0, len(s.File.Path)+24)
	b = append(b, s.File.Path...)
	b = append(b, ":["...)
	b = strconv.AppendInt(b, s.Start, 10)
	b = append(b, ',')
	b = strconv.AppendInt(b, s.End, 10)
	b = append(b, ')')
	return string(b)
}

// Len returns End - Start, the number of bytes the split stands for (the
// compressed size for a compressed file).
func (s Split) Len() int64 { return s.End - s.Start }

// Plan cuts files into splits of at most splitSize bytes, in the order of
// files, numbering them from 0. An empty file gives no split; a compressed
// file gives exactly one, whatever its size, because a compressed stream
// cannot be entered in the middle. The last split of a file may be shorter
// than splitSize.
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
		case f.Compression != None:
			n++
		default:
			n += int((f.Size-1)/splitSize + 1)
		}
	}
	splits := make([]Split, 0, n)
	for _, f := range files {
		if f.Size == 0 {
			continue
		}
		if f.Compression != None {
			splits = append(splits, Split{Index: len(splits), File: f, Start: 0, End: f.Size})
			continue
		}
		for start := int64(0); start < f.Size; {
			// Written so that start+splitSize cannot overflow.
			end := f.Size
			if f.Size-start > splitSize {
				end = start + splitSize
			}
			splits = append(splits, Split{Index: len(splits), File: f, Start: start, End: end})
			start = end
		}
	}
	return splits, nil
}
