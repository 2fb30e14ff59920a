package mapreduce

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"sync/atomic"
	"unsafe"

	"github.com/quern-dev/quern/exec"
	"github.com/quern-dev/quern/output"
	"github.com/quern-dev/quern/shuffle"
	"github.com/quern-dev/quern/spill"
)

// reduceSpec is everything one reduce task attempt needs; it crosses the
// pipe to a worker as JSON.
type reduceSpec struct {
	Job       string
	Params    map[string]string
	TaskID    string
	Attempt   int
	Partition int
	// Segments are this partition's segments of every committed run, in
	// map task order, so that equal keys reach Reduce in a stable order.
	Segments []shuffle.Segment
	FanIn    int
	Codec    string
	// TempDir holds intermediate runs of a multi-pass merge.
	TempDir string
	// Output is the attempt's private file; the driver commits it by rename.
	Output string
	// Format of the output file.
	Format output.Options
}

type reduceResult struct {
	Counters Counters
	PeakRSS  int64 `json:"-"` // set by the driver from exec's report
	// Fetch is set, instead of an error, when a map run could not be read.
	Fetch *FetchFailure `json:",omitempty"`
}

func (s reduceSpec) jobName() string { return s.Job }

func (c *compiled[K, V, OK, OV]) runReduce(ctx context.Context, spec reduceSpec, logger *slog.Logger) (res reduceResult, err error) {
	codec, err := spill.ParseCodec(spec.Codec)
	if err != nil {
		return res, err
	}
	dropIdle() // the map phase is over
	tc := newTaskContext(ctx, spec.Job, spec.TaskID, spec.Attempt, spec.Params, logger)
	faults, err := newFaultSite(spec.TaskID, spec.Attempt)
	if err != nil {
		return res, err
	}
	if err := faults.hit("reduce-start"); err != nil {
		return res, err
	}
	// A run that is missing or fails its checksum is the map side's loss,
	// not this task's: say which run, so the driver can map it again.
	defer func() { err = asFetchFailure(err) }()
	it, stats, err := shuffle.OpenPartition(spec.Segments, shuffle.MergeOptions{
		FanIn: spec.FanIn, TempDir: spec.TempDir, Codec: codec,
	})
	if err != nil {
		return res, fmt.Errorf("partition %d: %w", spec.Partition, err)
	}
	if c.job.SortValues != nil {
		it = &groupByPrefix{Iterator: it}
	}
	groups := shuffle.NewGrouper(it)
	defer func() {
		if cerr := groups.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("partition %d: %w", spec.Partition, cerr)
		}
	}()

	w, err := output.Create[OK, OV](spec.Output, c.job.outputOptions(spec.Format))
	if err != nil {
		return res, err
	}
	committed := false
	defer func() {
		if !committed {
			w.Abort()
		}
	}()

	// emit and values are valid only during the Reduce call that received
	// them; a goroutine that kept one and uses it later would write or
	// read another key's data.
	var live atomic.Bool
	afterReturn := func(what string) {
		panic(fmt.Sprintf("mapreduce: job %s, task %s attempt %d: %s used after Reduce returned (a goroutine kept it); it is valid only during the Reduce call that received it",
			spec.Job, spec.TaskID, spec.Attempt, what))
	}
	var werr error
	emit := func(k OK, v OV) {
		if !live.Load() {
			afterReturn("emit")
		}
		if err := w.Write(k, v); err != nil && werr == nil {
			werr = fmt.Errorf("write output %s: %w", spec.Output, err)
		}
	}

	var nGroups, nValues int64
	var kbuf []byte
	// One iterator serves every group: it reads whichever group is
	// current, so building a closure per group (an allocation each, which
	// showed as a fifth of a sort's allocations) is not needed.
	var derr error
	decodeValue := bytesView(c.values)
	values := func(yield func(V) bool) {
		if !live.Load() {
			afterReturn("the values iterator")
		}
		for b := range groups.Values() {
			nValues++
			v, err := decodeValue(b)
			if err != nil {
				derr = fmt.Errorf("decode value of key %q: %w", groups.Key(), err)
				return
			}
			if !yield(v) {
				return
			}
		}
	}
	decodeKey := bytesView(c.keys)
	for groups.NextGroup() {
		if nGroups%checkEvery == 0 {
			if err := ctx.Err(); err != nil {
				return res, err
			}
			exec.Progress(ctx, nValues, 0)
		}
		nGroups++
		if err := faults.hit("group"); err != nil {
			return res, err
		}
		encoded := groups.Key()
		if c.job.SortValues != nil {
			kbuf = unescape(kbuf[:0], encoded)
			encoded = kbuf
		}
		key, err := decodeKey(encoded)
		if err != nil {
			return res, fmt.Errorf("partition %d: decode key %q: %w", spec.Partition, groups.Key(), err)
		}
		live.Store(true)
		err = c.job.Reduce(tc, key, values, emit)
		live.Store(false)
		if err != nil {
			return res, fmt.Errorf("reduce partition %d, key %q: %w", spec.Partition, groups.Key(), err)
		}
		if derr != nil {
			return res, fmt.Errorf("partition %d: %w", spec.Partition, derr)
		}
		if werr != nil {
			return res, werr
		}
	}
	if err := groups.Err(); err != nil {
		return res, fmt.Errorf("merge partition %d: %w", spec.Partition, err)
	}
	if err := w.Close(); err != nil {
		return res, fmt.Errorf("close output %s: %w", spec.Output, err)
	}
	if err := faults.hit("commit"); err != nil {
		return res, err
	}
	committed = true
	tc.counters[ReduceInputGroups] += nGroups
	tc.counters[ReduceInputRecords] += nValues
	tc.counters[ReduceOutputRecords] += w.Records()
	tc.counters[OutputBytes] += w.Bytes()
	tc.counters[MergePasses] += int64(stats.Passes)
	return reduceResult{Counters: tc.counters}, nil
}

// bytesView decodes reducer keys and values. A []byte key or value with the
// built-in codec is handed to Reduce as a view of the merge's buffer instead
// of a copy per record: sorting ten million records made ten million copies
// of their keys, and as many of their values (the largest item of a sort
// reducer's profile, BytesCodec.Decode, 1.57 s of CPU on 1 GiB). The views
// live as the Reduce contract in job.go says: a key until Reduce returns (the
// Grouper holds it in its own buffer), a value until the values iterator
// moves on (the merge reuses its block buffers). Named []byte types and
// custom codecs still decode copies.
func bytesView[T any](codec Codec[T]) func([]byte) (T, error) {
	if _, ok := any(codec).(BytesCodec); ok {
		return func(b []byte) (T, error) { return *(*T)(unsafe.Pointer(&b)), nil }
	}
	return codec.Decode
}

// groupByPrefix presents composite keys (secondary sort) as their group
// prefix, so that a Grouper groups by key while values stay in sort-field
// order.
// It returns its own KV rather than editing the merger's, which the merger
// may still compare.
type groupByPrefix struct {
	spill.Iterator
	kv spill.KV
}

func (g *groupByPrefix) Next() *spill.KV {
	kv := g.Iterator.Next()
	if kv == nil {
		return nil
	}
	g.kv = spill.KV{Key: groupPrefix(kv.Key), Value: kv.Value}
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

// asFetchFailure turns an error about one of the map runs into a
// *FetchFailure naming it. Errors of intermediate merge runs, which this task
// wrote itself, are not SegmentErrors and stay ordinary task errors.
func asFetchFailure(err error) error {
	var se *shuffle.SegmentError
	if err == nil || !errors.As(err, &se) {
		return err
	}
	if errors.Is(err, spill.ErrChecksum) || errors.Is(err, spill.ErrCorrupt) || errors.Is(err, fs.ErrNotExist) {
		return &FetchFailure{Run: se.Segment.Path, Err: err.Error()}
	}
	return err
}
