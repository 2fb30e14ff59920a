package mapreduce

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync/atomic"

	"github.com/quern-dev/quern/exec"
	"github.com/quern-dev/quern/input"
	"github.com/quern-dev/quern/shuffle"
	"github.com/quern-dev/quern/spill"
)

// mapSpec is everything one map task attempt needs. It crosses the pipe to a
// worker as JSON, so it holds only plain data.
type mapSpec struct {
	Job     string
	Params  map[string]string
	TaskID  string
	Attempt int
	// Input is the file ranges the task reads, in order; each record
	// still names its own file and offset.
	Input      input.Task
	Reducers   int
	SortBuffer int64
	Codec      string
	// RangeSplits are the total-order partition boundaries (TotalOrder
	// jobs only): partition i holds keys below RangeSplits[i].
	RangeSplits [][]byte
	// SkipBadRecords, when positive, lets a retry attempt skip up to this
	// many records on which Map panics or fails.
	SkipBadRecords int
	// Dir is the attempt's private directory for its runs. The driver
	// accepts the runs only when the attempt reports success, so a failed
	// attempt's files never reach a reducer.
	Dir string
}

// runFile describes one run a map task wrote.
type runFile struct {
	Path             string
	Records          int64
	Bytes            int64
	PartitionRecords []int64
	PartitionBytes   []int64
}

type mapResult struct {
	Runs     []runFile
	Counters Counters
	Skipped  []SkippedRecord `json:",omitempty"`
	PeakRSS  int64           `json:"-"` // set by the driver from exec's report
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

func (c *compiled[K, V, OK, OV]) runMap(ctx context.Context, spec mapSpec, logger *slog.Logger) (mapResult, error) {
	codec, err := spill.ParseCodec(spec.Codec)
	if err != nil {
		return mapResult{}, err
	}
	tc := newTaskContext(ctx, spec.Job, spec.TaskID, spec.Attempt, spec.Params, logger)
	part := c.part
	if c.job.TotalOrder {
		part = &shuffle.RangePartitioner{Splits: spec.RangeSplits}
	}
	out := &mapOutput{
		dir:      spec.Dir,
		opts:     spill.Options{Partitions: spec.Reducers, Codec: codec, BlockSize: runBlockSize},
		part:     part,
		budget:   spec.SortBuffer,
		buf:      idleBuffer.take(),
		counters: tc.counters,
	}
	defer func() {
		out.buf.Reset()
		idleBuffer.keep(out.buf)
	}()

	faults, err := newFaultSite(spec.TaskID, spec.Attempt)
	if err != nil {
		return mapResult{}, err
	}
	faults.setRuns(&out.runs)
	out.faults = faults
	if err := faults.hit("map-start"); err != nil {
		return mapResult{}, err
	}

	var emit func(K, V)
	var finish func()
	switch {
	case c.job.Combine != nil:
		emit, finish = c.combiningEmitter(out, spec.SortBuffer/2)
	case c.job.SortValues != nil:
		emit, finish = c.sortingEmitter(out)
	default:
		emit, finish = c.plainEmitter(out)
	}
	// emit is valid only during a Map call: one that a goroutine kept and
	// calls later would write into a buffer that has moved on (or been
	// handed to the next task). The check is one atomic load per emit.
	var live atomic.Bool
	emitted := emit
	emit = func(k K, v V) {
		if !live.Load() {
			panic(fmt.Sprintf("mapreduce: job %s, task %s attempt %d: emit called after Map returned (a goroutine kept it); emit is valid only during the Map call that received it",
				spec.Job, spec.TaskID, spec.Attempt))
		}
		emitted(k, v)
	}
	mapRecord := func(rec Record) error { return c.job.Map(tc, rec, emit) }
	var skipped []SkippedRecord
	if spec.SkipBadRecords > 0 && spec.Attempt > 1 {
		mapRecord = c.skippingMapper(tc, emit, spec.SkipBadRecords, &skipped)
	}
	mapOne := func(rec Record) error {
		live.Store(true)
		err := mapRecord(rec)
		live.Store(false)
		return err
	}

	// The task's splits are read one after another; an error names the
	// split (file and range) it met, not the whole task.
	var records, bytesRead, storedRead int64
	total := spec.Input.Len()
	mapSplit := func(split input.Split) error {
		r, err := input.OpenRecords(split)
		if err != nil {
			return err // names the split already
		}
		defer r.Close()
		defer func() { bytesRead, storedRead = bytesRead+r.BytesRead(), storedRead+storedBytes(r) }()
		// A panic in Map is caught by the engine, which knows the task,
		// not which of its files and records it met: say so here.
		at := int64(-1)
		defer func() {
			if p := recover(); p != nil {
				panic(fmt.Sprintf("map %s: record at %s %d: %v", split, offsetUnit(split), at, p))
			}
		}()
		for {
			in, ok := r.Next()
			if !ok {
				break
			}
			if records%checkEvery == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
				exec.Progress(ctx, storedRead+storedBytes(r), total)
			}
			records++
			if err := faults.hit("record"); err != nil {
				return err
			}
			at = in.Offset
			if err := mapOne(record(split, in)); err != nil {
				return fmt.Errorf("map %s: record at %s %d: %w", split, offsetUnit(split), in.Offset, err)
			}
			if out.err != nil {
				return out.err
			}
		}
		return r.Err() // names the split already
	}
	for _, split := range spec.Input.Splits {
		if err := mapSplit(split); err != nil {
			return mapResult{}, err
		}
	}
	finish()
	if out.err == nil {
		out.spill()
	}
	if out.err != nil {
		return mapResult{}, out.err
	}
	if err := faults.hit("map-done"); err != nil {
		return mapResult{}, err
	}
	tc.counters[SkippedRecords] += int64(len(skipped))
	tc.counters[MapInputRecords] += records
	tc.counters[MapInputBytes] += bytesRead
	return mapResult{Runs: out.runs, Counters: tc.counters, Skipped: skipped}, nil
}

// skippingMapper runs Map on one record at a time with its emits held back,
// so that a record on which Map panics or fails is dropped whole, with
// nothing of it emitted, and the task goes on. This is the MapReduce paper's
// bad-record skipping: it only runs in a retry, after an attempt has failed,
// so that the normal path pays nothing for it.
func (c *compiled[K, V, OK, OV]) skippingMapper(tc *TaskContext, emit func(K, V), limit int, skipped *[]SkippedRecord) func(Record) error {
	var held [][2][]byte
	var n int
	hold := func(k K, v V) {
		if n == len(held) {
			held = append(held, [2][]byte{})
		}
		held[n][0] = c.keys.Append(held[n][0][:0], k)
		held[n][1] = c.values.Append(held[n][1][:0], v)
		n++
	}
	try := func(rec Record) (err error) {
		defer func() {
			if p := recover(); p != nil {
				err = fmt.Errorf("panic: %v", p)
			}
		}()
		return c.job.Map(tc, rec, hold)
	}
	return func(rec Record) error {
		n = 0
		if err := try(rec); err != nil {
			if len(*skipped) >= limit {
				return fmt.Errorf("more than %d bad records (skip limit); this one: %w", limit, err)
			}
			*skipped = append(*skipped, SkippedRecord{File: rec.File, Offset: rec.Offset, Error: err.Error()})
			tc.logger.Warn("skipping bad record", "file", rec.File, "offset", rec.Offset, "err", err)
			return nil
		}
		for _, kv := range held[:n] {
			k, err := c.keys.Decode(kv[0])
			if err != nil {
				return err
			}
			v, err := c.values.Decode(kv[1])
			if err != nil {
				return err
			}
			emit(k, v)
		}
		return nil
	}
}

// plainEmitter encodes every pair straight into the sort buffer.
func (c *compiled[K, V, OK, OV]) plainEmitter(out *mapOutput) (emit func(K, V), finish func()) {
	var kbuf, vbuf []byte
	var n int64
	emit = func(k K, v V) {
		kbuf = c.keys.Append(kbuf[:0], k)
		vbuf = c.values.Append(vbuf[:0], v)
		n++
		out.add(kbuf, vbuf)
	}
	finish = func() { out.counters[MapOutputRecords] += n }
	return emit, finish
}

// sortingEmitter shuffles on composite keys for a secondary sort (see
// secondary.go), partitioning by the key alone.
func (c *compiled[K, V, OK, OV]) sortingEmitter(out *mapOutput) (emit func(K, V), finish func()) {
	var kbuf, cbuf, vbuf []byte
	var n int64
	emit = func(k K, v V) {
		kbuf = c.keys.Append(kbuf[:0], k)
		cbuf = c.job.SortValues(appendEscaped(cbuf[:0], kbuf), v)
		vbuf = c.values.Append(vbuf[:0], v)
		n++
		out.addTo(out.part.Partition(kbuf, out.opts.Partitions), cbuf, vbuf)
	}
	finish = func() { out.counters[MapOutputRecords] += n }
	return emit, finish
}

// mapOutput is a map task's sort buffer and the runs it has spilled.
type mapOutput struct {
	dir      string
	opts     spill.Options
	part     Partitioner
	budget   int64
	buf      *spill.Buffer
	runs     []runFile
	counters Counters
	faults   *faultSite
	err      error
}

func (o *mapOutput) fail(err error) {
	if o.err == nil {
		o.err = err
	}
}

func (o *mapOutput) add(key, value []byte) {
	o.addTo(o.part.Partition(key, o.opts.Partitions), key, value)
}

func (o *mapOutput) addTo(partition int, key, value []byte) {
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
func (o *mapOutput) spill() {
	if o.err != nil || o.buf.Len() == 0 {
		return
	}
	if err := o.faults.hit("spill"); err != nil {
		o.fail(err)
		return
	}
	o.buf.Sort()
	path := filepath.Join(o.dir, fmt.Sprintf("run-%04d.run", len(o.runs)))
	info, err := spill.WriteBuffer(path, o.buf, o.opts)
	o.buf.Reset()
	if err != nil {
		o.fail(fmt.Errorf("spill run %s: %w", path, err))
		return
	}
	o.runs = append(o.runs, runFile{
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

// runBlockSize is the uncompressed size of a record batch in map output
// runs. A reducer holds one decoded block per merged run, so its memory is
// about fan-in × block size: 256 KiB keeps a 64-way merge near 16 MiB, where
// spill's 1 MiB default would take 64 MiB.
const runBlockSize = 256 << 10

func (s mapSpec) jobName() string { return s.Job }
