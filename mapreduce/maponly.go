package mapreduce

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

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

// checkReduce says why job cannot run with cfg's reducers, or none
// (map-only), or nil.
func checkReduce(job ByteJob, cfg Config) error {
	switch {
	case cfg.MapOnly:
		return checkMapOnly(job)
	case job.Info().NoReduce:
		return fmt.Errorf("%w: job %q %w", ErrConfig, job.Info().Name, errNoReduce)
	}
	return nil
}

// checkMapOnly says why job cannot run map-only, or nil.
func checkMapOnly(job ByteJob) error {
	name := job.Info().Name
	if job.Info().TotalOrder {
		return fmt.Errorf("%w: job %q sorts its keys across reducers (TotalOrder); a map-only job (--reducers 0) writes them unsorted", ErrConfig, name)
	}
	if _, ok := job.(Grouping); ok {
		return fmt.Errorf("%w: job %q sorts values within a key (SortValues); a map-only job (--reducers 0) does not group keys", ErrConfig, name)
	}
	if _, ok := job.(MapOnlyJob); !ok {
		return fmt.Errorf("%w: job %q cannot write its map output as output (it is no mapreduce.MapOnlyJob); give it reducers", ErrConfig, name)
	}
	return nil
}

// mapPartName is the name of map task i's part file in a map-only job.
func mapPartName(i int, opts output.Options) string {
	return fmt.Sprintf("part-m-%05d", i) + opts.Ext()
}

// mapOnlyAttempt runs one attempt of map task i of a map-only job and, if
// it succeeds and no other attempt of the task has committed, commits its
// part file.
func (d *driver) mapOnlyAttempt(ctx context.Context, i, attempt int) error {
	id := mapTaskID(i)
	name := mapPartName(i, d.outOpts)
	attemptDir, err := d.output.AttemptDir(id, attempt)
	if err != nil {
		return err
	}
	defer os.RemoveAll(attemptDir)
	// The mapper's own working directory (a Streaming program runs in it).
	dir := filepath.Join(d.work, id, fmt.Sprintf("attempt-%d", attempt))
	defer os.RemoveAll(dir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create attempt directory: %w", err)
	}
	part := filepath.Join(attemptDir, name)
	res, err := d.runner.runMap(ctx, mapSpec{
		Job: d.name, Params: d.cfg.Params, TaskID: id, Attempt: attempt,
		Input: d.mapInput(i), SkipBadRecords: d.cfg.SkipBadRecords, Dir: dir, Codec: d.cfg.SpillCodec,
		Output: part, Format: d.outOpts,
	})
	if err != nil {
		return err
	}
	d.attemptSucceeded(id, attempt, res.Counters, res.PeakRSS)
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.maps[i].part != "" {
		return nil // a speculative twin committed first
	}
	final, err := d.output.CommitPart(part, name)
	if err != nil {
		return err
	}
	d.maps[i] = mapState{part: final, counters: res.Counters, skipped: res.Skipped, rss: res.PeakRSS}
	d.counters.Add(res.Counters)
	d.peakRSS = max(d.peakRSS, res.PeakRSS)
	return nil
}

// mapParts lists the committed parts of a map-only job in task order.
func (d *driver) mapParts() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	var parts []string
	for _, m := range d.maps {
		if m.part != "" {
			parts = append(parts, m.part)
		}
	}
	return parts
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
func createPart(job ByteJob, tc *TaskContext, spec mapSpec) (*partFile, error) {
	mo, ok := job.(MapOnlyJob)
	if !ok {
		return nil, checkMapOnly(job)
	}
	w, err := mo.NewMapOnlyWriter(tc, spec.Output, spec.Format)
	if err != nil {
		return nil, fmt.Errorf("map %s: %w", spec.TaskID, err)
	}
	return &partFile{w: w, path: spec.Output}, nil
}

var _ mapSink = (*partFile)(nil)

// Emit writes one pair (MapOutput.Emit).
func (p *partFile) Emit(key, value []byte) {
	p.emitted++
	if p.err != nil {
		return
	}
	if err := p.w.Write(key, value); err != nil {
		p.err = fmt.Errorf("write output %s: %w", p.path, err)
	}
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

// NewMapOnlyWriter writes the typed map output pairs (K, V) in the job's
// output format, with its column names (MapOnlyJob).
func (c *compiled[K, V, OK, OV]) NewMapOnlyWriter(tc *TaskContext, path string, opts output.Options) (output.Writer[[]byte, []byte], error) {
	if c.job.SortValues != nil {
		return nil, fmt.Errorf("job %q sorts values within a key (SortValues): it cannot run map-only", c.job.Name)
	}
	w, err := output.Create[K, V](path, c.job.outputOptions(opts))
	if err != nil {
		return nil, err
	}
	return &decodingWriter[K, V]{Writer: w, key: bytesView(c.keys), value: bytesView(c.values)}, nil
}

// decodingWriter writes encoded pairs to a typed output file.
type decodingWriter[K, V any] struct {
	output.Writer[K, V]
	key   func([]byte) (K, error)
	value func([]byte) (V, error)
}

func (w *decodingWriter[K, V]) Write(key, value []byte) error {
	k, err := w.key(key)
	if err != nil {
		return fmt.Errorf("decode key: %w", err)
	}
	v, err := w.value(value)
	if err != nil {
		return fmt.Errorf("decode value: %w", err)
	}
	return w.Writer.Write(k, v)
}

// errNoReduce is the error of a job without Reduce run with reducers.
var errNoReduce = errors.New("has no Reduce: run it map-only (Config.MapOnly, --reducers 0)")
