package task

import (
	"errors"
	"fmt"

	"github.com/quern-dev/quern/output"
)

// Map-only jobs (Config.MapOnly, `--reducers 0`).
//
// As in Hadoop with zero reduce tasks, each map task writes the pairs its
// mapper emits straight to a part file of the job's output format,
// part-m-NNNNN after the task's number, in the order they are emitted: no
// sort buffer, no spill, no combiner, no shuffle, no reduce phase. The part
// is written in the attempt's own directory under the output's _temporary
// (commit.Dir.AttemptDir) and renamed into place by the driver when the
// attempt succeeds, under the lock that lets only the first successful
// attempt of a task commit: a failed, killed or losing speculative attempt
// leaves no line in the output, and the winner's part is whole.

// MapOnlyJob is a ByteJob that can run map-only: it writes its map output
// pairs, as its mapper encodes them, to a file in the job's output format.
// A typed Job and a Streaming job are MapOnlyJobs.
type MapOnlyJob interface {
	ByteJob
	// NewMapOnlyWriter creates the file at path in the format opts names
	// (the job adds its column names and types), to which the task layer
	// writes every pair the job's mapper emits, then Closes it; or Aborts
	// it if the attempt fails.
	NewMapOnlyWriter(tc *TaskContext, path string, opts output.Options) (output.Writer[[]byte, []byte], error)
}

// partFile is a map-only task's part file: the MapOutput its mapper
// emits every pair to, written as it comes.
type partFile struct {
	w       output.Writer[[]byte, []byte]
	path    string
	closed  bool
	emitted int64
	err     error
}

// createPart creates the part file of a map-only task attempt.
func createPart(job ByteJob, tc *TaskContext, spec MapSpec) (*partFile, error) {
	mo, ok := job.(MapOnlyJob)
	if !ok {
		return nil, fmt.Errorf("map %s: job %q cannot write its map output as output (it is no MapOnlyJob)", spec.TaskID, job.Info().Name)
	}
	w, err := mo.NewMapOnlyWriter(tc, spec.Output, spec.Format)
	if err != nil {
		return nil, fmt.Errorf("map %s: %w", spec.TaskID, err)
	}
	return &partFile{w: w, path: spec.Output}, nil
}

var (
	_ mapSink    = (*partFile)(nil)
	_ PartOutput = (*partFile)(nil)
)

// PartOutput is the MapOutput of a map-only task. A mapper that can write
// its pairs to the part file without encoding them (a typed job, whose
// writer NewMapOnlyWriter made and decodes every pair again) writes them
// to Writer's file itself and reports each pair with Wrote, instead of
// calling Emit.
type PartOutput interface {
	MapOutput
	// Writer is the writer the job's NewMapOnlyWriter returned.
	Writer() output.Writer[[]byte, []byte]
	// Err is the first error writing a pair; after one, a mapper writes
	// nothing more (its pairs are still counted).
	Err() error
	// Wrote counts one pair as emitted (map_output_records) and keeps
	// err, the error of writing it, if it is the first.
	Wrote(err error)
}

// Writer is the part's writer (PartOutput).
func (p *partFile) Writer() output.Writer[[]byte, []byte] { return p.w }

// Wrote counts a pair the mapper wrote itself (PartOutput). The error
// already names the part and the record (output.Writer).
func (p *partFile) Wrote(err error) {
	p.emitted++
	if err != nil && p.err == nil {
		p.err = err
	}
}

// Emit writes one pair (MapOutput.Emit).
func (p *partFile) Emit(key, value []byte) {
	var err error
	if p.err == nil {
		err = p.w.Write(key, value)
	}
	p.Wrote(err)
}

// Spill does nothing: there is no sort buffer (MapOutput.Spill).
func (p *partFile) Spill() {}

// Budget is zero: a mapper should hold nothing back (MapOutput.Budget),
// and so a combiner does not run, as in Hadoop's map-only jobs.
func (p *partFile) Budget() int64 { return 0 }

func (p *partFile) Err() error     { return p.err }
func (p *partFile) Emitted() int64 { return p.emitted }

// close flushes and closes the part, which the driver then commits.
func (p *partFile) close() error {
	if p.err != nil {
		return p.err // a pair emitted at the end of input failed
	}
	p.closed = true
	if err := p.w.Close(); err != nil {
		return fmt.Errorf("close output %s: %w", p.path, err)
	}
	return nil
}

// abortUnlessClosed removes the part of an attempt that failed.
func (p *partFile) abortUnlessClosed() {
	if !p.closed {
		p.w.Abort()
	}
}

// ErrNoReduce is the error of a job without Reduce run with reducers.
var ErrNoReduce = errors.New("has no Reduce: run it map-only (Config.MapOnly, --reducers 0)")
