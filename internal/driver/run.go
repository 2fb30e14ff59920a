package driver

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

	"github.com/quern-dev/quern/exec"
	"github.com/quern-dev/quern/input"
	"github.com/quern-dev/quern/internal/commit"
	"github.com/quern-dev/quern/internal/jobhistory"
	"github.com/quern-dev/quern/internal/sched"
	"github.com/quern-dev/quern/internal/task"
	"github.com/quern-dev/quern/objstore"
	"github.com/quern-dev/quern/output"
	"github.com/quern-dev/quern/shuffle"
)

// Result describes a job that ran to completion.
type Result struct {
	Job    string
	Engine string
	Output string
	// Parts are the committed part files, one per reducer (part-NNNNN),
	// or in a map-only job one per map task (part-m-NNNNN).
	Parts []string
	// Merged is the file in global key order (Config.Merge), or "".
	Merged string
	// MapOnly is set for a map-only job (Config.MapOnly): no reduce ran.
	MapOnly  bool
	Counters task.Counters
	// Splits counts the file ranges of the input; MapTasks the map tasks
	// they were packed into (see input.Pack).
	Splits   int
	MapTasks int
	Timings  Timings
	Tasks    []TaskReport
	// DriverPeakRSS and WorkerPeakRSS are peak resident set sizes in bytes;
	// WorkerPeakRSS is the largest of any worker (0 for the inline engine).
	DriverPeakRSS int64
	WorkerPeakRSS int64
	// Skipped lists the input records skipped as bad (SkipBadRecords).
	Skipped []task.SkippedRecord
	// Warnings are problems that did not stop the job: inputs read as
	// asked that are likely a mistake (see input.ExpandOptions.Warn), or
	// a worker that exited with a failure status after its last task.
	Warnings []string
	// KeptWorkDir is the work directory, with the job's spill runs, left
	// for inspection (Config.KeepWorkDir), as an absolute path; else "".
	KeptWorkDir string
}

// Timings are the wall-clock durations of a job's phases.
type Timings struct {
	Plan, Map, Reduce, Commit, Total time.Duration
}

// TaskReport lists the attempts of one task.
type TaskReport struct {
	ID       string
	Phase    string // "map" or "reduce"
	Input    string
	Attempts []AttemptReport
}

// AttemptReport is one attempt of a task.
type AttemptReport struct {
	Attempt  int
	Duration time.Duration
	Error    string `json:",omitempty"`
	// State is AttemptRunning, AttemptSucceeded, AttemptFailed or
	// AttemptKilled.
	State string
	Start time.Time
	// Pid is the worker that ran the attempt (local engine). Done and
	// Total are its progress and PeakRSS the worker's peak RSS, as of its
	// last heartbeat or its result.
	Pid         int
	Done, Total int64
	PeakRSS     int64
	// Status is what the attempt last said it was doing
	// (TaskContext.SetStatus).
	Status string `json:",omitempty"`
	// Counters are a succeeded attempt's own counters.
	Counters task.Counters `json:",omitempty"`
	// Log is the file with the worker's output during the attempt (see
	// AttemptStatus.Log); LogTail, for a failed attempt, its end.
	Log, LogTail string `json:",omitempty"`
}

// RunNamed runs the registered job with the given name.
func RunNamed(ctx context.Context, name string, cfg Config) (*Result, error) {
	r, ok := task.LookupByteJob(name)
	if !ok {
		return nil, fmt.Errorf("mapreduce: no job named %q (registered: %s)", name, strings.Join(jobNames(), ", "))
	}
	return Run(ctx, r, cfg)
}

func jobNames() []string {
	var names []string
	for _, j := range task.Jobs() {
		names = append(names, j.Name)
	}
	return names
}

// taskRunner runs task attempts somewhere: in this goroutine (inline) or in
// a worker process (local).
type taskRunner interface {
	// runMap runs a map task; split, if not nil, carries requests that
	// it give up part of its input (exec.Task.Split).
	runMap(ctx context.Context, spec task.MapSpec, split <-chan chan<- []byte) (task.MapResult, error)
	runReduce(ctx context.Context, spec task.ReduceSpec) (task.ReduceResult, error)
	// slots is how many attempts may run at once.
	slots() int
	// close stops the runner and returns what went wrong on the way out
	// that did not change the job's output; a second close does nothing.
	close() (warnings []string)
}

// driver holds the state of one running job.
type driver struct {
	job  task.ByteJob
	name string
	cfg  Config
	// workDir is the job's work directory, held while the job uses it
	// (workdir.go).
	workDir *WorkDir
	out     string
	output  *commit.Dir // the output directory (out), once taken
	// upload is set for an output in an object store; out is then the
	// local staging directory (objectoutput.go).
	upload  *ObjectOutput
	runner  taskRunner
	sched   *sched.Scheduler // runs the attempts of every task on the runner
	started time.Time
	origin  Origin

	splits  []input.Split // sampled by TotalOrder jobs
	inputs  []input.Task  // the map tasks' inputs; spooled chunks add more
	ranges  [][]byte      // TotalOrder boundaries
	outOpts output.Options

	// inputs[:spooled] are spool tasks, whose chunks reach the map
	// phase's scheduler through joinMap (spool.go).
	spooled int
	joinMap chan func(int) (sched.Task, bool)

	// remaking is held while a map task is made again after a fetch
	// failure (remakeMap), and read by reduce attempts while they list
	// their segments.
	remaking sync.RWMutex

	mu       sync.Mutex // guards everything below
	counters task.Counters
	tasks    map[string]*TaskReport
	peakRSS  int64
	maps     []mapState
	runOwner map[string]int // run path -> map task
	chunks   []int          // per spool task, the chunks made map tasks
	parts    []string
	// For the status (JobStatus): the job's state, error and end, and
	// the phases' progress.
	state  string
	jobErr string
	ended  time.Time
	phases []PhaseStatus
	// warnings are the job's warnings known so far: the plan's, then
	// all of them (Result.Warnings) once the job ends.
	warnings []string
}

// Run runs job as cfg says and returns its result, or an error that names
// the task, its input and its last attempt's error.
func Run(ctx context.Context, job task.ByteJob, cfg Config) (res *Result, err error) {
	cfg = cfg.withJobSplits(job.Info()).WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	params, err := task.Params(job, cfg.Params)
	if err != nil {
		return nil, asConfigError(err)
	}
	cfg.Params = params
	d := &driver{
		job: job, name: job.Info().Name, cfg: cfg, out: cfg.Output,
		started: time.Now(), counters: task.Counters{}, tasks: map[string]*TaskReport{},
		runOwner: map[string]int{}, state: JobRunning,
	}
	d.origin = ThisProcess()
	d.cfg.OnProgress = func(p Progress) {
		d.recordProgress(p)
		if cfg.OnProgress != nil {
			cfg.OnProgress(p)
		}
	}
	log := cfg.Logger.With("job", d.name)
	if cfg.memoryNote != "" {
		log.Warn(cfg.memoryNote)
	}

	if d.outOpts, err = cfg.outputOptions(); err != nil {
		return nil, err
	}
	merger, _ := job.(task.PartMerger)
	if cfg.Merge {
		if merger == nil {
			return nil, fmt.Errorf("%w: --merge needs an output key type with an order; job %q writes %s keys",
				ErrConfig, d.name, job.Info().OutKeyType)
		}
		if err := merger.CanMerge(); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrConfig, err)
		}
	}
	if err := checkReduce(job, cfg); err != nil {
		return nil, err
	}
	// The driver's profile covers planning, which over a folder of many
	// files is most of what the driver does.
	stopProfiles, err := StartProfiles(cfg)
	if err != nil {
		return nil, err
	}
	defer stopProfiles()
	// The workers start while the driver plans: neither depends on the
	// other, and a worker's start (the binary's exec, its runtime's and
	// packages' init, its hello: tens of milliseconds) would otherwise
	// begin only once planning ended. Where a core is spare they overlap
	// (a word count of one book with one worker on two cores: first task
	// at 50 ms instead of 60); where every core starts a worker, nothing
	// is gained and nothing lost.
	starting := startRunner(ctx, cfg, job, d.heartbeat)
	defer starting.discard() // unless the job took the runner, below
	in, err := planInputs(ctx, cfg, job.Info())
	if err != nil {
		return nil, err
	}
	d.splits, d.inputs, d.spooled = in.Splits, in.Tasks, in.Spooled
	for _, w := range in.Warnings {
		log.Warn(w)
	}
	d.setWarnings(in.Warnings)
	cfg.SplitSize = in.SplitSize // grown for a job with a MaxSplitSize
	d.cfg.SplitSize = in.SplitSize
	if d.outOpts.ValueColumns, err = task.ColumnsFromInput(job, cfg.Params, in.Files); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	if objstore.IsURL(cfg.Output) {
		removeStaging, err := d.stageObjectOutput(ctx, in.Files)
		if err != nil {
			return nil, err
		}
		defer removeStaging() // after the failure report, below
	}
	if err := d.prepareOutput(in.Files); err != nil {
		return nil, err
	}
	defer d.output.Close() // after removeOutput, below
	defer func() {
		if err != nil {
			d.writeFailureReport(err) // and removes the output
		}
		// Only now: the failure report copies failed attempts' logs
		// out of the work directory.
		switch {
		case d.workDir == nil:
		case cfg.KeepWorkDir:
			if kerr := d.workDir.Keep(); kerr != nil {
				log.Warn("the kept work directory may be removed by the next job", "work", d.workDir.Path, "err", kerr)
			}
		default:
			d.workDir.Remove()
		}
	}()
	if removed, err := cleanStale(cfg.TmpDir, true); err == nil && len(removed) > 0 {
		log.Info("removed work directories of dead jobs", "dirs", removed)
	}
	if d.workDir, err = createWorkDir(cfg.TmpDir, d.name); err != nil {
		return nil, err
	}
	defer func() { d.jobEnded(err) }()
	if cfg.OnStart != nil {
		cfg.OnStart(d.status)
	}
	planned := time.Now()
	log.Info("planned", "files", len(in.Files), "splits", len(in.Splits), "reducers", cfg.Reducers, "work", d.workDir.Path, "map_tasks", len(in.Tasks))

	if d.runner, err = starting.take(d.workDir.Path); err != nil {
		return nil, err
	}
	defer d.runner.close() // a second close does nothing
	d.sched = &sched.Scheduler{
		Job: d.name, Slots: d.runner.slots(), MaxAttempts: cfg.MaxAttempts,
		Speculative: cfg.Speculative, SpeculativeAfter: cfg.SpeculativeAfter, Logger: cfg.Logger,
		OnStart: d.attemptStarted, OnEnd: d.finishAttempt,
		OnProgress: func(p sched.Progress) { d.cfg.OnProgress(Progress(p)) },
		LiveBytes:  func(t sched.Task) int64 { return d.liveBytes(t.ID, t.Bytes) },
	}

	if err := d.mapPhase(ctx); err != nil {
		return nil, err
	}
	mapped := time.Now()
	log.Info("map phase done", "tasks", len(d.inputs), "took", mapped.Sub(planned))
	if cfg.MapOnly {
		d.parts = d.mapParts()
	} else if err := d.reducePhase(ctx); err != nil {
		return nil, err
	}
	var merged string
	if cfg.Merge {
		// Written under _temporary and committed as a part is, so that a
		// job failing after the merge removes it (Abort) and _SUCCESS
		// lists it; written in place, it stayed in a failed job's output,
		// where the next job over the folder read it as input.
		name := "merged" + d.outOpts.Ext()
		tmp := filepath.Join(d.output.Temp(), name)
		if err := merger.MergeParts(tmp, d.parts, d.outOpts); err != nil {
			os.Remove(tmp)
			return nil, fmt.Errorf("merge the parts: %w", err) // err names the file (output.Writer)
		}
		if merged, err = d.output.CommitPart(tmp, name); err != nil {
			return nil, err
		}
	}
	reduced := time.Now()
	if !cfg.MapOnly {
		log.Info("reduce phase done", "tasks", cfg.Reducers, "took", reduced.Sub(mapped))
	}
	// The workers go before the commit, so that one that fails on its way
	// out (the race detector exits 66 when it found a race) is reported in
	// the summary and in _job.json.
	warnings := d.runner.close()
	for _, w := range warnings {
		log.Warn(w)
	}
	warnings = append(in.Warnings, warnings...)
	for _, w := range task.Warnings(job.Info(), d.counters) {
		log.Warn(w)
		warnings = append(warnings, w)
	}
	if w, ok := task.EmptyOutput(job.Info(), d.counters, cfg.MapOnly); ok {
		log.Warn(w)
		warnings = append(warnings, w)
	}

	res = &Result{
		Job: d.name, Engine: cfg.Engine, Output: d.out, Parts: d.parts, Merged: merged, MapOnly: cfg.MapOnly,
		Counters: d.counters, Splits: len(in.Splits), MapTasks: len(d.inputs), WorkerPeakRSS: d.peakRSS, Warnings: warnings,
		Timings: Timings{Plan: planned.Sub(d.started), Map: mapped.Sub(planned), Reduce: reduced.Sub(mapped)},
	}
	d.setWarnings(warnings)
	if cfg.KeepWorkDir {
		res.KeptWorkDir = d.workDir.Path
	}
	for _, id := range slices.Sorted(maps.Keys(d.tasks)) {
		res.Tasks = append(res.Tasks, *d.tasks[id])
	}
	for _, m := range d.maps {
		res.Skipped = append(res.Skipped, m.skipped...)
	}
	if err := d.commit(res, reduced); err != nil {
		return nil, err
	}
	holdAfterCommit(ctx)
	return res, nil
}

// mapState is what the driver holds of one map task's committed attempt.
type mapState struct {
	runs     []task.RunFile
	part     string // a map-only job's committed part file
	counters task.Counters
	skipped  []task.SkippedRecord
	dir      string // the committed attempt's directory; "" while none is
	rss      int64
}

// mapAttempt runs one attempt of map task i and, if it succeeds and no
// other attempt of the task has committed, commits its runs.
func (d *driver) mapAttempt(ctx context.Context, i, attempt int) error {
	id := mapTaskID(i)
	if d.isSpool(i) {
		return d.spoolAttempt(ctx, i, attempt, id)
	}
	if d.cfg.MapOnly {
		return d.mapOnlyAttempt(ctx, i, attempt)
	}
	dir := filepath.Join(d.workDir.Path, id, fmt.Sprintf("attempt-%d", attempt))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create attempt directory: %w", err)
	}
	res, err := d.runner.runMap(ctx, task.MapSpec{
		Job: d.name, Params: d.cfg.Params, TaskID: id, Attempt: attempt,
		Input: d.mapInput(i), Reducers: d.cfg.Reducers, SortBuffer: d.cfg.SortBuffer,
		Compression: d.cfg.SpillCompression, Dir: dir, RangeSplits: d.ranges, SkipBadRecords: d.cfg.SkipBadRecords,
		Rebalance: max(d.cfg.Rebalance, 0),
	}, sched.SplitRequests(ctx))
	if err != nil {
		os.RemoveAll(dir)
		return err
	}
	d.attemptSucceeded(id, attempt, res.Counters, res.PeakRSS)
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.maps[i].dir != "" {
		// A speculative twin committed first; this attempt's runs are
		// never seen by a reducer.
		os.RemoveAll(dir)
		return nil
	}
	d.maps[i] = mapState{runs: res.Runs, counters: res.Counters, skipped: res.Skipped, dir: dir, rss: res.PeakRSS}
	for _, r := range res.Runs {
		d.runOwner[r.Path] = i
	}
	d.counters.Add(res.Counters)
	d.peakRSS = max(d.peakRSS, res.PeakRSS)
	return nil
}

func (d *driver) mapPhase(ctx context.Context) error {
	d.maps = make([]mapState, len(d.inputs))
	d.chunks = make([]int, d.spooled)
	d.joinMap = make(chan func(int) (sched.Task, bool))
	if d.job.Info().TotalOrder {
		var err error
		if d.ranges, err = task.SampleRanges(ctx, d.job, d.splits, d.cfg.Params, d.cfg.Reducers, d.cfg.Logger); err != nil {
			return Refused(err)
		}
	}
	tasks := make([]sched.Task, len(d.inputs))
	for i := range tasks {
		tasks[i] = d.mapTask(i)
	}
	phase := sched.Phase{Name: "map", Tasks: tasks, Attempt: d.mapAttempt, Join: d.joinMap}
	if above := d.cfg.SplitAbove(); above > 0 {
		phase.Split, phase.SplitAbove = d.splitMap, above
	}
	return d.sched.Run(ctx, phase)
}

// mapTask is map task i as the scheduler sees it.
func (d *driver) mapTask(i int) sched.Task {
	t := mapTaskOf(i, d.mapInput(i))
	t.Splittable = t.Splittable && !d.isSpool(i) // a spool task runs in the driver
	return t
}

// mapTaskOf is map task i, which reads in, as the scheduler sees it. It
// may be split if it has a split to give up whole, or one to cut within.
func mapTaskOf(i int, in input.Task) sched.Task {
	return sched.Task{ID: mapTaskID(i), Input: in.String(), Bytes: in.Bytes(), Work: in.Len(),
		Splittable: len(in.Splits) > 1 || len(in.Splits) == 1 && input.CanCut(in.Splits[0])}
}

func mapTaskID(i int) string { return fmt.Sprintf("map-%05d", i) }

// remakeMap answers a fetch failure: if run is still a committed output of
// its map task, the task is uncommitted (its counters taken back) and made
// again through the scheduler (Again). Reduce attempts snapshot their
// segments under d.remaking's read lock, so none starts with the task
// half-replaced.
func (d *driver) remakeMap(ctx context.Context, run string) error {
	d.remaking.Lock()
	defer d.remaking.Unlock()
	d.mu.Lock()
	i, ok := d.runOwner[run]
	if !ok {
		d.mu.Unlock()
		return nil // already replaced by an earlier remake
	}
	old := d.maps[i]
	for _, r := range old.runs {
		delete(d.runOwner, r.Path)
	}
	d.counters.Sub(old.counters)
	d.maps[i] = mapState{}
	d.mu.Unlock()
	os.RemoveAll(old.dir)

	t := d.mapTask(i)
	d.cfg.Logger.Warn("map output lost; running the map task again", "task", t.ID, "run", run)
	return d.sched.Again(ctx, "map", t, func(ctx context.Context, attempt int) error {
		return d.mapAttempt(ctx, i, attempt)
	})
}

func (d *driver) reducePhase(ctx context.Context) error {
	d.parts = make([]string, d.cfg.Reducers)
	tasks := make([]sched.Task, d.cfg.Reducers)
	for r := range tasks {
		tasks[r] = sched.Task{ID: fmt.Sprintf("reduce-%05d", r), Input: fmt.Sprintf("partition %d", r)}
	}
	return d.sched.Run(ctx, sched.Phase{Name: "reduce", Tasks: tasks, Attempt: d.reduceAttempt})
}

func (d *driver) reduceAttempt(ctx context.Context, r, attempt int) error {
	id := fmt.Sprintf("reduce-%05d", r)
	d.remaking.RLock()
	var segs []shuffle.Segment
	var shuffled int64
	d.mu.Lock()
	for _, m := range d.maps {
		for _, run := range m.runs {
			if run.PartitionRecords[r] > 0 {
				segs = append(segs, shuffle.Segment{Path: run.Path, Partition: r})
				shuffled += run.PartitionBytes[r]
			}
		}
	}
	d.mu.Unlock()
	d.remaking.RUnlock()

	name := fmt.Sprintf("part-%05d", r) + d.outOpts.Ext()
	attemptDir, err := d.output.AttemptDir(id, attempt)
	if err != nil {
		return err
	}
	defer os.RemoveAll(attemptDir)
	mergeDir := filepath.Join(d.workDir.Path, id, fmt.Sprintf("attempt-%d", attempt))
	defer os.RemoveAll(mergeDir)
	if err := os.MkdirAll(mergeDir, 0o755); err != nil {
		return fmt.Errorf("create attempt directory: %w", err)
	}
	res, err := d.runner.runReduce(ctx, task.ReduceSpec{
		Job: d.name, Params: d.cfg.Params, TaskID: id, Attempt: attempt, Partition: r,
		Segments: segs, FanIn: d.cfg.MergeFanIn, Compression: d.cfg.SpillCompression,
		TempDir: mergeDir, Output: filepath.Join(attemptDir, name), Format: d.outOpts,
	})
	var ff *task.FetchFailure
	if errors.As(err, &ff) {
		if rerr := d.remakeMap(ctx, ff.Run); rerr != nil {
			return rerr
		}
		return err // this attempt failed; the next one reads the new runs
	}
	if err != nil {
		return err
	}
	// The shuffle bytes are the attempt's input, so its own report (the
	// status page's "bytes in") carries them as well as the job's total.
	res.Counters[task.ShuffleBytes] += shuffled
	d.attemptSucceeded(id, attempt, res.Counters, res.PeakRSS)
	// Commit: the rename makes the whole part visible at once, and holding
	// the lock makes the first attempt to get here the only one that does.
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.parts[r] != "" {
		return nil
	}
	final, err := d.output.CommitPart(filepath.Join(attemptDir, name), name)
	if err != nil {
		return err
	}
	d.parts[r] = final
	d.counters.Add(res.Counters)
	d.peakRSS = max(d.peakRSS, res.PeakRSS)
	return nil
}

// TaskError is the error of a job whose task failed every attempt.
type TaskError = sched.TaskError

// attemptStarted opens the report of a new attempt (the scheduler's
// OnStart).
func (d *driver) attemptStarted(phase string, t sched.Task, attempt int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	r := d.tasks[t.ID]
	if r == nil {
		r = &TaskReport{ID: t.ID, Phase: phase, Input: t.Input}
		d.tasks[t.ID] = r
	}
	r.Attempts = append(r.Attempts, AttemptReport{Attempt: attempt, State: AttemptRunning, Start: time.Now()})
}

// finishAttempt records how an attempt ended (the scheduler's OnEnd).
func (d *driver) finishAttempt(t sched.Task, attempt int, took time.Duration, err error, lostRace bool) {
	e := EndOf(d.workDir.Path, t.ID, attempt, took, err, lostRace)
	if e.State == AttemptFailed && !sched.IsFatal(err) {
		// A fatal error ends the job with this same text; logged here too
		// it would be printed twice.
		d.cfg.Logger.Warn("task attempt failed", "task", t.ID, "attempt", attempt, "err", err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if a := d.attemptReport(t.ID, attempt); a != nil {
		a.End(e)
	}
}

// commit writes the job summary and then _SUCCESS, the marker that every
// part is in place (commit.Dir.Commit); an object-store output is
// uploaded instead of the local _SUCCESS.
func (d *driver) commit(res *Result, reduced time.Time) error {
	res.DriverPeakRSS = exec.ProcessPeakRSS()
	res.Timings.Commit = time.Since(reduced)
	res.Timings.Total = time.Since(d.started)
	d.keepFailedLogs()
	if d.upload != nil {
		res.Output = d.upload.URL() // for _job.json; publish renames the parts
	}
	// _job.json says what is true once _SUCCESS is there; the live
	// status says so only after that (run's deferred jobEnded).
	st := d.status()
	st.State = JobSucceeded
	summary, err := json.MarshalIndent(jobSummary(res, d.cfg, st), "", "  ")
	if err != nil {
		return err
	}
	var publish func() error
	if d.upload != nil {
		publish = func() error {
			names, err := d.upload.Publish(context.Background(), append(slices.Clone(res.Parts), res.Merged))
			if err != nil {
				return err
			}
			res.Output = d.upload.URL()
			res.Parts, res.Merged = names[:len(res.Parts)], names[len(res.Parts)]
			return nil
		}
	}
	if err := d.output.Commit(summary, publish); err != nil {
		return err
	}
	d.recordHistory(summary, d.output.Path())
	return nil
}

// recordHistory adds the job's report to the job history (QUERN_HISTORY,
// package jobhistory), with the _logs folder of outDir, the output
// directory, if it is not "". The job's outcome does not depend on it.
func (d *driver) recordHistory(summary []byte, outDir string) {
	if err := jobhistory.Record(summary, outDir); err != nil {
		d.cfg.Logger.Warn("the job is not in the job history", "history", jobhistory.Folder(), "err", err)
	}
}

// jobSummary is the content of _job.json: the job's final status
// (JobStatus, whose keys a status page reads back) and its configuration,
// timings, memory and skipped records.
func jobSummary(res *Result, cfg Config, st JobStatus) map[string]any {
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	summary := statusSummary(st, cfg)
	summary["splits"] = res.Splits
	summary["map_tasks"] = res.MapTasks
	summary["timings_ms"] = map[string]float64{
		"plan": ms(res.Timings.Plan), "map": ms(res.Timings.Map), "reduce": ms(res.Timings.Reduce),
		"commit": ms(res.Timings.Commit), "total": ms(res.Timings.Total),
	}
	summary["peak_rss_bytes"] = map[string]int64{"driver": res.DriverPeakRSS, "largest_worker": res.WorkerPeakRSS}
	summary["skipped"] = res.Skipped
	return summary
}

// statusSummary is what _job.json holds of every job, finished or failed.
func statusSummary(st JobStatus, cfg Config) map[string]any {
	summary := map[string]any{
		"job": st.Job, "engine": st.Engine, "output": st.Output, "state": st.State, "error": st.Error,
		"started": st.Started, "elapsed_ms": st.ElapsedMS, "workers": st.Workers,
		"ended":  st.Ended(),
		"phases": st.Phases, "counters": st.Counters, "tasks": st.Tasks, "warnings": st.Warnings,
		"config": map[string]any{
			"inputs": cfg.Inputs, "output": cfg.Output, "workers": cfg.Workers,
			"reducers": cfg.Reducers, "split_size": cfg.SplitSize, "sort_buffer": cfg.SortBuffer,
			"tmp_dir": cfg.TmpDir, "spill_compression": cfg.SpillCompression, "merge_fan_in": cfg.MergeFanIn,
			"max_attempts": cfg.MaxAttempts, "task_timeout": cfg.TaskTimeout.String(), "params": cfg.Params,
			"speculative": cfg.Speculative, "skip_bad_records": cfg.SkipBadRecords,
			"input_format": cfg.InputFormat, "output_format": cfg.OutputFormat,
			"output_compression": cfg.OutputCompression, "merge": cfg.Merge, "map_only": cfg.MapOnly,
		},
	}
	st.Origin.Put(summary)
	return summary
}

// writeFailureReport undoes a failed job's output and leaves the job's
// report in the (otherwise emptied) output directory: _job.json with the
// error and every attempt, and _logs/ with the failed attempts' worker
// output. There is no _SUCCESS, and prepareOutput lets the next run
// replace the report. A job that was to overwrite a finished output leaves
// that output as it was instead (commit.Dir.KeptPrevious), and says so.
// Either way the report and the logs go to the job history
// (QUERN_HISTORY), before the output is undone.
func (d *driver) writeFailureReport(err error) {
	if d.output == nil || d.workDir == nil {
		d.removeOutput()
		return // the job failed before it ran anything
	}
	d.jobEnded(err)
	d.keepFailedLogs()
	summary, mErr := json.MarshalIndent(statusSummary(d.status(), d.cfg), "", "  ")
	if mErr == nil {
		d.recordHistory(summary, d.output.Path())
	}
	d.removeOutput()
	if d.output.KeptPrevious() {
		// Putting it back removed this job's logs too.
		d.cfg.Logger.Warn("the output directory keeps the previous job's output, as it was before this job", "output", d.out)
		return
	}
	var te *TaskError
	if errors.As(err, &te) {
		te.Log = d.keptLog(te.Task)
	}
	if mErr == nil {
		mErr = d.output.Report(summary)
	}
	if mErr != nil {
		d.cfg.Logger.Warn("cannot write the failed job's report", "err", mErr)
	}
}

func safeName(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '/' || r == os.PathSeparator || r < ' ' {
			return '_'
		}
		return r
	}, s)
}

// holdAfterCommitEnv, set to 1 in a driver's environment, makes it wait
// after the commit until its context is cancelled: a test's way to send
// SIGINT at the one moment it means to, when the output is complete and
// clean-up has not run. Tests only.
const holdAfterCommitEnv = "QUERN_TEST_HOLD_AFTER_COMMIT"

func holdAfterCommit(ctx context.Context) {
	if os.Getenv(holdAfterCommitEnv) == "1" {
		<-ctx.Done()
	}
}
