package driver

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/quern-dev/quern/internal/task"
	"github.com/quern-dev/quern/output"
)

// The driver's side of map-only jobs (Config.MapOnly; the task's side is
// internal/task's maponly.go): the check that a job can run so, and the
// commit of each map task's part file.

// checkReduce says why job cannot run with cfg's reducers, or none
// (map-only), or nil.
func checkReduce(job task.ByteJob, cfg Config) error {
	switch {
	case cfg.MapOnly:
		return checkMapOnly(job)
	case job.Info().NoReduce:
		return fmt.Errorf("%w: job %q %w", ErrConfig, job.Info().Name, task.ErrNoReduce)
	}
	return nil
}

// checkMapOnly says why job cannot run map-only, or nil.
func checkMapOnly(job task.ByteJob) error {
	name := job.Info().Name
	if job.Info().TotalOrder {
		return fmt.Errorf("%w: job %q sorts its keys across reducers (TotalOrder); a map-only job (--reducers 0) writes them unsorted", ErrConfig, name)
	}
	if _, ok := job.(task.Grouping); ok {
		return fmt.Errorf("%w: job %q sorts values within a key (SortValues); a map-only job (--reducers 0) does not group keys", ErrConfig, name)
	}
	if _, ok := job.(task.MapOnlyJob); !ok {
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
	dir := filepath.Join(d.workDir.Path, id, fmt.Sprintf("attempt-%d", attempt))
	defer os.RemoveAll(dir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create attempt directory: %w", err)
	}
	part := filepath.Join(attemptDir, name)
	res, err := d.runner.runMap(ctx, task.MapSpec{
		Job: d.name, Params: d.cfg.Params, TaskID: id, Attempt: attempt,
		Input: d.mapInput(i), SkipBadRecords: d.cfg.SkipBadRecords, Dir: dir, Compression: d.cfg.SpillCompression,
		Output: part, Format: d.outOpts,
	}, nil)
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
