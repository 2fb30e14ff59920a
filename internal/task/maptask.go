package task

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"path/filepath"

	"github.com/quern-dev/quern/exec"
	"github.com/quern-dev/quern/input"
	"github.com/quern-dev/quern/output"
	"github.com/quern-dev/quern/shuffle"
	"github.com/quern-dev/quern/spill"
)

// MapSpec is everything one map task attempt needs. It crosses the pipe to a
// worker as JSON, so it holds only plain data.
type MapSpec struct {
	Job     string
	Params  map[string]string
	TaskID  string
	Attempt int
	// Input is the file ranges the task reads, in order; each record
	// still names its own file and offset.
	Input       input.Task
	Reducers    int
	SortBuffer  int64
	Compression string
	// RangeSplits are the total-order partition boundaries (TotalOrder
	// jobs only): partition i holds keys below RangeSplits[i].
	RangeSplits [][]byte
	// SkipBadRecords, when positive, lets a retry attempt skip up to this
	// many records on which Map panics or fails.
	SkipBadRecords int
	// Rebalance, when positive, is the least input the task gives up when
	// the driver asks it to (giveUp); 0: it gives up none.
	Rebalance int64 `json:",omitempty"`
	// Dir is the attempt's private directory for its runs. The driver
	// accepts the runs only when the attempt reports success, so a failed
	// attempt's files never reach a reducer.
	Dir string
	// Output, in a map-only job (maponly.go), is the attempt's private
	// part file, which the task writes its pairs to in the Format given
	// instead of sorting and spilling them; the driver commits it by
	// rename.
	Output string         `json:",omitempty"`
	Format output.Options `json:",omitempty"`
}

// RunFile describes one run a map task wrote: the runs of a job's map
// tasks and of a pipeline's stages (package pipeline) alike.
type RunFile struct {
	Path             string
	Records          int64
	Bytes            int64
	PartitionRecords []int64
	PartitionBytes   []int64
}

type MapResult struct {
	Runs     []RunFile
	Counters Counters
	Skipped  []SkippedRecord `json:",omitempty"`
	PeakRSS  int64           `json:"-"` // set by the driver from exec's report
	// Refused is the error of a task that refused its input, sent by a
	// worker instead of an error (internal/driver/refusal.go); RefusedAs
	// names which refusal it is (a compression Quern cannot read, a
	// corrupt file, a malformed CSV record, a file too large to read
	// whole), so that errors.Is still tells them apart in the driver.
	Refused   string `json:",omitempty"`
	RefusedAs string `json:",omitempty"`
}

// SkippedRecord is an input record that a map function failed on in every
// attempt and that the job skipped (Config.SkipBadRecords).
type SkippedRecord struct {
	File   string
	Offset int64
	Error  string
}

// checkEvery is how many records a task handles between looks at its
// context; often enough to stop within milliseconds, rare enough to cost
// nothing.
const checkEvery = 1024

// storedBytes is how far r is through its split in the unit of the split's
// length (the file's bytes as stored, compressed or not), so that the
// progress a map task reports is a true fraction of Task.Len.
func storedBytes(r input.RecordReader) int64 {
	if s, ok := r.(interface{ StoredBytesRead() int64 }); ok {
		return s.StoredBytesRead()
	}
	return r.BytesRead()
}

// RunMap runs one map task attempt of job: it reads the task's splits in
// order, hands every record to the job's mapper, and partitions, sorts and
// spills the pairs the mapper emits into runs in spec.Dir.
func RunMap(ctx context.Context, job ByteJob, spec MapSpec, logger *slog.Logger) (MapResult, error) {
	comp, err := spill.ParseCompression(spec.Compression)
	if err != nil {
		return MapResult{}, err
	}
	tc := newTaskContext(ctx, spec.Job, spec.TaskID, spec.Attempt, spec.Params, logger)
	tc.dir, tc.input = spec.Dir, spec.Input.Splits
	if spec.SkipBadRecords > 0 && spec.Attempt > 1 {
		tc.skipLimit = spec.SkipBadRecords
	}
	out := NewSortedRuns(filepath.Join(spec.Dir, "run"), spill.Options{Partitions: spec.Reducers, Compression: comp, BlockSize: RunBlockSize},
		partitionerOf(job, spec.RangeSplits), spec.SortBuffer, tc.counters)
	out.group, _ = job.(Grouping)
	defer out.Abort()

	faults, err := newFaultSite(spec.TaskID, spec.Attempt)
	if err != nil {
		return MapResult{}, err
	}
	faults.setRuns(ctx, &out.runs)
	out.faults = faults
	if err := faults.hit("map-start"); err != nil {
		return MapResult{}, err
	}
	var sink mapSink = out
	var part *partFile // a map-only job's output
	if spec.Output != "" {
		if part, err = createPart(job, tc, spec); err != nil {
			return MapResult{}, err
		}
		defer part.abortUnlessClosed()
		sink = part
	}

	mapper, err := job.NewMapper(tc, sink)
	if err != nil {
		return MapResult{}, fmt.Errorf("map %s: %w", spec.TaskID, err)
	}
	closed := false
	defer func() {
		if !closed {
			mapper.Abort()
		}
	}()

	read, err := mapSplits(ctx, spec.Input, LineFilter(job, tc.Param), spec.Rebalance, func(rec Record) error {
		if err := faults.hit("record"); err != nil {
			return err
		}
		if err := mapper.Map(rec); err != nil {
			return err
		}
		return sink.Err()
	})
	if err != nil {
		return MapResult{}, err
	}
	closed = true
	if err := mapper.Close(); err != nil {
		return MapResult{}, fmt.Errorf("map %s: end of input: %w", spec.TaskID, err)
	}
	runs, err := out.Close()
	if err != nil {
		return MapResult{}, err
	}
	if part != nil {
		if err := part.close(); err != nil {
			return MapResult{}, err
		}
		tc.counters[OutputBytes] += part.w.Bytes()
	}
	if err := faults.hit("map-done"); err != nil {
		return MapResult{}, err
	}
	tc.counters[SkippedRecords] += int64(len(tc.skipped))
	read.AddTo(tc.counters)
	tc.counters[MapOutputRecords] += sink.Emitted()
	return MapResult{Runs: runs, Counters: tc.counters, Skipped: tc.skipped}, nil
}

// mapSink is where a map task's pairs go: its sorted runs, or a map-only
// job's part file (maponly.go).
type mapSink interface {
	MapOutput
	// Err is the first error writing a pair; the task fails with it.
	Err() error
	// Emitted is how many pairs Emit took.
	Emitted() int64
}

// ReadCounts is what MapSplits read.
type ReadCounts struct {
	Records int64
	Bytes   int64 // uncompressed
	// GrownSplits counts the splits whose file had grown since the job
	// was planned, read as planned (input.LineReader.Grown).
	GrownSplits int64
	// Filtered counts the records of Records that a filter passed over
	// (MapSplitsContaining).
	Filtered int64
}

// AddTo adds the counts to counters, as MapInputRecords, MapInputBytes
// and, if not 0, GrownInputSplits and FilteredInputRecords.
func (c ReadCounts) AddTo(counters Counters) {
	counters[MapInputRecords] += c.Records
	counters[MapInputBytes] += c.Bytes
	if c.GrownSplits > 0 {
		counters[GrownInputSplits] += c.GrownSplits
	}
	if c.Filtered > 0 {
		counters[FilteredInputRecords] += c.Filtered
	}
}

// LineFilter is what job's LineFilter returns for the parameters param
// gives (LineFiltered), or nil for a job without one.
func LineFilter(job ByteJob, param func(name string) string) []byte {
	if f, ok := job.(LineFiltered); ok {
		return f.LineFilter(param)
	}
	return nil
}

// nextRecord is r's next record, or filter's next record holding sub when
// filter is not nil: then a nil record with ok says that up to a buffer of
// records was passed over, and skipped counts the records passed over.
func nextRecord(r input.RecordReader, filter input.Filterable, sub []byte) (in *input.Record, skipped int64, ok bool) {
	if filter != nil {
		return filter.NextContaining(sub)
	}
	in, ok = r.Next()
	return in, 0, ok
}

// grown reports whether r found its file grown (input.LineReader.Grown).
func grown(r input.RecordReader) bool {
	g, ok := r.(interface{ Grown() bool })
	return ok && g.Grown()
}

// MapSplits is the read loop of every map task, a job's or a pipeline
// stage's: it reads the task's splits in order and calls fn with each
// record, checks ctx and reports progress (exec.Progress, in the unit of
// the task's Len) every checkEvery records. An error or panic of fn names
// the split and the record's offset. It returns what it read, also when
// it fails.
func MapSplits(ctx context.Context, task input.Task, fn func(Record) error) (read ReadCounts, err error) {
	return MapSplitsContaining(ctx, task, nil, fn)
}

// MapSplitsContaining is MapSplits that calls fn only with the records
// of line formats that contain sub (input.Filterable), and with every
// record of other formats; the records passed over are counted as read.
// A sub that input.ValidFilter refuses (nil, or one that holds a line's
// end) calls fn with every record.
func MapSplitsContaining(ctx context.Context, task input.Task, sub []byte, fn func(Record) error) (read ReadCounts, err error) {
	return mapSplits(ctx, task, sub, 0, fn)
}

// mapSplits is MapSplitsContaining that, when the driver asks, gives up
// at least rebalance of the task's input, about half of what it has left
// (giveUp); a rebalance of 0 gives up none.
func mapSplits(ctx context.Context, task input.Task, sub []byte, rebalance int64, fn func(Record) error) (read ReadCounts, err error) {
	var storedRead int64
	var handed int64 // records handed to fn
	total := task.Len()
	splits := input.NewPrefetcher(task.Splits)
	mapSplit := func(i int, split input.Split) error {
		r, err := splits.OpenRecords(i)
		if err != nil {
			return err // names the split already
		}
		defer r.Close()
		defer func() { read.Bytes, storedRead = read.Bytes+r.BytesRead(), storedRead+storedBytes(r) }()
		filter, _ := r.(input.Filterable)
		if !input.ValidFilter(sub) {
			filter = nil
		}
		// A panic in Map is caught by the engine, which knows the task,
		// not which of its files and records it met: say so here.
		at := int64(-1)
		defer func() {
			if p := recover(); p != nil {
				panic(fmt.Sprintf("map %s: record at %s %d: %v", split, offsetUnit(split), at, p))
			}
		}()
		for {
			in, skipped, ok := nextRecord(r, filter, sub)
			read.Records += skipped
			read.Filtered += skipped
			if !ok {
				break
			}
			// Every checkEvery records, and after every buffer a filter
			// passed over (in is nil), since its search may go on for
			// a whole split.
			if in == nil || handed%checkEvery == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
				if answer := exec.SplitAsked(ctx); answer != nil {
					answer(giveUp(&task, i, r, rebalance))
					total = task.Len()
				}
				exec.Progress(ctx, storedRead+storedBytes(r), total)
			}
			if in == nil {
				continue
			}
			handed++
			read.Records++
			at = in.Offset
			if err := fn(record(split, in)); err != nil {
				return fmt.Errorf("map %s: record at %s %d: %w", split, offsetUnit(split), in.Offset, err)
			}
		}
		if err := r.Err(); err != nil {
			return err // names the split already
		}
		if grown(r) {
			read.GrownSplits++
		}
		return nil
	}
	// task.Splits may be cut short while they are read (giveUp).
	for i := 0; i < len(task.Splits); i++ {
		if err := mapSplit(i, task.Splits[i]); err != nil {
			return read, err
		}
	}
	return read, nil
}

// GaveUp is what a map task tells the driver when it gives up part of its
// input (exec.SplitAsked): it stops where its Split-th split reaches At
// (input.Task.CutAt), and the rest is the driver's to hand to another task.
type GaveUp struct {
	Split int
	At    int64
}

// giveUp chooses the input that a map task reading the k-th split of t,
// with r, gives up when the driver asks it to split: about half of what
// it has left, if that is at least least (and least is positive), cut
// within split k where r can stop early (a plain file of lines), else at
// the start of a later split. It cuts t to what the task keeps and
// returns the answer for the driver, nil to keep it all.
func giveUp(t *input.Task, k int, r input.RecordReader, least int64) []byte {
	cur := t.Splits[k]
	var left, after int64
	if cur.Unit == input.Bytes {
		left = max(cur.Len()-storedBytes(r), 0)
	}
	for _, s := range t.Splits[k+1:] {
		after += s.Len()
	}
	half := (left + after) / 2
	if least <= 0 || half < least {
		return nil
	}
	cut := GaveUp{Split: -1}
	if stopper, ok := r.(interface{ StopAt(int64) bool }); ok && half < left {
		at := cur.End - half
		if kept, _, ok := t.CutAt(k, at); ok && stopper.StopAt(at) {
			*t, cut = kept, GaveUp{Split: k, At: at}
		}
	}
	if cut.Split < 0 {
		// The later splits, from the one that gives closest to half,
		// if that is at least least.
		best, bestDiff := -1, int64(math.MaxInt64)
		var rest int64
		for j := len(t.Splits) - 1; j > k; j-- {
			rest += t.Splits[j].Len()
			if d := abs(rest - half); d < bestDiff && rest >= least {
				best, bestDiff = j, d
			}
		}
		if best < 0 {
			return nil
		}
		at := t.Splits[best].Start
		kept, _, _ := t.CutAt(best, at)
		*t, cut = kept, GaveUp{Split: best, At: at}
	}
	b, err := json.Marshal(cut)
	if err != nil {
		panic(err) // two integers
	}
	return b
}

func abs(n int64) int64 {
	if n < 0 {
		return -n
	}
	return n
}

// partitionerOf is the partitioner of a job's map tasks: the range
// boundaries the driver sampled for a TotalOrder job, the job's own, or a
// hash of the key.
func partitionerOf(job ByteJob, rangeSplits [][]byte) shuffle.Partitioner {
	if job.Info().TotalOrder {
		return &shuffle.RangePartitioner{Splits: rangeSplits}
	}
	if p, ok := job.(Partitioned); ok && p.Partitioner() != nil {
		return p.Partitioner()
	}
	return shuffle.HashPartitioner{}
}

// SortedRuns is a map task's sort buffer and the runs it has spilled:
// pairs are partitioned, buffered, and sorted and written as the next run
// whenever the buffer reaches its budget. The map tasks of jobs and the
// stages of pipelines (package pipeline) write their pairs through it.
type SortedRuns struct {
	prefix   string // runs are PREFIX-0000.run, PREFIX-0001.run, ...
	opts     spill.Options
	part     shuffle.Partitioner
	budget   int64
	buf      *spill.Buffer
	runs     []RunFile
	counters Counters
	faults   *faultSite
	err      error
	// group, for a job with composite keys, finds the part of a key
	// that picks its partition.
	group   Grouping
	emitted int64
}

// NewSortedRuns returns a sort buffer of budget bytes whose runs are
// written as PREFIX-0000.run, PREFIX-0001.run and so on, with opts, their
// pairs partitioned by part. It counts SpilledRecords, SpillFiles and
// SpillBytes in counters. The buffer is the one the worker's last map task
// left, if any (idle.go); Close or Abort hands it on.
func NewSortedRuns(prefix string, opts spill.Options, part shuffle.Partitioner, budget int64, counters Counters) *SortedRuns {
	return &SortedRuns{prefix: prefix, opts: opts, part: part, budget: budget, buf: idleBuffer.take(), counters: counters}
}

var _ MapOutput = (*SortedRuns)(nil)

// Err is the first error of a spill, or of a pair too large for the
// buffer; after one, the pairs emitted are dropped.
func (o *SortedRuns) Err() error { return o.err }

// Emitted is how many pairs Emit took.
func (o *SortedRuns) Emitted() int64 { return o.emitted }

// Close spills what the buffer holds and returns the runs written, or
// the first error.
func (o *SortedRuns) Close() ([]RunFile, error) {
	o.spill()
	o.Abort()
	return o.runs, o.err
}

// Abort lets the buffer go (to the next map task) without spilling it.
func (o *SortedRuns) Abort() {
	if o.buf != nil {
		o.buf.Reset()
		idleBuffer.keep(o.buf)
		o.buf = nil
	}
}

// Emit adds a pair the mapper emitted.
func (o *SortedRuns) Emit(key, value []byte) {
	o.emitted++
	pk := key
	if o.group != nil {
		pk = o.group.GroupKey(key)
	}
	o.addTo(o.part.Partition(pk, o.opts.Partitions), key, value)
}

// Spill writes the sort buffer as a run now (MapOutput.Spill).
func (o *SortedRuns) Spill() { o.spill() }

// Budget is the sort buffer's size (MapOutput.Budget).
func (o *SortedRuns) Budget() int64 { return o.budget }

func (o *SortedRuns) fail(err error) {
	if o.err == nil {
		o.err = err
	}
}

func (o *SortedRuns) addTo(partition int, key, value []byte) {
	if o.err != nil {
		return
	}
	if !o.buf.Add(partition, key, value) {
		o.spill()
		if !o.buf.Add(partition, key, value) {
			o.fail(fmt.Errorf("map output record of %d bytes is larger than a sort buffer can hold", len(key)+len(value)))
			return
		}
	}
	if int64(o.buf.Bytes()) >= o.budget {
		o.spill()
	}
}

// spill sorts the buffer and writes it as the next run.
func (o *SortedRuns) spill() {
	if o.err != nil || o.buf.Len() == 0 {
		return
	}
	if err := o.faults.hit("spill"); err != nil {
		o.fail(err)
		return
	}
	o.buf.Sort()
	path := fmt.Sprintf("%s-%04d.run", o.prefix, len(o.runs))
	info, err := spill.WriteBuffer(path, o.buf, o.opts)
	o.buf.Reset()
	if err != nil {
		o.fail(err) // "spill: PATH: ..."; the file is named once
		return
	}
	o.runs = append(o.runs, RunFile{
		Path: info.Path, Records: info.Records, Bytes: info.Bytes,
		PartitionRecords: info.PartitionRecords, PartitionBytes: info.PartitionBytes,
	})
	o.counters[SpilledRecords] += info.Records
	o.counters[SpillFiles]++
	o.counters[SpillBytes] += info.Bytes
}

// record is the Record a map function sees for one record of split s.
func record(s input.Split, in *input.Record) Record {
	return Record{File: s.File.Path, Offset: in.Offset, Value: in.Value, Fields: in.Fields, Columns: in.Columns,
		jsonl: s.File.Format == input.JSONL}
}

// offsetUnit names what Record.Offset counts in a split.
func offsetUnit(s input.Split) string {
	if s.Unit == input.Bytes {
		return "byte"
	}
	return "row"
}

// RunBlockSize is the uncompressed size of a record batch in map output
// runs. A reducer holds one decoded block per merged run, so its memory is
// about fan-in × block size: 256 KiB keeps a 64-way merge near 16 MiB, where
// spill's 1 MiB default would take 64 MiB. A pipeline's runs (package
// pipeline) have the same blocks.
const RunBlockSize = 256 << 10

func (s MapSpec) JobName() string { return s.Job }
