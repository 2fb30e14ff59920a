package shuffle

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/quern-dev/quern/spill"
)

// DefaultFanIn is the number of runs merged at once when MergeOptions.FanIn
// is 0. Each open run costs a file descriptor and a decoded block (tens of
// KiB to a few MiB), so 64 keeps a reducer's memory modest while letting a
// single pass merge the runs of most jobs.
const DefaultFanIn = 64

// ErrFanIn reports a MergeOptions.FanIn below 2, with which a multi-pass
// merge could never finish.
var ErrFanIn = errors.New("shuffle: merge fan-in must be at least 2")

// Segment names one partition of one run file.
type Segment struct {
	Path      string
	Partition int
}

// SegmentError reports a failure to open, read or close one of the
// segments given to OpenPartition: the map output it names is missing or
// damaged, and a driver can match it with errors.As to run that map task
// again. Failures of intermediate runs, which OpenPartition writes itself,
// are not SegmentErrors. Err wraps spill's error, so errors.Is(err,
// spill.ErrChecksum) works through it.
type SegmentError struct {
	Op      string // "open", "read" or "close"
	Segment Segment
	Err     error
}

func (e *SegmentError) Error() string {
	return fmt.Sprintf("shuffle: %s run %s partition %d: %v", e.Op, e.Segment.Path, e.Segment.Partition, e.Err)
}

// Unwrap returns the underlying error.
func (e *SegmentError) Unwrap() error { return e.Err }

// MergeOptions control OpenPartition.
type MergeOptions struct {
	// FanIn is the maximum number of inputs merged at once; 0 means
	// DefaultFanIn. It must be at least 2.
	FanIn int
	// TempDir is where intermediate runs of a multi-pass merge go; ""
	// means os.TempDir(). OpenPartition makes a private directory inside
	// it and removes that directory when the returned iterator is closed.
	TempDir string
	// Compression compresses intermediate runs.
	Compression spill.Compression
	// Progress, if set, is called during the intermediate merge passes
	// with the number of records merged so far, every progressEvery
	// records: a pass over a large partition takes minutes, and a task
	// that reports nothing for that long looks stuck to a task timeout.
	Progress func(merged int64)
}

// progressEvery is how many records an intermediate merge pass writes
// between calls of MergeOptions.Progress.
const progressEvery = 4096

// MergeStats describes the work OpenPartition did before the final merge.
type MergeStats struct {
	// Passes is the number of merge passes that wrote intermediate runs;
	// 0 when all segments fit in the final merge.
	Passes int
	// IntermediateRuns is the number of intermediate run files written.
	IntermediateRuns int
	// IntermediateBytes is the total size of those files, as reported by
	// spill.
	IntermediateBytes int64
}

// mergeSource is one input of a merge: a segment of a caller's run, or the
// single partition of an intermediate run this package wrote.
type mergeSource struct {
	seg  Segment
	temp bool // an intermediate run: removed once merged
}

// wrap names the source in an error of operation op.
func (s mergeSource) wrap(op string, err error) error {
	if s.temp {
		return fmt.Errorf("shuffle: %s intermediate run %s: %w", op, s.seg.Path, err)
	}
	return &SegmentError{Op: op, Segment: s.seg, Err: err}
}

// OpenPartition opens the given segments, all of one partition, and returns
// one iterator over their records sorted by key. Equal keys come out in the
// order of segs. Errors name the run file and partition and wrap spill's
// errors, so errors.Is(err, spill.ErrChecksum) works.
//
// When there are more segments than opts.FanIn, OpenPartition first merges
// them in passes: consecutive groups (consecutive so that ties keep their
// order) are merged into intermediate single-partition runs until at most
// FanIn inputs remain. Each pass merges only as many inputs as needed to get
// there, so 65 runs with a fan-in of 64 cost one merge of 2 runs, not a
// rewrite of all of them. Intermediate runs are removed once merged, or
// when the returned iterator is closed. The final merge streams from the
// remaining inputs as the caller reads.
//
// The caller must Close the returned iterator.
func OpenPartition(segs []Segment, opts MergeOptions) (spill.Iterator, MergeStats, error) {
	var stats MergeStats
	fanIn := opts.FanIn
	if fanIn == 0 {
		fanIn = DefaultFanIn
	}
	if fanIn < 2 {
		return nil, stats, fmt.Errorf("%w (got %d)", ErrFanIn, fanIn)
	}
	srcs := make([]mergeSource, len(segs))
	for i, s := range segs {
		srcs[i] = mergeSource{seg: s}
	}

	var tmpDir string
	removeTmp := func() error {
		if tmpDir == "" {
			return nil
		}
		if err := os.RemoveAll(tmpDir); err != nil {
			return fmt.Errorf("shuffle: remove intermediate runs: %w", err)
		}
		return nil
	}

	var merged int64 // records written by intermediate passes, for opts.Progress
	for len(srcs) > fanIn {
		if tmpDir == "" {
			d, err := os.MkdirTemp(opts.TempDir, "quern-merge-")
			if err != nil {
				return nil, stats, fmt.Errorf("shuffle: intermediate run directory: %w", err)
			}
			tmpDir = d
		}
		stats.Passes++
		need := len(srcs) - fanIn // inputs to remove in this pass
		next := make([]mergeSource, 0, fanIn)
		for i := 0; i < len(srcs); {
			g := min(fanIn, need+1, len(srcs)-i)
			if g < 2 {
				next = append(next, srcs[i:]...)
				break
			}
			path := filepath.Join(tmpDir, fmt.Sprintf("pass%03d-run%05d.spill", stats.Passes, len(next)))
			n, err := mergeToRun(srcs[i:i+g], path, opts.Compression, &merged, opts.Progress)
			if err != nil {
				return nil, stats, errors.Join(err, removeTmp())
			}
			stats.IntermediateRuns++
			stats.IntermediateBytes += n
			next = append(next, mergeSource{seg: Segment{Path: path}, temp: true})
			need -= g - 1
			i += g
		}
		srcs = next
	}

	m, err := openMerge(srcs)
	if err != nil {
		return nil, stats, errors.Join(err, removeTmp())
	}
	readersClose := m.onClose
	m.onClose = func() error {
		return errors.Join(readersClose(), removeTmp())
	}
	return m, stats, nil
}

// openMerge opens every source and returns a merging iterator over them
// whose Close also closes the run readers.
func openMerge(srcs []mergeSource) (*mergingIter, error) {
	readers := make([]*spill.Reader, 0, len(srcs))
	iters := make([]spill.Iterator, 0, len(srcs))
	closeAll := func() error {
		var errs []error
		for i, it := range iters {
			if err := it.Close(); err != nil {
				errs = append(errs, srcs[i].wrap("close", err))
			}
		}
		for i, r := range readers {
			if err := r.Close(); err != nil {
				errs = append(errs, srcs[i].wrap("close", err))
			}
		}
		return errors.Join(errs...)
	}
	for _, s := range srcs {
		r, err := spill.Open(s.seg.Path)
		if err != nil {
			return nil, errors.Join(s.wrap("open", err), closeAll())
		}
		readers = append(readers, r)
		it, err := r.Segment(s.seg.Partition)
		if err != nil {
			return nil, errors.Join(s.wrap("open", err), closeAll())
		}
		iters = append(iters, it)
	}
	m := newMergingIter(iters, func(i int, op string, err error) error { return srcs[i].wrap(op, err) })
	m.onClose = func() error {
		var errs []error
		for i, r := range readers {
			if err := r.Close(); err != nil {
				errs = append(errs, srcs[i].wrap("close", err))
			}
		}
		return errors.Join(errs...)
	}
	return m, nil
}

// mergeToRun merges srcs into a new single-partition run at path, removes
// the intermediate runs among srcs, and returns the new run's size. It adds
// the records it writes to *merged, and calls progress (if not nil) with it
// every progressEvery records.
func mergeToRun(srcs []mergeSource, path string, comp spill.Compression, merged *int64, progress func(int64)) (int64, error) {
	m, err := openMerge(srcs)
	if err != nil {
		return 0, err
	}
	w, err := spill.Create(path, spill.Options{Partitions: 1, Compression: comp})
	if err != nil {
		return 0, errors.Join(fmt.Errorf("shuffle: create intermediate run %s: %w", path, err), m.Close())
	}
	for kv := m.Next(); kv != nil; kv = m.Next() {
		if err := w.Add(0, kv.Key, kv.Value); err != nil {
			w.Abort()
			return 0, errors.Join(fmt.Errorf("shuffle: write intermediate run %s: %w", path, err), m.Close())
		}
		if *merged++; progress != nil && *merged%progressEvery == 0 {
			progress(*merged)
		}
	}
	if err := m.Error(); err != nil {
		w.Abort()
		return 0, errors.Join(err, m.Close())
	}
	info, err := w.Close()
	if err != nil {
		return 0, errors.Join(fmt.Errorf("shuffle: finish intermediate run %s: %w", path, err), m.Close())
	}
	if err := m.Close(); err != nil {
		return 0, err
	}
	for _, s := range srcs {
		if s.temp {
			if err := os.Remove(s.seg.Path); err != nil {
				return 0, s.wrap("remove", err)
			}
		}
	}
	return info.Bytes, nil
}
