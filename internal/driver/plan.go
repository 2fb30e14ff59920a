package driver

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/quern-dev/quern/input"
	"github.com/quern-dev/quern/internal/hugepage"
	"github.com/quern-dev/quern/internal/plan"
	"github.com/quern-dev/quern/internal/task"
)

// JobPlan is what a job would do, without doing it: `quern run --dry-run`.
type JobPlan struct {
	Job        string
	Config     Config
	Files      []input.File
	InputBytes int64
	Splits     []input.Split
	// Tasks are the map tasks: Splits packed into tasks of about the split
	// size (see plan.Inputs).
	Tasks []input.Task
	// Spooled is how many of Tasks, at the front, are compressed files
	// that the driver decompresses into chunks as the job runs, each
	// chunk then a map task of its own.
	Spooled int
	// MemoryPerWorker estimates a worker's peak RSS: its memory limit (the
	// sort buffer or the merge's blocks, whichever is larger, plus slack)
	// and about 56 MiB the limit does not cover, the binary's own pages
	// among them. A 1 GiB sort with a 64 MiB buffer measured 120-122 MiB.
	MemoryPerWorker int64
	// Warnings are inputs read as asked that are likely a mistake (see
	// input.ExpandOptions.Warn).
	Warnings []string
}

// Plan validates a configuration for the named job and lists its inputs,
// splits and map tasks, touching nothing.
func Plan(name string, cfg Config) (*JobPlan, error) {
	job, ok := task.LookupByteJob(name)
	if !ok {
		return nil, fmt.Errorf("mapreduce: no job named %q", name)
	}
	cfg = cfg.withJobSplits(job.Info()).WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	params, err := task.Params(job, cfg.Params)
	if err != nil {
		return nil, asConfigError(err)
	}
	cfg.Params = params
	if err := checkReduce(job, cfg); err != nil {
		return nil, err
	}
	in, err := planInputs(context.Background(), cfg, job.Info())
	if err != nil {
		return nil, err
	}
	cfg.SplitSize = in.SplitSize // grown for a job with a MaxSplitSize
	p := &JobPlan{Job: job.Info().Name, Config: cfg, Files: in.Files, Splits: in.Splits, Tasks: in.Tasks, Spooled: in.Spooled, Warnings: in.Warnings,
		MemoryPerWorker: workerMemory(cfg, job.Info().HasCombiner) + 56<<20}
	for _, f := range in.Files {
		p.InputBytes += f.Size
	}
	if cfg.memoryNote != "" {
		p.Warnings = append(p.Warnings, cfg.memoryNote)
	}
	return p, nil
}

// MaxMapTasks bounds the map tasks of a job (see internal/plan).
const MaxMapTasks = plan.MaxMapTasks

// AdviseHeap asks, once per process, for huge pages under the driver's
// heap, as Main does for a worker's (package hugepage). Every planner
// passes it as input.ExpandOptions.ManyFiles (this package's, the
// pipeline's, Beam's), so that it runs when a listing finds thousands of
// files. A plan's memory is fresh heap, touched once: planning a folder of
// 104,857 files touched 134 MB of it in 28,000 page faults, on a virtual
// machine where a fault leaves the guest; advised, 2,400 faults, and the
// plan took 457-535 ms instead of 624-688 (six jobs each). The advice runs
// a garbage collection, which a plan of a few files does not repay: over
// one file it took 13-26 ms of the driver's start (26-64 ms before
// GrowHeap ran one collection instead of two), while the workers it
// competes with for the cores were starting too.
var AdviseHeap = sync.OnceFunc(func() { hugepage.GrowHeap(256 << 20) })

// planInputs cuts cfg's inputs into map tasks (plan.Inputs), reading them
// as lines for a job that declares LineInput. A missing, empty or
// unreadable input, or a plan over the limits, is the caller's to fix, so
// its error wraps ErrConfig; a plan stopped by ctx is not.
func planInputs(ctx context.Context, cfg Config, job task.JobInfo) (plan.Input, error) {
	in, err := plan.Inputs(ctx, plan.Options{
		Inputs: cfg.Inputs, InputFormat: cfg.InputFormat, LineInput: job.LineInput, SplitSize: cfg.SplitSize,
		MaxSplitSize: cfg.MaxSplitSize, TasksPerWorker: cfg.TasksPerWorker, Workers: cfg.Workers, Reducers: cfg.Reducers,
		ManyFiles: AdviseHeap,
	})
	if err != nil && !StoppedBy(ctx, err) {
		return in, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	return in, err
}

// StoppedBy reports whether err is ctx's own, once it is done: a listing of
// the inputs stopped (input.ExpandContext), which is not the user's input
// refused (ErrConfig). The pipeline's and Beam's planning ask it too.
func StoppedBy(ctx context.Context, err error) bool {
	return ctx.Err() != nil && errors.Is(err, ctx.Err())
}
