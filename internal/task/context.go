package task

import (
	"context"
	"log/slog"

	"github.com/quern-dev/quern/exec"
	"github.com/quern-dev/quern/input"
)

// TaskContext is what a map or reduce function knows of the task running it.
// It is not safe for use by several goroutines at once.
type TaskContext struct {
	ctx      context.Context
	job      string
	task     string
	attempt  int
	params   map[string]string
	counters Counters
	logger   *slog.Logger

	// Set by the task layer for a typed job's mapper (adapter.go): how
	// many bad records this attempt may skip, and those it skipped
	// (Config.SkipBadRecords).
	skipLimit int
	skipped   []SkippedRecord

	// dir is the attempt's private directory inside the job's work
	// directory; empty outside Quern's own engines.
	dir string

	// input is a map task's splits (TaskInput); nil for a reduce task.
	input []input.Split
}

func newTaskContext(ctx context.Context, job, task string, attempt int, params map[string]string, logger *slog.Logger) *TaskContext {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &TaskContext{
		ctx: ctx, job: job, task: task, attempt: attempt, params: params,
		counters: Counters{},
		logger:   logger.With("job", job, "task", task, "attempt", attempt),
	}
}

// Context returns the task's context, cancelled when the task is abandoned.
func (tc *TaskContext) Context() context.Context { return tc.ctx }

// Job returns the job's name.
func (tc *TaskContext) Job() string { return tc.job }

// TaskID returns the task's name, such as "map-00003" or "reduce-00001".
func (tc *TaskContext) TaskID() string { return tc.task }

// Attempt returns the attempt number of this task, starting at 1.
func (tc *TaskContext) Attempt() int { return tc.attempt }

// Param returns the value of a job parameter, or "" when it is not set.
func (tc *TaskContext) Param(name string) string { return tc.params[name] }

// Count adds delta to the user counter name. Counters are summed over the
// task attempts that commit, so a retried task is counted once.
func (tc *TaskContext) Count(name string, delta int64) { tc.counters[name] += delta }

// TempDir is a directory private to this task attempt, inside the job's
// work directory, so whatever a job leaves there is removed with the job
// even when its worker is killed. It is empty when another engine (Beam)
// runs the task: use the OS temp directory there.
func (tc *TaskContext) TempDir() string { return tc.dir }

// Logger returns a logger that tags records with the job, task and attempt.
func (tc *TaskContext) Logger() *slog.Logger { return tc.logger }

// SetStatus sets the task's status: a few words on what it is doing, shown
// with its attempt on the status page (a Streaming program's
// "reporter:status:" line). A change counts as progress for
// Config.TaskTimeout. The inline engine only logs it.
func (tc *TaskContext) SetStatus(text string) {
	exec.SetStatus(tc.ctx, text)
	tc.logger.Debug("status", "status", text)
}
