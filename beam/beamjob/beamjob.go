// Package beamjob runs a registered Quern job on Apache Beam.
//
// The translation is one fixed pipeline over encoded []byte keys and
// values, whatever the job's Go types:
//
//	input splits (plan.Splits, as the local engine cuts them)
//	  -> Create + Reshuffle             one element per split, spread over workers
//	  -> ParDo(map)                     read the split, run Map; with a combiner,
//	                                    pre-combine per bundle in memory
//	  -> CombinePerKey(job's combiner)  jobs with a combiner
//	     or GroupByKey                  jobs without
//	  -> ParDo(reduce)                  Reduce each key into the bundle's part
//	                                    file under OUTPUT/_temporary; emit its name
//	     (total order: totalorder.go; secondary sort: sortvalues.go)
//	  -> Reshuffle -> ParDo(manifest)   record the names of committed parts,
//	                                    and every committed bundle's counters
//
// The launcher takes a local output directory with the local engine's
// output committer (internal/commit: the same refusals, lock and
// --overwrite), only after everything that can be refused before the
// pipeline runs has been checked, so that a refused job leaves a previous
// output alone. After the pipeline succeeds the launcher (Run) renames the
// parts named in the manifests to part-00000, part-00001, ... (with the
// output format's extension) through the committer, which then writes
// _job.json, whose counters are the sums of the committed bundles'
// counters in the manifests, and _SUCCESS last, each atomically and
// durably. Part files of failed or retried bundles are never named in a
// manifest and go away with _temporary.
//
// Jobs that need the local engine's sorted shuffle run too: a total order
// (TotalOrder: grep, sort) by sampled key ranges and a sort per range
// (totalorder.go), a secondary sort (SortValues: reverselinks) by a
// sort of each key's values after the GroupByKey (sortvalues.go); both sort
// with bounded memory with Quern's spill and merge code (sorter.go).
//
// The map and reduce steps open input and output files by path, so on a
// distributed runner the input and output paths must be on a file system
// that every worker and the launcher see at the same path, or in an
// object store (objects.go). Relative input paths are opened from the
// launcher's working directory.
package beamjob

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"

	"github.com/quern-dev/quern/beam/internal/scratch"
	"github.com/quern-dev/quern/input"
	"github.com/quern-dev/quern/internal/commit"
	jobdriver "github.com/quern-dev/quern/internal/driver"
	"github.com/quern-dev/quern/internal/jobhistory"
	"github.com/quern-dev/quern/internal/plan"
	"github.com/quern-dev/quern/mapreduce"
	"github.com/quern-dev/quern/objstore"
	"github.com/quern-dev/quern/output"
	"github.com/quern-dev/quern/pipeline"
)

// ErrUnknownJob is returned for a job name that is not registered in the
// running binary.
var ErrUnknownJob = errors.New("beamjob: no such registered job")

// ErrNotInitialized is returned by Run when beam.Init was not called: the
// binary's main must call it first, so that the same binary, started by a
// runner as a worker, turns into a Beam worker there.
var ErrNotInitialized = errors.New("beamjob: beam.Init was not called at the top of main")

// ErrConfig is wrapped by errors in a Config.
var ErrConfig = errors.New("beamjob: bad configuration")

// DefaultRanges is the number of key ranges, and so of part files, of a
// total-order job when Config.Ranges is 0.
const DefaultRanges = 4

// DefaultPrecombineBytes is the memory a map bundle fills with pre-combined
// pairs before it emits them.
const DefaultPrecombineBytes = 64 << 20

// Config describes one run of a job on Beam. Its fields mean what the
// fields of the same name in mapreduce.Config mean.
type Config struct {
	// Job is the registered job's name.
	Job string
	// Inputs are files, directories or globs, as for input.Expand.
	Inputs []string
	// Output is the output directory: absent or empty unless Overwrite.
	Output    string
	Overwrite bool
	// InputFormat reads every input in one format ("" = by file name).
	InputFormat string
	// OutputFormat and OutputCompression select the part files' format.
	OutputFormat, OutputCompression string
	// SplitSize is the largest byte range one map element reads
	// (0 = mapreduce.DefaultSplitSize).
	SplitSize int64
	// Params are the job's parameters; defaults are filled in.
	Params map[string]string
	// PrecombineBytes caps a map bundle's pre-combining memory
	// (0 = DefaultPrecombineBytes).
	PrecombineBytes int64
	// Ranges is the number of key ranges, and so of part files, of a
	// total-order job (0 = DefaultRanges); other jobs ignore it.
	Ranges int
	// SortBytes is the memory one sort of a total-order job's range or of
	// a key's values fills before it spills a sorted run to disk
	// (0 = DefaultSortBytes).
	SortBytes int64
	// Runner names the runner, for the summary.
	Runner string
	// Logger receives progress; nil discards it.
	Logger *slog.Logger

	dir string // the launcher's working directory
}

// Executor runs a pipeline: beam.Run with a runner name, or a runner's
// Execute (prism.Execute in tests).
type Executor func(ctx context.Context, p *beam.Pipeline) (beam.PipelineResult, error)

// Plan is a translated job, ready to run.
type Plan struct {
	Pipeline *beam.Pipeline
	Splits   []input.Split
	cfg      Config
	job      mapreduce.ByteJob // nil for a pipeline (pipelines.go)
	opts     output.Options
	tmp      string      // OUTPUT/_temporary, where reduce bundles write
	run      string      // this run's id, under which its bundles make temporary directories (scratch)
	out      *commit.Dir // a local output directory, taken from Build to Run's end
	ranges   [][]byte    // a total-order job's range boundaries
	// objectLock holds an output prefix (objects.go) from Build to the
	// end of Run.
	objectLock *objstore.OutputLock
	// previous are the keys of the finished output an Overwrite job
	// replaces in an output prefix (objects.go), deleted when it commits;
	// replacing is set once that commit has begun.
	previous  []string
	replacing bool
	// createPart opens a part file of the output, in the job's (or the
	// pipeline's) output types.
	createPart func(tc *mapreduce.TaskContext, path string) (partWriter, error)
	// pipe and stages are a pipeline's (pipelines.go), and stageSplits
	// the splits of each of its read stages, by stage index.
	pipe        *pipeline.Pipeline
	stages      []pipeline.PortableStage
	stageSplits map[int][]input.Split
}

// partWriter is an open part file of the output.
type partWriter interface {
	Close() error
	Abort()
}

// Build checks cfg, plans the input, translates the job into a pipeline
// and takes the output directory. Anything the translation cannot express
// is an error here, before the output is touched. A built plan holds the
// output directory's lock: Run it, or Close it. The listing of the input
// stops once ctx is done, with ctx's error.
func Build(ctx context.Context, cfg Config) (*Plan, error) {
	if p, ok := pipeline.Lookup(cfg.Job); ok {
		return buildPipeline(ctx, cfg, p)
	}
	job, err := lookupJob(cfg.Job)
	if err != nil {
		return nil, err
	}
	info := job.Info()
	if info.NoReduce {
		return nil, fmt.Errorf("%w: job %q has no Reduce: it runs map-only, which quern-beam does not; run it with 'quern run %s --reducers 0'", ErrConfig, info.Name, info.Name)
	}
	if cfg.Params, err = mapreduce.Params(job, cfg.Params); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	opts, files, err := cfg.prepare(ctx)
	if err != nil {
		return nil, err
	}
	if info.LineInput && cfg.InputFormat == "" {
		files = input.AsLines(files) // as plan.Inputs reads them for quern run
	}
	// Bounded as quern run bounds a plan: --split-size 1 over 10 MB grew
	// this process to 24 GB before the OOM killer took it.
	splits, err := plan.Splits(files, plan.Options{SplitSize: cfg.SplitSize})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	// Columnar output names its columns after the input, as on the local
	// engine (Job.ColumnsFromInput).
	if opts.ValueColumns, err = mapreduce.ColumnsFromInput(job, cfg.Params, files); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	pl := &Plan{Splits: splits, cfg: cfg, job: job, opts: opts}
	pl.createPart = func(tc *mapreduce.TaskContext, path string) (partWriter, error) {
		return job.NewReducer(tc, path, pl.opts)
	}
	if info.TotalOrder {
		// Relative input paths are read from the launcher's working
		// directory, as by the local engine's driver.
		if pl.ranges, err = mapreduce.SampleRanges(context.Background(), job, splits, cfg.Params, cfg.Ranges, cfg.Logger); err != nil {
			return nil, fmt.Errorf("beamjob: sample the keys of %s: %w", info.Name, err)
		}
	}
	if err := pl.take(files); err != nil {
		return nil, err
	}
	return pl, nil
}

// prepare fills in cfg's defaults, checks its output options and finds its
// input files, unless ctx is done first.
func (cfg *Config) prepare(ctx context.Context) (output.Options, []input.File, error) {
	var err error
	// file:///data/logs, as Hadoop and Spark take local paths.
	cfg.Inputs, cfg.Output = input.LocalPaths(cfg.Inputs), input.LocalPath(cfg.Output)
	if cfg.Output == "" {
		return output.Options{}, nil, fmt.Errorf("%w: no output directory", ErrConfig)
	}
	if objstore.IsURL(cfg.Output) {
		// An object prefix: see objects.go.
	} else if cfg.Output, err = filepath.Abs(cfg.Output); err != nil {
		return output.Options{}, nil, fmt.Errorf("beamjob: output %s: %w", cfg.Output, err)
	}
	if cfg.SplitSize == 0 {
		cfg.SplitSize = mapreduce.DefaultSplitSize
	}
	if cfg.PrecombineBytes <= 0 {
		cfg.PrecombineBytes = DefaultPrecombineBytes
	}
	if cfg.Ranges <= 0 {
		cfg.Ranges = DefaultRanges
	}
	if cfg.SortBytes <= 0 {
		cfg.SortBytes = DefaultSortBytes
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	opts, err := outputOptions(cfg.OutputFormat, cfg.OutputCompression)
	if err != nil {
		return opts, nil, err
	}
	files, err := input.ExpandContext(ctx, cfg.Inputs, input.ExpandOptions{
		Warn:      func(w string) { cfg.Logger.Warn(w) },
		ManyFiles: jobdriver.AdviseHeap, // as for quern run
	})
	if err != nil && jobdriver.StoppedBy(ctx, err) {
		return opts, nil, err
	}
	if err != nil {
		// A missing file, bucket or object is the user's to fix (exit
		// status 2), as for quern run.
		return opts, nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	// Splits keep the input paths as the user named them, since jobs see
	// them (Record.File: grep's and invertedindex's output name files);
	// workers, which may start in another directory, open relative paths
	// from the launcher's working directory.
	if cfg.dir, err = os.Getwd(); err != nil {
		return opts, nil, fmt.Errorf("beamjob: working directory: %w", err)
	}
	if cfg.InputFormat != "" {
		f, err := input.ParseFormat(cfg.InputFormat)
		if err != nil {
			return opts, nil, fmt.Errorf("%w: input format: %w", ErrConfig, err)
		}
		input.SetFormat(files, f)
	}
	return opts, files, nil
}

// take translates the plan into a pipeline and then takes the output
// directory: anything refused before leaves the output as it was.
func (pl *Plan) take(files []input.File) error {
	cfg := pl.cfg
	pl.run = randomName()
	if objstore.IsURL(cfg.Output) {
		pl.tmp = strings.TrimSuffix(cfg.Output, "/") + "/_temporary"
	} else {
		pl.tmp = filepath.Join(cfg.Output, commit.TempName)
	}
	if err := pl.translate(); err != nil {
		return err
	}
	return pl.prepareOutput(files)
}

func outputOptions(format, compression string) (output.Options, error) {
	var opts output.Options
	var err error
	if format != "" {
		if opts.Format, err = output.ParseFormat(format); err != nil {
			return opts, fmt.Errorf("%w: output format: %w", ErrConfig, err)
		}
	}
	if opts.Compression, err = output.ParseCompression(compression); err != nil {
		return opts, fmt.Errorf("%w: output compression: %w", ErrConfig, err)
	}
	return opts, nil
}

// prepareOutput opens and aborts one output file in a scratch directory,
// so that options the output package refuses fail now rather than in every
// reduce bundle, and then takes the output directory with the local
// engine's committer (commit.Open: the same refusals, the lock, Overwrite,
// OUTPUT/_temporary). The probe comes first: a refused job leaves a
// previous job's output as it was, even with Overwrite.
func (pl *Plan) prepareOutput(files []input.File) error {
	if err := pl.probeOutput(); err != nil {
		return err
	}
	if objstore.IsURL(pl.cfg.Output) {
		return pl.prepareObjectOutput(files)
	}
	var err error
	pl.out, err = commit.Open(pl.cfg.Output, commit.Options{Overwrite: pl.cfg.Overwrite,
		Inputs: input.PathsMaybeInside(pl.cfg.Output, files), Usage: ErrConfig})
	return err
}

// probeOutput opens and aborts one output file of the job's format in a
// private temporary directory.
func (pl *Plan) probeOutput() error {
	dir, err := os.MkdirTemp("", "quern-beam-probe-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	tc := mapreduce.NewTaskContext(context.Background(), pl.cfg.Job, "probe", 1, pl.cfg.Params, pl.cfg.Logger)
	probe, err := pl.createPart(tc, filepath.Join(dir, "probe"+pl.opts.Ext()))
	if err != nil {
		return fmt.Errorf("%w: output: %w", ErrConfig, err)
	}
	probe.Abort()
	return nil
}

// removeOutput undoes a failed job's output (commit.Dir.Abort): its parts
// and _temporary go, and the output directory too if this job created it.
// A directory that was there before the job (empty, or emptied by
// Overwrite) stays.
func (pl *Plan) removeOutput(parts []string) {
	if objstore.IsURL(pl.cfg.Output) {
		pl.removeObjectOutput(parts)
		return
	}
	if pl.out != nil {
		pl.out.Abort()
	}
}

// Close lets go of a plan that will not be Run: its output is undone as a
// failed job's, and the output directory's lock released. Run closes the
// plan itself.
func (pl *Plan) Close() {
	pl.removeOutput(nil)
	pl.release()
}

// release lets go of the output directory's lock.
func (pl *Plan) release() {
	if pl.out != nil {
		pl.out.Close()
		pl.out = nil
	}
}

func (pl *Plan) translate() error {
	if pl.pipe != nil {
		return pl.translatePipeline()
	}
	specs := make([][]byte, len(pl.Splits))
	for i, s := range pl.Splits {
		b, err := encodeSplit(s)
		if err != nil {
			return fmt.Errorf("beamjob: encode split %v: %w", s, err)
		}
		specs[i] = b
	}
	cfg := pl.cfg
	p, s := beam.NewPipelineWithRoot()
	if len(specs) == 0 {
		pl.Pipeline = p
		return nil
	}
	splits := beam.Reshuffle(s.Scope("splits"), beam.CreateList(s.Scope("splits"), specs))
	pairs, mapCounters := beam.ParDo2(s.Scope("map"), &mapFn{Job: cfg.Job, Params: cfg.Params, PrecombineBytes: cfg.PrecombineBytes, Dir: cfg.dir}, splits)
	base := reduceBase{Job: cfg.Job, Params: cfg.Params, Dir: pl.tmp, Run: pl.run,
		OutputFormat: pl.opts.Format.String(), OutputCompression: pl.opts.Compression.String(),
		ValueColumns: pl.opts.ValueColumns}
	var names beam.PCollection
	_, grouping := pl.job.(mapreduce.Grouping)
	switch {
	case pl.job.Info().TotalOrder:
		names = translateTotalOrder(s, pairs, cfg.Job, pl.ranges, base, cfg.SortBytes)
	case grouping:
		names = translateSortValues(s, pairs, cfg.Job, base, cfg.SortBytes)
	case pl.job.Info().HasCombiner:
		combined := beam.CombinePerKey(s.Scope("combine"), &combineFn{Job: cfg.Job}, pairs)
		names = beam.ParDo(s.Scope("reduce"), &reduceCombinedFn{base}, combined)
	default:
		grouped := beam.GroupByKey(s.Scope("shuffle"), pairs)
		names = beam.ParDo(s.Scope("reduce"), &reduceGroupsFn{base}, grouped)
	}
	// The Reshuffle keeps the manifest step out of the reduce step's
	// bundles: a name reaches it only once its reduce bundle committed.
	// The map bundles' counters go to the manifests with the parts' names.
	lines := beam.Flatten(s.Scope("commit"), names, mapCounters)
	beam.ParDo0(s.Scope("commit"), &manifestFn{Dir: pl.tmp, Run: pl.run}, beam.Reshuffle(s.Scope("commit"), lines))
	pl.Pipeline = p
	return nil
}

// Run builds the job's pipeline, runs it with exec, and commits the output.
// The Result's Counters are the job's counters read back from Beam's
// metrics; its Timings.Map holds the whole pipeline's time, since map and
// reduce overlap on Beam.
func Run(ctx context.Context, cfg Config, exec Executor) (*mapreduce.Result, error) {
	start := time.Now()
	pl, err := Build(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return pl.Run(ctx, exec, start)
}

// refusedInput reports whether a failed pipeline's error is a map
// bundle's refusal of its input (see internal/driver's refusal.go): the
// file is the one planned, so the job fails as the local engine's does, as
// an input problem (exit status 2). The runner passes a DoFn's error on as
// text only, so the text is what is looked at.
func refusedInput(err error) bool { return jobdriver.RefusesText(err.Error()) }

// Run runs a built plan; start is when planning began, for the timings.
func (pl *Plan) Run(ctx context.Context, exec Executor, start time.Time) (res *mapreduce.Result, err error) {
	var parts []string
	defer pl.release() // after removeOutput, below
	defer func() {
		// A failed or cancelled pipeline abandons its bundles, which then
		// never remove their temporary directories (scratch). Abandoned
		// first, so that a bundle still going stages no new part for an
		// object output while the output is removed.
		scratch.Abandon(pl.run)
		if err != nil {
			pl.removeOutput(parts)
			pl.report(err, start)
		}
		pl.unlockObjectOutput()
	}()
	planned := time.Now()
	cfg := pl.cfg
	cfg.Logger.Info("running on beam", "job", cfg.Job, "runner", cfg.Runner, "splits", len(pl.Splits))
	if len(pl.Splits) > 0 {
		if !beam.Initialized() {
			return nil, ErrNotInitialized
		}
		if objstore.IsURL(pl.tmp) {
			if err := pl.markRunning(ctx); err != nil {
				return nil, err
			}
		}
		// The counters come from the manifests, not from the
		// result's metrics (see flushCounters).
		if err := runPipeline(ctx, exec, pl.Pipeline, pl.run, cfg.Logger); err != nil {
			if cerr := ctx.Err(); cerr != nil {
				// Cancelled (Ctrl-C): the runner's error is then about
				// the calls the cancellation cut short ("failed to get
				// metrics: rpc error: code = Canceled"), not the job.
				err = cerr
			} else if refusedInput(err) {
				return nil, fmt.Errorf("%w: job %q on %s: %w", ErrConfig, cfg.Job, runnerName(cfg.Runner), err)
			}
			return nil, fmt.Errorf("beamjob: job %q on %s: %w", cfg.Job, runnerName(cfg.Runner), err)
		}
	}
	ran := time.Now()
	var committed []objstore.Attrs
	var counters mapreduce.Counters
	if objstore.IsURL(cfg.Output) {
		parts, committed, counters, err = pl.commitObjectParts(ctx)
	} else {
		parts, counters, err = pl.commitParts()
	}
	if err != nil {
		return nil, err
	}
	res = &mapreduce.Result{
		Job: cfg.Job, Engine: "beam", Output: cfg.Output, Parts: parts, Counters: counters,
		Splits: len(pl.Splits),
		Timings: mapreduce.Timings{Plan: planned.Sub(start), Map: ran.Sub(planned),
			Commit: time.Since(ran), Total: time.Since(start)},
	}
	var warnings []string
	if pl.job != nil {
		warnings = mapreduce.Warnings(pl.job, counters)
	} else if pl.pipe != nil {
		warnings = pipeline.Warnings(pl.pipe, counters)
	}
	for _, w := range warnings {
		cfg.Logger.Warn(w)
		res.Warnings = append(res.Warnings, w)
	}
	summary, err := json.MarshalIndent(pl.summary(res, start), "", "  ")
	if err != nil {
		return nil, err
	}
	if objstore.IsURL(cfg.Output) {
		if err := objstore.WriteObject(ctx, cfg.Output+"/_job.json", summary); err != nil {
			return nil, fmt.Errorf("beamjob: write _job.json: %w", err)
		}
		if err := objstore.WriteSuccess(ctx, cfg.Output, committed); err != nil {
			return nil, fmt.Errorf("beamjob: write _SUCCESS: %w", err)
		}
		pl.recordHistory(summary, "")
		return res, nil
	}
	if err := pl.out.Commit(summary, nil); err != nil {
		return nil, fmt.Errorf("beamjob: %w", err)
	}
	pl.recordHistory(summary, pl.out.Path())
	return res, nil
}

// recordHistory adds the job's report to the job history (QUERN_HISTORY,
// package jobhistory), as the local engine does, with the _logs folder of
// outDir, the local output directory, if it is not "".
func (pl *Plan) recordHistory(summary []byte, outDir string) {
	if err := jobhistory.Record(summary, outDir); err != nil {
		pl.cfg.Logger.Warn("the job is not in the job history", "history", jobhistory.Folder(), "err", err)
	}
}

func runnerName(r string) string {
	if r == "" {
		return "beam"
	}
	return r
}

// commitParts renames the parts that the manifests name to part-NNNNN
// (commit.Dir.CommitPart; Commit removes _temporary), and returns the parts
// and the job's counters. With no
// part at all (no input records, or no output), it writes one empty part in
// the job's format, so that readers of the output find a file with the
// right schema.
func (pl *Plan) commitParts() ([]string, mapreduce.Counters, error) {
	manifests, err := filepath.Glob(filepath.Join(pl.tmp, manifestPrefix+"*"))
	if err != nil {
		return nil, nil, err
	}
	seen := map[string]mapreduce.Counters{}
	for _, m := range manifests {
		if err := readManifest(m, seen); err != nil {
			return nil, nil, err
		}
	}
	names, counters := committedParts(seen)
	ext := pl.opts.Ext()
	if len(names) == 0 {
		names = []string{"empty" + ext}
		if err := pl.writeEmptyPart(filepath.Join(pl.tmp, names[0])); err != nil {
			return nil, nil, err
		}
	}
	var parts []string
	for i, name := range names {
		part, err := pl.out.CommitPart(filepath.Join(pl.tmp, name), fmt.Sprintf("part-%05d%s", i, ext))
		if err != nil {
			return parts, nil, fmt.Errorf("beamjob: %w", err)
		}
		parts = append(parts, part)
	}
	return parts, counters, nil
}

// writeEmptyPart writes the part of a job with no output: a file in the
// job's format, with its schema, and no record.
func (pl *Plan) writeEmptyPart(part string) error {
	tc := mapreduce.NewTaskContext(context.Background(), pl.cfg.Job, "reduce-empty", 1, pl.cfg.Params, pl.cfg.Logger)
	w, err := pl.createPart(tc, part)
	if err != nil {
		return fmt.Errorf("beamjob: write empty part: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("beamjob: write empty part: %w", err)
	}
	return nil
}

func readManifest(path string, seen map[string]mapreduce.Counters) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("beamjob: read manifest: %w", err)
	}
	return parseManifest(path, data, seen)
}

// report leaves a failed job's report, _job.json with the error and no
// _SUCCESS, in its (otherwise emptied) local output directory, as the
// local engine does; the next run replaces it without --overwrite. A job
// that was to overwrite a finished output leaves that output as it was.
//
// The report goes to the job history too (QUERN_HISTORY), also where the
// output keeps no report: an object-store output, or a previous output.
func (pl *Plan) report(jobErr error, start time.Time) {
	// local: the report goes into the output directory too; not into an
	// object-store output (pl.out is nil), nor a previous output put back.
	local := pl.out != nil && !pl.out.KeptPrevious()
	if pl.out != nil && !local {
		pl.cfg.Logger.Warn("the output directory keeps the previous job's output, as it was before this job", "output", pl.cfg.Output)
	}
	res := &mapreduce.Result{Job: pl.cfg.Job, Engine: "beam", Output: pl.cfg.Output, Splits: len(pl.Splits),
		Timings: mapreduce.Timings{Total: time.Since(start)}}
	summary := pl.summary(res, start)
	summary["state"], summary["error"] = mapreduce.JobFailed, jobErr.Error()
	data, err := json.MarshalIndent(summary, "", "  ")
	if err == nil && local {
		err = pl.out.Report(data)
	}
	if err != nil {
		pl.cfg.Logger.Warn("cannot write the failed job's report", "output", pl.cfg.Output, "err", err)
		return
	}
	logs := ""
	if local {
		logs = pl.out.Path()
	}
	pl.recordHistory(data, logs)
}

// summary is the content of _job.json: the local engine's fields that mean
// something on Beam, for a job started at start.
func (pl *Plan) summary(res *mapreduce.Result, start time.Time) map[string]any {
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	cfg := pl.cfg
	summary := map[string]any{
		"job":        res.Job,
		"engine":     res.Engine,
		"state":      mapreduce.JobSucceeded,
		"runner":     runnerName(cfg.Runner),
		"output":     cfg.Output,
		"started":    start,
		"ended":      start.Add(res.Timings.Total),
		"elapsed_ms": ms(res.Timings.Total),
		"config": map[string]any{
			"inputs": cfg.Inputs, "output": cfg.Output, "split_size": cfg.SplitSize,
			"params": cfg.Params, "input_format": cfg.InputFormat, "output_format": cfg.OutputFormat,
			"output_compression": cfg.OutputCompression, "precombine_bytes": cfg.PrecombineBytes,
			"ranges": cfg.Ranges, "sort_bytes": cfg.SortBytes,
		},
		"splits": res.Splits,
		"parts":  len(res.Parts),
		"timings_ms": map[string]float64{
			"plan": ms(res.Timings.Plan), "pipeline": ms(res.Timings.Map),
			"commit": ms(res.Timings.Commit), "total": ms(res.Timings.Total),
		},
		"counters": res.Counters,
		"warnings": res.Warnings,
	}
	jobdriver.ThisProcess().Put(summary)
	return summary
}
