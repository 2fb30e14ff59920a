package pipeline

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/quern-dev/quern/exec"
	"github.com/quern-dev/quern/input"
	jobdriver "github.com/quern-dev/quern/internal/driver"
	"github.com/quern-dev/quern/internal/task"
	"github.com/quern-dev/quern/mapreduce"
	"github.com/quern-dev/quern/output"
	"github.com/quern-dev/quern/shuffle"
	"github.com/quern-dev/quern/spill"
)

// taskKind is the exec task kind of a pipeline task on Quern's workers.
const taskKind = "pipeline"

func init() {
	mapreduce.RegisterTaskKind(taskKind, serveTask)
}

// taskSpec is everything one attempt of a pipeline task needs. It crosses
// the pipe to a worker as JSON, so it holds only plain data.
type taskSpec struct {
	Pipeline string
	Stage    int
	Round    int // loop round, from 1; 0 outside loops
	TaskID   string
	Attempt  int
	Params   map[string]string
	// Reducers is the partition count of every collection.
	Reducers    int
	SortBuffer  int64
	Compression string
	FanIn       int
	// SkipBadRecords is Config.SkipBadRecords: a read stage's retry
	// attempt skips up to this many records its function fails on.
	SkipBadRecords int `json:",omitempty"`
	// Dir is the attempt's private directory for its runs and merges.
	Dir string
	// Input is a read stage's file ranges.
	Input input.Task
	// Partition is a group stage's partition, and Inputs the segments of
	// each of its input collections for that partition.
	Partition int
	Inputs    [][]shuffle.Segment
	// Rounds is a state stage's round count, State the partition's state
	// file and Messages the files sent to it in the step before, by
	// sending partition ("" for none); Records the pairs of its input in
	// Build; see state.go.
	Rounds   int      `json:",omitempty"`
	Records  int64    `json:",omitempty"`
	State    string   `json:",omitempty"`
	Messages []string `json:",omitempty"`
	// Output is the part file a stage that makes the pipeline's output
	// writes; Format its format.
	Output string
	Format output.Options
	// Merge (Config.Merge) has a task that writes Output also write its
	// pairs, sorted by key, as single-partition runs, which the driver
	// merges into the output's merged file (merge.go).
	Merge bool `json:",omitempty"`
}

// runFile is one run a task wrote for a collection.
type runFile = mapreduce.RunFile

// taskResult is what a committed attempt made: runs by collection index,
// and counters.
type taskResult struct {
	Runs     map[int][]runFile
	Counters mapreduce.Counters
	// State is a state stage's new state file, if the step replaced it,
	// and Messages the files it sent, by destination ("" for none).
	State    string   `json:",omitempty"`
	Messages []string `json:",omitempty"`
	// Skipped are the input records a read stage's attempt skipped
	// (SkipBadRecords), and Merge the sorted runs of its output pairs
	// (taskSpec.Merge).
	Skipped []mapreduce.SkippedRecord `json:",omitempty"`
	Merge   []runFile                 `json:",omitempty"`
	// Fetch is set, instead of an error, when an input run could not be
	// read (missing, truncated, corrupt): the driver makes it again.
	Fetch *task.FetchFailure `json:",omitempty"`
	// Refused is set, instead of an error, when a read stage's input can
	// never be read (a compression Quern cannot read, a corrupt file):
	// the error's text, and RefusedAs the refusal's name
	// (jobdriver.RefusalOf). The pipeline then fails at once, as a job
	// does (jobdriver.Refuses).
	Refused   string `json:",omitempty"`
	RefusedAs string `json:",omitempty"`
	PeakRSS   int64  `json:"-"`
}

// Counters of pipelines, besides mapreduce's.
const (
	// LocalBytes counts run bytes a group stage read without a shuffle:
	// the output of a ByKey stage, already partitioned and sorted by key.
	LocalBytes = "local_bytes"
)

// serveTask runs a pipeline task inside a worker process.
func serveTask(ctx context.Context, t exec.Task) (exec.Result, error) {
	var spec taskSpec
	if err := json.Unmarshal(t.Payload, &spec); err != nil {
		return exec.Result{}, fmt.Errorf("%s: bad task payload: %w", t.ID, err)
	}
	level := slog.LevelWarn
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	res, err := runTask(ctx, spec, logger)
	var ff *task.FetchFailure
	switch {
	case errors.As(err, &ff):
		// Sent as a result, so that the driver gets the run's path as
		// data, as a job's reduce task sends it.
		res, err = taskResult{Fetch: ff}, nil
	case jobdriver.Refuses(err):
		res, err = taskResult{Refused: err.Error(), RefusedAs: jobdriver.RefusalOf(err)}, nil
	}
	if err != nil {
		return exec.Result{}, err
	}
	b, err := json.Marshal(res)
	return exec.Result{Payload: b}, err
}

// taskAttempt is the state of one running task attempt: its writers, its
// context and its first error.
type taskAttempt struct {
	spec    taskSpec
	tc      *mapreduce.TaskContext
	writers map[int]runWriter // by collection index
	// sorted are the writers of collections that keep the group's key
	// (sortedWriter), told of each group: a walk of writers per group was
	// 7% of a count stage over 27 million distinct words.
	sorted []*sortedWriter
	out    any // output.Writer[K, V] of the output collection
	// finishers run when the stage function has seen all its input,
	// before the writers close: combiners write what they hold.
	finishers []func()
	// releasers run when the attempt fails: combining tables go back to
	// the worker's idle slot.
	releasers []func()
	// merge, set when the task writes the output with taskSpec.Merge,
	// sorts the output's pairs into runs for the merged file.
	merge *mapreduce.SortedRuns
	// stateFile and messages are what a state stage's step wrote.
	stateFile string
	messages  []string
	err       error
}

func (rt *taskAttempt) fail(err error) {
	if rt.err == nil {
		rt.err = err
	}
}

// runTask runs one attempt of a stage's task in this process.
func runTask(ctx context.Context, spec taskSpec, logger *slog.Logger) (res taskResult, err error) {
	p, ok := Lookup(spec.Pipeline)
	if !ok {
		return res, fmt.Errorf("pipeline %q is not registered in %s: register it in a package-level var or init", spec.Pipeline, os.Args[0])
	}
	if spec.Stage < 0 || spec.Stage >= len(p.stages) {
		return res, fmt.Errorf("pipeline %q has no stage %d", spec.Pipeline, spec.Stage)
	}
	s := p.stages[spec.Stage]
	comp, err := spill.ParseCompression(spec.Compression)
	if err != nil {
		return res, err
	}
	if s.kind != readStage {
		// What the last read task left for the next (its sort buffer, its
		// combining table at the size its keys grew it to) goes, as at a
		// job's reduce phase: a fused combiner would take the table, and
		// held beside the merge's blocks under the worker's memory limit
		// it kept the collector running (topwords' count stage over 27
		// million distinct words: 84 MB live against a 100 MB limit, a
		// collection every 16 MB allocated).
		task.DropIdle()
	}
	rt := &taskAttempt{
		spec:    spec,
		tc:      mapreduce.NewTaskContext(ctx, p.Name+"/"+s.name, spec.TaskID, spec.Attempt, spec.Params, logger),
		writers: map[int]runWriter{},
	}
	// A retry of a read stage's task may skip the records its function
	// fails on, as a job's map task may (Read's skipping).
	if s.kind == readStage && spec.SkipBadRecords > 0 && spec.Attempt > 1 {
		task.AllowSkips(rt.tc, spec.SkipBadRecords)
	}
	// The collections this stage makes and some stage reads get writers;
	// the budget of the sort buffer is shared among those that sort.
	var made []*collection
	sorting := 0
	for _, c := range p.colls {
		if c.producer == s && c.stored() {
			made = append(made, c)
			if !(c.sameKey && s.kind == groupStage) {
				sorting++
			}
		}
	}
	mergeOutput := spec.Output != "" && spec.Merge
	if mergeOutput {
		sorting++
	}
	opts := spill.Options{Partitions: spec.Reducers, Compression: comp, BlockSize: mapreduce.RunBlockSize}
	for _, c := range made {
		prefix := filepath.Join(spec.Dir, fmt.Sprintf("c%02d-%s", c.index, safeName(c.name)))
		if c.sameKey && s.kind == groupStage {
			w, err := spill.Create(prefix+".run", opts)
			if err != nil {
				return res, err
			}
			sw := &sortedWriter{w: w, partition: spec.Partition, rt: rt}
			rt.writers[c.index] = sw
			rt.sorted = append(rt.sorted, sw)
		} else if c.unsorted() {
			rt.writers[c.index] = newExchangeWriter(prefix, spec.Reducers, spec.SortBuffer/int64(sorting), rt)
		} else {
			budget := spec.SortBuffer / int64(sorting)
			if c.combiner != nil {
				budget /= 2 // the combining table has the other half
			}
			rt.writers[c.index] = &hashWriter{rt: rt,
				runs: mapreduce.NewSortedRuns(prefix, opts, shuffle.HashPartitioner{}, budget, rt.tc.Counters())}
		}
	}
	if mergeOutput {
		// One partition: the driver merges every task's runs.
		rt.merge = mapreduce.NewSortedRuns(filepath.Join(spec.Dir, "merge"),
			spill.Options{Partitions: 1, Compression: comp, BlockSize: mapreduce.RunBlockSize},
			shuffle.HashPartitioner{}, spec.SortBuffer/int64(sorting), rt.tc.Counters())
	}
	defer func() {
		if err != nil {
			if rt.merge != nil {
				rt.merge.Abort()
			}
			for _, w := range rt.writers {
				w.abort()
			}
			for _, release := range rt.releasers {
				release()
			}
		}
	}()
	if spec.Output != "" {
		ow, err := p.output.createOutput(spec.Output, spec.Format)
		if err != nil {
			return res, err
		}
		defer func() {
			if err != nil {
				ow.Abort()
			}
		}()
		rt.out = ow
		defer func() {
			if err == nil {
				if err = ow.Close(); err != nil {
					// err names the file (output.Writer).
					return
				}
				rt.tc.Count(mapreduce.ReduceOutputRecords, ow.Records())
				rt.tc.Count(mapreduce.OutputBytes, ow.Bytes())
			}
		}()
	}
	switch s.kind {
	case readStage:
		err = rt.read(ctx, s.readFunc(rt))
	case stateKind:
		err = s.state.run(ctx, rt)
	default:
		// A lost input run is the producing task's loss: the error
		// names the run (task.FetchFailure), so the driver can make
		// it again.
		err = task.AsFetchFailure(rt.group(ctx, s.groupFunc(rt), comp))
	}
	if err == nil {
		for _, finish := range rt.finishers {
			finish()
		}
		err = rt.err
	}
	if err != nil {
		return res, fmt.Errorf("stage %s task %s: %w", s.name, spec.TaskID, err)
	}
	res.Runs = map[int][]runFile{}
	for i, w := range rt.writers {
		runs, err := w.close()
		if err != nil {
			return res, fmt.Errorf("stage %s task %s: %w", s.name, spec.TaskID, err)
		}
		res.Runs[i] = runs
	}
	if rt.merge != nil {
		if res.Merge, err = rt.merge.Close(); err != nil {
			return res, fmt.Errorf("stage %s task %s: sort the output for --merge: %w", s.name, spec.TaskID, err)
		}
	}
	if skipped := task.Skipped(rt.tc); len(skipped) > 0 {
		res.Skipped = skipped
		rt.tc.Count(mapreduce.SkippedRecords, int64(len(skipped)))
	}
	res.Counters = rt.tc.Counters()
	res.State, res.Messages = rt.stateFile, rt.messages
	return res, nil
}

// read maps the task's splits, with the read loop of mapreduce's map
// tasks.
func (rt *taskAttempt) read(ctx context.Context, mapRecord func(mapreduce.Record) error) error {
	read, err := mapreduce.MapSplits(ctx, rt.spec.Input, func(rec mapreduce.Record) error {
		if err := mapRecord(rec); err != nil {
			return err
		}
		return rt.err
	})
	if err != nil {
		return err
	}
	read.AddTo(rt.tc.Counters())
	return nil
}

// group merges each input collection's segments of the partition and walks
// them key by key together with a reduce task's walk (mapreduce.CoGroup): a
// merge join over sorted streams, so that a key's values from every input
// reach the stage function in one call.
func (rt *taskAttempt) group(ctx context.Context, fn func([]byte, []iter.Seq[[]byte]) error, comp spill.Compression) (err error) {
	n := len(rt.spec.Inputs)
	groups := make([]*shuffle.Grouper, 0, n)
	defer func() {
		for _, g := range groups {
			if cerr := g.Close(); err == nil && cerr != nil {
				err = cerr
			}
		}
	}()
	for _, segs := range rt.spec.Inputs {
		// More segments than the fan-in are merged in passes, into a
		// directory OpenPartition makes in the attempt's (which exists).
		it, stats, err := shuffle.OpenPartition(segs, shuffle.MergeOptions{
			FanIn: rt.spec.FanIn, TempDir: rt.spec.Dir, Compression: comp,
		})
		if err != nil {
			return fmt.Errorf("partition %d: %w", rt.spec.Partition, err)
		}
		rt.tc.Count(mapreduce.MergePasses, int64(stats.Passes))
		groups = append(groups, shuffle.NewGrouper(it))
	}
	nGroups, nValues, err := mapreduce.CoGroup(ctx, groups, func(n int64) { exec.Progress(ctx, n, 0) },
		func(key []byte, values []iter.Seq[[]byte]) error {
			if rt.sortedKey(key); rt.err != nil {
				return rt.err
			}
			if err := fn(key, values); err != nil {
				return fmt.Errorf("partition %d, key %q: %w", rt.spec.Partition, key, err)
			}
			return rt.err
		})
	if err != nil {
		return err
	}
	for _, g := range groups {
		if err := g.Err(); err != nil {
			return fmt.Errorf("merge partition %d: %w", rt.spec.Partition, err)
		}
	}
	rt.tc.Count(mapreduce.ReduceInputGroups, nGroups)
	rt.tc.Count(mapreduce.ReduceInputRecords, nValues)
	return nil
}

// sortedKey tells the ByKey writers which group is current.
func (rt *taskAttempt) sortedKey(key []byte) {
	for _, sw := range rt.sorted {
		sw.group = key
	}
}

// runWriter writes one collection's pairs in a task.
type runWriter interface {
	add(key, value []byte)
	close() ([]runFile, error)
	abort()
}

// hashWriter partitions pairs by the hash of their key, as a map task
// does, into the sort buffer of mapreduce's map tasks, spilled as sorted
// runs when it reaches its budget.
type hashWriter struct {
	runs *mapreduce.SortedRuns
	rt   *taskAttempt
}

func (w *hashWriter) add(key, value []byte) {
	w.runs.Emit(key, value)
	if err := w.runs.Err(); err != nil {
		w.rt.fail(err)
	}
}

// spill writes what the buffer holds as a run now (runOutput.Spill).
func (w *hashWriter) spill() { w.runs.Spill() }

func (w *hashWriter) close() ([]runFile, error) {
	w.rt.tc.Count(mapreduce.MapOutputRecords, w.runs.Emitted())
	return w.runs.Close()
}

func (w *hashWriter) abort() { w.runs.Abort() }

// countRuns counts the runs a writer that does not sort wrote, as
// SortedRuns counts its spills.
func countRuns(tc *mapreduce.TaskContext, runs []runFile) {
	for _, r := range runs {
		tc.Count(mapreduce.SpillFiles, 1)
		tc.Count(mapreduce.SpillBytes, r.Bytes)
	}
}

// sortedWriter writes the output of a ByKey stage: its pairs come in key
// order and all belong to the task's own partition, so they stream into one
// run with no sort and no partitioning.
type sortedWriter struct {
	w         *spill.Writer
	partition int
	group     []byte // the current group's key, which every pair must have
	rt        *taskAttempt
}

func (w *sortedWriter) add(key, value []byte) {
	if !bytes.Equal(key, w.group) {
		w.rt.fail(fmt.Errorf("a ByKey stage emitted key %q in the group of key %q", key, w.group))
		return
	}
	if err := w.w.Add(w.partition, key, value); err != nil {
		w.rt.fail(err)
	}
}

func (w *sortedWriter) close() ([]runFile, error) {
	info, err := w.w.Close()
	if err != nil {
		return nil, err
	}
	w.rt.tc.Count(mapreduce.MapOutputRecords, info.Records)
	if info.Records == 0 {
		os.Remove(info.Path)
		return nil, nil
	}
	runs := []runFile{{Path: info.Path, Records: info.Records, Bytes: info.Bytes, PartitionRecords: info.PartitionRecords,
		PartitionBytes: info.PartitionBytes}}
	countRuns(w.rt.tc, runs)
	return runs, nil
}

func (w *sortedWriter) abort() { w.w.Abort() }

func safeName(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			b[i] = '_'
		}
	}
	return string(b)
}
