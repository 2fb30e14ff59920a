package driver

import (
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"time"

	"github.com/quern-dev/quern/exec"
	"github.com/quern-dev/quern/input"
	"github.com/quern-dev/quern/internal/bytesize"
	"github.com/quern-dev/quern/internal/task"
	"github.com/quern-dev/quern/output"
	"github.com/quern-dev/quern/spill"
)

// Engine names accepted by Config.Engine.
const (
	// EngineLocal runs tasks in forked worker processes on this machine.
	EngineLocal = "local"
	// EngineInline runs every task in the calling goroutine, one after
	// another: for debuggers and as a reference in tests.
	EngineInline = "inline"
)

// DefaultEngine is the engine a Config without one runs on: worker
// processes, on every platform Quern builds for (Linux, macOS, the BSDs,
// Windows).
const DefaultEngine = EngineLocal

// Config says where a job reads and writes and how it uses the machine.
// The zero value of every field but Inputs and Output selects a default that
// serves (see WithDefaults).
type Config struct {
	// Engine is EngineLocal or EngineInline; the default is DefaultEngine.
	Engine string
	// Inputs are files, directories (their files, not recursive) and globs.
	Inputs []string
	// Output is the output directory; it must not exist or be empty.
	Output string
	// Workers is the number of worker processes; default: the number of CPUs.
	Workers int
	// Reducers is the number of reduce tasks and part files; default:
	// Workers. It stays 0 in a map-only job.
	Reducers int
	// MapOnly makes a map-only job (Hadoop's zero reducers, `--reducers
	// 0`): each map task writes the pairs its Map emits straight to a part
	// file of the output (part-m-NNNNN), in the order it emits them, with
	// no sort, combine, shuffle or reduce. Its parts are committed like a
	// reduce's: only a task's winning attempt, whole or not at all. A job
	// that needs its keys sorted or grouped (TotalOrder, SortValues) or
	// Merge cannot run map-only.
	MapOnly bool
	// SplitSize is the byte range of a plain file that one map task reads
	// (a file's last range up to a tenth more, input.SplitSlop); default
	// 32 MiB.
	SplitSize int64
	// MaxSplitSize, when larger than SplitSize, lets the split size grow
	// up to it so that the input makes one map task per worker, for a job
	// whose map task has a large fixed cost: a Streaming job's mapper
	// program starts, and writes its in-mapper totals, once per task. 0
	// (the default) keeps SplitSize.
	MaxSplitSize int64
	// TasksPerWorker, above 1, lets the split size grow towards
	// MaxSplitSize only while the input makes that many map tasks per
	// worker, and packs small files into a multiple of the workers'
	// tasks of equal cost rather than tapered ones: for a job whose
	// combiner flushes every distinct key once per task, where
	// fewer, larger tasks save work but each worker still needs several
	// to balance (wordcount). 0 or 1: one task per worker, as above.
	TasksPerWorker int
	// SortBuffer is the memory a map task fills before it sorts and spills a
	// run; default 64 MiB.
	SortBuffer int64
	// TmpDir holds the job's work directory; default: the OS temp directory.
	TmpDir string
	// SpillCompression compresses runs: "none" (default), "lz4" or "zstd". See
	// DefaultSpillCompression for the measurements behind the default.
	SpillCompression string
	// MergeFanIn is how many runs a reducer merges at once; more runs are
	// merged in passes. Default 64.
	MergeFanIn int
	// MaxAttempts is how often a task is tried before the job fails;
	// default 4.
	MaxAttempts int
	// TaskTimeout kills a task that shows no progress for this long;
	// 0 means no limit, and any other value must be MinTaskTimeout or
	// more.
	TaskTimeout time.Duration
	// InputFormat overrides the format chosen from each input file's
	// name: "text", "csv", "tsv", "jsonl", "parquet" or "arrow".
	InputFormat string
	// OutputFormat is "text" (default), "jsonl", "parquet" or "arrow".
	OutputFormat string
	// OutputCompression compresses text and JSON lines output: "gz" or
	// "zst"; for Parquet and Arrow it picks their internal codec.
	OutputCompression string
	// Merge writes, besides the parts, one file "merged" (plus the
	// format's extension) holding every output record in global key order:
	// a k-way merge of the sorted parts. The job's output key type must
	// have an order (a string, byte slice or number type).
	Merge bool
	// Speculative starts a backup attempt of a task that runs much longer
	// than its finished peers, once a slot is idle; the first attempt to
	// commit wins.
	Speculative bool
	// SpeculativeAfter is the least time a task runs before it may get a
	// backup attempt; default 1s.
	SpeculativeAfter time.Duration
	// Rebalance is the least input a running map task hands over to a
	// worker that would otherwise idle at the end of the map phase
	// (dynamic work rebalancing, split.go): 0 means DefaultRebalance, a
	// negative value turns it off. Map-only jobs never hand input over.
	Rebalance int64
	// SkipBadRecords, when positive, lets each map task skip up to this
	// many records on which Map panics or returns an error in a retry
	// attempt (as in the MapReduce paper). Skipped records are counted in
	// skipped_records and listed in _job.json.
	SkipBadRecords int
	// Overwrite replaces a non-empty output directory instead of refusing.
	Overwrite bool
	// CPUProfile and MemProfile, when set, are path prefixes for pprof
	// profiles of the driver (PREFIX.driver) and of every worker
	// (PREFIX.worker-PID).
	CPUProfile, MemProfile string
	// OnProgress, when set, is called by the driver as tasks finish. It
	// must not block.
	OnProgress func(Progress)
	// OnStart, when set, is called once, as the first task is about to
	// start, with a function that returns a snapshot of the job
	// (JobStatus: phases, tasks, attempts, counters). That function is safe
	// to call from any goroutine, also after Run returned, when it
	// describes the finished job. The status page (package webui) polls it.
	OnStart func(status func() JobStatus)
	// Params are the job's parameters (see Job.Params).
	Params map[string]string
	// Logger receives the driver's log; nil discards it.
	Logger *slog.Logger
	// KeepWorkDir leaves the work directory (runs) in place for inspection.
	KeepWorkDir bool

	// memoryNote says how WithDefaults fitted the defaults to a memory
	// limit (fitMemory), for Run's log and Plan's warnings; "" if it did
	// not.
	memoryNote string
}

// Progress is a job's state as reported to Config.OnProgress.
type Progress struct {
	Phase      string // "map" or "reduce"
	Done       int    // tasks of the phase committed
	Total      int    // tasks in the phase
	Bytes      int64  // map: input bytes of committed tasks, plus what running ones have read (local engine)
	TotalBytes int64  // map: input bytes of the phase
}

// DefaultSpillCompression leaves runs uncompressed. Measured on 1 GiB inputs with
// two workers, two alternating runs each (2026-11-27): sort of gensort
// records 9.5/10.0 s uncompressed against 11.8/12.3 s with lz4 (1.22x
// faster: the records barely compress and lz4 costs 4 CPU-s); invertedindex
// 8.9/9.5 s against 9.7/9.5 s; wordcount 7.2/7.2 s against 7.1/6.7 s (its
// combiner leaves little to spill). On these machines (24 GiB) the runs stay
// in the page cache, so their size costs nothing; a job whose spills are
// much larger than memory becomes disk-bound, and there lz4 (5x smaller
// runs for invertedindex) is the better choice: --spill-compression lz4.
const DefaultSpillCompression = "none"

// Defaults.
const (
	DefaultSplitSize   = 32 << 20
	DefaultSortBuffer  = 64 << 20
	DefaultMergeFanIn  = 64
	DefaultMaxAttempts = 4
	// DefaultRebalance is about what a new map task costs (a process
	// hand-off, a run per reducer, a combiner's flush: 25 ms of a word
	// count's CPU) in bytes mapped, with a margin.
	DefaultRebalance = 4 << 20
)

// MinTaskTimeout is the shortest Config.TaskTimeout: two of a worker's
// heartbeats, which carry its task's progress.
const MinTaskTimeout = 2 * exec.DefaultHeartbeat

// withJobSplits returns c with the job's own split size (JobInfo's
// SplitSize and MaxSplitSize) when c gives none: the one place that
// decides a Streaming job's splits, for `quern stream`, `quern run`,
// streaming.Run and RunNamed alike.
func (c Config) withJobSplits(info task.JobInfo) Config {
	if c.SplitSize == 0 && info.SplitSize > 0 {
		c.SplitSize = info.SplitSize
		if c.MaxSplitSize == 0 {
			c.MaxSplitSize, c.TasksPerWorker = info.MaxSplitSize, info.TasksPerWorker
		}
	}
	return c
}

// WithDefaults returns c with every unset field set to its default.
//
// Where the process runs under a memory limit (a container's, see package
// sysmem), the sort buffer, the merge fan-in and the workers it defaults
// are made small enough for the job to fit (fitMemory); the values a
// caller set are kept.
func (c Config) WithDefaults() Config {
	fit := fitting{buffer: c.SortBuffer == 0, fanIn: c.MergeFanIn == 0, workers: c.Workers == 0}
	// file:///data/logs, as Hadoop and Spark take local paths.
	c.Inputs, c.Output = input.LocalPaths(c.Inputs), input.LocalPath(c.Output)
	if c.Engine == "" {
		c.Engine = DefaultEngine
	}
	if c.Workers == 0 {
		c.Workers = runtime.NumCPU()
	}
	if c.Reducers == 0 && !c.MapOnly {
		c.Reducers = c.Workers
	}
	if c.SplitSize == 0 {
		c.SplitSize = DefaultSplitSize
	}
	if c.SortBuffer == 0 {
		c.SortBuffer = DefaultSortBuffer
	}
	if c.SpillCompression == "" {
		c.SpillCompression = DefaultSpillCompression
	}
	if c.MergeFanIn == 0 {
		c.MergeFanIn = defaultFanIn(openFileLimit())
	}
	if c.MaxAttempts == 0 {
		c.MaxAttempts = DefaultMaxAttempts
	}
	if c.SpeculativeAfter == 0 {
		c.SpeculativeAfter = time.Second
	}
	if c.Rebalance == 0 {
		c.Rebalance = DefaultRebalance
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if limit, from, ok := memoryLimit(); ok && c.memoryNote == "" {
		c = c.fitMemory(limit, from, fit)
	}
	return c
}

// ErrConfig is wrapped by every configuration error.
var ErrConfig = errors.New("mapreduce: bad configuration")

// asConfigError returns err wrapping ErrConfig, once.
func asConfigError(err error) error {
	if errors.Is(err, ErrConfig) {
		return err
	}
	return fmt.Errorf("%w: %w", ErrConfig, err)
}

// SplitAbove is how much input a running map task must have left to be
// asked to give part of it to an idle worker (dynamic work rebalancing,
// split.go): twice Rebalance, since a task with less could not give that
// much and keep as much. It is 0 when no task is split: Rebalance below 0,
// or a map-only job, whose parts follow its input's order. c has its
// defaults (WithDefaults).
func (c Config) SplitAbove() int64 {
	if c.MapOnly || c.Rebalance <= 0 {
		return 0
	}
	return 2 * c.Rebalance
}

// Validate reports the first unusable field of a configuration that has
// been through WithDefaults.
func (c Config) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrConfig, fmt.Sprintf(format, args...))
	}
	switch {
	case c.Engine != EngineLocal && c.Engine != EngineInline:
		return bad("unknown engine %q (want %q or %q)", c.Engine, EngineLocal, EngineInline)
	case len(c.Inputs) == 0:
		return bad("no inputs")
	case c.Output == "":
		return bad("no output directory")
	case c.Workers < 1:
		return bad("workers must be at least 1, got %d", c.Workers)
	case c.Workers > MaxWorkers():
		return bad("workers must be at most %d (%d per CPU), got %d: each worker is a process with its own sort buffer",
			MaxWorkers(), workersPerCPU, c.Workers)
	case c.MapOnly && c.Reducers != 0:
		return bad("a map-only job has no reducers, got %d (leave Reducers 0)", c.Reducers)
	case c.MapOnly && c.Merge:
		return bad("a map-only job's parts are in map output order; merge needs reducers")
	case c.Reducers < 1 && !c.MapOnly:
		return bad("reducers must be at least 1, got %d", c.Reducers)
	case c.Reducers > 100000:
		return bad("reducers must be at most 100000, got %d", c.Reducers)
	case c.SplitSize < 1:
		return bad("split size must be positive, got %d", c.SplitSize)
	case c.MaxSplitSize < 0:
		return bad("largest split size must not be negative, got %d", c.MaxSplitSize)
	case c.TasksPerWorker < 0:
		return bad("tasks per worker must not be negative, got %d", c.TasksPerWorker)
	case c.SortBuffer < 64<<10:
		return bad("sort buffer must be at least 64KiB, got %d bytes", c.SortBuffer)
	case c.MergeFanIn < 2:
		return bad("merge fan-in must be at least 2, got %d", c.MergeFanIn)
	case c.MaxAttempts < 1:
		return bad("max attempts must be at least 1, got %d", c.MaxAttempts)
	case c.SkipBadRecords < 0:
		return bad("skip-bad-records must not be negative, got %d", c.SkipBadRecords)
	case c.TaskTimeout < 0:
		return bad("task timeout must not be negative, got %s", c.TaskTimeout)
	case c.TaskTimeout > 0 && c.TaskTimeout < MinTaskTimeout:
		// A task's progress reaches the driver with its worker's
		// heartbeat: a shorter timeout kills tasks that are working
		// (--task-timeout 1ns failed every attempt of every task).
		return bad("task timeout must be 0 (none) or at least %s, as a worker reports its progress every %s; got %s",
			MinTaskTimeout, exec.DefaultHeartbeat, c.TaskTimeout)
	}
	if limit := openFileLimit(); limit > 0 && int64(c.MergeFanIn)+fdReserve > limit {
		if limit < 2+fdReserve {
			return bad("this process may open %d files (%s), and a reducer needs %d: %d for the runs it merges and %d besides; raise the limit (%s %d)",
				limit, openFileLimitName, 2+fdReserve, 2, fdReserve, openFileLimitName, 2+fdReserve)
		}
		return bad("merge fan-in %d opens as many run files at once, and this process may open %d files (%s); use --merge-fan-in %d or less",
			c.MergeFanIn, limit, openFileLimitName, limit-fdReserve)
	}
	if _, err := spill.ParseCompression(c.SpillCompression); err != nil {
		return bad("spill compression: %v", err)
	}
	if c.InputFormat != "" {
		if _, err := input.ParseFormat(c.InputFormat); err != nil {
			return bad("input format: %v", err)
		}
	}
	if err := input.CheckMaxLineEnv(); err != nil {
		return bad("%v", err)
	}
	if _, err := c.outputOptions(); err != nil {
		return bad("%v", err)
	}
	return nil
}

func (c Config) outputOptions() (output.Options, error) {
	var opts output.Options
	var err error
	if c.OutputFormat != "" {
		if opts.Format, err = output.ParseFormat(c.OutputFormat); err != nil {
			return opts, fmt.Errorf("output format: %w", err)
		}
	}
	if opts.Compression, err = output.ParseCompression(c.OutputCompression); err != nil {
		return opts, fmt.Errorf("output compression: %w", err)
	}
	return opts, nil
}

// ParseSize parses a byte size: see bytesize.Parse.
func ParseSize(s string) (int64, error) { return bytesize.Parse(s) }

// FormatSize prints a byte count with a binary unit, as ParseSize reads it.
func FormatSize(n int64) string { return bytesize.Format(n) }

// workersPerCPU bounds Config.Workers: more processes than this per CPU
// only add memory (a sort buffer each) and switching, and a mistyped
// count (--workers 10000) would fork until the machine gives out.
const workersPerCPU = 8

// MaxWorkers is the largest Config.Workers accepted on this machine:
// workersPerCPU per CPU, and at least 64.
func MaxWorkers() int { return max(64, workersPerCPU*runtime.NumCPU()) }

// fdReserve is the file descriptors a reducer needs besides the runs it
// merges: its output, the pipes to the driver, standard streams, the Go
// runtime's own. A worker of word count held 11 or 12 (ls /proc/PID/fd);
// the rest is margin.
const fdReserve = 32

// defaultFanIn is the merge fan-in of a job that sets none:
// DefaultMergeFanIn, or less where the open-file limit (limit, 0 if
// unknown) leaves room for fewer runs, so that a default never makes a job
// fail under ulimit -n (it refused to run under ulimit -n 90). Fewer runs
// at once only means more merge passes. Where not even two runs fit, it
// stays the default, and Validate says what limit the job needs.
func defaultFanIn(limit int64) int {
	if limit <= 0 || limit-fdReserve < 2 {
		return DefaultMergeFanIn
	}
	return int(min(DefaultMergeFanIn, limit-fdReserve))
}
