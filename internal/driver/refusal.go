package driver

import (
	"errors"
	"fmt"

	"github.com/quern-dev/quern/input"
	"github.com/quern-dev/quern/internal/sched"
)

// Input refused by a map task.
//
// The plan leaves a small file unopened and guesses its compression from
// its name (input.File.Guessed); the map task that opens it decides by
// its first bytes, and refuses a file compressed in a way Quern cannot
// read (input.ErrCompression) just as the plan refuses a bigger one. No
// retry can cure that, so the job fails at once with a configuration
// error (exit status 2) naming the file, and nothing is committed. A
// worker sends the refusal as its result (task.MapResult.Refused), as a
// reducer sends a fetch failure, so that the driver gets it as data
// rather than as a message to parse.

// refusedError is a refusal that crossed from a worker: its text, and
// errors.Is(err, input.ErrCompression) holds as it did in the worker.
type refusedError struct{ msg string }

func (e *refusedError) Error() string        { return e.msg }
func (e *refusedError) Is(target error) bool { return target == input.ErrCompression }

// refused returns err, a map attempt's error, as an error that fails the
// job at once as a configuration error when the task refused its input.
func refused(err error) error {
	if err == nil || !errors.Is(err, input.ErrCompression) {
		return err
	}
	return sched.Fatal(fmt.Errorf("%w: %w", ErrConfig, err))
}
