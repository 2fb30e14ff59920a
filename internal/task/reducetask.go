package task

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"iter"
	"log/slog"
	"sync/atomic"

	"github.com/quern-dev/quern/exec"
	"github.com/quern-dev/quern/output"
	"github.com/quern-dev/quern/shuffle"
	"github.com/quern-dev/quern/spill"
)

// ReduceSpec is everything one reduce task attempt needs; it crosses the
// pipe to a worker as JSON.
type ReduceSpec struct {
	Job       string
	Params    map[string]string
	TaskID    string
	Attempt   int
	Partition int
	// Segments are this partition's segments of every committed run, in
	// map task order, so that equal keys reach Reduce in a stable order.
	Segments    []shuffle.Segment
	FanIn       int
	Compression string
	// TempDir holds intermediate runs of a multi-pass merge.
	TempDir string
	// Output is the attempt's private file; the driver commits it by rename.
	Output string
	// Format of the output file.
	Format output.Options
}

type ReduceResult struct {
	Counters Counters
	PeakRSS  int64 `json:"-"` // set by the driver from exec's report
	// Fetch is set, instead of an error, when a map run could not be read.
	Fetch *FetchFailure `json:",omitempty"`
}

func (s ReduceSpec) JobName() string { return s.Job }

// RunReduce runs one reduce task attempt of job: it merges the partition's
// segments of every map run, groups them by key, hands each group to the
// job's reducer, and leaves the reducer's output file in spec.Output for the
// driver to commit.
func RunReduce(ctx context.Context, job ByteJob, spec ReduceSpec, logger *slog.Logger) (res ReduceResult, err error) {
	comp, err := spill.ParseCompression(spec.Compression)
	if err != nil {
		return res, err
	}
	DropIdle() // the map phase is over
	tc := newTaskContext(ctx, spec.Job, spec.TaskID, spec.Attempt, spec.Params, logger)
	tc.dir = spec.TempDir
	faults, err := newFaultSite(spec.TaskID, spec.Attempt)
	if err != nil {
		return res, err
	}
	if err := faults.hit("reduce-start"); err != nil {
		return res, err
	}
	// A run that is missing or fails its checksum is the map side's loss,
	// not this task's: say which run, so the driver can map it again.
	defer func() { err = AsFetchFailure(err) }()
	// Progress, for the task timeout, counts units of work: records written
	// by intermediate merge passes, then values read. It moves wherever the
	// task spends its time, also inside one key with millions of values,
	// so that a timeout means stuck, never slow.
	var merged int64
	it, stats, err := shuffle.OpenPartition(spec.Segments, shuffle.MergeOptions{
		FanIn: spec.FanIn, TempDir: spec.TempDir, Compression: comp,
		Progress: func(n int64) {
			merged = n
			exec.Progress(ctx, merged, 0)
		},
	})
	if err != nil {
		return res, fmt.Errorf("partition %d: %w", spec.Partition, err)
	}
	if g, ok := job.(Grouping); ok {
		it = GroupKeys(it, g)
	}
	groups := shuffle.NewGrouper(it)
	defer func() {
		if cerr := groups.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("partition %d: %w", spec.Partition, cerr)
		}
	}()

	reducer, err := job.NewReducer(tc, spec.Output, spec.Format)
	if err != nil {
		return res, err
	}
	committed := false
	defer func() {
		if !committed {
			reducer.Abort()
		}
	}()

	// values is valid only during the Reduce call that received it; a
	// goroutine that kept it and ranges over it later would read another
	// key's values.
	var live atomic.Bool
	var current iter.Seq[[]byte]
	values := func(yield func([]byte) bool) {
		if !live.Load() {
			panic(fmt.Sprintf("mapreduce: job %s, task %s attempt %d: the values iterator used after Reduce returned (a goroutine kept it); it is valid only during the Reduce call that received it",
				spec.Job, spec.TaskID, spec.Attempt))
		}
		current(yield)
	}
	progress := func(n int64) { exec.Progress(ctx, merged+n, 0) }
	nGroups, nValues, err := CoGroup(ctx, []*shuffle.Grouper{groups}, progress, func(key []byte, vs []iter.Seq[[]byte]) error {
		if err := faults.hit("group"); err != nil {
			return err
		}
		current = vs[0]
		live.Store(true)
		err := reducer.Reduce(key, values)
		live.Store(false)
		if err != nil {
			return fmt.Errorf("reduce partition %d, key %q: %w", spec.Partition, key, err)
		}
		return nil
	})
	if err != nil {
		return res, err
	}
	if err := groups.Err(); err != nil {
		return res, fmt.Errorf("merge partition %d: %w", spec.Partition, err)
	}
	if err := reducer.Close(); err != nil {
		return res, err
	}
	if err := faults.hit("commit"); err != nil {
		return res, err
	}
	committed = true
	tc.counters[ReduceInputGroups] += nGroups
	tc.counters[ReduceInputRecords] += nValues
	tc.counters[ReduceOutputRecords] += reducer.Records()
	tc.counters[OutputBytes] += reducer.Bytes()
	tc.counters[MergePasses] += int64(stats.Passes)
	return ReduceResult{Counters: tc.counters}, nil
}

// CoGroup walks sorted streams of groups key by key together, a merge
// join: fn is called once per key present in any of them, in
// bytes.Compare order, with each stream's values of that key (an empty
// sequence for a stream without it). The key is valid until fn returns,
// each sequence only during the call. It checks ctx every checkEvery keys
// and calls progress with the values read so far every checkEvery keys
// and values, so that progress moves inside a key with millions of values.
// It returns the keys and values read. A reduce task walks one stream; a
// pipeline's CoGroup stage (package pipeline) walks one per input.
// The caller checks each stream's Err after.
func CoGroup(ctx context.Context, streams []*shuffle.Grouper, progress func(values int64), fn func(key []byte, values []iter.Seq[[]byte]) error) (keys, values int64, err error) {
	n := len(streams)
	has := make([]bool, n)
	for i, g := range streams {
		has[i] = g.NextGroup()
	}
	seqs := make([]iter.Seq[[]byte], n)
	counted := make([]iter.Seq[[]byte], n)
	for i, g := range streams {
		counted[i] = func(yield func([]byte) bool) {
			for b := range g.Values() {
				if values++; values%checkEvery == 0 {
					progress(values)
				}
				if !yield(b) {
					return
				}
			}
		}
	}
	matched := make([]bool, n)
	var key []byte
	for {
		// The stream with the least key, by index: an empty key is a key
		// like any other, so a nil key cannot mean "none left".
		first := -1
		for i, g := range streams {
			if has[i] && (first < 0 || bytes.Compare(g.Key(), streams[first].Key()) < 0) {
				first = i
			}
		}
		if first < 0 {
			return keys, values, nil
		}
		least := streams[first].Key()
		if keys%checkEvery == 0 {
			if err := ctx.Err(); err != nil {
				return keys, values, err
			}
			progress(values)
		}
		keys++
		if n > 1 {
			// The grouper that holds least moves on below.
			key = append(key[:0], least...)
		} else {
			key = least
		}
		for i, g := range streams {
			matched[i] = has[i] && (n == 1 || bytes.Equal(g.Key(), key))
			seqs[i] = noValues
			if matched[i] {
				seqs[i] = counted[i]
			}
		}
		if err := fn(key, seqs); err != nil {
			return keys, values, err
		}
		for i, g := range streams {
			if matched[i] {
				has[i] = g.NextGroup()
			}
		}
	}
}

// noValues is the values of a stream that lacks the key.
func noValues(func([]byte) bool) {}

// GroupKeys presents the composite keys of a sorted iterator (a secondary
// sort's) as their group keys, so that a shuffle.Grouper groups by key
// while values stay in the order of the whole keys. The Beam runner's
// sorts (beam/beamjob) group with it too.
func GroupKeys(it spill.Iterator, group Grouping) spill.Iterator {
	return &groupBy{Iterator: it, group: group}
}

// groupBy is GroupKeys' iterator. It returns its own KV rather than
// editing the merger's, which the merger may still compare.
type groupBy struct {
	spill.Iterator
	group Grouping
	kv    spill.KV
}

func (g *groupBy) Next() *spill.KV {
	kv := g.Iterator.Next()
	if kv == nil {
		return nil
	}
	g.kv = spill.KV{Key: g.group.GroupKey(kv.Key), Value: kv.Value}
	return &g.kv
}

// FetchFailure reports a map output run that a reducer could not read: it
// is missing, truncated or fails its checksum. The driver answers it by
// running the map task that wrote the run again, then retrying the reduce.
type FetchFailure struct {
	Run string // path of the run file
	Err string
}

func (e *FetchFailure) Error() string { return fmt.Sprintf("bad map output %s: %s", e.Run, e.Err) }

// AsFetchFailure turns an error about one of the map runs (a reduce
// task's, or the input runs of a pipeline's stage) into a *FetchFailure
// naming it. Errors of intermediate merge runs, which this task
// wrote itself, are not SegmentErrors and stay ordinary task errors.
func AsFetchFailure(err error) error {
	var se *shuffle.SegmentError
	if err == nil || !errors.As(err, &se) {
		return err
	}
	if errors.Is(err, spill.ErrChecksum) || errors.Is(err, spill.ErrCorrupt) || errors.Is(err, fs.ErrNotExist) {
		return &FetchFailure{Run: se.Segment.Path, Err: err.Error()}
	}
	return err
}
