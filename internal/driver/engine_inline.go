package driver

import (
	"context"
	"log/slog"

	"github.com/quern-dev/quern/internal/task"
)

// inlineRunner runs every task in the calling goroutine, one at a time,
// with the same task code the workers run. A debugger set on a map function
// stops here, and tests use it as the reference for the local engine.
type inlineRunner struct {
	job    task.ByteJob
	logger *slog.Logger
}

func (r *inlineRunner) slots() int { return 1 }

// close lets go of the memory the last map task left for the next, so that
// a program that ran a job inline does not hold it afterwards.
func (r *inlineRunner) close() []string {
	task.DropIdle()
	return nil
}

// runMap runs the task whole: one slot is never idle beside it.
func (r *inlineRunner) runMap(ctx context.Context, spec task.MapSpec, _ <-chan chan<- []byte) (res task.MapResult, err error) {
	defer task.RecoverTask(spec.TaskID, spec.Attempt, &err)
	res, err = task.RunMap(ctx, r.job, spec, r.logger)
	return res, Refused(err)
}

func (r *inlineRunner) runReduce(ctx context.Context, spec task.ReduceSpec) (res task.ReduceResult, err error) {
	defer task.RecoverTask(spec.TaskID, spec.Attempt, &err)
	return task.RunReduce(ctx, r.job, spec, r.logger)
}
