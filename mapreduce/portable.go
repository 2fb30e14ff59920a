package mapreduce

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"log/slog"

	"github.com/quern-dev/quern/input"
	"github.com/quern-dev/quern/output"
)

// Portable jobs: the view of a registered job that another engine runs.
//
// Quern's own engines run a job's functions on encoded keys and values;
// PortableJob exposes exactly that, so an engine outside this module (the
// Apache Beam runner in beam/, for instance) can run the same registered job
// without knowing its Go types: map records to encoded pairs, merge encoded
// values with the combiner, group by encoded key (bytes.Equal), and hand each
// group to a reducer that writes the job's output files. Encoded keys sort
// with bytes.Compare in the job's key order.

// PortableJob is a registered job seen through encoded keys and values.
type PortableJob interface {
	Info() JobInfo
	// NewMapper returns a function that runs the job's Map on one record
	// and passes every pair, encoded, to emit. The slices handed to emit
	// are reused by the next call: copy them to keep them.
	NewMapper(tc *TaskContext, emit func(key, value []byte)) func(Record) error
	// Combine merges two encoded values of one key with the job's
	// combiner; it reports false when the job has none.
	Combine(a, b []byte) ([]byte, bool, error)
	// CreateOutput opens an output file in the job's output types.
	CreateOutput(tc *TaskContext, path string, opts output.Options) (PortableOutput, error)
	// Portable reports why the job cannot run on an engine that only
	// groups by key (TotalOrder or SortValues), or nil.
	Portable() error
}

// PortableOutput runs the job's Reduce on groups and writes the result.
type PortableOutput interface {
	// Reduce calls the job's Reduce for one key and its encoded values.
	Reduce(key []byte, values iter.Seq[[]byte]) error
	// Records and Bytes written so far; after Close, final.
	Records() int64
	Bytes() int64
	Close() error
	Abort()
}

// ErrNotPortable is wrapped by PortableJob.Portable's errors.
var ErrNotPortable = errors.New("mapreduce: job needs features of the local engine")

// LookupPortable returns the registered job with the given name.
func LookupPortable(name string) (PortableJob, bool) {
	r, ok := lookup(name)
	if !ok {
		return nil, false
	}
	p, ok := r.(PortableJob)
	return p, ok
}

// NewTaskContext makes the TaskContext that another engine passes to a
// portable job's functions. Read its counters with Counters.
func NewTaskContext(ctx context.Context, job, task string, attempt int, params map[string]string, logger *slog.Logger) *TaskContext {
	return newTaskContext(ctx, job, task, attempt, params, logger)
}

// Counters returns the counters the task has counted so far; the caller may
// read and reset them (clear) but must not use them concurrently with the
// task.
func (tc *TaskContext) Counters() Counters { return tc.counters }

var _ PortableJob = (*compiled[string, int, string, int])(nil)

func (c *compiled[K, V, OK, OV]) Info() JobInfo { return c.info() }

func (c *compiled[K, V, OK, OV]) Portable() error {
	switch {
	case c.job.TotalOrder:
		return fmt.Errorf("%w: job %q needs a total order across reducers (TotalOrder)", ErrNotPortable, c.job.Name)
	case c.job.SortValues != nil:
		return fmt.Errorf("%w: job %q sorts values within a key (SortValues)", ErrNotPortable, c.job.Name)
	}
	return nil
}

func (c *compiled[K, V, OK, OV]) NewMapper(tc *TaskContext, emit func(key, value []byte)) func(Record) error {
	var kbuf, vbuf []byte
	typed := func(k K, v V) {
		kbuf = c.keys.Append(kbuf[:0], k)
		vbuf = c.values.Append(vbuf[:0], v)
		emit(kbuf, vbuf)
	}
	return func(rec Record) error {
		tc.counters[MapInputRecords]++
		return c.job.Map(tc, rec, typed)
	}
}

func (c *compiled[K, V, OK, OV]) Combine(a, b []byte) ([]byte, bool, error) {
	if c.job.Combine == nil {
		return nil, false, nil
	}
	va, err := c.values.Decode(a)
	if err != nil {
		return nil, true, err
	}
	vb, err := c.values.Decode(b)
	if err != nil {
		return nil, true, err
	}
	return c.values.Append(nil, c.job.Combine(va, vb)), true, nil
}

func (c *compiled[K, V, OK, OV]) CreateOutput(tc *TaskContext, path string, opts output.Options) (PortableOutput, error) {
	w, err := output.Create[OK, OV](path, c.job.outputOptions(opts))
	if err != nil {
		return nil, err
	}
	return &portableOutput[K, V, OK, OV]{c: c, tc: tc, w: w, path: path}, nil
}

type portableOutput[K, V, OK, OV any] struct {
	c    *compiled[K, V, OK, OV]
	tc   *TaskContext
	w    output.Writer[OK, OV]
	path string
}

func (p *portableOutput[K, V, OK, OV]) Reduce(key []byte, values iter.Seq[[]byte]) error {
	k, err := p.c.keys.Decode(key)
	if err != nil {
		return fmt.Errorf("decode key %q: %w", key, err)
	}
	var derr, werr error
	typed := func(yield func(V) bool) {
		for b := range values {
			p.tc.counters[ReduceInputRecords]++
			v, err := p.c.values.Decode(b)
			if err != nil {
				derr = err
				return
			}
			if !yield(v) {
				return
			}
		}
	}
	emit := func(ok OK, ov OV) {
		if err := p.w.Write(ok, ov); err != nil && werr == nil {
			werr = fmt.Errorf("write output %s: %w", p.path, err)
		}
	}
	p.tc.counters[ReduceInputGroups]++
	if err := p.c.job.Reduce(p.tc, k, typed, emit); err != nil {
		return fmt.Errorf("reduce key %q: %w", key, err)
	}
	return errors.Join(derr, werr)
}

func (p *portableOutput[K, V, OK, OV]) Records() int64 { return p.w.Records() }
func (p *portableOutput[K, V, OK, OV]) Bytes() int64   { return p.w.Bytes() }
func (p *portableOutput[K, V, OK, OV]) Close() error {
	if err := p.w.Close(); err != nil {
		return err
	}
	p.tc.counters[ReduceOutputRecords] += p.w.Records()
	p.tc.counters[OutputBytes] += p.w.Bytes()
	return nil
}
func (p *portableOutput[K, V, OK, OV]) Abort() { p.w.Abort() }

// CheckOutputDir returns the error the local engine gives for an output
// directory that can never be one (the root, the current or home folder
// or one above them, a folder holding an input), so that another engine
// refuses the same directories.
func CheckOutputDir(dir string, inputs []input.File) error {
	out, err := resolvePath(dir)
	if err != nil {
		return fmt.Errorf("%w: output %s: %w", ErrConfig, dir, err)
	}
	return refuseOutput(dir, out, inputs)
}

// IsJobOutputFile reports whether name, an entry of an output directory,
// is a file a job writes there; --overwrite empties only directories that
// hold nothing else.
func IsJobOutputFile(name string) bool { return isJobFile(name) }
