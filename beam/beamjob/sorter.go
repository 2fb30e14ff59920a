package beamjob

import (
	"encoding/binary"
	"fmt"
	"path/filepath"
	"sync/atomic"

	"github.com/quern-dev/quern/beam/internal/scratch"
	"github.com/quern-dev/quern/shuffle"
	"github.com/quern-dev/quern/spill"
)

// DefaultSortBytes is the memory a sort (one key range of a total-order
// job, one key's values of a job with a secondary sort) fills before it
// spills a sorted run to disk.
const DefaultSortBytes = 64 << 20

// sorter sorts pairs by key with bounded memory, with Quern's own spill
// and merge code, as Beam's Java SDK sorts with BufferedExternalSorter:
// pairs collect in a spill.Buffer; when it holds limit bytes it is sorted
// and written as a run file (spill.WriteBuffer) in a private directory
// under tempDir, made on the first spill; Sorted merges the runs
// (shuffle.OpenPartition). A sort that fits in memory writes no file and
// is read straight from the buffer. Equal keys come out in the order they
// were added, as on the local engine.
//
// A sorter is reused for one sort after another (reset keeps the buffer's
// arrays), so sorting many small groups allocates little.
type sorter struct {
	limit   int64
	run     string // the job run's id, for scratch
	tempDir string // "" = os.TempDir()
	what    string // names the sort in errors: "range 3", "values"

	buf  spill.Buffer
	dir  string
	runs []shuffle.Segment
}

// add adds one pair; key and value are copied.
func (s *sorter) add(key, value []byte) error {
	if !s.buf.Add(0, key, value) { // the buffer's 2 GiB arrays are full
		if err := s.spill(); err != nil {
			return err
		}
		if !s.buf.Add(0, key, value) {
			return fmt.Errorf("beamjob: sort %s: record of %d bytes too large", s.what, len(key)+len(value))
		}
	}
	if int64(s.buf.Bytes()) >= s.limit {
		return s.spill()
	}
	return nil
}

// addPairs adds every pair of a GroupByKey's values, each packed by
// appendPair.
func (s *sorter) addPairs(pairs func(*[]byte) bool) error {
	var p []byte
	for pairs(&p) {
		k, v, err := splitPair(p)
		if err != nil {
			return err
		}
		if err := s.add(k, v); err != nil {
			return err
		}
	}
	return nil
}

// spill writes the buffer as a sorted run and empties it.
func (s *sorter) spill() error {
	if s.dir == "" {
		dir, err := scratch.MkdirTemp(s.run, s.tempDir, "quern-beam-sort-")
		if err != nil {
			return fmt.Errorf("beamjob: sort %s: %w", s.what, err)
		}
		s.dir = dir
	}
	s.buf.Sort()
	path := filepath.Join(s.dir, fmt.Sprintf("run-%05d", len(s.runs)))
	if _, err := spill.WriteBuffer(path, &s.buf, spill.Options{Partitions: 1, Compression: spill.DefaultCompression}); err != nil {
		return fmt.Errorf("beamjob: sort %s: %w", s.what, err)
	}
	s.runs = append(s.runs, shuffle.Segment{Path: path})
	s.buf.Reset()
	if hook := spilledHook.Load(); hook != nil {
		(*hook)()
	}
	return nil
}

// spilledHook, when a test sets it, is called after every run a sorter
// spills.
var spilledHook atomic.Pointer[func()]

// sorted returns the pairs added since the last reset in key order. The
// iterator must be closed before reset.
func (s *sorter) sorted() (spill.Iterator, error) {
	if len(s.runs) == 0 {
		s.buf.Sort()
		return &bufferIter{buf: &s.buf}, nil
	}
	if s.buf.Len() > 0 {
		if err := s.spill(); err != nil {
			return nil, err
		}
	}
	it, _, err := shuffle.OpenPartition(s.runs, shuffle.MergeOptions{TempDir: s.dir, Compression: spill.DefaultCompression})
	if err != nil {
		return nil, fmt.Errorf("beamjob: sort %s: %w", s.what, err)
	}
	return it, nil
}

// reset forgets the pairs and removes the runs, keeping the buffer's
// arrays (at most limit bytes of them) for the next sort.
func (s *sorter) reset() {
	s.buf.Reset()
	if s.dir != "" {
		scratch.Remove(s.run, s.dir)
		s.dir = ""
	}
	s.runs = s.runs[:0]
}

// release drops the buffer's memory and removes the runs.
func (s *sorter) release() {
	s.reset()
	s.buf.Release()
}

// bufferIter reads a sorted spill.Buffer as a spill.Iterator.
type bufferIter struct {
	buf *spill.Buffer
	i   int
	kv  spill.KV
}

func (it *bufferIter) Next() *spill.KV {
	if it.i >= it.buf.Len() {
		return nil
	}
	_, it.kv.Key, it.kv.Value = it.buf.At(it.i)
	it.i++
	return &it.kv
}

func (it *bufferIter) Error() error { return nil }
func (it *bufferIter) Close() error { return nil }

// appendPair packs a key and a value into one element for a GroupByKey
// whose key is something else (a range, a group key): uvarint(len key),
// key, value.
func appendPair(dst, key, value []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(key)))
	dst = append(dst, key...)
	return append(dst, value...)
}

// splitPair undoes appendPair; the slices alias b.
func splitPair(b []byte) (key, value []byte, err error) {
	n, w := binary.Uvarint(b)
	if w <= 0 || uint64(len(b)-w) < n {
		return nil, nil, fmt.Errorf("beamjob: corrupt pair of %d bytes", len(b))
	}
	return b[w : w+int(n)], b[w+int(n):], nil
}
