package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/quern-dev/quern/exec"
	"github.com/quern-dev/quern/input"
	"github.com/quern-dev/quern/internal/commit"
	jobdriver "github.com/quern-dev/quern/internal/driver"
	"github.com/quern-dev/quern/internal/jobhistory"
	"github.com/quern-dev/quern/internal/plan"
	"github.com/quern-dev/quern/internal/sched"
	"github.com/quern-dev/quern/internal/task"
	"github.com/quern-dev/quern/mapreduce"
	"github.com/quern-dev/quern/objstore"
	"github.com/quern-dev/quern/output"
	"github.com/quern-dev/quern/shuffle"
)

// Result describes a pipeline that ran to completion.
type Result struct {
	Pipeline string
	Engine   string
	Output   string
	// Parts are the committed part files, one per reducer.
	Parts []string
	// Merged is the file of every output record in key order
	// (Config.Merge, merge.go), or "".
	Merged string
	// Counters are the sums over every stage.
	Counters mapreduce.Counters
	Stages   []StageReport
	// Skipped lists the input records skipped as bad (SkipBadRecords).
	Skipped []mapreduce.SkippedRecord
	// Warnings are what the pipeline read but the user may not have meant
	// (a finished output below an input folder), also logged and kept in
	// _job.json.
	Warnings []string
	Elapsed  time.Duration
	// KeptWorkDir is the work directory, with the stages' runs, left for
	// inspection (Config.KeepWorkDir), as an absolute path; else "".
	KeptWorkDir string
}

// StageReport is what one stage did, summed over its tasks (and its
// rounds, for a stage in a loop).
type StageReport struct {
	Name string
	// Kind is "read" or "group".
	Kind string
	// Loop names the loop holding the stage; Rounds is how many it ran.
	Loop     string `json:",omitempty"`
	Rounds   int
	Tasks    int
	Counters mapreduce.Counters
	// Start is when the stage's first task started, from the pipeline's
	// start; Elapsed how long its tasks took, over all its rounds.
	Start, Elapsed time.Duration
	// Reads describes each input: "shuffle" or "co-partitioned".
	Reads []string `json:",omitempty"`
	// Reused says that the stage did not run: Resume found its committed
	// output (Counters and Tasks are those of the run that made it).
	Reused bool `json:",omitempty"`
}

// StageError is the error of a pipeline whose stage failed: it names the
// stage and the stages that depend on it, which were not run.
type StageError struct {
	Pipeline   string
	Stage      string
	Round      int
	Dependants []string
	Err        error
}

func (e *StageError) Error() string {
	at := e.Stage
	if e.Round > 0 {
		at = fmt.Sprintf("%s (round %d)", e.Stage, e.Round)
	}
	msg := fmt.Sprintf("pipeline %s: stage %s failed: %v", e.Pipeline, at, e.Err)
	if len(e.Dependants) > 0 {
		msg += fmt.Sprintf("; not run, as they depend on it: %s", strings.Join(e.Dependants, ", "))
	}
	return msg
}

func (e *StageError) Unwrap() error { return e.Err }

// Run runs the pipeline with the job configuration cfg (its inputs, output,
// engine, workers, reducers, sort buffer, params). A stage starts as soon as
// the stages it reads have committed, so stages that do not depend on each
// other run side by side, their tasks sharing the workers (schedule.go).
// Intermediate runs live in a work directory under cfg.TmpDir named after
// the output, and each collection's runs are removed as soon as every
// stage that reads them has committed.
func (p *Pipeline) Run(ctx context.Context, cfg mapreduce.Config) (*Result, error) {
	return p.run(ctx, cfg, false)
}

// Resume is Run for a pipeline whose driver was killed (or that ran
// before): a stage whose configuration and inputs are those of the last run
// (the same fingerprint, see resume.go) and whose committed runs are still in
// the work directory is not run again, and neither is a stage whose
// consumers are all reused. The output is written again, unless the last
// run succeeded with the same fingerprint, in which case nothing runs.
func (p *Pipeline) Resume(ctx context.Context, cfg mapreduce.Config) (*Result, error) {
	return p.run(ctx, cfg, true)
}

func (p *Pipeline) run(ctx context.Context, cfg mapreduce.Config, resume bool) (res *Result, err error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	params, err := p.params(cfg.Params)
	if err != nil {
		return nil, err
	}
	cfg.Params = params
	if note := cfg.MemoryNote(); note != "" {
		cfg.Logger.Warn(note, "job", p.Name)
	}
	d := &driver{p: p, cfg: cfg, started: time.Now(), runs: map[*collection][]runFile{},
		lineage:  newRemakes(),
		jobState: mapreduce.JobRunning, reports: map[string]*mapreduce.TaskReport{}, readBytes: map[string][2]int64{}, chunks: map[spoolKey]int{}, done: make([]int, len(p.stages)),
		remaining: map[*collection]int{}, stages: make([]StageReport, len(p.stages))}
	d.origin = jobdriver.ThisProcess()
	for i, s := range p.stages {
		d.stageState = append(d.stageState, stageWaiting)
		d.stages[i] = StageReport{Name: s.name, Kind: [...]string{"read", "group", "state"}[s.kind], Counters: mapreduce.Counters{}}
		if s.loop != nil {
			d.stages[i].Loop = s.loop.name
		}
		for _, in := range s.inputs {
			d.stages[i].Reads = append(d.stages[i].Reads, readMode(in))
		}
	}
	for _, c := range p.colls {
		d.remaining[c] = len(c.consumers)
	}
	if d.outOpts, err = outputOptions(cfg); err != nil {
		return nil, err
	}
	if d.rounds, err = p.rounds(cfg.Params); err != nil {
		return nil, err
	}
	if d.stateRounds, err = p.stateRounds(cfg.Params); err != nil {
		return nil, err
	}
	d.state = map[*stage]*stateRun{}
	warn := func(w string) {
		cfg.Logger.Warn(w)
		d.warn(w)
	}
	if d.files, d.tasks, d.spooled, err = p.planInput(ctx, cfg, warn); err != nil {
		return nil, err
	}
	if p.columns != nil {
		var all []input.File
		seen := map[string]bool{}
		for _, s := range p.stages {
			for _, f := range d.files[s] {
				if !seen[f.Path] {
					seen[f.Path] = true
					all = append(all, f)
				}
			}
		}
		if d.outOpts.ValueColumns, err = p.columns(func(name string) string { return cfg.Params[name] }, all); err != nil {
			return nil, fmt.Errorf("%w: %w", mapreduce.ErrConfig, err)
		}
	}
	d.units = p.units()
	d.fingerprint()
	if resume {
		if res, done := d.finishedBefore(); done {
			return res, nil
		}
	}
	local := cfg.Output
	if objstore.IsURL(cfg.Output) {
		// An object store has no rename: the pipeline commits into a
		// local staging directory, which is uploaded at the end, as a
		// job's output is (internal/driver.StageObjectOutput).
		if d.objects, err = jobdriver.StageObjectOutput(ctx, cfg.Output, p.Name, cfg.Overwrite, cfg.TmpDir, d.inputFiles(), cfg.Logger); err != nil {
			return nil, err
		}
		defer d.objects.Close()
		local = d.objects.Staging()
	}
	// The output is taken as a job's is (commit.Open): locked against
	// other jobs, never a folder that holds an input or the user's other
	// files. Resuming rewrites the output, so what a killed run left there
	// (its parts, _temporary, its report) is emptied as --overwrite would.
	d.out, err = commit.Open(local, commit.Options{Overwrite: cfg.Overwrite || resume, Inputs: input.PathsMaybeInside(local, d.inputFiles()), Usage: mapreduce.ErrConfig})
	if err != nil {
		return nil, err
	}
	defer d.out.Close()
	defer func() {
		if err != nil {
			d.writeReport(err)
		}
	}()
	if d.workDir, err = workDir(cfg, p.Name, resume); err != nil {
		return nil, err
	}
	succeeded := false
	defer func() {
		if err != nil {
			d.keepFailedLogs() // before the work directory, which has them, goes
		}
		// A failed pipeline's runs go; an interrupted (or killed) one's
		// stay for Resume.
		if !cfg.KeepWorkDir && (succeeded || err != nil && ctx.Err() == nil) {
			d.workDir.Remove()
		} else {
			d.workDir.Keep()
		}
	}()
	if resume {
		d.resume = true
		d.planReuse()
	}
	stopProfiles, err := mapreduce.StartProfiles(cfg)
	if err != nil {
		return nil, err
	}
	defer stopProfiles()
	switch cfg.Engine {
	case mapreduce.EngineInline:
		d.runner = inlineRunner{logger: cfg.Logger}
	default:
		pool, err := exec.StartPool(ctx, exec.PoolOptions{
			Workers: cfg.Workers, Stderr: os.Stderr, TaskTimeout: cfg.TaskTimeout, Logger: cfg.Logger, OnStatus: d.heartbeat,
			Env: append([]string{input.WorkersEnv + "=" + strconv.Itoa(cfg.Workers),
				"GOMEMLIMIT=" + jobdriver.MemoryLimit(d.workerMemory())},
				mapreduce.ProfileEnv(cfg)...),
		})
		if err != nil {
			return nil, err
		}
		defer pool.Close()
		d.runner = localRunner{pool: pool, workers: cfg.Workers, work: d.workDir.Path}
	}
	d.sched = &sched.Scheduler{
		Job: p.Name, Slots: d.runner.slots(), MaxAttempts: cfg.MaxAttempts, Logger: cfg.Logger,
		Speculative: cfg.Speculative, SpeculativeAfter: cfg.SpeculativeAfter,
		// The stages running side by side share the runner's slots.
		Shared:  sched.NewSlots(d.runner.slots()),
		OnStart: d.attemptStarted, OnEnd: d.attemptEnded,
		// A read stage's tasks have bytes: its progress in bytes moves
		// as they read, as a job's map phase does.
		OnProgress: d.stageBytes, LiveBytes: d.liveBytes,
	}
	if cfg.OnStart != nil {
		cfg.OnStart(d.status)
	}
	defer func() { d.pipelineEnded(err) }()
	if err := d.runStages(ctx); err != nil {
		return nil, err
	}
	if cfg.Merge {
		if d.mergedFile, err = d.mergeOutput(); err != nil {
			return nil, err
		}
	}
	res, err = d.commit()
	succeeded = err == nil
	return res, err
}

// readMode says how a stage reads a collection.
func readMode(c *collection) string {
	if c.sameKey {
		return c.name + ": co-partitioned, no shuffle"
	}
	return c.name + ": shuffle"
}

// params fills in the defaults of the pipeline's parameters and checks
// the required ones.
func (p *Pipeline) params(given map[string]string) (map[string]string, error) {
	out := map[string]string{}
	for k, v := range given {
		out[k] = v
	}
	for _, prm := range p.Params {
		if _, ok := out[prm.Name]; ok {
			continue
		}
		if prm.Required {
			return nil, fmt.Errorf("%w: pipeline %q needs parameter %q (%s)", mapreduce.ErrConfig, p.Name, prm.Name, prm.Usage)
		}
		if prm.Default != "" {
			out[prm.Name] = prm.Default
		}
	}
	if p.checkParams != nil {
		if err := p.checkParams(func(name string) string { return out[name] }); err != nil {
			return nil, fmt.Errorf("%w: pipeline %s: %w", mapreduce.ErrConfig, p.Name, err)
		}
	}
	return out, nil
}

// rounds is the number of rounds of each loop.
func (p *Pipeline) rounds(params map[string]string) (map[*loop]int, error) {
	out := map[*loop]int{}
	for _, l := range p.loops {
		n, err := l.spec.Rounds(params)
		if err != nil {
			return nil, fmt.Errorf("%w: pipeline %s, loop %s: %v", mapreduce.ErrConfig, p.Name, l.name, err)
		}
		if n < 0 {
			return nil, fmt.Errorf("%w: pipeline %s, loop %s: %d rounds", mapreduce.ErrConfig, p.Name, l.name, n)
		}
		out[l] = n
	}
	return out, nil
}

func outputOptions(cfg mapreduce.Config) (output.Options, error) {
	var opts output.Options
	var err error
	if cfg.OutputFormat != "" {
		if opts.Format, err = output.ParseFormat(cfg.OutputFormat); err != nil {
			return opts, err
		}
	}
	opts.Compression, err = output.ParseCompression(cfg.OutputCompression)
	return opts, err
}

// planInput finds the input files and cuts each read stage's share of them
// (all, or those its ReadFiles filter keeps) into tasks, as a MapReduce
// job's map tasks are cut, big compressed files into spool tasks
// (spool.go) at the front, whose number it returns. warn hears what the inputs hold that the user
// may not have meant (input.ExpandOptions.Warn). The listing stops once
// ctx is done, with ctx's error rather than a refusal (ErrConfig).
func (p *Pipeline) planInput(ctx context.Context, cfg mapreduce.Config, warn func(string)) (map[*stage][]input.File, map[*stage][]input.Task, map[*stage]int, error) {
	o := plan.Options{
		Inputs: cfg.Inputs, InputFormat: cfg.InputFormat, SplitSize: cfg.SplitSize,
		Workers: cfg.Workers, Reducers: cfg.Reducers, ManyFiles: jobdriver.AdviseHeap,
	}
	files, err := plan.Files(ctx, o, warn)
	if err != nil && jobdriver.StoppedBy(ctx, err) {
		return nil, nil, nil, err
	}
	if err != nil {
		return nil, nil, nil, fmt.Errorf("%w: %w", mapreduce.ErrConfig, err)
	}
	kept, err := p.StageFiles(cfg.Params, cfg.InputFormat, files)
	if err != nil {
		return nil, nil, nil, err
	}
	byStage, tasks, spooled := map[*stage][]input.File{}, map[*stage][]input.Task{}, map[*stage]int{}
	for _, s := range p.stages {
		if s.kind != readStage {
			continue
		}
		in, err := plan.Cut(kept[s.index], o)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("%w: stage %s: %w", mapreduce.ErrConfig, s.name, err)
		}
		byStage[s], tasks[s], spooled[s] = in.Files, in.Tasks, in.Spooled
	}
	if err := p.checkSegments(cfg.Reducers); err != nil {
		return nil, nil, nil, err
	}
	return byStage, tasks, spooled, nil
}

// checkSegments refuses a pipeline whose stages would exchange more than
// plan.MaxSegments segments, as a job's plan refuses its map tasks ×
// reducers (a read stage's tasks are counted by plan.Cut): a group or
// state stage runs a task per partition, so a shuffle of its output, and
// a state stage's messages, make reducers × reducers segments. topwords
// with --reducers 100000 over 100 kB grew its driver to 4.8 GB in a
// minute; with 10,000, to 2.1 GB.
func (p *Pipeline) checkSegments(reducers int) error {
	r := int64(reducers)
	if r*r <= plan.MaxSegments {
		return nil
	}
	for _, s := range p.stages {
		shuffles := s.kind == stateKind
		for _, c := range s.inputs {
			if !c.sameKey && (c.producer == nil || c.producer.kind != readStage) {
				shuffles = true
			}
		}
		if shuffles {
			return fmt.Errorf("%w: stage %s: %d reducers × %d reducers is %d shuffle segments, more than the %d a pipeline may have; use --reducers %d or fewer",
				mapreduce.ErrConfig, s.name, r, r, r*r, plan.MaxSegments, int64(math.Sqrt(plan.MaxSegments)))
		}
	}
	return nil
}

// inputFiles are the input files of every read stage, which the output
// may not hold.
func (d *driver) inputFiles() []input.File {
	var all []input.File
	seen := map[string]bool{}
	for _, files := range d.files {
		for _, f := range files {
			if !seen[f.Path] {
				seen[f.Path] = true
				all = append(all, f)
			}
		}
	}
	return all
}

// driver is the state of one running pipeline.
type driver struct {
	p       *Pipeline
	cfg     mapreduce.Config
	outOpts output.Options
	// files and tasks are each read stage's input files and map tasks.
	files map[*stage][]input.File
	tasks map[*stage][]input.Task
	// spooled are how many of each read stage's tasks, at the front of
	// its tasks, are spool tasks (spool.go); a spool task's chunks are
	// appended to the stage's tasks as they are written, under tasksMu
	// (taken after mu, if both), and chunks counts them (under mu).
	spooled map[*stage]int
	tasksMu sync.Mutex
	chunks  map[spoolKey]int
	rounds  map[*loop]int
	// stateRounds are the state stages' round counts, and state their
	// progress (state.go).
	stateRounds map[*stage]int
	state       map[*stage]*stateRun
	units       []*unit
	fp          string // the whole pipeline's fingerprint (resume.go)
	resume      bool   // Resume: reuse what a killed run committed
	runner      runner
	// sched runs every stage's task attempts; the stages running side by
	// side share the runner's slots (sched.Scheduler.Shared).
	sched   *sched.Scheduler
	workDir *jobdriver.WorkDir // held while the pipeline runs
	out     *commit.Dir        // the output directory, taken as a job's
	// objects is set for an output in an object store; out is then its
	// local staging directory.
	objects *jobdriver.ObjectOutput
	started time.Time
	origin  jobdriver.Origin

	mu sync.Mutex
	// runs are each collection's committed runs (a loop variable's: the
	// round's), and remaining the stages yet to read them.
	runs      map[*collection][]runFile
	remaining map[*collection]int
	parts     []string
	// merged are the sorted runs of each output task's pairs
	// (Config.Merge), and mergedFile the merged file made of them.
	merged     [][]runFile
	mergedFile string
	// lineage is every committed task's result and inputs, and the task
	// that wrote each run: what a fetch failure makes again (remake.go).
	lineage  remakes
	stages   []StageReport
	counters mapreduce.Counters
	// workerPeakRSS is the largest peak RSS a worker reported.
	workerPeakRSS int64
	// done counts each stage's committed tasks, over all its rounds.
	done []int
	// warnings are planInput's, and at the end those of the counters:
	// for the Result, _job.json and the status.
	warnings []string
	// For the status (status.go): each stage's state, every task's
	// attempts (in the order they started), the pipeline's state, error
	// and end.
	stageState []string
	reports    map[string]*mapreduce.TaskReport
	taskOrder  []string
	// readBytes are the read stages' input bytes read, and of all,
	// by stage name (the scheduler's OnProgress).
	readBytes map[string][2]int64
	jobState  string
	errText   string
	ended     time.Time
}

// progress reports a committed task of stage s to Config.OnProgress: the
// phase is the stage, and its total counts the tasks of every round, so
// that a loop's stage is one bar over all its rounds.
func (d *driver) progress(s *stage) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.done[s.index]++ // for the status too
	if s.kind != readStage {
		// A read stage's is reported by its scheduler's report of the
		// commit, which follows with the bytes read (stageBytes): two
		// reports, the first with the bytes as they were, moved a bar
		// back.
		d.reportProgress(s)
	}
}

// reportProgress reports stage s to Config.OnProgress: its tasks and, for
// a read stage, its bytes read of all. d.mu is held.
func (d *driver) reportProgress(s *stage) {
	if d.cfg.OnProgress == nil {
		return
	}
	read := d.readBytes[s.name]
	d.cfg.OnProgress(mapreduce.Progress{Phase: s.name, Done: d.done[s.index], Total: d.stageTotal(s), Bytes: read[0], TotalBytes: read[1]})
}

// runLoop runs a loop's rounds. Each round reads the loop variable's runs
// (the initial collection's in round 1) and makes the next round's. After
// each round a checkpoint names that round's runs (resume.go), so that
// Resume goes on from the round after the last committed one; a resumed
// loop (u.resumeLoop) starts there. The runs a round read are kept until
// the next round has committed (or, after the last, the stages reading the
// loop's result), so that a lost run of a round can be made again from
// them (remake.go).
func (d *driver) runLoop(ctx context.Context, u *unit) error {
	l := u.loop
	n := d.rounds[l]
	first := 1
	// read are the runs the last round read, older those of the round
	// before it: removed after each round.
	var read, older []runFile
	d.mu.Lock()
	d.runs[l.carried] = d.runs[l.init]
	if d.remaining[l.init] == 0 {
		read = d.runs[l.init] // no stage but the loop reads it
	}
	if cp := u.resumeLoop; cp != nil {
		d.p.logf(d.cfg.Logger, "loop resumed after its last committed round", "loop", l.name, "round", cp.Round)
		d.runs[l.carried], read = cp.Runs, cp.Runs
		for i, s := range l.stages {
			d.stages[s.index] = cp.Stages[i]
		}
		first = cp.Round + 1
		if cp.Converged {
			first = n + 1
		}
		d.runs[l.next] = cp.Runs
	}
	d.mu.Unlock()
	for round := first; round <= n; round++ {
		roundCounters := mapreduce.Counters{}
		for _, s := range l.stages {
			before := cloneCounters(d.stages[s.index].Counters)
			if err := d.runStage(ctx, s, round); err != nil {
				return err
			}
			after := d.stages[s.index].Counters
			for k, v := range after {
				roundCounters[k] += v - before[k]
			}
		}
		d.mu.Lock()
		next := d.runs[l.next]
		d.runs[l.carried] = next
		d.mu.Unlock()
		converged := l.spec.Until != nil && l.spec.Until(round, roundCounters)
		// The checkpoint names this round's runs before the ones they
		// replace are removed: a driver killed in between leaves garbage
		// in the work directory, never a checkpoint of removed files.
		if err := d.saveLoopCheckpoint(u, round, converged); err != nil {
			return &StageError{Pipeline: d.p.Name, Stage: l.stages[0].name, Round: round, Err: fmt.Errorf("save the loop's checkpoint: %w", err)}
		}
		d.removeRuns(older)
		older, read = read, next
		if converged {
			d.p.logf(d.cfg.Logger, "loop converged", "loop", l.name, "round", round)
			break
		}
	}
	d.mu.Lock()
	if n == 0 {
		d.runs[l.next] = d.runs[l.init]
	}
	d.lineage.loopKept[l] = older // removed once the loop's result is read (sweep)
	d.mu.Unlock()
	return nil
}

func (p *Pipeline) logf(logger *slog.Logger, msg string, args ...any) {
	logger.Info(msg, append([]any{"pipeline", p.Name}, args...)...)
}

func cloneCounters(c mapreduce.Counters) mapreduce.Counters {
	out := mapreduce.Counters{}
	for k, v := range c {
		out[k] = v
	}
	return out
}

// consumed counts s as having read its inputs, and removes the runs that
// no stage still has to read or to make again (sweep).
func (d *driver) consumed(s *stage) {
	d.mu.Lock()
	for _, in := range s.inputs {
		if in.loopVar != nil {
			continue // the loop removes its rounds' runs itself
		}
		d.remaining[in]--
	}
	d.mu.Unlock()
	d.sweep()
}

func removeRuns(runs []runFile) {
	for _, r := range runs {
		os.Remove(r.Path)
	}
}

// removeRuns removes runs and the runs made again in their place
// (remake.go), unless the work directory is kept.
func (d *driver) removeRuns(runs []runFile) {
	if d.cfg.KeepWorkDir {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.removeLocked(runs)
}

// removeLocked is removeRuns with d.mu held.
func (d *driver) removeLocked(runs []runFile) {
	for _, r := range runs {
		os.Remove(r.Path)
		d.removeLocked(d.lineage.replaced[r.Path])
	}
}

// dependants lists the stages that read, directly or not, what s makes.
func (d *driver) dependants(s *stage) []string {
	seen := map[*stage]bool{s: true}
	var names []string
	var visit func(s *stage)
	visit = func(s *stage) {
		for _, c := range d.p.colls {
			if c.producer != s {
				continue
			}
			readers := c.consumers
			if l := c.producer.loop; l != nil && c == l.next {
				readers = append(readers, l.carried.consumers...)
			}
			for _, r := range readers {
				if !seen[r] {
					seen[r] = true
					names = append(names, r.name)
					visit(r)
				}
			}
		}
	}
	visit(s)
	return names
}

// runStage runs every task of one stage, on as many slots as the runner
// has, each task up to MaxAttempts times (internal/sched).
func (d *driver) runStage(ctx context.Context, s *stage, round int) error {
	start := time.Now()
	n := d.cfg.Reducers
	if s.kind == readStage {
		n = d.readTasks(s)
	}
	makesOutput := false
	for _, c := range d.p.colls {
		if c.producer == s && c.output && (s.state == nil || round == d.stateRounds[s]+1) {
			makesOutput = true
			d.mu.Lock()
			d.parts = make([]string, d.cfg.Reducers)
			d.merged = make([][]runFile, d.cfg.Reducers)
			d.mu.Unlock()
		}
	}
	stageDir := d.stageDir(s, round)
	d.mu.Lock()
	if d.stageState[s.index] != mapreduce.JobRunning {
		d.stageState[s.index] = mapreduce.JobRunning
		if d.stages[s.index].Tasks == 0 {
			d.stages[s.index].Start = start.Sub(d.started)
		}
	}
	d.mu.Unlock()
	// What a killed run of the stage left (Resume runs it again).
	if err := os.RemoveAll(stageDir); err != nil {
		return err
	}
	for i := range d.spooledTasks(s) {
		if err := os.RemoveAll(d.spoolDir(s, i)); err != nil {
			return err
		}
	}
	results := make([]taskResult, n)
	committed := make([]bool, n)
	tasks := make([]sched.Task, n)
	for i := range tasks {
		tasks[i] = d.schedTask(s, round, i)
	}
	var join chan func(int) (sched.Task, bool)
	spooled := d.spooledTasks(s)
	if spooled > 0 {
		join = make(chan func(int) (sched.Task, bool))
	}
	// offer makes chunk k of spool task i task j of the stage, with a
	// result of its own (the scheduler calls it, in its goroutine).
	offer := func(i int) func(k int, c input.Split) func(int) (sched.Task, bool) {
		return func(k int, c input.Split) func(int) (sched.Task, bool) {
			return func(j int) (sched.Task, bool) {
				d.mu.Lock()
				defer d.mu.Unlock()
				if !d.addChunk(s, i, k, j, c) {
					return sched.Task{}, false
				}
				results, committed = append(results, taskResult{}), append(committed, false)
				return d.schedTask(s, round, j), true
			}
		}
	}
	attempt := func(ctx context.Context, i, attempt int) error {
		if i < spooled {
			if err := d.spoolAttempt(ctx, s, i, attempt, join, offer(i)); err != nil {
				return err
			}
			d.mu.Lock()
			won := !committed[i]
			if won {
				committed[i] = true
				d.attemptSucceeded(d.schedTask(s, round, i).ID, attempt, taskResult{})
			}
			d.mu.Unlock()
			if won {
				d.progress(s)
			}
			return nil
		}
		won := false
		err := d.runAttempt(ctx, s, round, i, attempt, stageDir, makesOutput, nil, func(res taskResult) bool {
			// The first attempt of a task to finish commits; a
			// speculative twin that finishes after it is thrown away.
			if committed[i] {
				return false
			}
			committed[i], results[i], won = true, res, true
			return true
		})
		if won && err == nil {
			d.progress(s)
		}
		return err
	}
	if err := d.sched.Run(ctx, sched.Phase{Name: s.name, Tasks: tasks, Attempt: attempt, Join: join}); err != nil {
		if cerr := ctx.Err(); cerr != nil {
			return cerr
		}
		return &StageError{Pipeline: d.p.Name, Stage: s.name, Round: round, Dependants: d.dependants(s), Err: err}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if s.state != nil {
		d.stateCommitted(s, results)
	}
	rep := &d.stages[s.index]
	if rep.Tasks == 0 {
		rep.Start = start.Sub(d.started)
	}
	rep.Tasks += len(results)
	rep.Rounds = max(rep.Rounds, round)
	rep.Elapsed += time.Since(start)
	for _, c := range d.p.colls {
		if c.producer == s && c.stored() {
			var runs []runFile
			for _, r := range results {
				runs = append(runs, r.Runs[c.index]...)
			}
			d.runs[c] = runs
		}
	}
	for i, r := range results {
		if makesOutput {
			d.merged[i] = r.Merge
		}
		rep.Counters.Add(r.Counters)
		d.counters.Add(r.Counters)
		d.workerPeakRSS = max(d.workerPeakRSS, r.PeakRSS)
	}
	return nil
}

// workerMemory is the memory limit of a pipeline's worker. Unlike a
// job's task, which either sorts or merges (internal/driver's
// workerMemory), a group task merges its input runs while the steps fused
// after it fill a sort buffer, so the limit is the sum of the two, with
// twice a job worker's slack for the merge's readers and the fused steps'
// writers. A combining table needs no share of its own here, as it does
// in a job: it lives in read stages, which do not merge. Measured with
// topwords over 27.4 million distinct words (2 alternated runs): 61 and
// 61 collections in the job, 149 MB largest process, 18.1-20.8 s; with
// half a sort buffer more for the table, 58 and 59, 168 MB, 18.4-19.0 s.
func (d *driver) workerMemory() int64 {
	return jobdriver.SortMemory(d.cfg, false) + jobdriver.MergeMemory(d.cfg) + 2*jobdriver.WorkerSlack
}

// stageDir is the directory of stage s's attempts in round (0 outside
// loops).
func (d *driver) stageDir(s *stage, round int) string {
	dir := filepath.Join(d.workDir.Path, fmt.Sprintf("s%02d-%s", s.index, safeName(s.name)))
	if round > 0 {
		dir += fmt.Sprintf("-r%03d", round)
	}
	return dir
}

// schedTask names task i of stage s in round (0 outside loops) for the
// scheduler of attempts.
func (d *driver) schedTask(s *stage, round, i int) sched.Task {
	id := fmt.Sprintf("%s-%05d", s.name, i)
	if round > 0 {
		id = fmt.Sprintf("%s-r%d-%05d", s.name, round, i)
	}
	if s.kind == readStage {
		in := d.readTask(s, i)
		return sched.Task{ID: id, Input: in.String(), Bytes: in.Bytes()}
	}
	return sched.Task{ID: id, Input: fmt.Sprintf("partition %d", i)}
}

// runAttempt runs one attempt of task i of stage s and, when it succeeds,
// commits it: under d.mu, commit records its result unless another attempt
// of the task committed first (a speculative twin), and then the attempt's
// part file, if it writes the output, is renamed into place. A losing
// attempt's files are removed. The scheduler (d.sched) retries a failed
// attempt up to MaxAttempts times. A task of a stage that groups reads
// its partition of its input collections' runs (and a state stage's, its
// state and messages), or, when it is made again, redo (remake.go).
func (d *driver) runAttempt(ctx context.Context, s *stage, round, i, attempt int, stageDir string, makesOutput bool,
	redo *taskInputs, commit func(taskResult) bool) error {
	spec := taskSpec{
		Pipeline: d.p.Name, Stage: s.index, Round: round, TaskID: d.schedTask(s, round, i).ID, Attempt: attempt,
		Params: d.cfg.Params, Reducers: d.cfg.Reducers, SortBuffer: d.cfg.SortBuffer, Compression: d.cfg.SpillCompression,
		FanIn: d.cfg.MergeFanIn, SkipBadRecords: d.cfg.SkipBadRecords,
	}
	var shuffled, local int64
	if s.kind == readStage {
		spec.Input = d.readTask(s, i)
	} else {
		spec.Partition = i
		d.mu.Lock()
		reads := s.inputs
		switch {
		case redo != nil:
			spec.Inputs, reads = redo.segments, nil
		case s.state != nil && round > 0:
			reads = nil // a state stage reads its input in Build only
		}
		for _, in := range reads {
			var segs []shuffle.Segment
			for _, r := range d.runs[in] {
				if r.PartitionRecords[i] > 0 {
					segs = append(segs, shuffle.Segment{Path: r.Path, Partition: i})
					if in.sameKey {
						local += r.PartitionBytes[i]
					} else {
						shuffled += r.PartitionBytes[i]
					}
				}
			}
			spec.Inputs = append(spec.Inputs, segs)
		}
		if s.state != nil {
			d.stateSpec(&spec, s)
			if redo != nil {
				spec.State, spec.Messages = redo.state, redo.messages
			}
		}
		d.mu.Unlock()
	}
	name := fmt.Sprintf("part-%05d", i) + d.outOpts.Ext()
	spec.Dir = filepath.Join(stageDir, fmt.Sprintf("%05d-attempt-%d", i, attempt))
	if err := os.MkdirAll(spec.Dir, 0o755); err != nil {
		return err
	}
	if makesOutput {
		spec.Output = filepath.Join(d.out.Temp(), fmt.Sprintf("%s-attempt-%d", name, attempt))
		spec.Format = d.outOpts
		spec.Merge = d.cfg.Merge
	}
	res, err := d.runner.run(ctx, spec)
	if err != nil {
		os.RemoveAll(spec.Dir)
		var ff *task.FetchFailure
		if errors.As(err, &ff) {
			if rerr := d.remake(ctx, ff); rerr != nil {
				return rerr
			}
		}
		// A lost run made again (the next attempt reads it), or the
		// attempt's failure; a refused input fails the pipeline at once.
		return jobdriver.Refused(err)
	}
	if res.Counters == nil {
		res.Counters = mapreduce.Counters{}
	}
	res.Counters[mapreduce.ShuffleBytes] += shuffled
	res.Counters[LocalBytes] += local
	d.mu.Lock()
	won := commit(res)
	if won {
		d.attemptSucceeded(spec.TaskID, attempt, res)
		d.recordCommit(taskKey{stage: s, round: round, task: i}, res, taskInputs{spec.Inputs, spec.State, spec.Messages})
	}
	if won && makesOutput {
		d.parts[i], err = d.out.CommitPart(spec.Output, name)
	}
	d.mu.Unlock()
	if !won {
		os.RemoveAll(spec.Dir)
		if makesOutput {
			os.Remove(spec.Output)
		}
		return nil
	}
	if err != nil {
		return sched.Fatal(err)
	}
	return nil
}

// Warnings returns the warnings that a run of p ending with these counters
// gives (WarnCounters), for an engine that runs a pipeline without this
// package's driver, such as Beam's.
func Warnings(p *Pipeline, counters mapreduce.Counters) []string {
	return task.Warnings(task.JobInfo{Name: p.Name, WarnCounters: p.warnCounters}, counters)
}

// commit writes _job.json and then _SUCCESS (commit.Dir.Commit).
func (d *driver) commit() (*Result, error) {
	for _, w := range Warnings(d.p, d.counters) {
		d.cfg.Logger.Warn(w)
		d.warn(w)
	}
	res := &Result{Pipeline: d.p.Name, Engine: d.cfg.Engine, Output: d.cfg.Output, Parts: d.parts, Merged: d.mergedFile,
		Counters: d.counters, Stages: d.stages, Skipped: d.skipped(), Warnings: d.warningsNow(), Elapsed: time.Since(d.started)}
	if d.cfg.KeepWorkDir {
		res.KeptWorkDir = d.workDir.Path
	}
	d.keepFailedLogs()
	summary, err := d.summary("succeeded", nil)
	if err != nil {
		return nil, err
	}
	var publish func() error
	if d.objects != nil {
		publish = func() error {
			names, err := d.objects.Publish(context.Background(), append(slices.Clone(d.parts), d.mergedFile))
			if err == nil {
				res.Parts, res.Merged = names[:len(d.parts)], names[len(d.parts)]
			}
			return err
		}
	}
	if err := d.out.Commit(summary, publish); err != nil {
		return nil, err
	}
	d.recordHistory(summary, d.out.Path())
	return res, nil
}

// recordHistory adds the pipeline's report to the job history
// (QUERN_HISTORY, package jobhistory), with the _logs folder of outDir,
// the output directory, if it is not "". The outcome does not depend on
// it.
func (d *driver) recordHistory(summary []byte, outDir string) {
	if err := jobhistory.Record(summary, outDir); err != nil {
		d.cfg.Logger.Warn("the pipeline is not in the job history", "history", jobhistory.Folder(), "err", err)
	}
}

// writeReport undoes a failed pipeline's output (its committed parts go:
// no _SUCCESS, no parts) and leaves its _job.json there, with the logs of
// its failed attempts (in _logs); or, where the pipeline was to overwrite
// a finished output, leaves that output as it was. Either way the report
// and the logs go to the job history (QUERN_HISTORY), before the output is
// undone.
func (d *driver) writeReport(err error) {
	summary, serr := d.summary("failed", err)
	if serr == nil {
		d.recordHistory(summary, d.out.Path())
	}
	if d.objects != nil {
		if rerr := d.objects.Remove(context.Background()); rerr != nil {
			d.cfg.Logger.Warn("cannot remove the failed pipeline's uploaded output", "output", d.objects.URL(), "err", rerr)
		}
	}
	d.out.Abort()
	if d.out.KeptPrevious() {
		// Putting it back removed this pipeline's logs too.
		d.cfg.Logger.Warn("the output directory keeps the previous output, as it was before this pipeline", "output", d.cfg.Output)
		return
	}
	if serr == nil {
		serr = d.out.Report(summary)
	}
	if serr != nil {
		d.cfg.Logger.Warn("cannot write the failed pipeline's report", "err", serr)
	}
}

// summary is _job.json: the pipeline's status (status.go: its stages with
// their counters and timings, every task attempt) in the given state, and
// its configuration.
func (d *driver) summary(state string, jobErr error) ([]byte, error) {
	st := d.status()
	st.State, st.Error = state, ""
	if jobErr != nil {
		st.Error = jobErr.Error()
	}
	for i := range st.Stages {
		if state == mapreduce.JobFailed && st.Stages[i].State == stageWaiting {
			st.Stages[i].State = stageNotRun
		}
	}
	summary := map[string]any{
		"job": st.Job, "pipeline": true, "engine": st.Engine, "state": st.State, "error": st.Error,
		"started": st.Started, "elapsed_ms": st.ElapsedMS, "workers": st.Workers, "phases": st.Phases, "tasks": st.Tasks,
		"ended":    st.Ended(),
		"reducers": d.cfg.Reducers, "params": d.cfg.Params,
		"inputs": d.cfg.Inputs, "output": d.cfg.Output,
		"counters": st.Counters, "stages": st.Stages, "fingerprint": d.fp,
		"merge": d.cfg.Merge, "skip_bad_records": d.cfg.SkipBadRecords, "skipped": d.skipped(), "warnings": st.Warnings,
		"peak_rss_bytes": map[string]int64{"driver": exec.ProcessPeakRSS(), "largest_worker": d.workerPeakRSS},
	}
	st.Origin.Put(summary)
	return json.MarshalIndent(summary, "", "  ")
}

// warn adds a warning to the pipeline's.
func (d *driver) warn(w string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.warnings = append(d.warnings, w)
}

// warningsNow returns the pipeline's warnings so far.
func (d *driver) warningsNow() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.warnings)
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// runner runs task attempts: in this process (inline) or in a worker.
type runner interface {
	run(ctx context.Context, spec taskSpec) (taskResult, error)
	slots() int
}

// inlineRunner runs one task at a time in the calling goroutine, with the
// same code the workers run.
type inlineRunner struct{ logger *slog.Logger }

func (r inlineRunner) slots() int { return 1 }

func (r inlineRunner) run(ctx context.Context, spec taskSpec) (res taskResult, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%s attempt %d panicked: %v", spec.TaskID, spec.Attempt, p)
		}
	}()
	return runTask(ctx, spec, r.logger)
}

// localRunner sends tasks to Quern's worker processes. Each attempt's
// worker output is also kept in the work directory
// (jobdriver.AttemptLogPath), for the status page's log link.
type localRunner struct {
	pool    *exec.Pool
	workers int
	work    string
}

func (r localRunner) slots() int { return r.workers }

func (r localRunner) run(ctx context.Context, spec taskSpec) (taskResult, error) {
	payload, err := json.Marshal(spec)
	if err != nil {
		return taskResult{}, err
	}
	out, err := r.pool.Run(ctx, exec.Task{ID: spec.TaskID, Attempt: spec.Attempt, Kind: taskKind, Payload: payload,
		Log: jobdriver.AttemptLogPath(r.work, spec.TaskID, spec.Attempt)})
	if err != nil {
		return taskResult{}, err
	}
	var res taskResult
	if err := json.Unmarshal(out.Payload, &res); err != nil {
		return res, fmt.Errorf("%s attempt %d: bad result from worker: %w", spec.TaskID, spec.Attempt, err)
	}
	if res.Fetch != nil {
		return taskResult{}, fmt.Errorf("stage task %s attempt %d: %w", spec.TaskID, spec.Attempt, res.Fetch)
	}
	if res.Refused != "" {
		return taskResult{}, jobdriver.RefusedError(res.Refused, res.RefusedAs)
	}
	res.PeakRSS = out.PeakRSS
	return res, nil
}
