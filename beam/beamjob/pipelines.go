package beamjob

import (
	"context"
	"fmt"
	"iter"
	"log/slog"
	"maps"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/quern-dev/quern/apps/pagerank"
	"github.com/quern-dev/quern/input"
	"github.com/quern-dev/quern/internal/plan"
	"github.com/quern-dev/quern/mapreduce"
	"github.com/quern-dev/quern/output"
	"github.com/quern-dev/quern/pipeline"
)

// A registered pipeline (package pipeline: topwords, join, joinagg) runs
// as one Beam pipeline, through the pipeline's portable view
// (pipeline.Portable): each stage becomes one ParDo, each shuffle one
// GroupByKey.
//
//	read stage:   Create(splits) -> Reshuffle -> ParDo(readStageFn)
//	group stage:  per input collection, ParDo(selectFn) over its producer's
//	              pairs -> GroupByKey (one input) or CoGroupByKey (two)
//	              -> ParDo(groupStageFn / cogroupStageFn)
//
// Every stage's ParDo emits the pairs of all the collections it makes into
// one PCollection, each key prefixed with its collection's index (one
// byte); a consumer's selectFn keeps its collection's pairs and strips the
// prefix. The output stage writes one part file per bundle under
// OUTPUT/_temporary, as a job's reduce does, and every stage's bundles
// emit their counters, so the manifests, the commit and the counters are
// the single job's (beamjob.go).
//
// Fusion and shuffle skipping are Beam's business: a ByKey stage's output
// is grouped again by its key (one more GroupByKey), which the local
// engine skips. A stage that keeps state between rounds (pipeline.Stateful)
// has no portable form: pagerank's is translated by hand, its rounds
// unrolled (pagerank.go), and any other pipeline with one, or with a loop
// (pipeline.Iterate), is refused.

func init() {
	register.DoFn4x1[context.Context, []byte, func([]byte, []byte), func(string), error](&readStageFn{})
	register.DoFn5x1[context.Context, []byte, func(*[]byte) bool, func([]byte, []byte), func(string), error](&groupStageFn{})
	register.DoFn6x1[context.Context, []byte, func(*[]byte) bool, func(*[]byte) bool, func([]byte, []byte), func(string), error](&cogroupStageFn{})
	register.DoFn3x0[[]byte, []byte, func([]byte, []byte)](&selectFn{})
}

// CanRun says whether a registered pipeline runs on Beam: nil, or an
// error wrapping pipeline.ErrNotPortable that says why in the user's terms.
func CanRun(p *pipeline.Pipeline) error {
	_, err := portableStages(p)
	return err
}

// portableStages are the stages of p that run as they are on Beam: all of
// them, or pagerank's read stage, after which translatePageRank unrolls
// the rank stage's rounds.
func portableStages(p *pipeline.Pipeline) ([]pipeline.PortableStage, error) {
	if isPageRank(p) {
		return p.ReadStages(), nil
	}
	return p.Portable()
}

// buildPipeline is Build for a registered pipeline.
func buildPipeline(ctx context.Context, cfg Config, p *pipeline.Pipeline) (*Plan, error) {
	stages, err := portableStages(p)
	if err != nil {
		return nil, fmt.Errorf("%w: %s cannot run on Beam: %w; run it with 'quern run %s'", ErrConfig, p.Name, err, p.Name)
	}
	if cfg.Params, err = p.WithDefaults(maps.Clone(cfg.Params)); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	if isPageRank(p) {
		if _, err := pagerank.Iterations(cfg.Params); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrConfig, err)
		}
	}
	opts, files, err := cfg.prepare(ctx)
	if err != nil {
		return nil, err
	}
	byStage, err := p.StageFiles(cfg.Params, cfg.InputFormat, files)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	pl := &Plan{cfg: cfg, opts: opts, pipe: p, stages: stages, stageSplits: map[int][]input.Split{}}
	var read []input.File
	seen := map[string]bool{}
	for _, s := range stages {
		if !s.Read {
			continue
		}
		splits, err := plan.Splits(byStage[s.Index], plan.Options{SplitSize: cfg.SplitSize})
		if err != nil {
			return nil, fmt.Errorf("%w: stage %s: %w", ErrConfig, s.Name, err)
		}
		pl.stageSplits[s.Index] = splits
		pl.Splits = append(pl.Splits, splits...)
		for _, f := range byStage[s.Index] {
			if !seen[f.Path] {
				seen[f.Path] = true
				read = append(read, f)
			}
		}
	}
	if pl.opts.ValueColumns, err = p.Columns(cfg.Params, read); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	pl.createPart = func(_ *mapreduce.TaskContext, path string) (partWriter, error) {
		return p.CreateOutput(path, pl.opts)
	}
	if err := pl.take(files); err != nil {
		return nil, err
	}
	return pl, nil
}

// translatePipeline is translate for a registered pipeline.
func (pl *Plan) translatePipeline() error {
	cfg := pl.cfg
	p, s := beam.NewPipelineWithRoot()
	pl.Pipeline = p
	if len(pl.Splits) == 0 {
		return nil
	}
	producer := map[int]int{}           // collection index -> stage index
	pairs := map[int]beam.PCollection{} // stage index -> its tagged pairs
	var lines []beam.PCollection
	for _, st := range pl.stages {
		for _, c := range st.Makes {
			if c > 255 {
				return fmt.Errorf("%w: pipeline %s has more than 256 collections", ErrConfig, pl.pipe.Name)
			}
			producer[c] = st.Index
		}
		base := stageBase{Pipeline: pl.pipe.Name, Stage: st.Index, Params: cfg.Params, Memory: cfg.PrecombineBytes, Run: pl.run}
		if st.Output {
			base.Dir, base.OutputFormat, base.OutputCompression = pl.tmp, pl.opts.Format.String(), pl.opts.Compression.String()
			base.ValueColumns = pl.opts.ValueColumns
		}
		scope := s.Scope(st.Name)
		var out, counters beam.PCollection
		switch {
		case st.Read:
			specs := [][]byte{}
			for _, sp := range pl.stageSplits[st.Index] {
				b, err := encodeSplit(sp)
				if err != nil {
					return fmt.Errorf("beamjob: encode split %v: %w", sp, err)
				}
				specs = append(specs, b)
			}
			splits := beam.Reshuffle(scope, beam.CreateList(scope, specs))
			out, counters = beam.ParDo2(scope, &readStageFn{stageBase: base, Dir: cfg.dir}, splits)
		case len(st.Inputs) == 1:
			in := beam.ParDo(scope, &selectFn{Coll: st.Inputs[0]}, pairs[producer[st.Inputs[0]]])
			out, counters = beam.ParDo2(scope, &groupStageFn{base}, beam.GroupByKey(scope, in))
		case len(st.Inputs) == 2:
			a := beam.ParDo(scope, &selectFn{Coll: st.Inputs[0]}, pairs[producer[st.Inputs[0]]])
			b := beam.ParDo(scope, &selectFn{Coll: st.Inputs[1]}, pairs[producer[st.Inputs[1]]])
			out, counters = beam.ParDo2(scope, &cogroupStageFn{base}, beam.CoGroupByKey(scope, a, b))
		default:
			return fmt.Errorf("%w: stage %s of %s groups %d collections; Beam runs groups of one or two", ErrConfig, st.Name, pl.pipe.Name, len(st.Inputs))
		}
		pairs[st.Index] = out
		lines = append(lines, counters)
	}
	if isPageRank(pl.pipe) {
		written, err := pl.translatePageRank(s, pairs[pl.stages[0].Index])
		if err != nil {
			return err
		}
		lines = append(lines, written)
	}
	// As for a job: the Reshuffle keeps the manifests out of the stages'
	// bundles, so only committed bundles' lines reach them.
	all := beam.Flatten(s.Scope("commit"), lines...)
	beam.ParDo0(s.Scope("commit"), &manifestFn{Dir: pl.tmp, Run: pl.run}, beam.Reshuffle(s.Scope("commit"), all))
	return nil
}

// stageBase runs one bundle of a pipeline stage (pipeline.Bundle): the
// pairs it makes go out tagged with their collection's index, and, for the
// output stage, its part file is written under Dir (the output's
// _temporary) and named in the bundle's manifest line.
type stageBase struct {
	Pipeline string
	Stage    int
	Params   map[string]string
	// Memory is what the stage's combining tables may hold.
	Memory int64
	// Dir, set on the output stage only, is where its parts go: the
	// output's _temporary, a directory or an object prefix (stagePart).
	Dir                             string
	OutputFormat, OutputCompression string
	ValueColumns                    []string
	// Run is the job run's id, under which the output stage stages a part
	// bound for an object store (scratch).
	Run string

	p      *pipeline.Pipeline
	opts   output.Options
	bundle *pipeline.Bundle
	part   *stagedPart          // the bundle's part file, output stage
	emit   func([]byte, []byte) // the current call's emitter
	counts mapreduce.Counters   // counted here, outside the bundle
	arena  arena
}

// Setup finds the pipeline and the output options.
func (f *stageBase) Setup() error {
	p, ok := pipeline.Lookup(f.Pipeline)
	if !ok {
		return fmt.Errorf("%w: pipeline %q (is its package imported by this binary?)", ErrUnknownJob, f.Pipeline)
	}
	f.p = p
	f.counts = mapreduce.Counters{}
	var err error
	f.opts, err = outputOptions(f.OutputFormat, f.OutputCompression)
	f.opts.ValueColumns = f.ValueColumns
	return err
}

// start begins the bundle on its first element.
func (f *stageBase) start(ctx context.Context, emit func([]byte, []byte)) error {
	f.emit = emit
	if f.bundle != nil {
		return nil
	}
	id := randomName()
	o := pipeline.BundleOptions{Context: ctx, TaskID: id, Params: f.Params, Memory: f.Memory, Emit: f.send,
		Logger: slog.Default().With("pipeline", f.Pipeline, "stage", f.Stage, "task", id)}
	if f.Dir != "" {
		part, err := stagePart(f.Run, f.Dir, "part-"+id+f.opts.Ext())
		if err != nil {
			return err
		}
		f.part = part
		o.Output, o.Format = part.Path, f.opts
	}
	b, err := f.p.NewBundle(f.Stage, o)
	if err != nil {
		f.dropPart()
		return fmt.Errorf("beamjob: %w", err)
	}
	f.bundle = b
	clear(f.counts)
	return nil
}

// send emits one pair of collection coll, its key prefixed with coll.
// The slices are reused by the caller, so they are copied.
func (f *stageBase) send(coll int, key, value []byte) {
	k := f.arena.copy(append([]byte{byte(coll)}, key...))
	f.emit(k, f.arena.copy(value))
}

// finish ends the bundle: what the combining tables hold is emitted, the
// part closed, and the bundle's manifest line (its part, or its counters
// alone) emitted.
func (f *stageBase) finish(ctx context.Context, emit func([]byte, []byte), lines func(string)) error {
	if f.bundle == nil {
		return nil
	}
	f.emit = emit
	b := f.bundle
	f.bundle = nil
	counters, err := b.Finish()
	if err != nil {
		f.dropPart()
		return fmt.Errorf("beamjob: pipeline %s: %w", f.Pipeline, err)
	}
	name := mapCountersPrefix + randomName()
	if part := f.part; part != nil {
		f.part = nil
		if err := part.publish(ctx); err != nil {
			return fmt.Errorf("beamjob: pipeline %s: %w", f.Pipeline, err)
		}
		name = part.name
	}
	counters.Add(f.counts)
	all := mapreduce.Counters{}
	flushCounters(ctx, counters, all)
	line, err := manifestLine(name, all)
	if err != nil {
		return err
	}
	lines(line)
	return nil
}

// abort drops a failed bundle and its part file.
func (f *stageBase) abort() {
	if f.bundle != nil {
		f.bundle.Abort()
		f.bundle = nil
	}
	f.dropPart()
}

// dropPart removes the scratch copy of a part that will not be published.
func (f *stageBase) dropPart() {
	if f.part != nil {
		f.part.discard()
		f.part = nil
	}
}

// Teardown removes a failed bundle's part file.
func (f *stageBase) Teardown() error {
	f.abort()
	return nil
}

// readStageFn runs a read stage over the records of one split per element.
type readStageFn struct {
	stageBase
	Dir string // relative input paths are relative to it
}

// StartBundle drops what a failed bundle left in this instance.
func (f *readStageFn) StartBundle(_ context.Context, _ func([]byte, []byte), _ func(string)) error {
	f.abort()
	return nil
}

// ProcessElement maps every record of the split encoded in spec.
func (f *readStageFn) ProcessElement(ctx context.Context, spec []byte, emit func([]byte, []byte), _ func(string)) error {
	sp, err := decodeSplit(spec)
	if err != nil {
		return fmt.Errorf("beamjob: decode split %q: %w", spec, err)
	}
	if err := f.start(ctx, emit); err != nil {
		return err
	}
	read, err := mapSplit(ctx, sp, f.Dir, nil, f.bundle.Record)
	read.AddTo(f.counts)
	if err != nil {
		return fmt.Errorf("beamjob: pipeline %s: %w", f.Pipeline, err)
	}
	return nil
}

// FinishBundle emits what the bundle's combining tables hold, and its
// counters.
func (f *readStageFn) FinishBundle(ctx context.Context, emit func([]byte, []byte), lines func(string)) error {
	return f.finish(ctx, emit, lines)
}

// groupStageFn runs a stage that groups one collection.
type groupStageFn struct{ stageBase }

// StartBundle drops what a failed bundle left in this instance.
func (f *groupStageFn) StartBundle(_ context.Context, _ func([]byte, []byte), _ func(string)) error {
	f.abort()
	return nil
}

// ProcessElement calls the stage's function with one key and its values.
func (f *groupStageFn) ProcessElement(ctx context.Context, key []byte, values func(*[]byte) bool, emit func([]byte, []byte), _ func(string)) error {
	if err := f.start(ctx, emit); err != nil {
		return err
	}
	return f.group(key, values)
}

// FinishBundle closes the bundle's part and emits its manifest line.
func (f *groupStageFn) FinishBundle(ctx context.Context, emit func([]byte, []byte), lines func(string)) error {
	return f.finish(ctx, emit, lines)
}

// cogroupStageFn runs a stage that groups two collections by their key.
type cogroupStageFn struct{ stageBase }

// StartBundle drops what a failed bundle left in this instance.
func (f *cogroupStageFn) StartBundle(_ context.Context, _ func([]byte, []byte), _ func(string)) error {
	f.abort()
	return nil
}

// ProcessElement calls the stage's function with one key and both
// collections' values for it.
func (f *cogroupStageFn) ProcessElement(ctx context.Context, key []byte, as, bs func(*[]byte) bool, emit func([]byte, []byte), _ func(string)) error {
	if err := f.start(ctx, emit); err != nil {
		return err
	}
	return f.group(key, as, bs)
}

// FinishBundle closes the bundle's part and emits its manifest line.
func (f *cogroupStageFn) FinishBundle(ctx context.Context, emit func([]byte, []byte), lines func(string)) error {
	return f.finish(ctx, emit, lines)
}

// group hands one key and its values, from each of Beam's iterators, to
// the bundle.
func (f *stageBase) group(key []byte, inputs ...func(*[]byte) bool) error {
	seqs := make([]iter.Seq[[]byte], len(inputs))
	for i, values := range inputs {
		seqs[i] = func(yield func([]byte) bool) {
			var v []byte
			for values(&v) {
				if !yield(v) {
					return
				}
			}
		}
	}
	if err := f.bundle.Group(key, seqs); err != nil {
		return fmt.Errorf("beamjob: pipeline %s: %w", f.Pipeline, err)
	}
	return nil
}

// selectFn keeps the pairs of one collection from a stage's tagged pairs,
// without their tag.
type selectFn struct {
	Coll int
}

// ProcessElement passes on a pair of the collection.
func (f *selectFn) ProcessElement(key, value []byte, emit func([]byte, []byte)) {
	if len(key) > 0 && int(key[0]) == f.Coll {
		emit(key[1:], value)
	}
}
