package driver

import (
	"errors"

	"github.com/quern-dev/quern/input"
	"github.com/quern-dev/quern/internal/sched"
	"github.com/quern-dev/quern/internal/task"
)

// Input refused by a map task.
//
// Some input errors are the same in every attempt, so no retry can cure
// them, and the job fails at once with a configuration error (exit status
// 2) naming the file, and nothing is committed:
//
//   - a file compressed in a way Quern cannot read (input.ErrCompression).
//     The plan leaves a small file unopened and guesses its compression
//     from its name (input.File.Guessed); the map task that opens it
//     decides by its first bytes, and refuses it just as the plan refuses
//     a bigger one;
//   - a compressed file that does not decode (input.ErrCorrupt): damaged,
//     cut short, followed by garbage. The reader has checked that the
//     file is the one planned and that no read of it failed, so the same
//     bytes would fail the same way. An I/O error, or a file changed since
//     it was planned, is not such an error: those are retried as any
//     failed attempt.
//
// A worker sends the refusal as its result (task.MapResult.Refused), as a
// reducer sends a fetch failure, so that the driver gets it as data
// rather than as a message to parse. A pipeline's read stages refuse
// their input the same way, through Refuses, RefusedError and Refused.

// refusals are the errors that refuse a map task's input.
var refusals = []error{input.ErrCompression, input.ErrCorrupt}

// refusalOf returns the one of refusals that err wraps, or nil.
func refusalOf(err error) error {
	for _, r := range refusals {
		if errors.Is(err, r) {
			return r
		}
	}
	return nil
}

// Refuses reports whether err, a map task's or read stage's error in the
// worker, refuses its input: the worker then sends it as its result.
func Refuses(err error) bool { return refusalOf(err) != nil }

// RefusedError is the refusal a worker sent as its result: msg is the
// error's text, corrupt whether it wrapped input.ErrCorrupt (else
// input.ErrCompression).
func RefusedError(msg string, corrupt bool) error {
	if corrupt {
		return &refusedError{msg, input.ErrCorrupt}
	}
	return &refusedError{msg, input.ErrCompression}
}

// refusedError is a refusal that crossed from a worker: its text, and
// errors.Is(err, input.ErrCompression) or input.ErrCorrupt holds as it
// did in the worker.
type refusedError struct {
	msg  string
	kind error // one of refusals
}

func (e *refusedError) Error() string        { return e.msg }
func (e *refusedError) Is(target error) bool { return target == e.kind }

// refusedResult is how a worker sends a map task's refusal of its input.
func refusedResult(err error) task.MapResult {
	return task.MapResult{Refused: err.Error(), Corrupt: errors.Is(err, input.ErrCorrupt)}
}

// refusal returns the refusal in a map task's result as an error, or
// nil.
func refusal(res task.MapResult) error {
	if res.Refused == "" {
		return nil
	}
	return RefusedError(res.Refused, res.Corrupt)
}

// Refused returns err, an attempt's error, as the error that fails the job
// or pipeline at once as a configuration error when the task refused its
// input (in the worker, or inline), and err itself otherwise.
func Refused(err error) error {
	if err == nil || refusalOf(err) == nil {
		return err
	}
	return sched.Fatal(inputError{err})
}

// inputError is a refused input: errors.Is(err, ErrConfig) holds, so that
// callers treat it as the other problems of what the job was given (the
// CLI's exit status 2), but its text is the refusal's own. "bad
// configuration" would send the user to their flags when a file is at
// fault, and the refusal already names it.
type inputError struct{ error }

func (e inputError) Unwrap() error        { return e.error }
func (e inputError) Is(target error) bool { return target == ErrConfig }
