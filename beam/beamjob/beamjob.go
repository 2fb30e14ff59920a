// Package beamjob runs a registered Quern job on Apache Beam.
//
// The translation is one fixed pipeline over encoded []byte keys and
// values, whatever the job's Go types:
//
//	input splits (input.Plan, as the local engine plans them)
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
// After the pipeline succeeds the launcher (Run) renames the parts named in
// the manifests to part-00000, part-00001, ... (with the output format's
// extension), and writes _job.json, whose counters are the sums of the
// committed bundles' counters in the manifests (flushCounters), and
// _SUCCESS last, as the local engine does. Part files
// of failed or retried bundles are never named in a manifest and go away
// with _temporary.
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
	"maps"
	"os"
	"path/filepath"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"

	"github.com/quern-dev/quern/input"
	"github.com/quern-dev/quern/mapreduce"
	"github.com/quern-dev/quern/objstore"
	"github.com/quern-dev/quern/output"
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
	job      mapreduce.ByteJob
	opts     output.Options
	tmp      string
	created  bool     // the output directory did not exist before the job
	ranges   [][]byte // a total-order job's range boundaries
	// objectLock holds an output prefix (objects.go) from Build to the
	// end of Run.
	objectLock *objstore.OutputLock
}

// Build checks cfg, plans the input, prepares the output directory and
// translates the job into a pipeline. Anything the translation cannot
// express is an error here, before any output is created.
func Build(cfg Config) (*Plan, error) {
	job, err := lookupJob(cfg.Job)
	if err != nil {
		return nil, err
	}
	info := job.Info()
	cfg.Params = maps.Clone(cfg.Params)
	if cfg.Params == nil {
		cfg.Params = map[string]string{}
	}
	for _, p := range info.Params {
		if _, ok := cfg.Params[p.Name]; !ok {
			if p.Required {
				return nil, fmt.Errorf("%w: job %q needs parameter %q (%s)", ErrConfig, info.Name, p.Name, p.Usage)
			}
			if p.Default != "" {
				cfg.Params[p.Name] = p.Default
			}
		}
	}
	if cfg.Output == "" {
		return nil, fmt.Errorf("%w: no output directory", ErrConfig)
	}
	if objstore.IsURL(cfg.Output) {
		// An object prefix: see objects.go.
	} else if cfg.Output, err = filepath.Abs(cfg.Output); err != nil {
		return nil, fmt.Errorf("beamjob: output %s: %w", cfg.Output, err)
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
		return nil, err
	}
	files, err := input.Expand(cfg.Inputs)
	if err != nil {
		// A missing file, bucket or object is the user's to fix (exit
		// status 2), as for quern run.
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	// Splits keep the input paths as the user named them, since jobs see
	// them (Record.File: grep's and invertedindex's output name files);
	// workers, which may start in another directory, open relative paths
	// from the launcher's working directory.
	if cfg.dir, err = os.Getwd(); err != nil {
		return nil, fmt.Errorf("beamjob: working directory: %w", err)
	}
	if cfg.InputFormat != "" {
		f, err := input.ParseFormat(cfg.InputFormat)
		if err != nil {
			return nil, fmt.Errorf("%w: input format: %w", ErrConfig, err)
		}
		input.SetFormat(files, f)
	}
	splits, err := input.Plan(files, cfg.SplitSize)
	if err != nil {
		return nil, err
	}
	// Columnar output names its columns after the input, as on the local
	// engine (Job.ColumnsFromInput).
	if opts.ValueColumns, err = mapreduce.ColumnsFromInput(job, cfg.Params, files); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	pl := &Plan{Splits: splits, cfg: cfg, job: job, opts: opts}
	if info.TotalOrder {
		// Relative input paths are read from the launcher's working
		// directory, as by the local engine's driver.
		if pl.ranges, err = mapreduce.SampleRanges(context.Background(), job, splits, cfg.Params, cfg.Ranges, cfg.Logger); err != nil {
			return nil, fmt.Errorf("beamjob: sample the keys of %s: %w", info.Name, err)
		}
	}
	if err := pl.prepareOutput(files); err != nil {
		return nil, err
	}
	if err := pl.translate(); err != nil {
		pl.removeOutput(nil)
		return nil, err
	}
	return pl, nil
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

// prepareOutput refuses an output directory that the local engine would
// refuse (the root, the current or home folder, one that holds an input),
// a non-empty one unless Overwrite (and then one holding anything but a
// previous job's files), creates OUTPUT/_temporary, and opens and aborts
// one output file there so that options the output package refuses fail
// now rather than in every reduce bundle.
func (pl *Plan) prepareOutput(files []input.File) error {
	if objstore.IsURL(pl.cfg.Output) {
		return pl.prepareObjectOutput(files)
	}
	out := pl.cfg.Output
	if err := mapreduce.CheckOutputDir(out, files); err != nil {
		return fmt.Errorf("%w: %w", ErrConfig, err)
	}
	entries, err := os.ReadDir(out)
	switch {
	case errors.Is(err, os.ErrNotExist):
		pl.created = true
	case err != nil:
		return fmt.Errorf("%w: output directory %s: %w", ErrConfig, out, err)
	case len(entries) > 0 && !pl.cfg.Overwrite:
		return fmt.Errorf("%w: output directory %s is not empty; choose a new one, remove it, or overwrite it", ErrConfig, out)
	case len(entries) > 0:
		for _, e := range entries {
			if !mapreduce.IsJobOutputFile(e.Name()) {
				return fmt.Errorf("%w: output directory %s holds %s, which no quern job wrote; choose a new output directory, or move it away", ErrConfig, out, e.Name())
			}
		}
		// Entry by entry, so the directory itself (its permissions, a
		// symlink to it) stays.
		for _, e := range entries {
			if err := os.RemoveAll(filepath.Join(out, e.Name())); err != nil {
				return fmt.Errorf("beamjob: overwrite output directory %s: %w", out, err)
			}
		}
	}
	pl.tmp = filepath.Join(out, "_temporary")
	if err := os.MkdirAll(pl.tmp, 0o755); err != nil {
		return fmt.Errorf("beamjob: create output directory %s: %w", out, err)
	}
	tc := mapreduce.NewTaskContext(context.Background(), pl.cfg.Job, "probe", 1, pl.cfg.Params, pl.cfg.Logger)
	probe, err := pl.job.NewReducer(tc, filepath.Join(pl.tmp, ".probe"+pl.opts.Ext()), pl.opts)
	if err != nil {
		pl.removeOutput(nil)
		return fmt.Errorf("%w: output: %w", ErrConfig, err)
	}
	probe.Abort()
	return nil
}

// removeOutput undoes a failed job's output: its parts and _temporary go,
// and the output directory too if this job created it. A directory that
// was there before the job (empty, or emptied by Overwrite) stays.
func (pl *Plan) removeOutput(parts []string) {
	if objstore.IsURL(pl.cfg.Output) {
		pl.removeObjectOutput(parts)
		return
	}
	os.RemoveAll(pl.tmp)
	for _, p := range parts {
		os.Remove(p)
	}
	if pl.created {
		os.Remove(pl.cfg.Output) // only when empty
	}
}

func (pl *Plan) translate() error {
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
	base := reduceBase{Job: cfg.Job, Params: cfg.Params, Dir: pl.tmp,
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
	beam.ParDo0(s.Scope("commit"), &manifestFn{Dir: pl.tmp}, beam.Reshuffle(s.Scope("commit"), lines))
	pl.Pipeline = p
	return nil
}

// Run builds the job's pipeline, runs it with exec, and commits the output.
// The Result's Counters are the job's counters read back from Beam's
// metrics; its Timings.Map holds the whole pipeline's time, since map and
// reduce overlap on Beam.
func Run(ctx context.Context, cfg Config, exec Executor) (*mapreduce.Result, error) {
	start := time.Now()
	pl, err := Build(cfg)
	if err != nil {
		return nil, err
	}
	return pl.Run(ctx, exec, start)
}

// Run runs a built plan; start is when planning began, for the timings.
func (pl *Plan) Run(ctx context.Context, exec Executor, start time.Time) (res *mapreduce.Result, err error) {
	var parts []string
	defer func() {
		if err != nil {
			pl.removeOutput(parts)
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
		// The counters come from the manifests, not from the
		// result's metrics (see flushCounters).
		if _, err := exec(ctx, pl.Pipeline); err != nil {
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
	summary, err := json.MarshalIndent(pl.summary(res), "", "  ")
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
		return res, nil
	}
	if err := writeFileSync(filepath.Join(cfg.Output, "_job.json"), summary); err != nil {
		return nil, fmt.Errorf("beamjob: write _job.json: %w", err)
	}
	if err := writeFileSync(filepath.Join(cfg.Output, "_SUCCESS"), nil); err != nil {
		return nil, fmt.Errorf("beamjob: write _SUCCESS: %w", err)
	}
	return res, nil
}

func runnerName(r string) string {
	if r == "" {
		return "beam"
	}
	return r
}

// commitParts renames the parts that the manifests name to part-NNNNN and
// removes _temporary, and returns the parts and the job's counters. With no
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
	var parts []string
	for i, name := range names {
		part := filepath.Join(pl.cfg.Output, fmt.Sprintf("part-%05d%s", i, ext))
		if err := os.Rename(filepath.Join(pl.tmp, name), part); err != nil {
			return parts, nil, fmt.Errorf("beamjob: commit part %s: %w", name, err)
		}
		parts = append(parts, part)
	}
	if len(parts) == 0 {
		part := filepath.Join(pl.cfg.Output, "part-00000"+ext)
		if err := pl.writeEmptyPart(part); err != nil {
			return nil, nil, err
		}
		parts = append(parts, part)
	}
	if err := os.RemoveAll(pl.tmp); err != nil {
		return parts, nil, fmt.Errorf("beamjob: remove %s: %w", pl.tmp, err)
	}
	return parts, counters, nil
}

// writeEmptyPart writes the part of a job with no output: a file in the
// job's format, with its schema, and no record.
func (pl *Plan) writeEmptyPart(part string) error {
	tc := mapreduce.NewTaskContext(context.Background(), pl.cfg.Job, "reduce-empty", 1, pl.cfg.Params, pl.cfg.Logger)
	w, err := pl.job.NewReducer(tc, part, pl.opts)
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

// summary is the content of _job.json: the local engine's fields that mean
// something on Beam.
func (pl *Plan) summary(res *mapreduce.Result) any {
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	cfg := pl.cfg
	return map[string]any{
		"job":    res.Job,
		"engine": res.Engine,
		"runner": runnerName(cfg.Runner),
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
	}
}
