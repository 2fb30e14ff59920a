package task

import (
	"fmt"
	"runtime/debug"
)

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

// RecoverTask, deferred, turns a panic of the task running into a
// *PanicError in *err.
func RecoverTask(task string, attempt int, err *error) {
	if p := recover(); p != nil {
		*err = &PanicError{Task: task, Attempt: attempt, Value: fmt.Sprint(p), Stack: string(debug.Stack())}
	}
}
