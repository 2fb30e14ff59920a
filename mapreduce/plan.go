package mapreduce

import (
	"fmt"

	"github.com/quern-dev/quern/input"
)

// JobPlan is what a job would do, without doing it: `quern run --dry-run`.
type JobPlan struct {
	Job        string
	Config     Config
	Files      []input.File
	InputBytes int64
	Splits     []input.Split
	// Tasks are the map tasks: Splits packed into tasks of about the split
	// size (see inputPlan).
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
}

// Plan validates a configuration for the named job and lists its inputs,
// splits and map tasks, touching nothing.
func Plan(name string, cfg Config) (*JobPlan, error) {
	job, ok := lookup(name)
	if !ok {
		return nil, fmt.Errorf("mapreduce: no job named %q", name)
	}
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := checkReduce(job, cfg); err != nil {
		return nil, err
	}
	in, err := planInputs(cfg)
	if err != nil {
		return nil, err
	}
	p := &JobPlan{Job: job.Info().Name, Config: cfg, Files: in.files, Splits: in.splits, Tasks: in.tasks, Spooled: in.spooled,
		MemoryPerWorker: workerMemory(cfg) + 56<<20}
	for _, f := range in.files {
		p.InputBytes += f.Size
	}
	return p, nil
}

// inputPlan is a job's input: its files, the splits they are cut into, and
// the map tasks the splits are packed into.
type inputPlan struct {
	files  []input.File
	splits []input.Split
	tasks  []input.Task
	// spooled is how many of tasks, at the front, are compressed files
	// decompressed into chunks that become map tasks as the job runs
	// (spool.go).
	spooled int
}

// Limits on a plan, so that a mistyped flag gets an error instead of a
// driver that grows without bound (--split-size 1 on 150 MB once asked for
// 157 million splits and grew past 3 GB before it was killed).
const (
	// MaxMapTasks bounds the map tasks of a job. Each costs a process
	// hand-off, at least one run file and a merge input per reducer;
	// 100,000 of them is already a job that spends its time on
	// bookkeeping.
	MaxMapTasks = 100_000
	// maxSegments bounds map tasks × reducers: the driver holds a count
	// per partition of every run (16 bytes each), and every reducer lists
	// a segment per map run. 20 million is 320 MB of counts.
	maxSegments = 20_000_000
)

// planInputs expands the inputs, applies Config.InputFormat, cuts the
// splits and packs them into map tasks. A missing, empty or unreadable
// input, or a plan over the limits, is the caller's to fix, so its error
// wraps ErrConfig.
//
// The packing target is the split size, lowered for a small input so that
// every worker gets about two tasks (as Spark's file scan divides the
// input by its parallelism), but never below the open cost. Lowering it
// only changes how small files are grouped; big files are still cut at
// the split size.
func planInputs(cfg Config) (inputPlan, error) {
	files, err := input.Expand(cfg.Inputs)
	if err != nil {
		return inputPlan{}, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	if cfg.InputFormat != "" {
		f, _ := input.ParseFormat(cfg.InputFormat) // checked by Validate
		input.SetFormat(files, f)
	}
	var total int64
	for _, f := range files {
		total += f.Size
	}
	// Counted before the splits are made: the count is arithmetic, the
	// splits are memory.
	if n := input.CountSplits(files, cfg.SplitSize); n > MaxMapTasks+int64(len(files)) {
		return inputPlan{}, tooManyTasks(cfg, n, len(files), total)
	}
	splits, err := input.Plan(files, cfg.SplitSize)
	if err != nil {
		// An input that cannot be planned (a Parquet file cut short,
		// so its footer is gone) is as unusable as a missing one.
		return inputPlan{}, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	var cost int64
	for _, s := range splits {
		cost += input.Cost(s, input.DefaultOpenCost)
	}
	target := min(cfg.SplitSize, max(input.DefaultOpenCost, cost/int64(2*cfg.Workers)))
	spools, rest := spoolSplits(splits, cost, cfg.Workers, cfg.SplitSize)
	tasks := append(spools, input.Pack(rest, target, input.DefaultOpenCost)...)
	if len(tasks) > MaxMapTasks {
		return inputPlan{}, tooManyTasks(cfg, int64(len(tasks)), len(files), total)
	}
	if segs := int64(len(tasks)) * int64(cfg.Reducers); segs > maxSegments {
		return inputPlan{}, fmt.Errorf("%w: %d map tasks × %d reducers is %d shuffle segments, more than the %d a job may have; use fewer --reducers or a larger --split-size",
			ErrConfig, len(tasks), cfg.Reducers, segs, maxSegments)
	}
	return inputPlan{files: files, splits: splits, tasks: tasks, spooled: len(spools)}, nil
}

// tooManyTasks is the error of a plan with more than MaxMapTasks map tasks.
// It names a split size that fits: next-fit packing makes fewer than
// 2×cost/size tasks, where cost is the bytes plus an open cost per file.
func tooManyTasks(cfg Config, n int64, files int, total int64) error {
	cost := total + int64(files)*input.DefaultOpenCost
	need := roundUpSize(max(int64(64<<10), 2*(cost/MaxMapTasks+1)))
	return fmt.Errorf("%w: --split-size %s cuts %.1f MB in %d files into %d map tasks, more than the %d a job may have; use --split-size %s or more",
		ErrConfig, FormatSize(cfg.SplitSize), float64(total)/1e6, files, n, MaxMapTasks, FormatSize(need))
}

// roundUpSize rounds n up to a whole number of KiB, MiB or GiB, whichever
// reads best, so that a suggested size is one a user would type.
func roundUpSize(n int64) int64 {
	for _, unit := range []int64{1 << 30, 1 << 20, 1 << 10} {
		if n >= unit {
			return (n + unit - 1) / unit * unit
		}
	}
	return n
}
