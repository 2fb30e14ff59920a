package task

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"maps"

	"github.com/quern-dev/quern/input"
	"github.com/quern-dev/quern/output"
	"github.com/quern-dev/quern/shuffle"
)

// The byte-level job interface.
//
// The task layer (maptask.go, reducetask.go) reads a map task's splits,
// partitions and sorts its pairs, spills them, merges a partition's runs,
// groups them by key and commits the output file. It knows a job only as a
// ByteJob: records in, encoded pairs out on the map side; an encoded key and
// its encoded values in, an output file out on the reduce side. Keys compare
// with bytes.Compare. A typed Job[K, V, OK, OV] is adapted to it by
// mapreduce.Register (mapreduce/adapter.go); a job whose map and reduce are not Go functions (a Streaming
// job that pipes records through a Python program) implements it directly
// and is registered with RegisterByteJob. Other engines run the same
// interface: the Apache Beam runner in beam/ looks jobs up with
// LookupByteJob.
//
// A mapper and a reducer live for one task attempt, so that a job may hold
// a process, a connection or a table across its records and hand over what
// it buffered when its input ends (Close).

// ByteJob is a job seen through encoded keys and values.
type ByteJob interface {
	// Info describes the job; Info().Name is its registered name.
	Info() JobInfo
	// NewMapper starts the map side of one task attempt, whose pairs go
	// to out. The task layer calls Map for every record of the task's
	// splits, in order, then Close; or Abort if the attempt fails first.
	NewMapper(tc *TaskContext, out MapOutput) (Mapper, error)
	// NewReducer starts the reduce side of one partition's attempt, which
	// writes the file at path in the format opts names (the job adds its
	// column names and types). The task layer calls Reduce for every key
	// of the partition in key order, then Close; or Abort if the attempt
	// fails first.
	NewReducer(tc *TaskContext, path string, opts output.Options) (Reducer, error)
}

// Mapper runs a job's map function over one task's records.
type Mapper interface {
	// Map maps one record. The record's slices are valid only during the
	// call.
	Map(rec Record) error
	// Close ends the input: a mapper that holds pairs back (a combining
	// table, a child process's unread output) emits them now. An error
	// fails the attempt.
	Close() error
	// Abort releases the mapper of an attempt that failed; it emits
	// nothing more.
	Abort()
}

// MapOutput takes a map task's pairs into its sort buffer. Its methods are
// only ever called on the task's goroutine (the one calling Map and Close).
type MapOutput interface {
	// Emit adds one pair. It copies key and value, so a mapper may reuse
	// its buffers; each call counts as one map output record.
	Emit(key, value []byte)
	// Spill sorts the buffer and writes it as a run now. A mapper that
	// combines pairs in memory spills after emitting a full table, so that
	// the table and the buffer never both hold a budget's worth.
	Spill()
	// Budget is the sort buffer's size in bytes: a mapper that holds
	// pairs itself keeps them under a share of it. Zero asks the mapper
	// to hold nothing back and emit every pair as it comes (EmitFunc).
	Budget() int64
}

// EmitFunc is a MapOutput that hands every pair to a function, for engines
// and tests that run a mapper outside a map task. The slices it gets are
// the mapper's, valid only during the call. Its budget is zero: a typed
// job's mapper hands over every pair Map emits, uncombined (an engine that
// combines does so itself, with Combiner).
type EmitFunc func(key, value []byte)

func (f EmitFunc) Emit(key, value []byte) { f(key, value) }
func (f EmitFunc) Spill()                 {}
func (f EmitFunc) Budget() int64          { return 0 }

// Reducer runs a job's reduce function over one partition and writes its
// output file.
type Reducer interface {
	// Reduce is called once per key, in bytes.Compare order of the keys.
	// key is valid until Reduce returns; each value only until the
	// iterator yields the next, and the iterator only during the call.
	Reduce(key []byte, values iter.Seq[[]byte]) error
	// Close flushes and closes the output file, which the task layer
	// then commits. A reducer that holds output back writes it now.
	Close() error
	// Abort removes the output file of an attempt that failed.
	Abort()
	// Records and Bytes written so far; final after Close.
	Records() int64
	Bytes() int64
}

// Optional interfaces of a ByteJob, asserted by the task layer.
type (
	// Combiner is a job whose values of one key can be merged two at a
	// time, associatively and commutatively; engines that combine outside
	// a mapper (Beam's CombinePerKey) use it. A typed Job with Combine
	// implements it.
	Combiner interface {
		Combine(a, b []byte) ([]byte, error)
	}
	// Partitioned is a job with its own partitioner (Job.Partitioner);
	// others are hash partitioned (shuffle.HashPartitioner).
	Partitioned interface {
		Partitioner() shuffle.Partitioner
	}
	// Grouping is a job whose keys carry more than the grouping key: a
	// secondary sort (Job.SortValues) emits the key followed by a value's
	// sort field. GroupKey returns the leading part of key that decides
	// its group and its partition; keys with equal group keys reach one
	// Reduce call as one group, with that group key, their values in key
	// order.
	Grouping interface {
		GroupKey(key []byte) []byte
	}
	// LineFiltered is a job whose Map does nothing with a line that does
	// not contain the bytes LineFilter returns for the job's parameters
	// (Job.LineFilter): map tasks pass such lines over, counted but not
	// handed to Map (input.Filterable). nil hands Map every line.
	LineFiltered interface {
		LineFilter(param func(name string) string) []byte
	}
)

// ErrNotPortable is wrapped by the errors of Portable.
var ErrNotPortable = errors.New("mapreduce: job needs features of the local engine")

// Portable reports why job cannot run on an engine that only groups by key
// (Beam), or nil: a total order across reducers or a secondary sort needs
// Quern's own shuffle.
func Portable(job ByteJob) error {
	info := job.Info()
	if info.TotalOrder {
		return fmt.Errorf("%w: job %q needs a total order across reducers (TotalOrder)", ErrNotPortable, info.Name)
	}
	if _, ok := job.(Grouping); ok {
		return fmt.Errorf("%w: job %q sorts values within a key (SortValues)", ErrNotPortable, info.Name)
	}
	return nil
}

// RegisterByteJob makes a byte-level job runnable by name (RunNamed, `quern
// run NAME`), like Register does for a typed job; the same rules hold: call
// it at package init, never conditionally, since worker processes do not
// run main. It panics on an empty or duplicate name.
func RegisterByteJob(job ByteJob) {
	register(job)
}

// LookupByteJob returns the registered job with the given name, typed or
// not, as the task layer sees it.
func LookupByteJob(name string) (ByteJob, bool) {
	return lookup(name)
}

// SkipLimit is how many bad records the map task attempt of tc may skip:
// zero unless Config.SkipBadRecords is set and an earlier attempt of the
// task failed. A mapper that can tell which record failed (Map returned an
// error or panicked on it) drops it with SkipRecord instead of failing.
func SkipLimit(tc *TaskContext) int { return tc.skipLimit }

// AllowSkips lets the task attempt of tc skip up to n bad records: what
// RunMap does for a retry of a job's map task, and a pipeline's read
// stage for a retry of its task (package pipeline).
func AllowSkips(tc *TaskContext, n int) { tc.skipLimit = n }

// Skipped lists the records the task attempt of tc skipped (SkipRecord).
func Skipped(tc *TaskContext) []SkippedRecord { return tc.skipped }

// SkipRecord records that the mapper of tc dropped the record at file and
// offset because of err; the driver reports it (Result.Skipped). It
// returns an error, which the mapper should fail with, once more than
// SkipLimit records were dropped.
func SkipRecord(tc *TaskContext, file string, offset int64, err error) error {
	if len(tc.skipped) >= tc.skipLimit {
		return fmt.Errorf("more than %d bad records (skip limit); this one: %w", tc.skipLimit, err)
	}
	tc.skipped = append(tc.skipped, SkippedRecord{File: file, Offset: offset, Error: err.Error()})
	tc.logger.Warn("skipping bad record", "file", file, "offset", offset, "err", err)
	return nil
}

// TaskInput returns the splits that the map task attempt of tc reads, in
// the order their records come (a task may pack several small files), or
// nil outside a map task of Quern's own engines. A mapper that starts
// something per task (a Streaming program) describes its input with it.
func TaskInput(tc *TaskContext) []input.Split { return tc.input }

// NewTaskContext makes the TaskContext that another engine passes to a
// job's mapper and reducer. Read its counters with Counters.
func NewTaskContext(ctx context.Context, job, task string, attempt int, params map[string]string, logger *slog.Logger) *TaskContext {
	return newTaskContext(ctx, job, task, attempt, params, logger)
}

// Counters returns the counters the task has counted so far; the caller may
// read and reset them (clear) but must not use them concurrently with the
// task.
func (tc *TaskContext) Counters() Counters { return tc.counters }

// ColumnsFromInput returns the names of the output value's columns that
// job takes from its input files (Job.ColumnsFromInput: join's headers), or
// nil. Another engine (Beam) sets them in output.Options.ValueColumns, as
// the driver does, so that its columnar output has the same columns.
func ColumnsFromInput(job ByteJob, params map[string]string, files []input.File) ([]string, error) {
	if cols, ok := job.(InputColumns); ok {
		return cols.ColumnsFromInput(params, files)
	}
	return nil, nil
}

// Params returns the parameters a run of job has: given, with the job's
// defaults for those not given. A required parameter not given, or
// parameters the job's own check refuses (ParamChecker), are an error,
// which every engine reports as a configuration error before any task
// runs.
func Params(job ByteJob, given map[string]string) (map[string]string, error) {
	info := job.Info()
	params := maps.Clone(given)
	if params == nil {
		params = map[string]string{}
	}
	for _, p := range info.Params {
		if _, ok := params[p.Name]; ok {
			continue
		}
		if p.Required {
			return nil, fmt.Errorf("job %q needs parameter %q (%s)", info.Name, p.Name, p.Usage)
		}
		if p.Default != "" {
			params[p.Name] = p.Default
		}
	}
	if c, ok := job.(ParamChecker); ok {
		if err := c.CheckParams(params); err != nil {
			return nil, fmt.Errorf("job %q: %w", info.Name, err)
		}
	}
	return params, nil
}

// More optional interfaces of a ByteJob, asserted by the driver.
type (
	// ParamChecker is a job that checks its parameters before it runs
	// (Job.CheckParams).
	ParamChecker interface {
		CheckParams(params map[string]string) error
	}
	// InputColumns is a job whose output columns are named after its
	// input (Job.ColumnsFromInput).
	InputColumns interface {
		ColumnsFromInput(params map[string]string, files []input.File) ([]string, error)
	}
	// PartMerger is a job whose part files can be merged in key order
	// (Config.Merge).
	PartMerger interface {
		CanMerge() error // why the parts cannot be merged, or nil
		MergeParts(dst string, parts []string, opts output.Options) error
	}
)
