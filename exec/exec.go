// Package exec runs tasks in worker processes: children of the current
// binary, started by a Pool in the driver and turned into workers by Serve.
//
// A binary that uses a Pool must call Serve at the top of main when IsWorker
// reports true, before doing anything else:
//
//	func main() {
//		if exec.IsWorker() {
//			if err := exec.Serve(handler); err != nil {
//				fmt.Fprintln(os.Stderr, err)
//			}
//			os.Exit(0)
//		}
//		...
//	}
//
// The driver and a worker talk over two inherited pipes (fd 3 and fd 4 on
// Unix, two inherited handles on Windows), not stdin/stdout, so user code
// may print freely; see frame.go and docs/protocol.md for the protocol.
// Workers die with the driver: Serve returns when its control pipe reaches
// EOF, and on Linux the kernel sends them SIGKILL when the driver goes
// (Pdeathsig), on Windows a Job Object kills them, while on macOS and the
// BSDs each worker watches the driver's pid with kqueue (proc_*.go hold what
// differs by platform).
//
// A task is an opaque payload: this package knows nothing of what a task
// means. It delivers a task to an idle worker, reports the handler's result
// or error, notices dead and hung workers and replaces them.
package exec

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// Task is one unit of work sent to a worker. Payload is opaque (mapreduce uses JSON).
type Task struct {
	ID      string // e.g. "map-00003"; stable across attempts
	Attempt int    // 1-based
	Kind    string // e.g. "map", "reduce"; exec does not interpret it
	Payload []byte
	// Log, when set, is a file (and its directory) that the pool creates
	// with the worker's first byte of output while it runs this task, and
	// to which it appends that output (besides PoolOptions.Stderr): from
	// when the task is sent until the worker marks the task's end on its
	// stderr (taskEndMark), or until it dies. Output from a goroutine that
	// outlives its task goes to no log. Not sent to the worker.
	Log string
	// Split, if not nil, carries requests to split the task while it
	// runs: for each request taken, the worker's handler is asked to give
	// up part of the work it has not done yet (SplitAsked), and its answer
	// is sent on the request's channel, which must have room for it: a
	// payload of the handler's making that describes the work it gave up,
	// or nil if it gave up none (also when the task ended first, or its
	// worker died). Every request taken is answered before Run returns,
	// and a handler's answer reaches the driver before its result, so a
	// caller that waits for the answer knows what the attempt's result
	// covers. Run takes the next request only once the last is answered.
	Split <-chan chan<- []byte
}

// Result is what a worker returns for a task that succeeded.
type Result struct {
	Payload []byte
	// PeakRSS is the worker process's peak resident set size in bytes
	// (VmHWM on Linux, getrusage elsewhere) when the task finished, filled
	// in by Serve; 0 where the platform does not report it. It covers the
	// worker's whole life, not only this task.
	PeakRSS int64
}

// Handler runs one task inside a worker. ctx is cancelled when the driver
// cancels the task or dies. A returned error, or a panic inside the handler
// (recovered, with its stack), is reported to the driver as a *TaskError; the
// worker stays alive for the next task after an error or panic.
type Handler func(ctx context.Context, t Task) (Result, error)

// ErrTaskTimeout is wrapped by the error Run returns when a task made no
// progress for PoolOptions.TaskTimeout and its worker was killed.
var ErrTaskTimeout = errors.New("exec: task timed out")

// ErrPoolClosed is returned (possibly wrapped) by Run after Close.
var ErrPoolClosed = errors.New("exec: pool closed")

// ErrNotWorker is returned by Serve in a process that was not started by a
// Pool.
var ErrNotWorker = errors.New("exec: not a worker process (QUERN_WORKER unset or control pipes missing)")

// TaskError reports a task whose handler returned an error or panicked. The
// worker survived and serves further tasks.
type TaskError struct {
	TaskID  string
	Attempt int
	Message string // the handler's error text, or the panic value
	Stack   string // the worker goroutine's stack at the panic; empty for returned errors
	Panic   bool
}

func (e *TaskError) Error() string {
	if e.Panic {
		return fmt.Sprintf("exec: task %s attempt %d panicked: %s", e.TaskID, e.Attempt, e.Message)
	}
	return fmt.Sprintf("exec: task %s attempt %d failed: %s", e.TaskID, e.Attempt, e.Message)
}

// WorkerError reports a worker process that died while running a task
// (killed, crashed, called os.Exit). The pool has started a replacement.
type WorkerError struct {
	TaskID     string
	Attempt    int
	Pid        int
	ExitCode   int    // exit status; -1 when killed by a signal
	Signal     string // e.g. "killed"; empty when it exited
	StderrTail string // the last few KiB the worker wrote to stdout/stderr
}

func (e *WorkerError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "exec: worker pid %d died running task %s attempt %d: ", e.Pid, e.TaskID, e.Attempt)
	if e.Signal != "" {
		fmt.Fprintf(&b, "signal: %s", e.Signal)
	} else {
		fmt.Fprintf(&b, "exit status %d", e.ExitCode)
	}
	if tail := strings.TrimSpace(e.StderrTail); tail != "" {
		b.WriteString("; last output:\n")
		b.WriteString(tail)
	}
	return b.String()
}

// ProcessPeakRSS returns the calling process's peak resident set size in
// bytes, as the platform reports it (the figure Result.PeakRSS carries for
// a worker), or 0 where it reports none.
func ProcessPeakRSS() int64 { return peakRSS() }
