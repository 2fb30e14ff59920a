package pipeline

import (
	"context"
	"fmt"

	"github.com/quern-dev/quern/internal/sched"
	"github.com/quern-dev/quern/internal/task"
	"github.com/quern-dev/quern/mapreduce"
)

// Lost intermediate runs (fetch failures), as in a job (docs/reliability.md).
//
// A group stage's task that finds one of its input runs missing, cut short
// or failing its checksum reports the run (task.FetchFailure, sent as data
// by a worker) instead of reading wrong data. If a read stage wrote the run,
// the driver takes back that task's commit (its counters and runs), runs it
// again from the input files (sched.Scheduler.Again) and commits the new
// runs in place of the old ones; the failed attempt is retried and reads
// them. Group attempts list their input runs under remaking's read lock, so
// none starts with the task half-replaced.
//
// A group stage's runs cannot be made again that way: the runs its task
// read are removed once every stage reading them has committed. A lost one
// fails the pipeline at once with an error naming the run and the stage
// that wrote it; nothing is committed. So does a run of a loop's round.

// runOwner is the task that wrote a run: task of stage.
type runOwner struct {
	stage *stage
	task  int
}

// remake answers the fetch failure ff of a group attempt: it runs the task
// that wrote the run again, or fails (sched.Fatal) if that cannot be done.
func (d *driver) remake(ctx context.Context, ff *task.FetchFailure) error {
	d.remaking.Lock()
	defer d.remaking.Unlock()
	d.mu.Lock()
	o, ok := d.owners[ff.Run]
	var old taskResult
	if ok && o.stage.kind == readStage {
		old = d.readResults[o.stage][o.task]
		for _, runs := range old.Runs {
			for _, r := range runs {
				delete(d.owners, r.Path)
			}
		}
	}
	d.mu.Unlock()
	switch {
	case !ok:
		// Made again already, at another attempt's report; or a loop
		// round's run, whose reader fails every attempt, naming it.
		return nil
	case o.stage.kind != readStage:
		return sched.Fatal(fmt.Errorf("run %s of stage %s is lost (%s); the task that wrote it cannot run again: the runs it read are removed",
			ff.Run, o.stage.name, ff.Err))
	}
	s, i := o.stage, o.task
	t := d.schedTask(s, 0, i)
	d.cfg.Logger.Warn("a stage's run is lost; running the task that wrote it again", "pipeline", d.p.Name, "task", t.ID, "run", ff.Run)
	return d.sched.Again(ctx, s.name, t, func(ctx context.Context, attempt int) error {
		return d.runAttempt(ctx, s, 0, i, attempt, d.stageDir(s, 0), false, func(res taskResult) bool {
			d.replaceResult(s, i, old, res)
			return true
		})
	})
}

// replaceResult commits res, a re-run of task i of read stage s, in place
// of old: counters, runs and their owners. d.mu is held.
func (d *driver) replaceResult(s *stage, i int, old, res taskResult) {
	rep := &d.stages[s.index]
	rep.Counters.Sub(old.Counters)
	d.counters.Sub(old.Counters)
	rep.Counters.Add(res.Counters)
	d.counters.Add(res.Counters)
	d.readResults[s][i] = res
	for _, c := range d.p.colls {
		if c.producer != s || !c.stored() {
			continue
		}
		if _, read := d.runs[c]; !read {
			removeRuns(res.Runs[c.index]) // every stage that reads c has committed
			continue
		}
		var runs []runFile
		for _, r := range d.readResults[s] {
			runs = append(runs, r.Runs[c.index]...)
		}
		d.runs[c] = runs
		for _, r := range res.Runs[c.index] {
			d.owners[r.Path] = runOwner{stage: s, task: i}
		}
	}
	for _, runs := range old.Runs {
		removeRuns(runs)
	}
}

// skipped lists the records the read stages skipped (SkipBadRecords), in
// stage and task order.
func (d *driver) skipped() []mapreduce.SkippedRecord {
	d.mu.Lock()
	defer d.mu.Unlock()
	var all []mapreduce.SkippedRecord
	for _, s := range d.p.stages {
		for _, r := range d.readResults[s] {
			all = append(all, r.Skipped...)
		}
	}
	return all
}
