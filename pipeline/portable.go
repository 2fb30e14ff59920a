package pipeline

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"log/slog"

	"github.com/quern-dev/quern/input"
	"github.com/quern-dev/quern/mapreduce"
	"github.com/quern-dev/quern/output"
)

// The portable view of a pipeline: how another engine, with a shuffle of
// its own (Apache Beam, in beam/beamjob), runs a pipeline's stages. It
// sees the stages in build order (every collection's producer before its
// consumers), which collections each reads and makes, by index, and runs
// a stage's typed function over one bundle of records or groups through
// Bundle, with encoded keys and values in and out. Grouping, partitioning
// and the order of groups are the engine's.

// ErrNotPortable is wrapped by the error of a pipeline that another engine
// cannot run; the message says why in the user's terms.
var ErrNotPortable = errors.New("pipeline: not portable")

// PortableStage is one stage as another engine runs it.
type PortableStage struct {
	Index int
	Name  string
	// Read is a stage that maps input files (StageFiles says which).
	Read bool
	// Inputs are the collections a group stage groups by key, by index,
	// in the order its function takes their values.
	Inputs []int
	// Makes are the collections, by index, the stage's tasks make for
	// later stages (its own and its fused maps').
	Makes []int
	// Output is set on the stage that writes the pipeline's output.
	Output bool
}

// Portable returns the stages in build order, or an error wrapping
// ErrNotPortable for a pipeline whose stages keep state between rounds or
// run in a loop.
func (p *Pipeline) Portable() ([]PortableStage, error) {
	var out []PortableStage
	for _, s := range p.stages {
		switch {
		case s.kind == stateKind:
			return nil, fmt.Errorf("%w: stage %q keeps each partition's state in memory from round to round, which only Quern's own engine does", ErrNotPortable, s.name)
		case s.loop != nil:
			return nil, fmt.Errorf("%w: stage %q runs in loop %q, which only Quern's own engine runs", ErrNotPortable, s.name, s.loop.name)
		}
		out = append(out, p.portableStage(s))
	}
	return out, nil
}

// ReadStages returns the read stages, as Portable does, of any pipeline,
// portable or not: an engine that runs a pipeline's later stages its own
// way (Beam's unrolled PageRank, in beam/beamjob) still reads the input
// through them, with the pipeline's own parsing and counters.
func (p *Pipeline) ReadStages() []PortableStage {
	var out []PortableStage
	for _, s := range p.stages {
		if s.kind == readStage {
			out = append(out, p.portableStage(s))
		}
	}
	return out
}

func (p *Pipeline) portableStage(s *stage) PortableStage {
	ps := PortableStage{Index: s.index, Name: s.name, Read: s.kind == readStage, Output: p.output.producer == s}
	for _, in := range s.inputs {
		ps.Inputs = append(ps.Inputs, in.index)
	}
	for _, c := range p.colls {
		if c.producer == s && len(c.consumers) > 0 {
			ps.Makes = append(ps.Makes, c.index)
		}
	}
	return ps
}

// WithDefaults returns the given parameters with the pipeline's defaults filled
// in; a missing required one is an error wrapping mapreduce.ErrConfig.
func (p *Pipeline) WithDefaults(given map[string]string) (map[string]string, error) {
	return p.params(given)
}

// StageFiles returns, by stage index, the files each read stage reads of
// files: all of them, or those its ReadFiles filter keeps, and for a
// ReadLines stage with CSV and TSV files read as Text unless inputFormat
// (the Config's InputFormat) names the format of every file. A file the
// filter refuses is an error wrapping mapreduce.ErrConfig.
func (p *Pipeline) StageFiles(params map[string]string, inputFormat string, files []input.File) (map[int][]input.File, error) {
	out := map[int][]input.File{}
	for _, s := range p.stages {
		if s.kind != readStage {
			continue
		}
		mine := files
		if s.keep != nil {
			mine = nil
			for _, f := range files {
				ok, err := s.keep(params, f.Path)
				if err != nil {
					return nil, fmt.Errorf("%w: pipeline %s, stage %s: %w", mapreduce.ErrConfig, p.Name, s.name, err)
				}
				if ok {
					mine = append(mine, f)
				}
			}
		}
		if s.lines && inputFormat == "" {
			mine = input.AsLines(mine)
		}
		out[s.index] = mine
	}
	return out, nil
}

// Columns returns the names of the output value's columns for the given
// input files (OutputColumns), or nil when the pipeline names none.
func (p *Pipeline) Columns(params map[string]string, files []input.File) ([]string, error) {
	if p.columns == nil {
		return nil, nil
	}
	return p.columns(func(name string) string { return params[name] }, files)
}

// CreateOutput opens a part file of the pipeline's output, in the output
// collection's types.
func (p *Pipeline) CreateOutput(path string, opts output.Options) (OutputPart, error) {
	return p.output.createOutput(path, opts)
}

// OutputPart is a part file of a pipeline's output.
type OutputPart interface {
	Records() int64
	Bytes() int64
	Close() error
	Abort()
}

// BundleOptions say how a Bundle runs.
type BundleOptions struct {
	Context context.Context
	Logger  *slog.Logger
	TaskID  string
	Params  map[string]string
	// Emit receives each pair the stage makes for a later stage, with the
	// collection's index; key and value are reused after it returns.
	Emit func(coll int, key, value []byte)
	// Output is the part file the output stage writes, Format its format.
	Output string
	Format output.Options
	// Memory is what the stage's combining tables may hold.
	Memory int64
}

// Bundle runs one stage's function over a bundle of records (Record, a
// read stage) or of groups (Group, a group stage), then Finish or Abort.
type Bundle struct {
	rt     *taskAttempt
	record func(mapreduce.Record) error
	group  func([]byte, []iter.Seq[[]byte]) error
	out    OutputPart
	name   string
}

// NewBundle starts a bundle of the stage with the given index.
func (p *Pipeline) NewBundle(stage int, o BundleOptions) (*Bundle, error) {
	if stage < 0 || stage >= len(p.stages) {
		return nil, fmt.Errorf("pipeline %q has no stage %d", p.Name, stage)
	}
	s := p.stages[stage]
	if s.kind == stateKind {
		return nil, fmt.Errorf("%w: stage %q", ErrNotPortable, s.name)
	}
	rt := &taskAttempt{
		spec:    taskSpec{Pipeline: p.Name, Stage: stage, TaskID: o.TaskID, Params: o.Params, SortBuffer: 2 * o.Memory, Output: o.Output},
		tc:      mapreduce.NewTaskContext(o.Context, p.Name+"/"+s.name, o.TaskID, 1, o.Params, o.Logger),
		writers: map[int]runWriter{},
	}
	for _, c := range p.colls {
		if c.producer == s && len(c.consumers) > 0 {
			rt.writers[c.index] = &emitWriter{coll: c.index, emit: o.Emit, rt: rt}
		}
	}
	b := &Bundle{rt: rt, name: s.name}
	if o.Output != "" {
		ow, err := p.output.createOutput(o.Output, o.Format)
		if err != nil {
			return nil, fmt.Errorf("stage %s: %w", s.name, err)
		}
		b.out, rt.out = ow, ow
	}
	if s.kind == readStage {
		b.record = s.readFunc(rt)
	} else {
		b.group = s.groupFunc(rt)
	}
	return b, nil
}

// Record maps one input record (a read stage).
func (b *Bundle) Record(rec mapreduce.Record) error {
	if err := b.record(rec); err != nil {
		return err
	}
	return b.rt.err
}

// Group calls the stage's function with one key and its values from each
// of the stage's inputs, in the order of PortableStage.Inputs (a group
// stage). Each sequence is read once.
func (b *Bundle) Group(key []byte, values []iter.Seq[[]byte]) error {
	var n int64
	counted := make([]iter.Seq[[]byte], len(values))
	for i, vs := range values {
		counted[i] = func(yield func([]byte) bool) {
			for v := range vs {
				n++
				if !yield(v) {
					return
				}
			}
		}
	}
	if err := b.group(key, counted); err != nil {
		return fmt.Errorf("stage %s, key %q: %w", b.name, key, err)
	}
	b.rt.tc.Count(mapreduce.ReduceInputGroups, 1)
	b.rt.tc.Count(mapreduce.ReduceInputRecords, n)
	return b.rt.err
}

// Finish ends a bundle that saw all its input: combining tables emit what
// they hold and the output part is closed. It returns the bundle's
// counters.
func (b *Bundle) Finish() (mapreduce.Counters, error) {
	for _, finish := range b.rt.finishers {
		finish()
	}
	b.rt.finishers = nil
	if err := b.rt.err; err != nil {
		b.Abort()
		return nil, err
	}
	for _, w := range b.rt.writers {
		if _, err := w.close(); err != nil {
			b.Abort()
			return nil, err
		}
	}
	if b.out != nil {
		out := b.out
		b.out = nil
		if err := out.Close(); err != nil {
			out.Abort()
			return nil, fmt.Errorf("stage %s: %w", b.name, err) // names the file (output.Writer)
		}
		b.rt.tc.Count(mapreduce.ReduceOutputRecords, out.Records())
		b.rt.tc.Count(mapreduce.OutputBytes, out.Bytes())
	}
	return b.rt.tc.Counters(), nil
}

// Abort ends a failed bundle: its output part is removed and its
// combining tables let go.
func (b *Bundle) Abort() {
	for _, release := range b.rt.releasers {
		release()
	}
	b.rt.releasers = nil
	if b.out != nil {
		b.out.Abort()
		b.out = nil
	}
}

// emitWriter hands a collection's pairs to another engine's emitter.
type emitWriter struct {
	coll    int
	emit    func(coll int, key, value []byte)
	records int64
	rt      *taskAttempt
}

func (w *emitWriter) add(key, value []byte) {
	w.records++
	w.emit(w.coll, key, value)
}

func (w *emitWriter) close() ([]runFile, error) {
	w.rt.tc.Count(mapreduce.MapOutputRecords, w.records)
	w.records = 0
	return nil, w.rt.err
}

func (w *emitWriter) abort() {}
