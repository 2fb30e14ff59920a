package beamjob

import (
	"context"
	"fmt"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/quern-dev/quern/mapreduce"
)

// Secondary sort on Beam (reverselinks): each key's values sorted
// after the GroupByKey, with bounded memory, as the Java SDK's SortValues
// and Scio's sortValues do.
//
// A job with a secondary sort emits composite keys (mapreduce/secondary.go:
// the escaped key, a terminator, the value's sort field); GroupKey returns
// the leading part that decides the group.
//
//	  ParDo(map)            as for every job
//	  -> ParDo(group key)   KV<group key, pair(sort field, value)>
//	  -> GroupByKey         one group per key
//	  -> ParDo(sort values) sort the key's values by sort field (sorter: in
//	                        memory up to SortBytes, then sorted runs on disk
//	                        merged by shuffle.OpenPartition) and Reduce the
//	                        key with them, into the bundle's part file
//
// Values with equal sort fields come in the order Beam's GroupByKey gives
// them (the local engine gives map order). reverselinks' output does not
// depend on it: it sorts by the whole value.

func init() {
	register.DoFn3x1[[]byte, []byte, func([]byte, []byte), error](&groupKeyFn{})
	register.DoFn4x1[context.Context, []byte, func(*[]byte) bool, func(string), error](&sortValuesFn{})
}

// groupKeyFn keys each pair by its group key and moves the rest of the
// composite key, the sort field, into the value.
type groupKeyFn struct {
	Job string

	group mapreduce.Grouping
	arena arena
}

// Setup looks up the job's GroupKey.
func (f *groupKeyFn) Setup() (err error) {
	if f.group, err = lookupGrouping(f.Job); err == nil && f.group == nil {
		err = fmt.Errorf("beamjob: job %q has no secondary sort", f.Job)
	}
	return err
}

// ProcessElement re-keys one pair.
func (f *groupKeyFn) ProcessElement(key, value []byte, emit func([]byte, []byte)) error {
	gk := f.group.GroupKey(key)
	// key came from the map step's arena (immutable), so gk, a prefix of
	// it, may be emitted as it is.
	emit(gk, f.arena.pair(key[len(gk):], value))
	return nil
}

// sortValuesFn sorts each key's values and reduces the key.
type sortValuesFn struct {
	reduceBase
	SortBytes int64
	// TempDir holds the spilled runs ("" = os.TempDir()).
	TempDir string

	sort *sorter
}

// StartBundle abandons the part file of a failed bundle.
func (f *sortValuesFn) StartBundle(_ context.Context, _ func(string)) error {
	f.abort()
	return nil
}

// ProcessElement sorts one key's values and reduces them.
func (f *sortValuesFn) ProcessElement(ctx context.Context, key []byte, pairs func(*[]byte) bool, emit func(string)) error {
	if f.sort == nil {
		f.sort = &sorter{limit: f.SortBytes, run: f.Run, tempDir: f.TempDir, what: "values"}
	}
	s := f.sort
	defer s.reset()
	if err := s.addPairs(pairs); err != nil {
		return fmt.Errorf("beamjob: key %q: %w", key, err)
	}
	it, err := s.sorted()
	if err != nil {
		return fmt.Errorf("beamjob: key %q: %w", key, err)
	}
	defer it.Close()
	err = f.reduce(ctx, key, func(yield func([]byte) bool) {
		for kv := it.Next(); kv != nil; kv = it.Next() {
			if !yield(kv.Value) {
				return
			}
		}
	})
	if err != nil {
		return err
	}
	if err := it.Error(); err != nil {
		f.abort()
		return fmt.Errorf("beamjob: sort the values of key %q: %w", key, err)
	}
	return nil
}

// FinishBundle closes the part and emits its name.
func (f *sortValuesFn) FinishBundle(ctx context.Context, emit func(string)) error {
	return f.finish(ctx, emit)
}

// Teardown removes a failed bundle's part and drops the sort's memory.
func (f *sortValuesFn) Teardown() error {
	if f.sort != nil {
		f.sort.release()
	}
	return f.reduceBase.Teardown()
}

// translateSortValues adds the re-keying and the per-key sort to a
// pipeline after the map step.
func translateSortValues(s beam.Scope, pairs beam.PCollection, job string, base reduceBase, sortBytes int64) beam.PCollection {
	keyed := beam.ParDo(s.Scope("group key"), &groupKeyFn{Job: job}, pairs)
	grouped := beam.GroupByKey(s.Scope("shuffle"), keyed)
	return beam.ParDo(s.Scope("reduce"), &sortValuesFn{reduceBase: base, SortBytes: sortBytes}, grouped)
}
