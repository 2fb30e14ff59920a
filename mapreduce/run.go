package mapreduce

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/quern-dev/quern/input"
	"github.com/quern-dev/quern/shuffle"
)

// Result describes a job that ran to completion.
type Result struct {
	Job    string
	Engine string
	Output string
	// Parts are the committed part files, one per reducer.
	Parts    []string
	Counters Counters
	Splits   int
	Timings  Timings
	Tasks    []TaskReport
	// DriverPeakRSS and WorkerPeakRSS are peak resident set sizes in bytes;
	// WorkerPeakRSS is the largest of any worker (0 for the inline engine).
	DriverPeakRSS int64
	WorkerPeakRSS int64
}

// Timings are the wall-clock durations of a job's phases.
type Timings struct {
	Plan, Map, Reduce, Commit, Total time.Duration
}

// TaskReport lists the attempts of one task.
type TaskReport struct {
	ID       string
	Input    string
	Attempts []AttemptReport
}

// AttemptReport is one attempt of a task.
type AttemptReport struct {
	Attempt  int
	Duration time.Duration
	Error    string `json:",omitempty"`
}

// Run runs a job and returns its result, or an error that names the task,
// its input and its last attempt's error. The local engine needs the job to
// be registered (Register), so that the worker processes can find it.
func Run[K, V, OK, OV any](ctx context.Context, job *Job[K, V, OK, OV], cfg Config) (*Result, error) {
	if r, ok := lookup(job.Name); ok {
		if c, same := r.(*compiled[K, V, OK, OV]); same && c.job == job {
			return run(ctx, r, cfg)
		}
		return nil, fmt.Errorf("mapreduce: another job is registered under the name %q", job.Name)
	}
	if cfg.Engine != EngineInline {
		return nil, fmt.Errorf("mapreduce: job %q is not registered; the %s engine's workers can only run registered jobs (call Register at package init)",
			job.Name, EngineLocal)
	}
	c, err := job.compile()
	if err != nil {
		return nil, err
	}
	return run(ctx, c, cfg)
}

// RunNamed runs the registered job with the given name.
func RunNamed(ctx context.Context, name string, cfg Config) (*Result, error) {
	r, ok := lookup(name)
	if !ok {
		return nil, fmt.Errorf("mapreduce: no job named %q (registered: %s)", name, strings.Join(jobNames(), ", "))
	}
	return run(ctx, r, cfg)
}

func jobNames() []string {
	var names []string
	for _, j := range Jobs() {
		names = append(names, j.Name)
	}
	return names
}

// driver holds the state of one running job.
type driver struct {
	job     runnable
	name    string
	cfg     Config
	work    string // the job's work directory
	out     string
	tmpOut  string // out/_temporary
	runner  taskRunner
	started time.Time

	mu       sync.Mutex
	counters Counters
	tasks    map[string]*TaskReport
	peakRSS  int64
	parts    []string
}

func run(ctx context.Context, job runnable, cfg Config) (res *Result, err error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	for _, p := range job.info().Params {
		if _, ok := cfg.Params[p.Name]; !ok {
			if p.Required {
				return nil, fmt.Errorf("%w: job %q needs parameter %q (%s)", ErrConfig, job.info().Name, p.Name, p.Usage)
			}
			if p.Default != "" {
				cfg.Params = cloneSet(cfg.Params, p.Name, p.Default)
			}
		}
	}
	d := &driver{
		job: job, name: job.info().Name, cfg: cfg, out: cfg.Output,
		started: time.Now(), counters: Counters{}, tasks: map[string]*TaskReport{},
	}
	log := cfg.Logger.With("job", d.name)

	files, err := input.Expand(cfg.Inputs)
	if err != nil {
		return nil, err
	}
	splits, err := input.Plan(files, cfg.SplitSize)
	if err != nil {
		return nil, err
	}
	if err := d.prepareOutput(files); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			d.removeOutput()
		}
	}()
	d.work, err = os.MkdirTemp(cfg.TmpDir, "quern-"+safeName(d.name)+"-")
	if err != nil {
		return nil, fmt.Errorf("create work directory in %q: %w", cfg.TmpDir, err)
	}
	if !cfg.KeepWorkDir {
		defer os.RemoveAll(d.work)
	}
	planned := time.Now()
	log.Info("planned", "files", len(files), "splits", len(splits), "reducers", cfg.Reducers, "work", d.work)

	switch cfg.Engine {
	case EngineInline:
		d.runner = &inlineRunner{job: job, logger: cfg.Logger}
	default:
		lr, err := startLocal(ctx, cfg, os.Stderr)
		if err != nil {
			return nil, err
		}
		d.runner = lr
	}
	defer func() {
		if cerr := d.runner.close(); err == nil && cerr != nil {
			err = cerr
		}
	}()

	committed, err := d.mapPhase(ctx, splits)
	if err != nil {
		return nil, err
	}
	mapped := time.Now()
	log.Info("map phase done", "tasks", len(splits), "took", mapped.Sub(planned))
	if err := d.reducePhase(ctx, committed); err != nil {
		return nil, err
	}
	reduced := time.Now()
	log.Info("reduce phase done", "tasks", cfg.Reducers, "took", reduced.Sub(mapped))

	res = &Result{
		Job: d.name, Engine: cfg.Engine, Output: d.out, Parts: d.parts,
		Counters: d.counters, Splits: len(splits), WorkerPeakRSS: d.peakRSS,
		Timings: Timings{Plan: planned.Sub(d.started), Map: mapped.Sub(planned), Reduce: reduced.Sub(mapped)},
	}
	for _, id := range slices.Sorted(maps.Keys(d.tasks)) {
		res.Tasks = append(res.Tasks, *d.tasks[id])
	}
	if err := d.commit(res, reduced); err != nil {
		return nil, err
	}
	return res, nil
}

// prepareOutput refuses an output directory that holds anything or lies
// where the job reads, then creates it with its _temporary directory.
func (d *driver) prepareOutput(files []input.File) error {
	out, err := filepath.Abs(d.out)
	if err != nil {
		return fmt.Errorf("output %s: %w", d.out, err)
	}
	for _, f := range files {
		if abs, err := filepath.Abs(f.Path); err == nil && strings.HasPrefix(abs, out+string(filepath.Separator)) {
			return fmt.Errorf("%w: output directory %s contains input file %s", ErrConfig, d.out, f.Path)
		}
	}
	entries, err := os.ReadDir(d.out)
	switch {
	case err == nil && len(entries) > 0:
		return fmt.Errorf("%w: output directory %s is not empty; choose a new one or remove it", ErrConfig, d.out)
	case err != nil && !errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("output directory %s: %w", d.out, err)
	}
	d.tmpOut = filepath.Join(d.out, "_temporary")
	if err := os.MkdirAll(d.tmpOut, 0o755); err != nil {
		return fmt.Errorf("create output directory %s: %w", d.out, err)
	}
	return nil
}

// removeOutput undoes a failed job's output: committed parts and the
// temporary directory go, so nothing left looks like a finished job. The
// directory itself stays if something else was put there meanwhile.
func (d *driver) removeOutput() {
	if d.tmpOut == "" {
		return
	}
	os.RemoveAll(d.tmpOut)
	for _, p := range d.parts {
		os.Remove(p)
	}
	os.Remove(d.out) // only succeeds when empty
}

type committedMap struct {
	runs []runFile
}

func (d *driver) mapPhase(ctx context.Context, splits []input.Split) ([]committedMap, error) {
	maps := make([]committedMap, len(splits))
	codec := d.cfg.SpillCodec
	var ranges [][]byte
	if d.job.info().TotalOrder {
		var err error
		if ranges, err = d.rangeSplits(ctx, splits); err != nil {
			return nil, err
		}
	}
	err := d.schedule(ctx, len(splits), func(i int) (string, string) {
		return fmt.Sprintf("map-%05d", i), splits[i].String()
	}, func(ctx context.Context, i, attempt int, id string) error {
		dir := filepath.Join(d.work, id, fmt.Sprintf("attempt-%d", attempt))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("create attempt directory: %w", err)
		}
		res, err := d.runner.runMap(ctx, mapSpec{
			Job: d.name, Params: d.cfg.Params, TaskID: id, Attempt: attempt,
			Split: splits[i], Reducers: d.cfg.Reducers, SortBuffer: d.cfg.SortBuffer,
			Codec: codec, Dir: dir, RangeSplits: ranges,
		})
		if err != nil {
			os.RemoveAll(dir)
			return err
		}
		maps[i] = committedMap{runs: res.Runs}
		d.accept(res.Counters, res.PeakRSS)
		return nil
	})
	return maps, err
}

func (d *driver) reducePhase(ctx context.Context, maps []committedMap) error {
	d.parts = nil
	parts := make([]string, d.cfg.Reducers)
	err := d.schedule(ctx, d.cfg.Reducers, func(r int) (string, string) {
		return fmt.Sprintf("reduce-%05d", r), fmt.Sprintf("partition %d", r)
	}, func(ctx context.Context, r, attempt int, id string) error {
		var segs []shuffle.Segment
		var shuffled int64
		for _, m := range maps {
			for _, run := range m.runs {
				if run.PartitionRecords[r] > 0 {
					segs = append(segs, shuffle.Segment{Path: run.Path, Partition: r})
					shuffled += run.PartitionBytes[r]
				}
			}
		}
		name := fmt.Sprintf("part-%05d", r)
		attemptDir := filepath.Join(d.tmpOut, fmt.Sprintf("%s-attempt-%d", id, attempt))
		mergeDir := filepath.Join(d.work, id, fmt.Sprintf("attempt-%d", attempt))
		for _, dir := range []string{attemptDir, mergeDir} {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return fmt.Errorf("create attempt directory: %w", err)
			}
		}
		res, err := d.runner.runReduce(ctx, reduceSpec{
			Job: d.name, Params: d.cfg.Params, TaskID: id, Attempt: attempt, Partition: r,
			Segments: segs, FanIn: d.cfg.MergeFanIn, Codec: d.cfg.SpillCodec,
			TempDir: mergeDir, Output: filepath.Join(attemptDir, name),
		})
		os.RemoveAll(mergeDir)
		if err != nil {
			os.RemoveAll(attemptDir)
			return err
		}
		// Commit: the rename makes the whole part visible at once. A part
		// that is already there came from an earlier attempt that
		// committed; keep it, so each part is written exactly once.
		final := filepath.Join(d.out, name)
		if _, err := os.Lstat(final); err == nil {
			os.RemoveAll(attemptDir)
			return nil
		}
		if err := os.Rename(filepath.Join(attemptDir, name), final); err != nil {
			os.RemoveAll(attemptDir)
			return fmt.Errorf("commit %s: %w", final, err)
		}
		os.RemoveAll(attemptDir)
		res.Counters[ShuffleBytes] += shuffled
		d.accept(res.Counters, res.PeakRSS)
		d.mu.Lock()
		parts[r] = final
		d.parts = append(d.parts, final)
		d.mu.Unlock()
		return nil
	})
	if err == nil {
		d.parts = parts
	}
	return err
}

// accept adds the counters of a committed attempt. Attempts that fail never
// get here, so their counters are not counted.
func (d *driver) accept(c Counters, rss int64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.counters.Add(c)
	d.peakRSS = max(d.peakRSS, rss)
}

// TaskError is the error of a job whose task failed every attempt.
type TaskError struct {
	Job      string
	Task     string
	Input    string
	Attempts int
	Err      error
}

func (e *TaskError) Error() string {
	return fmt.Sprintf("job %s: task %s (%s) failed after %d attempt(s): %v", e.Job, e.Task, e.Input, e.Attempts, e.Err)
}

func (e *TaskError) Unwrap() error { return e.Err }

// schedule runs n tasks on the runner's slots, each attempted up to
// MaxAttempts times. The first task to fail every attempt cancels the rest
// and its error is returned.
func (d *driver) schedule(ctx context.Context, n int, describe func(int) (id, input string),
	attempt func(ctx context.Context, i, attempt int, id string) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	next := make(chan int)
	var (
		wg       sync.WaitGroup
		errOnce  sync.Once
		firstErr error
	)
	for range min(d.runner.slots(), n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				id, in := describe(i)
				if err := d.attempts(ctx, i, id, in, attempt); err != nil {
					errOnce.Do(func() { firstErr = err; cancel() })
				}
			}
		}()
	}
feed:
	for i := range n {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	return ctx.Err()
}

func (d *driver) attempts(ctx context.Context, i int, id, in string,
	attempt func(ctx context.Context, i, attempt int, id string) error) error {
	report := &TaskReport{ID: id, Input: in}
	d.mu.Lock()
	d.tasks[id] = report
	d.mu.Unlock()
	var err error
	for a := 1; a <= d.cfg.MaxAttempts; a++ {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		start := time.Now()
		err = attempt(ctx, i, a, id)
		rep := AttemptReport{Attempt: a, Duration: time.Since(start)}
		if err != nil {
			rep.Error = err.Error()
		}
		d.mu.Lock()
		report.Attempts = append(report.Attempts, rep)
		d.mu.Unlock()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		d.cfg.Logger.Warn("task attempt failed", "task", id, "input", in, "attempt", a, "err", err)
	}
	return &TaskError{Job: d.name, Task: id, Input: in, Attempts: d.cfg.MaxAttempts, Err: err}
}

// commit writes the job summary and then _SUCCESS, the marker that every
// part is in place.
func (d *driver) commit(res *Result, reduced time.Time) error {
	if err := os.RemoveAll(d.tmpOut); err != nil {
		return fmt.Errorf("remove %s: %w", d.tmpOut, err)
	}
	res.DriverPeakRSS = peakRSS()
	res.Timings.Commit = time.Since(reduced)
	res.Timings.Total = time.Since(d.started)
	summary, err := json.MarshalIndent(jobSummary(res, d.cfg), "", "  ")
	if err != nil {
		return err
	}
	if err := writeFileSync(filepath.Join(d.out, "_job.json"), summary); err != nil {
		return err
	}
	return writeFileSync(filepath.Join(d.out, "_SUCCESS"), nil)
}

func writeFileSync(path string, data []byte) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// jobSummary is the content of _job.json.
func jobSummary(res *Result, cfg Config) any {
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	type attempt struct {
		Attempt    int     `json:"attempt"`
		DurationMS float64 `json:"duration_ms"`
		Error      string  `json:"error,omitempty"`
	}
	type task struct {
		ID       string    `json:"id"`
		Input    string    `json:"input"`
		Attempts []attempt `json:"attempts"`
	}
	var tasks []task
	for _, t := range res.Tasks {
		tt := task{ID: t.ID, Input: t.Input}
		for _, a := range t.Attempts {
			tt.Attempts = append(tt.Attempts, attempt{a.Attempt, ms(a.Duration), a.Error})
		}
		tasks = append(tasks, tt)
	}
	return map[string]any{
		"job":    res.Job,
		"engine": res.Engine,
		"config": map[string]any{
			"inputs": cfg.Inputs, "output": cfg.Output, "workers": cfg.Workers,
			"reducers": cfg.Reducers, "split_size": cfg.SplitSize, "sort_buffer": cfg.SortBuffer,
			"tmp_dir": cfg.TmpDir, "spill_codec": cfg.SpillCodec, "merge_fan_in": cfg.MergeFanIn,
			"max_attempts": cfg.MaxAttempts, "task_timeout": cfg.TaskTimeout.String(), "params": cfg.Params,
		},
		"splits": res.Splits,
		"timings_ms": map[string]float64{
			"plan": ms(res.Timings.Plan), "map": ms(res.Timings.Map), "reduce": ms(res.Timings.Reduce),
			"commit": ms(res.Timings.Commit), "total": ms(res.Timings.Total),
		},
		"peak_rss_bytes": map[string]int64{"driver": res.DriverPeakRSS, "largest_worker": res.WorkerPeakRSS},
		"counters":       res.Counters,
		"tasks":          tasks,
	}
}

func cloneSet(m map[string]string, k, v string) map[string]string {
	out := maps.Clone(m)
	if out == nil {
		out = map[string]string{}
	}
	out[k] = v
	return out
}

func safeName(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '/' || r == os.PathSeparator || r < ' ' {
			return '_'
		}
		return r
	}, s)
}
