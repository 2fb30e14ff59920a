// Package plan cuts a job's input into map tasks before anything runs: it
// expands the inputs, cuts the files into splits, packs small splits into
// tasks, and picks the compressed files that the driver decompresses into
// chunks as the job runs (spooling). It is the driver's planning, apart
// from the job API: package mapreduce plans every job and dry run with it.
package plan

import (
	"context"
	"fmt"

	"github.com/quern-dev/quern/input"
	"github.com/quern-dev/quern/internal/bytesize"
)

// Options are the parts of a job's configuration that shape its plan.
type Options struct {
	Inputs []string
	// InputFormat, if set, overrides the format chosen from each file's
	// name (input.ParseFormat; the caller has checked it).
	InputFormat string
	// LineInput reads CSV and TSV files as Text when InputFormat is not
	// set (input.AsLines): the job reads its records as lines.
	LineInput bool
	SplitSize int64
	// MaxSplitSize, when larger than SplitSize, lets the split size grow
	// up to it so that the input makes one map task per worker: for a job
	// whose map task has a large fixed cost (a Streaming job starts a
	// program per task, and its mapper writes its in-mapper totals once
	// per task). 0 keeps SplitSize.
	MaxSplitSize int64
	// TasksPerWorker, above 1, makes the split size grow towards
	// MaxSplitSize only while the input still makes this many map tasks
	// per worker, and packs small files into a multiple of the workers'
	// tasks of equal cost (input.PackEven) rather than tapered ones: for
	// a job whose map tasks have a moderate fixed cost per task (a
	// combiner's flush, sort and spill of every distinct key) but still
	// need several tasks per worker to balance. 0 or 1 is the Streaming
	// rule above: one task per worker, packed without tapering.
	TasksPerWorker int
	Workers        int
	// Reducers is 0 for a map-only job.
	Reducers int
	// ManyFiles is input.ExpandOptions.ManyFiles: called once a listing
	// has found thousands of files.
	ManyFiles func()
}

// Input is a job's input: its files, the splits they are cut into, and
// the map tasks the splits are packed into.
type Input struct {
	Files  []input.File
	Splits []input.Split
	Tasks  []input.Task
	// Spooled is how many of Tasks, at the front, are compressed files
	// decompressed into chunks that become map tasks as the job runs.
	Spooled int
	// SplitSize is the split size the plan used: Options.SplitSize, or
	// more (Options.MaxSplitSize).
	SplitSize int64
	// Warnings are what input.ExpandOptions.Warn said of the inputs.
	Warnings []string
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
	// MaxSegments bounds map tasks × reducers: the driver holds a count
	// per partition of every run (16 bytes each), and every reducer lists
	// a segment per map run. 20 million is 320 MB of counts.
	MaxSegments = 20_000_000
	// maxGuessed is the largest file whose compression the plan guesses
	// from its name (input.ExpandOptions): opening each of a folder of
	// tiny files to read its first bytes was a fifth of planning it.
	maxGuessed = 1 << 20
)

// Inputs expands the inputs, applies Options.InputFormat, cuts the splits
// and packs them into map tasks. Its errors (a missing, empty or unreadable
// input, a plan over the limits) are the user's to fix, but for ctx's: the
// listing of the inputs stops once ctx is done (input.ExpandContext).
//
// The packing target is the split size, lowered for a small input so that
// every worker gets about two tasks (as Spark's file scan divides the
// input by its parallelism), but never below the open cost. Lowering it
// only changes how small files are grouped; big files are still cut at
// the split size.
func Inputs(ctx context.Context, o Options) (Input, error) {
	defer raiseGC()()
	var warnings []string
	files, err := Files(ctx, o, func(w string) { warnings = append(warnings, w) })
	if err != nil {
		return Input{}, err
	}
	in, err := Cut(files, o)
	in.Warnings = warnings
	return in, err
}

// Files lists the input files as Inputs does, telling warn what the
// inputs hold that the user may not have meant (input.ExpandOptions.Warn).
// A small file is left unopened, its compression guessed from its name,
// unless Options.InputFormat is set: the task that reads it decides (and
// refuses) its compression instead (input.File.Guessed).
func Files(ctx context.Context, o Options, warn func(string)) ([]input.File, error) {
	defer raiseGC()()
	opt := input.ExpandOptions{Warn: warn, ManyFiles: o.ManyFiles}
	if o.InputFormat == "" {
		// A file this small is one split, and not spooled, whatever its
		// compression, so the plan needs no look inside it.
		opt.GuessUpTo = min(o.SplitSize/4, maxGuessed)
	}
	files, err := input.ExpandContext(ctx, o.Inputs, opt)
	if err != nil {
		return nil, err
	}
	if o.LineInput && o.InputFormat == "" {
		files = input.AsLines(files)
	}
	if o.InputFormat != "" {
		f, err := input.ParseFormat(o.InputFormat)
		if err != nil {
			return nil, fmt.Errorf("input format: %w", err)
		}
		input.SetFormat(files, f)
	}
	return files, nil
}

// Splits cuts files into splits of Options.SplitSize (input.Plan), unless
// they would be too many: more than MaxMapTasks beyond one a file, which
// no packing could bring under the limit. For a runner that packs no
// splits into tasks (Beam's, whose elements they are).
func Splits(files []input.File, o Options) ([]input.Split, error) {
	// Counted before the splits are made: the count is arithmetic, the
	// splits are memory.
	if n := input.CountSplits(files, o.SplitSize); n > MaxMapTasks+int64(len(files)) {
		var total int64
		for _, f := range files {
			total += f.Size
		}
		return nil, tooManyTasks(o, n, len(files), total)
	}
	// An input that cannot be planned (a Parquet file cut short, so its
	// footer is gone) is as unusable as a missing one: its error is the
	// user's to fix too.
	return input.Plan(files, o.SplitSize)
}

// Cut cuts files (from Files) into splits and packs them into map tasks,
// within the limits: Inputs without the listing, for a pipeline's read
// stage, which reads the files its filter keeps of those listed.
func Cut(files []input.File, o Options) (Input, error) {
	defer raiseGC()()
	var total, work int64
	for _, f := range files {
		total += f.Size
		work += input.WorkBytes(f)
	}
	o.SplitSize = splitSize(o, work)
	splits, err := Splits(files, o)
	if err != nil {
		return Input{}, err
	}
	cost := Cost(splits)
	spools, rest := spoolSplits(splits, cost, o.Workers, o.SplitSize)
	var tasks []input.Task
	switch {
	case o.MaxSplitSize > o.SplitSize && o.TasksPerWorker <= 1:
		// Map tasks with a large fixed cost (a Streaming job's program
		// starts, and writes its in-memory totals, once per task): as few
		// as the workers need, the last ones not made smaller.
		tasks = append(spools, input.Pack(rest, packTarget(cost, o.Workers, o.SplitSize), input.DefaultOpenCost)...)
	case o.TasksPerWorker > 1:
		// Map tasks with a moderate fixed cost (a combiner's flush of
		// every distinct key): a multiple of the workers' tasks of equal
		// cost, none small.
		tasks = append(spools, input.PackEven(rest, packTarget(cost, o.Workers, o.SplitSize), input.DefaultOpenCost, o.Workers)...)
	default:
		tasks = append(spools, Pack(rest, cost, o.Workers, o.SplitSize)...)
	}
	if len(tasks) > MaxMapTasks {
		return Input{}, tooManyTasks(o, int64(len(tasks)), len(files), total)
	}
	if segs := int64(len(tasks)) * int64(o.Reducers); segs > MaxSegments {
		return Input{}, fmt.Errorf("%d map tasks × %d reducers is %d shuffle segments, more than the %d a job may have; use fewer --reducers or a larger --split-size",
			len(tasks), o.Reducers, segs, MaxSegments)
	}
	return Input{Files: files, Splits: splits, Tasks: tasks, Spooled: len(spools), SplitSize: o.SplitSize}, nil
}

// splitSize is o.SplitSize, grown towards o.MaxSplitSize so that total
// bytes of work (input.WorkBytes) make one split per worker
// (o.TasksPerWorker of them, if more). A file of total bytes is then cut
// into ceil(total / ceil(total/n)) <= n splits, n the workers times the
// tasks per worker: no sliver at its end.
func splitSize(o Options, total int64) int64 {
	if o.MaxSplitSize <= o.SplitSize || o.Workers < 1 {
		return o.SplitSize
	}
	n := int64(o.Workers) * int64(max(o.TasksPerWorker, 1))
	perTask := (total + n - 1) / n
	return min(o.MaxSplitSize, max(o.SplitSize, perTask))
}

// Cost is what reading splits costs, in bytes: their sizes plus an open
// cost per file (input.Cost).
func Cost(splits []input.Split) int64 {
	var cost int64
	for _, s := range splits {
		cost += input.Cost(s, input.DefaultOpenCost)
	}
	return cost
}

// Pack packs splits into map tasks of about splitSize, or smaller when
// the input's whole cost would otherwise give fewer than two tasks per
// worker, so that every worker has work, and smaller towards the end
// (input.PackTapered), so that the workers finish together.
func Pack(splits []input.Split, cost int64, workers int, splitSize int64) []input.Task {
	return input.PackTapered(splits, packTarget(cost, workers, splitSize), input.DefaultOpenCost, workers)
}

// packTarget is the cost of a map task: splitSize, or less for an input
// that would otherwise give fewer than two tasks per worker.
func packTarget(cost int64, workers int, splitSize int64) int64 {
	return min(splitSize, max(input.DefaultOpenCost, cost/int64(2*workers)))
}

// tooManyTasks is the error of a plan with more than MaxMapTasks map tasks.
// It names a split size that fits: next-fit packing makes fewer than
// 2×cost/size tasks, where cost is the bytes plus an open cost per file.
func tooManyTasks(o Options, n int64, files int, total int64) error {
	cost := total + int64(files)*input.DefaultOpenCost
	need := roundUpSize(max(int64(64<<10), 2*(cost/MaxMapTasks+1)))
	in := fmt.Sprintf("%d files", files)
	if files == 1 {
		in = "one file"
	}
	return fmt.Errorf("--split-size %s cuts %.1f MB in %s into %d map tasks, more than the %d a job may have; use --split-size %s or more",
		bytesize.Format(o.SplitSize), float64(total)/1e6, in, n, MaxMapTasks, bytesize.Format(need))
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
