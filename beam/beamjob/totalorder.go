package beamjob

import (
	"context"
	"errors"
	"fmt"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/quern-dev/quern/mapreduce"
	"github.com/quern-dev/quern/shuffle"
)

// Total order on Beam (grep, sort): Beam's own pattern, quantiles, then a
// range partition, then a local sort per partition.
//
//	launcher: sample keys as the local engine does (mapreduce.SampleRanges)
//	          -> Ranges-1 boundaries
//	  ParDo(map)          as for every job
//	  -> ParDo(range)     KV<range index, pair(key, value)>
//	  -> GroupByKey       one group per range
//	  -> ParDo(sort)      sort the range with bounded memory (sorter: Quern's
//	                      spill buffer, sorted runs on disk past SortBytes,
//	                      merged by shuffle.OpenPartition), group equal keys
//	                      and Reduce them in key order into one part file
//	                      named after the range
//
// The launcher commits part files in name order, which is range order, so
// the concatenated parts are in key order, as on the local engine. A range
// that received no key writes no part file. Values of one key come in the
// order Beam's GroupByKey gives them (the local engine gives map order);
// the bundled total-order jobs have one value per key, or equal values.

func init() {
	register.DoFn3x1[[]byte, []byte, func(int, []byte), error](&rangeFn{})
	register.Emitter2[int, []byte]()
	register.DoFn4x1[context.Context, int, func(*[]byte) bool, func(string), error](&sortRangeFn{})
}

// rangeFn sends each pair to its key's range.
type rangeFn struct {
	Job    string
	Splits [][]byte

	part  shuffle.RangePartitioner
	group mapreduce.Grouping // nil unless the job sorts values too
	arena arena
}

// Setup learns whether the job's keys carry a secondary sort field, which
// must not pick the range.
func (f *rangeFn) Setup() (err error) {
	f.part.Splits = f.Splits
	f.group, err = lookupGrouping(f.Job)
	return err
}

// ProcessElement routes one pair.
func (f *rangeFn) ProcessElement(key, value []byte, emit func(int, []byte)) error {
	rk := key
	if f.group != nil {
		rk = f.group.GroupKey(key)
	}
	r := f.part.Partition(rk, len(f.Splits)+1)
	emit(r, f.arena.pair(key, value))
	return nil
}

// sortRangeFn sorts one range with bounded memory and reduces it into a
// part file.
type sortRangeFn struct {
	reduceBase
	SortBytes int64
	// TempDir holds the spilled runs ("" = os.TempDir()).
	TempDir string
}

// StartBundle abandons the part file of a failed bundle.
func (f *sortRangeFn) StartBundle(_ context.Context, _ func(string)) error {
	f.abort()
	return nil
}

// ProcessElement sorts and reduces range r.
func (f *sortRangeFn) ProcessElement(ctx context.Context, r int, pairs func(*[]byte) bool, emit func(string)) (err error) {
	s := &sorter{limit: f.SortBytes, run: f.Run, tempDir: f.TempDir, what: fmt.Sprintf("range %d", r)}
	defer s.release()
	if err := s.addPairs(pairs); err != nil {
		return err
	}
	it, err := s.sorted()
	if err != nil {
		return err
	}
	if group, ok := f.job.(mapreduce.Grouping); ok {
		it = mapreduce.GroupKeys(it, group)
	}
	g := shuffle.NewGrouper(it)
	defer func() { err = errors.Join(err, g.Close()) }()
	// Range r's part sorts before range r+1's: the launcher commits
	// parts in name order.
	f.abort()
	if err := f.openNamed(ctx, fmt.Sprintf("part-r%06d-%s", r, randomName())); err != nil {
		return err
	}
	for g.NextGroup() {
		if err := f.reduce(ctx, g.Key(), g.Values()); err != nil {
			return err
		}
	}
	if err := g.Err(); err != nil {
		f.abort()
		return fmt.Errorf("beamjob: sort range %d: %w", r, err)
	}
	return f.finish(ctx, emit)
}

// translateTotalOrder adds the range partition and the per-range sort to a
// pipeline after the map step.
func translateTotalOrder(s beam.Scope, pairs beam.PCollection, job string, splits [][]byte, base reduceBase, sortBytes int64) beam.PCollection {
	ranged := beam.ParDo(s.Scope("range"), &rangeFn{Job: job, Splits: splits}, pairs)
	grouped := beam.GroupByKey(s.Scope("shuffle"), ranged)
	return beam.ParDo(s.Scope("sort"), &sortRangeFn{reduceBase: base, SortBytes: sortBytes}, grouped)
}
