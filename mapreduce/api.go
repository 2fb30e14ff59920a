package mapreduce

import (
	"context"
	"iter"
	"log/slog"

	"github.com/quern-dev/quern/exec"
	"github.com/quern-dev/quern/input"
	"github.com/quern-dev/quern/internal/driver"
	"github.com/quern-dev/quern/internal/task"
	"github.com/quern-dev/quern/objstore"
	"github.com/quern-dev/quern/shuffle"
	"github.com/quern-dev/quern/spill"
)

// The names of the task layer (internal/task) and the driver
// (internal/driver) that programs use, under the names they always had
// here: the types are aliases, so a mapreduce.Record is a task.Record and
// code written against this package builds unchanged. Their documentation
// is in those packages.

// What a map or reduce function sees of its task (internal/task).
type (
	// Record is one input record handed to a map function.
	Record = task.Record
	// TaskContext is what a map or reduce function knows of the task
	// running it.
	TaskContext = task.TaskContext
	// Counters maps counter names to values.
	Counters = task.Counters
	// Param declares a job parameter.
	Param = task.Param
	// JobInfo describes a registered job.
	JobInfo = task.JobInfo
	// SkippedRecord is an input record that a map function failed on in
	// every attempt and that the job skipped (Config.SkipBadRecords).
	SkippedRecord = task.SkippedRecord
	// PanicError is a panic in a user's map or reduce function, caught and
	// returned as the task's error.
	PanicError = task.PanicError
)

// ErrNoColumn is wrapped by the errors of Record.Text and Record.Int for a
// column the record does not have.
var ErrNoColumn = task.ErrNoColumn

// Built-in counters.
const (
	MapInputRecords        = task.MapInputRecords
	MapInputBytes          = task.MapInputBytes
	MapOutputRecords       = task.MapOutputRecords
	CombineInputRecords    = task.CombineInputRecords
	CombineOutputRecords   = task.CombineOutputRecords
	CombineWindowedRecords = task.CombineWindowedRecords
	SpilledRecords         = task.SpilledRecords
	SpillFiles             = task.SpillFiles
	SpillBytes             = task.SpillBytes
	ShuffleBytes           = task.ShuffleBytes
	MergePasses            = task.MergePasses
	ReduceInputGroups      = task.ReduceInputGroups
	ReduceInputRecords     = task.ReduceInputRecords
	ReduceOutputRecords    = task.ReduceOutputRecords
	OutputBytes            = task.OutputBytes
	SkippedRecords         = task.SkippedRecords
	GrownInputSplits       = task.GrownInputSplits
	FilteredInputRecords   = task.FilteredInputRecords
)

// BuiltinCounters lists the framework's counters in the order a summary
// prints them.
var BuiltinCounters = task.BuiltinCounters

// The byte-level job interface (internal/task's bytejob.go), for jobs whose
// functions are not Go (Streaming) and engines that run jobs themselves
// (Beam, package pipeline).
type (
	// ByteJob is a job seen through encoded keys and values.
	ByteJob = task.ByteJob
	// Mapper runs a job's map function over one task's records.
	Mapper = task.Mapper
	// MapOutput takes a map task's pairs into its sort buffer.
	MapOutput = task.MapOutput
	// EmitFunc is a MapOutput that hands every pair to a function.
	EmitFunc = task.EmitFunc
	// Reducer runs a job's reduce function over one partition and writes
	// its output file.
	Reducer = task.Reducer
	// Combiner is a job whose values of one key can be merged two at a
	// time.
	Combiner = task.Combiner
	// Partitioned is a job with its own partitioner.
	Partitioned = task.Partitioned
	// Grouping is a job whose keys carry more than the grouping key (a
	// secondary sort).
	Grouping = task.Grouping
	// LineFiltered is a job whose Map acts only on the lines that hold
	// some bytes (Job.LineFilter).
	LineFiltered = task.LineFiltered
	// MapOnlyJob is a ByteJob that can run map-only.
	MapOnlyJob = task.MapOnlyJob
	// RunFile describes one run a map task wrote.
	RunFile = task.RunFile
	// SortedRuns is a map task's sort buffer and the runs it has spilled.
	SortedRuns = task.SortedRuns
	// FetchFailure reports a map output run that a reducer could not read.
	FetchFailure = task.FetchFailure
)

// ErrNotPortable is wrapped by the errors of Portable.
var ErrNotPortable = task.ErrNotPortable

// RunBlockSize is the uncompressed size of a record batch in map output
// runs.
const RunBlockSize = task.RunBlockSize

// Portable reports why job cannot run on an engine that only groups by key
// (Beam), or nil.
func Portable(job ByteJob) error { return task.Portable(job) }

// RegisterByteJob makes a byte-level job runnable by name, like Register
// does for a typed job; call it at package init.
func RegisterByteJob(job ByteJob) { task.RegisterByteJob(job) }

// LookupByteJob returns the registered job with the given name, typed or
// not, as the task layer sees it.
func LookupByteJob(name string) (ByteJob, bool) { return task.LookupByteJob(name) }

// Jobs lists the registered jobs, sorted by name.
func Jobs() []JobInfo { return task.Jobs() }

// Lookup returns the registered job with the given name.
func Lookup(name string) (JobInfo, bool) { return task.Lookup(name) }

// SkipLimit is how many bad records the map task attempt of tc may skip.
func SkipLimit(tc *TaskContext) int { return task.SkipLimit(tc) }

// SkipRecord records that the mapper of tc dropped the record at file and
// offset because of err; it returns an error once more than SkipLimit
// records were dropped.
func SkipRecord(tc *TaskContext, file string, offset int64, err error) error {
	return task.SkipRecord(tc, file, offset, err)
}

// TaskInput returns the splits that the map task attempt of tc reads.
func TaskInput(tc *TaskContext) []input.Split { return task.TaskInput(tc) }

// NewTaskContext makes the TaskContext that another engine passes to a
// job's mapper and reducer.
func NewTaskContext(ctx context.Context, job, taskID string, attempt int, params map[string]string, logger *slog.Logger) *TaskContext {
	return task.NewTaskContext(ctx, job, taskID, attempt, params, logger)
}

// Params returns the parameters a run of job has, for another engine
// (Beam): given, with the job's defaults for those not given; a required
// one missing, or values Job.CheckParams refuses, are an error.
func Params(job ByteJob, given map[string]string) (map[string]string, error) {
	return task.Params(job, given)
}

// Warnings returns the warnings another engine (Beam) gives, as the driver
// does, for a finished job's counters: a job that could read none of its
// input records (Job.MalformedCounter), its Job.WarnCounters above zero,
// and an output left empty (Beam runs no map-only job).
func Warnings(job ByteJob, counters Counters) []string {
	warnings := task.Warnings(job.Info(), counters)
	if w, ok := task.EmptyOutput(job.Info(), counters, false); ok {
		warnings = append(warnings, w)
	}
	return warnings
}

// ColumnsFromInput returns the names of the output value's columns that job
// takes from its input files (Job.ColumnsFromInput), or nil.
func ColumnsFromInput(job ByteJob, params map[string]string, files []input.File) ([]string, error) {
	return task.ColumnsFromInput(job, params, files)
}

// SampleRanges samples a job's input as the driver of a TotalOrder job does
// and returns the n-1 boundaries of n key ranges.
func SampleRanges(ctx context.Context, job ByteJob, splits []input.Split, params map[string]string, n int, logger *slog.Logger) ([][]byte, error) {
	return task.SampleRanges(ctx, job, splits, params, n, logger)
}

// MapSplits is the read loop of every map task, a job's or a pipeline
// stage's.
func MapSplits(ctx context.Context, t input.Task, fn func(Record) error) (ReadCounts, error) {
	return task.MapSplits(ctx, t, fn)
}

// MapSplitsContaining is MapSplits that hands fn only the records of
// line formats that hold sub, the bytes LineFilter gives for a job; the
// records passed over are counted as read.
func MapSplitsContaining(ctx context.Context, t input.Task, sub []byte, fn func(Record) error) (ReadCounts, error) {
	return task.MapSplitsContaining(ctx, t, sub, fn)
}

// LineFilter is the bytes whose lines job's map tasks hand Map, from its
// Job.LineFilter and params, or nil for all of them.
func LineFilter(job ByteJob, params map[string]string) []byte {
	return task.LineFilter(job, func(name string) string { return params[name] })
}

// ReadCounts is what MapSplits read; AddTo adds it to a task's counters.
type ReadCounts = task.ReadCounts

// NewSortedRuns returns a sort buffer of budget bytes whose runs are written
// as PREFIX-0000.run, PREFIX-0001.run and so on.
func NewSortedRuns(prefix string, opts spill.Options, part Partitioner, budget int64, counters Counters) *SortedRuns {
	return task.NewSortedRuns(prefix, opts, part, budget, counters)
}

// CoGroup walks sorted streams of groups key by key together, a merge join.
func CoGroup(ctx context.Context, streams []*shuffle.Grouper, progress func(values int64), fn func(key []byte, values []iter.Seq[[]byte]) error) (keys, values int64, err error) {
	return task.CoGroup(ctx, streams, progress, fn)
}

// GroupKeys presents the composite keys of a sorted iterator (a secondary
// sort's) as their group keys.
func GroupKeys(it spill.Iterator, group Grouping) spill.Iterator { return task.GroupKeys(it, group) }

// ParseFaults parses a QUERN_FAULTS value (fault injection, for tests).
func ParseFaults(s string) error { return task.ParseFaults(s) }

// The driver (internal/driver): configuration, running a job, its result
// and status.
type (
	// Config says where a job reads and writes and how it uses the
	// machine.
	Config = driver.Config
	// Progress is a job's state as reported to Config.OnProgress.
	Progress = driver.Progress
	// Result describes a job that ran to completion.
	Result = driver.Result
	// Timings are the wall-clock durations of a job's phases.
	Timings = driver.Timings
	// TaskReport lists the attempts of one task.
	TaskReport = driver.TaskReport
	// AttemptReport is one attempt of a task.
	AttemptReport = driver.AttemptReport
	// TaskError is the error of a job whose task failed every attempt.
	TaskError = driver.TaskError
	// JobPlan is what a job would do, without doing it.
	JobPlan = driver.JobPlan
	// JobStatus is a snapshot of a job as a status page shows it.
	JobStatus = driver.JobStatus
	// Origin says where and by what a job was run (JobStatus, _job.json).
	Origin = driver.Origin
	// PhaseStatus is the progress of the map or the reduce phase.
	PhaseStatus = driver.PhaseStatus
	// TaskStatus is one task and its attempts.
	TaskStatus = driver.TaskStatus
	// StageStatus is one stage of a pipeline (package pipeline).
	StageStatus = driver.StageStatus
	// AttemptStatus is one attempt of a task.
	AttemptStatus = driver.AttemptStatus
)

// Engine names accepted by Config.Engine, and the default.
const (
	EngineLocal   = driver.EngineLocal
	EngineInline  = driver.EngineInline
	DefaultEngine = driver.DefaultEngine
)

// Defaults of Config (see Config.WithDefaults).
const (
	DefaultSpillCompression = driver.DefaultSpillCompression
	DefaultSplitSize        = driver.DefaultSplitSize
	DefaultSortBuffer       = driver.DefaultSortBuffer
	DefaultMergeFanIn       = driver.DefaultMergeFanIn
	DefaultMaxAttempts      = driver.DefaultMaxAttempts
	DefaultRebalance        = driver.DefaultRebalance
)

// MaxMapTasks bounds the map tasks of a job (see internal/plan).
const MaxMapTasks = driver.MaxMapTasks

// Attempt states.
const (
	AttemptRunning   = driver.AttemptRunning
	AttemptSucceeded = driver.AttemptSucceeded
	AttemptFailed    = driver.AttemptFailed
	AttemptKilled    = driver.AttemptKilled
)

// Job states.
const (
	JobRunning   = driver.JobRunning
	JobSucceeded = driver.JobSucceeded
	JobFailed    = driver.JobFailed
)

// ErrConfig is wrapped by every configuration error.
var ErrConfig = driver.ErrConfig

// Version returns the version of the Quern build running (module version or
// "devel", VCS revision, Go version).
var Version = driver.Version

// Main turns the process into a worker when the local engine forked it as
// one, and returns at once otherwise. Call it first thing in main, before
// flags are parsed: in a worker it serves tasks until the driver is done and
// then exits, never returning to the caller.
//
//	func main() {
//		mapreduce.Main()
//		// ... the program as usual
//	}
func Main() { driver.Main() }

// RegisterTaskKind makes the worker processes that Main serves run tasks of
// the given kind with h (package pipeline's stages). Call it at package
// init.
func RegisterTaskKind(kind string, h exec.Handler) { driver.RegisterTaskKind(kind, h) }

// RunNamed runs the registered job with the given name.
func RunNamed(ctx context.Context, name string, cfg Config) (*Result, error) {
	return driver.RunNamed(ctx, name, cfg)
}

// Plan validates a configuration for the named job and lists its inputs,
// splits and map tasks, touching nothing.
func Plan(name string, cfg Config) (*JobPlan, error) { return driver.Plan(name, cfg) }

// ParseSize parses a byte size: a whole number of bytes, optionally followed
// by a unit (KiB, MiB, GiB, TiB; KB, MB, GB, TB; K, M, G, T).
func ParseSize(s string) (int64, error) { return driver.ParseSize(s) }

// FormatSize prints a byte count with a binary unit, as ParseSize reads it.
func FormatSize(n int64) string { return driver.FormatSize(n) }

// MaxWorkers is the largest Config.Workers accepted on this machine.
func MaxWorkers() int { return driver.MaxWorkers() }

// CleanStale removes the work directories in tmp of jobs whose driver is
// gone, and returns them.
func CleanStale(tmp string) ([]string, error) { return driver.CleanStale(tmp) }

// IsJobOutputFile reports whether name, an entry of an output directory, is
// a file a job writes there.
func IsJobOutputFile(name string) bool { return driver.IsJobOutputFile(name) }

// StartProfiles starts the profiles cfg asks for in this driver process and
// returns the function that stops them.
func StartProfiles(cfg Config) (stop func(), err error) { return driver.StartProfiles(cfg) }

// ProfileEnv is the environment that asks worker processes for the profiles
// cfg asks for.
func ProfileEnv(cfg Config) []string { return driver.ProfileEnv(cfg) }

// LockObjectOutput takes the lock on an object-store output prefix.
func LockObjectOutput(ctx context.Context, out, job string, log *slog.Logger) (*objstore.OutputLock, error) {
	return driver.LockObjectOutput(ctx, out, job, log)
}
