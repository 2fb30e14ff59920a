package driver

import (
	"errors"
	"strings"

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
//     bytes would fail the same way. An I/O error is not such an error: it
//     is retried as any failed attempt;
//   - a file removed since the job was planned, or changed in a way no
//     attempt can find undone (input.ErrChanged, whose doc says which):
//     the plan's splits were cut from a file that is no more, and the job
//     must be planned again. Retried, a folder of 20,000 files with some
//     removed while the job ran failed after four attempts of each task
//     that held one, each reading its files up to the one gone. A file
//     only modified, as long as planned, is retried: it may be a log in
//     the instant of an append;
//   - a CSV or TSV record the reader cannot cut into the header's fields
//     (input.ErrCSV): a quoted field that holds a line break in a file
//     cut into splits, a record with too few or too many fields. Retried,
//     it failed four times with the same message, in every split of the
//     file at once;
//   - a file too large for --input-format wholefile (input.ErrTooLarge),
//     which the plan refuses for a plain file and the task for a
//     compressed one, whose size shows only as it is read;
//   - a line longer than a worker holds (input.ErrLineTooLong, see
//     input.MaxLine): a file that is not made of lines. Retried, each
//     attempt grew its worker to the same bound, or until the OOM killer
//     took it;
//   - a file without the columns the job reads (input.ErrColumns): a
//     column its header or schema does not name (Record.Text's error), or
//     a header an app finds is not one. Every record of the file fails
//     alike; a JSON-lines record without a member is one bad record, and
//     retried as any failed attempt (skipping bad records needs that).
//
// A worker sends the refusal as its result (task.MapResult.Refused), as a
// reducer sends a fetch failure, so that the driver gets it as data
// rather than as a message to parse. A pipeline's read stages refuse
// their input the same way, through Refuses, RefusedError and Refused.

// refusals are the errors that refuse a map task's input, by the name a
// worker sends with the refusal's text (task.MapResult.RefusedAs).
var refusals = []struct {
	name string
	err  error
}{
	{"compression", input.ErrCompression},
	{"corrupt", input.ErrCorrupt},
	{"delimited", input.ErrCSV},
	{"too-large", input.ErrTooLarge},
	{"columns", input.ErrColumns},
	{"line-too-long", input.ErrLineTooLong},
	{"changed", input.ErrChanged},
}

// RefusalOf returns the name of the refusal that err wraps, or "" when err
// does not refuse its input.
func RefusalOf(err error) string {
	for _, r := range refusals {
		if errors.Is(err, r.err) {
			return r.name
		}
	}
	return ""
}

// Refuses reports whether err, a map task's or read stage's error in the
// worker, refuses its input: the worker then sends it as its result.
func Refuses(err error) bool { return RefusalOf(err) != "" }

// RefusesText reports whether msg, the text of an error whose chain was
// lost on the way (a Beam runner passes a DoFn's error on as text only),
// holds one of the refusals' messages, which nothing else writes.
func RefusesText(msg string) bool {
	for _, r := range refusals {
		if strings.Contains(msg, r.err.Error()) {
			return true
		}
	}
	return false
}

// RefusedError is the refusal a worker sent as its result: msg is the
// error's text, kind what RefusalOf named. errors.Is holds for the
// refusal's error as it did in the worker; an unknown kind (a worker of
// another build) is taken as input.ErrCorrupt, a refusal all the same.
func RefusedError(msg, kind string) error {
	for _, r := range refusals {
		if r.name == kind {
			return &refusedError{msg, r.err}
		}
	}
	return &refusedError{msg, input.ErrCorrupt}
}

// refusedError is a refusal that crossed from a worker: its text, and
// errors.Is(err, kind) holds as it did in the worker.
type refusedError struct {
	msg  string
	kind error // one of refusals
}

func (e *refusedError) Error() string        { return e.msg }
func (e *refusedError) Is(target error) bool { return target == e.kind }

// refusedResult is how a worker sends a map task's refusal of its input.
func refusedResult(err error) task.MapResult {
	return task.MapResult{Refused: err.Error(), RefusedAs: RefusalOf(err)}
}

// refusal returns the refusal in a map task's result as an error, or
// nil.
func refusal(res task.MapResult) error {
	if res.Refused == "" {
		return nil
	}
	return RefusedError(res.Refused, res.RefusedAs)
}

// Refused returns err, an attempt's error, as the error that fails the job
// or pipeline at once as a configuration error when the task refused its
// input (in the worker, or inline), and err itself otherwise.
func Refused(err error) error {
	if err == nil || !Refuses(err) {
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
