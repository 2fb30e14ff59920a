package mapreduce

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
)

// inlineRunner runs every task in the calling goroutine, one at a time,
// with the same task code the workers run. A debugger set on a map function
// stops here, and tests use it as the reference for the local engine.
type inlineRunner struct {
	job    ByteJob
	logger *slog.Logger
}

func (r *inlineRunner) slots() int { return 1 }

// close lets go of the memory the last map task left for the next, so that
// a program that ran a job inline does not hold it afterwards.
func (r *inlineRunner) close() []string {
	dropIdle()
	return nil
}

func (r *inlineRunner) runMap(ctx context.Context, spec mapSpec) (res mapResult, err error) {
	defer recoverTask(spec.TaskID, spec.Attempt, &err)
	return runMap(ctx, r.job, spec, r.logger)
}

func (r *inlineRunner) runReduce(ctx context.Context, spec reduceSpec) (res reduceResult, err error) {
	defer recoverTask(spec.TaskID, spec.Attempt, &err)
	return runReduce(ctx, r.job, spec, r.logger)
}

// PanicError is a panic in a user's map or reduce function, caught and
// returned as the task's error.
type PanicError struct {
	Task    string
	Attempt int
	Value   string
	Stack   string
}

func (e *PanicError) Error() string {
	return fmt.Sprintf("%s attempt %d panicked: %s\n%s", e.Task, e.Attempt, e.Value, e.Stack)
}

func recoverTask(task string, attempt int, err *error) {
	if p := recover(); p != nil {
		*err = &PanicError{Task: task, Attempt: attempt, Value: fmt.Sprint(p), Stack: string(debug.Stack())}
	}
}
