package driver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"runtime/debug"
	"strconv"
	"sync"
	"time"

	"github.com/quern-dev/quern/exec"
	"github.com/quern-dev/quern/input"
	"github.com/quern-dev/quern/internal/hugepage"
	"github.com/quern-dev/quern/internal/memlimit"
	"github.com/quern-dev/quern/internal/task"
)

// Task kinds on the driver-worker pipe.
const (
	kindMap    = "map"
	kindReduce = "reduce"
)

// Main turns the process into a worker when the local engine forked it as
// one, and returns at once otherwise. Call it first thing in main, before
// flags are parsed: in a worker it serves tasks until the driver is done and
// then exits, never returning to the caller.
//
//	func main() {
//		mapreduce.Main()
//		// ... the program as usual
//	}
func Main() {
	if !exec.IsWorker() {
		return
	}
	hugepage.GrowHeap(heapToAdvise())
	stop, err := startProfiles(os.Getenv(cpuProfileEnv), os.Getenv(memProfileEnv), fmt.Sprintf("worker-%d", os.Getpid()))
	if err != nil {
		fmt.Fprintf(os.Stderr, "quern worker %d: %v\n", os.Getpid(), err)
		os.Exit(1)
	}
	err = exec.Serve(serveTask)
	stop()
	task.WorkerExit()
	if err != nil {
		fmt.Fprintf(os.Stderr, "quern worker %d: %v\n", os.Getpid(), err)
		os.Exit(1)
	}
	os.Exit(0)
}

// heapToAdvise is how much heap a worker advises huge (package hugepage):
// its memory limit, which the driver sizes to what its tasks hold, or 256
// MiB without one. Advice beyond what the heap reaches costs nothing; the
// heap that grows past it has small pages, as without advice.
func heapToAdvise() int {
	limit := debug.SetMemoryLimit(-1)
	if limit <= 0 || limit == math.MaxInt64 {
		return 256 << 20
	}
	return int(min(limit, 1<<30))
}

// workerLogger logs to the worker's stderr, which the driver passes through,
// at the level QUERN_LOG_LEVEL names (default: warnings only).
func workerLogger() *slog.Logger {
	var level slog.Level
	if err := level.UnmarshalText([]byte(os.Getenv("QUERN_LOG_LEVEL"))); err != nil {
		level = slog.LevelWarn
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
}

// serveTask runs one task inside a worker process.
func serveTask(ctx context.Context, t exec.Task) (exec.Result, error) {
	logger := workerLogger()
	switch t.Kind {
	case kindMap:
		return serveSpec(t, func(job task.ByteJob, spec task.MapSpec) (any, error) {
			res, err := task.RunMap(ctx, job, spec, logger)
			if Refuses(err) {
				// Sent as a result: see refusal.go.
				return refusedResult(err), nil
			}
			return res, err
		})
	case kindReduce:
		return serveSpec(t, func(job task.ByteJob, spec task.ReduceSpec) (any, error) {
			var res task.ReduceResult
			var err error
			reduce := func() { res, err = task.RunReduce(ctx, job, spec, logger) }
			if os.Getenv(userMemoryLimitEnv) == "" {
				// The limit is the driver's estimate: lift it for a
				// reduce that holds more (see package memlimit).
				memlimit.During(100*time.Millisecond, reduce)
			} else {
				reduce()
			}
			var ff *task.FetchFailure
			if errors.As(err, &ff) {
				// Sent as a result, not an error, so that the driver
				// gets the run's path as data rather than in a message.
				return task.ReduceResult{Fetch: ff}, nil
			}
			return res, err
		})
	}
	if h, ok := taskKinds.Load(t.Kind); ok {
		return h.(exec.Handler)(ctx, t)
	}
	return exec.Result{}, fmt.Errorf("%s: unknown task kind %q", t.ID, t.Kind)
}

// taskKinds holds the handlers of task kinds other packages run in
// Quern's workers (RegisterTaskKind).
var taskKinds sync.Map // kind -> exec.Handler

// RegisterTaskKind makes the worker processes that Main serves run tasks
// of the given kind with h: the hook by which an engine built on this
// package's workers (package pipeline) sends them tasks of its own through
// an exec.Pool. Call it at package init, so that workers, which never run
// the user's main, know the kind too. It panics on a kind that is taken.
func RegisterTaskKind(kind string, h exec.Handler) {
	if kind == kindMap || kind == kindReduce {
		panic(fmt.Sprintf("mapreduce: task kind %q is the engine's own", kind))
	}
	if _, dup := taskKinds.LoadOrStore(kind, h); dup {
		panic(fmt.Sprintf("mapreduce: task kind %q registered twice", kind))
	}
}

// serveSpec decodes a task's spec, finds its job and runs it.
func serveSpec[S interface{ JobName() string }](t exec.Task, run func(task.ByteJob, S) (any, error)) (exec.Result, error) {
	var spec S
	if err := task.DecodeSpec(t.Payload, &spec); err != nil {
		return exec.Result{}, fmt.Errorf("%s: bad task payload: %w", t.ID, err)
	}
	job, ok := task.LookupByteJob(spec.JobName())
	if !ok {
		return exec.Result{}, notRegistered(spec.JobName())
	}
	out, err := run(job, spec)
	if err != nil {
		return exec.Result{}, err
	}
	b, err := json.Marshal(out)
	return exec.Result{Payload: b}, err
}

func notRegistered(name string) error {
	return fmt.Errorf("job %q is not registered in worker binary %s: register it in a package-level var or init, not in main",
		name, os.Args[0])
}

// localRunner sends tasks to forked worker processes.
type localRunner struct {
	pool    *exec.Pool
	workers int
	work    string // the job's work directory, which holds attempt logs
}

// workerMemoryLimit is the soft memory limit (GOMEMLIMIT) of a worker.
// Without one, the garbage collector lets the heap grow to twice its live
// size: a sort with a 64 MiB buffer, whose live heap stays near 55 MB,
// peaked at 207 MB of RSS. A map task holds at most its sort buffer, and
// its combining table if the job combines; a reduce task about two blocks
// per merged run, never both at once; the limit is the larger of the two
// plus WorkerSlack for the runtime and I/O buffers. RSS runs about 50 MB
// above the limit (the binary's own pages, stacks, memory not yet returned
// to the kernel): with 16 MiB of slack a 1 GiB sort with a 64 MiB buffer
// peaked at 128.8 MiB, just over the sort buffer + 64 MiB it must stay
// under; with 8 MiB, see WorkerSlack. A GOMEMLIMIT in the driver's
// environment wins.
func workerMemoryLimit(cfg Config, combines bool) string {
	return MemoryLimit(workerMemory(cfg, combines))
}

// MemoryLimit is the GOMEMLIMIT of a worker whose tasks hold up to bytes:
// bytes, unless the driver's environment sets one.
func MemoryLimit(bytes int64) string {
	if v := os.Getenv("GOMEMLIMIT"); v != "" {
		return v
	}
	return strconv.FormatInt(bytes, 10)
}

// workerMemory is the memory limit in bytes that workerMemoryLimit sets.
//
// A combining map task holds its table beside the sort buffer: the table
// flushes at half the buffer's bytes by its own count (kvtable.Bytes),
// and holds up to twice that in arrays grown by doubling, while the
// buffer takes each flush. Under a limit of the buffer alone, word count
// over 6.8 million distinct words (64 MiB, 64 MiB buffer) kept 75 MB live
// against a 75 MB goal through its map phase: 412 collections in the job,
// 92 with the limit at 1.5 times the buffer (104 MiB; most of them in the
// reduce phase), its map phase 2.58-3.91 s against 1.94-2.78 s and its
// largest worker 122 against 134-140 MB (2 alternated runs).
// Halving the table's budget instead would have kept the limit, but made
// a word count over 408,041 words repeated 16 times flush its table 7
// times as often: 2.6 s against 1.3.
func workerMemory(cfg Config, combines bool) int64 {
	return max(SortMemory(cfg, combines), MergeMemory(cfg)) + WorkerSlack
}

// SortMemory is what a task's sort buffer holds at most, with the
// combining table beside it if the task combines (see workerMemory).
func SortMemory(cfg Config, combines bool) int64 {
	if combines {
		return cfg.SortBuffer + cfg.SortBuffer/2
	}
	return cfg.SortBuffer
}

// MergeMemory is what a task merging cfg.MergeFanIn runs holds: two
// blocks of each.
func MergeMemory(cfg Config) int64 {
	return int64(cfg.MergeFanIn) * 2 * task.RunBlockSize
}

// userMemoryLimit is the worker environment that says the GOMEMLIMIT is
// the user's, if it is.
func userMemoryLimit() []string {
	if os.Getenv("GOMEMLIMIT") == "" {
		return nil
	}
	return []string{userMemoryLimitEnv + "=1"}
}

// userMemoryLimitEnv is set in a worker's environment when its
// GOMEMLIMIT is the user's (the driver's own GOMEMLIMIT), which reduce
// tasks then keep as it is instead of lifting it (package memlimit).
const userMemoryLimitEnv = "QUERN_USER_GOMEMLIMIT"

// WorkerSlack is a worker's memory limit beyond its sort buffer or merge.
const WorkerSlack = 8 << 20

// startingRunner is a job's task runner on its way up: the local engine's
// workers start in a goroutine of their own (startRunner) while the driver
// plans, and the job takes the runner once it has a work directory.
type startingRunner struct {
	done   chan struct{} // closed once runner and err are set
	runner taskRunner
	err    error
	taken  bool
}

// startRunner starts the runner of cfg.Engine: the inline runner at once,
// the local engine's worker pool in the background.
func startRunner(ctx context.Context, cfg Config, job task.ByteJob, onStatus func(exec.Status)) *startingRunner {
	s := &startingRunner{done: make(chan struct{})}
	if cfg.Engine == EngineInline {
		s.runner = &inlineRunner{job: job, logger: cfg.Logger}
		close(s.done)
		return s
	}
	go func() {
		defer close(s.done)
		lr, err := startLocal(ctx, cfg, job.Info().HasCombiner, os.Stderr, onStatus)
		if err != nil {
			s.err = err
			return
		}
		s.runner = lr
	}()
	return s
}

// take waits for the runner to start and hands it to the job, whose
// attempts keep their logs in the work directory work. The job closes it.
func (s *startingRunner) take(work string) (taskRunner, error) {
	<-s.done
	if s.err != nil {
		return nil, s.err
	}
	s.taken = true
	if lr, ok := s.runner.(*localRunner); ok {
		lr.work = work
	}
	return s.runner, nil
}

// discard stops a runner that the job did not take (it was refused, or
// failed, before it had a work directory), once it has started.
func (s *startingRunner) discard() {
	<-s.done
	if !s.taken && s.runner != nil {
		s.runner.close()
	}
}

// startLocal starts the worker pool. Each attempt's worker output is also
// kept in the job's work directory (AttemptLogPath), which the job sets in
// the runner's work once it has one; onStatus hears of every running
// attempt's worker and heartbeats.
func startLocal(ctx context.Context, cfg Config, combines bool, stderr io.Writer, onStatus func(exec.Status)) (*localRunner, error) {
	pool, err := exec.StartPool(ctx, exec.PoolOptions{
		Workers:     cfg.Workers,
		Stderr:      stderr,
		TaskTimeout: cfg.TaskTimeout,
		Logger:      cfg.Logger,
		OnStatus:    onStatus,
		Env: append(append([]string{
			input.WorkersEnv + "=" + strconv.Itoa(cfg.Workers),
			"GOMEMLIMIT=" + workerMemoryLimit(cfg, combines),
		}, userMemoryLimit()...), ProfileEnv(cfg)...),
	})
	if err != nil {
		return nil, err
	}
	return &localRunner{pool: pool, workers: cfg.Workers}, nil
}

func (r *localRunner) slots() int { return r.workers }
func (r *localRunner) close() []string {
	r.pool.Close()
	return r.pool.UncleanExits()
}

func (r *localRunner) runMap(ctx context.Context, spec task.MapSpec, split <-chan chan<- []byte) (res task.MapResult, err error) {
	res.PeakRSS, err = r.call(ctx, spec.TaskID, spec.Attempt, kindMap, spec, &res, split)
	if err == nil {
		err = refusal(res)
	}
	return res, Refused(err)
}

func (r *localRunner) runReduce(ctx context.Context, spec task.ReduceSpec) (res task.ReduceResult, err error) {
	res.PeakRSS, err = r.call(ctx, spec.TaskID, spec.Attempt, kindReduce, spec, &res, nil)
	if err == nil && res.Fetch != nil {
		return res, res.Fetch
	}
	return res, err
}

// call runs one task in a worker and decodes its result into out; split
// is exec.Task.Split. It returns the worker's peak RSS, which exec
// reports with every result.
func (r *localRunner) call(ctx context.Context, id string, attempt int, kind string, spec, out any, split <-chan chan<- []byte) (int64, error) {
	payload, err := task.EncodeSpec(spec)
	if err != nil {
		return 0, err
	}
	res, err := r.pool.Run(ctx, exec.Task{ID: id, Attempt: attempt, Kind: kind, Payload: payload,
		Log: AttemptLogPath(r.work, id, attempt), Split: split})
	var te *exec.TaskError
	if errors.As(err, &te) && te.Stack != "" {
		// The worker's stack at the panic crossed the pipe as data; put
		// it in the error, which is what the job's failure report prints.
		return 0, fmt.Errorf("%w\n%s", err, te.Stack)
	}
	if err != nil {
		return 0, err
	}
	if err := json.Unmarshal(res.Payload, out); err != nil {
		return 0, fmt.Errorf("%s attempt %d: bad result from worker: %w", id, attempt, err)
	}
	return res.PeakRSS, nil
}
