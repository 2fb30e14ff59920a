package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"sort"

	"github.com/quern-dev/quern/internal/sched"
	"github.com/quern-dev/quern/internal/task"
	"github.com/quern-dev/quern/mapreduce"
	"github.com/quern-dev/quern/shuffle"
)

// Lost intermediate runs (fetch failures), as in a job (docs/reliability.md,
// docs/architecture.md "Lost runs").
//
// A stage's task that finds one of its input runs missing, cut short or
// failing its checksum reports the run (task.FetchFailure, sent as data by
// a worker) instead of reading wrong data. The driver makes the run again
// from its lineage, as Spark resubmits a lost shuffle's parent stage: it
// runs the task that wrote it again (sched.Scheduler.Again), commits the
// new runs in place of the old ones (counters, runs, owners), and the
// failed attempt is retried and reads them.
//
// A read stage's task runs again from the input files. A group stage's
// task (also a loop's round) runs again from the input runs it read, which
// the driver recorded when it committed (committedTask.inputs). So that
// one lost run costs one task, a group stage's input runs are kept until
// every stage reading its output has committed (sweep), one stage more
// than the reading needs; a loop keeps one round more. An input run that is
// gone all the same (removed, since its readers' readers have committed,
// or lost too) is made again first, the same way, back to a read stage if
// need be.
//
// A state stage's step (PageRank's round) is run again from the state and
// messages it read, kept until the next step has committed (stateRun's
// older); its new messages and state replace the old ones. A state is
// often read by many steps after the one that wrote it (PageRank's graph,
// set in round 1, is read by every round), so the inputs of the step that
// wrote a lost state may be gone too: they are made again first, the same
// way, back to Build and the runs it read if need be.
//
// A run that has no record of its task (a state stage's Finish output, or
// a run reused by Resume from an earlier driver) cannot be made again: the
// pipeline fails at once with an error naming the run, and nothing is
// committed.

// taskKey names one committed task: task of stage in round (0 outside
// loops).
type taskKey struct {
	stage       *stage
	round, task int
}

// committedTask is what a committed task made and what it read: all that
// is needed to run it again.
type committedTask struct {
	result taskResult
	in     taskInputs
}

// taskInputs are the files a task of a stage that groups read: its input
// segments and, for a state stage's step, its state and the messages sent
// to it (taskSpec).
type taskInputs struct {
	segments [][]shuffle.Segment
	state    string
	messages []string
}

// remakes is the driver's record of lineage and of the runs being made
// again. Guarded by driver.mu.
type remakes struct {
	committed map[taskKey]*committedTask
	// owners is the task that wrote each run.
	owners map[string]taskKey
	// replaced maps each run made again to the runs of the remake of its
	// task (for the same collection), which stand in for it.
	replaced map[string][]runFile
	// inflight are the runs being made again, by path: a second attempt
	// reporting one waits for the first's remake.
	inflight map[string]chan struct{}
	// revived are runs made again for a collection whose readers had all
	// committed (an input of a task being remade): removed once no remake
	// is in flight.
	revived []runFile
	// released are the collections whose runs have been removed (sweep).
	released map[*collection]bool
	// loopKept are the runs each finished loop's last round read, kept
	// until the loop's result has been read.
	loopKept map[*loop][]runFile
}

func newRemakes() remakes {
	return remakes{committed: map[taskKey]*committedTask{}, owners: map[string]taskKey{},
		replaced: map[string][]runFile{}, inflight: map[string]chan struct{}{}, released: map[*collection]bool{}, loopKept: map[*loop][]runFile{}}
}

// recordCommit records a committed task's result and inputs, and the task
// as the owner of the runs (a state stage's step: the messages) it wrote.
// d.mu is held.
func (d *driver) recordCommit(k taskKey, res taskResult, in taskInputs) {
	d.lineage.committed[k] = &committedTask{result: res, in: in}
	for _, path := range made(k.stage, res) {
		d.lineage.owners[path] = k
	}
}

// made lists the files a task of stage s wrote for other tasks to read,
// which it can make again: its runs, or a state stage step's state and
// messages (its Finish's runs are not made again).
func made(s *stage, res taskResult) []string {
	var paths []string
	if s.kind == stateKind {
		if res.State != "" {
			paths = append(paths, res.State)
		}
		for _, m := range res.Messages {
			if m != "" {
				paths = append(paths, m)
			}
		}
		return paths
	}
	for _, runs := range res.Runs {
		for _, r := range runs {
			paths = append(paths, r.Path)
		}
	}
	return paths
}

// remake answers the fetch failure ff of an attempt: it makes the run
// again, or fails (sched.Fatal) if that cannot be done.
func (d *driver) remake(ctx context.Context, ff *task.FetchFailure) error {
	return d.remakeRun(ctx, ff.Run, ff.Err)
}

// remakeRun makes the run at path again (why says how it was lost), unless
// that was done already; a second caller waits for the first.
func (d *driver) remakeRun(ctx context.Context, path, why string) error {
	d.mu.Lock()
	if _, done := d.lineage.replaced[path]; done {
		d.mu.Unlock()
		return nil
	}
	if ch := d.lineage.inflight[path]; ch != nil {
		d.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
		d.mu.Lock()
		_, done := d.lineage.replaced[path]
		d.mu.Unlock()
		if !done {
			return sched.Fatal(fmt.Errorf("run %s is lost (%s) and could not be made again", path, why))
		}
		return nil
	}
	k, ok := d.lineage.owners[path]
	ct := d.lineage.committed[k]
	if !ok || ct == nil {
		d.mu.Unlock()
		return sched.Fatal(fmt.Errorf("run %s is lost (%s); no task of this run of the pipeline has a record of how to make it again", path, why))
	}
	ch := make(chan struct{})
	paths := made(k.stage, ct.result)
	for _, p := range paths {
		d.lineage.inflight[p] = ch
	}
	d.mu.Unlock()
	d.cfg.Logger.Warn("a stage's run is lost; running the task that wrote it again", "pipeline", d.p.Name,
		"task", d.schedTask(k.stage, k.round, k.task).ID, "run", path, "err", why)
	err := d.remakeTask(ctx, k, ct)
	d.mu.Lock()
	for _, p := range paths {
		delete(d.lineage.inflight, p)
	}
	close(ch)
	d.mu.Unlock()
	d.sweep()
	if err != nil {
		// Fatal outermost: the scheduler's error is then this one,
		// naming the run, not that of the task it wraps.
		return sched.Fatal(fmt.Errorf("make lost run %s (%s) again: %w", path, why, err))
	}
	return nil
}

// remakeTask runs the committed task k again and commits it in place of
// old. A group stage's task first has each input run that is gone made
// again; one that is there but bad fails the attempt, which makes it again
// (runAttempt) and retries.
func (d *driver) remakeTask(ctx context.Context, k taskKey, old *committedTask) error {
	t := d.schedTask(k.stage, k.round, k.task)
	return d.sched.Again(ctx, k.stage.name, t, func(ctx context.Context, attempt int) error {
		var redo *taskInputs
		if k.stage.kind != readStage {
			in, err := d.presentInputs(ctx, old.in)
			if err != nil {
				return err
			}
			redo = &in
		}
		return d.runAttempt(ctx, k.stage, k.round, k.task, attempt, d.stageDir(k.stage, k.round), false, redo, func(res taskResult) bool {
			// A group task's shuffle counters are the driver's, of the
			// same segments.
			for _, c := range []string{mapreduce.ShuffleBytes, LocalBytes} {
				res.Counters[c] = old.result.Counters[c]
			}
			d.replaceResult(k, old, res)
			return true
		})
	})
}

// presentInputs resolves a task's inputs through the files made again,
// and makes again each of them that is gone.
func (d *driver) presentInputs(ctx context.Context, recorded taskInputs) (taskInputs, error) {
	for {
		d.mu.Lock()
		in := taskInputs{segments: d.resolve(recorded.segments), state: d.standIn(recorded.state), messages: slices.Clone(recorded.messages)}
		for i, m := range in.messages {
			in.messages[i] = d.standIn(m)
		}
		d.mu.Unlock()
		files := append([]string{in.state}, in.messages...)
		for _, segs := range in.segments {
			for _, s := range segs {
				files = append(files, s.Path)
			}
		}
		missing := ""
		for _, f := range files {
			if _, err := os.Stat(f); f != "" && errors.Is(err, fs.ErrNotExist) {
				missing = f
				break
			}
		}
		if missing == "" {
			return in, nil
		}
		if err := d.remakeRun(ctx, missing, "removed or deleted"); err != nil {
			return in, err
		}
	}
}

// standIn returns the file that stands in for a state or message file:
// the one made again in its place, or itself. d.mu is held.
func (d *driver) standIn(path string) string {
	for now, ok := d.lineage.replaced[path]; ok && len(now) > 0; now, ok = d.lineage.replaced[path] {
		path = now[0].Path
	}
	return path
}

// resolve returns segs with every run made again replaced by the runs that
// stand in for it (each set of them once). d.mu is held.
func (d *driver) resolve(segs [][]shuffle.Segment) [][]shuffle.Segment {
	out := make([][]shuffle.Segment, len(segs))
	for i, in := range segs {
		seen := map[string]bool{}
		var expand func(s shuffle.Segment)
		expand = func(s shuffle.Segment) {
			now, ok := d.lineage.replaced[s.Path]
			if !ok {
				out[i] = append(out[i], s)
				return
			}
			if len(now) == 0 || seen[now[0].Path] {
				return
			}
			seen[now[0].Path] = true
			for _, r := range now {
				if r.PartitionRecords[s.Partition] > 0 {
					expand(shuffle.Segment{Path: r.Path, Partition: s.Partition})
				}
			}
		}
		for _, s := range in {
			expand(s)
		}
	}
	return out
}

// replaceResult commits res, a remake of task k, in place of old:
// counters and runs (in every collection's list, and as the stand-ins of
// the old ones); runAttempt then records it (recordCommit). d.mu is held.
func (d *driver) replaceResult(k taskKey, old *committedTask, res taskResult) {
	rep := &d.stages[k.stage.index]
	rep.Counters.Sub(old.result.Counters)
	d.counters.Sub(old.result.Counters)
	rep.Counters.Add(res.Counters)
	d.counters.Add(res.Counters)
	for _, path := range made(k.stage, old.result) {
		delete(d.lineage.owners, path)
	}
	if k.stage.kind == stateKind {
		d.replaceMessages(k, old.result, res)
		return
	}
	for ci, oldRuns := range old.result.Runs {
		newRuns := res.Runs[ci]
		for _, r := range oldRuns {
			d.lineage.replaced[r.Path] = newRuns
		}
		listed := false
		for c, runs := range d.runs {
			if swapped, ok := swapRuns(runs, oldRuns, newRuns); ok {
				d.runs[c], listed = swapped, true
			}
		}
		if !listed {
			// Its collection's readers have all committed: the new
			// runs only feed the remake that needed them.
			d.lineage.revived = append(d.lineage.revived, newRuns...)
		}
		removeRuns(oldRuns)
	}
}

// replaceMessages puts the messages of res, a remake of a state stage's
// step k, in place of old's in the running step's inbox (or, if that
// step has moved on, among the revived files), and its state in place of
// old's: the lost file may have been that state, and the two are made from
// the same inputs. If old's is still the partition's current state, it
// joins the files the running step replaces, which its attempts under way
// may still read; if the partition has replaced it since, the new one is
// revived, for the remake of the step after it that needs it. d.mu is
// held.
func (d *driver) replaceMessages(k taskKey, old, res taskResult) {
	st := d.state[k.stage]
	for to, m := range old.Messages {
		if m == "" || to >= len(res.Messages) || res.Messages[to] == "" {
			continue // a remake that sends otherwise: its readers fail
		}
		now := runFile{Path: res.Messages[to]}
		d.lineage.replaced[m] = []runFile{now}
		if st != nil && st.inbox != nil && st.inbox[to][k.task] == m {
			st.inbox[to][k.task] = now.Path
		} else {
			d.lineage.revived = append(d.lineage.revived, now)
		}
		os.Remove(m)
	}
	switch {
	case res.State == "":
	case old.State == "":
		// Not a state the step had set; nothing reads it.
		os.Remove(res.State)
		states.forget([]string{res.State})
	case st != nil && st.states[k.task] == old.State:
		d.lineage.replaced[old.State] = []runFile{{Path: res.State}}
		st.states[k.task] = res.State
		st.stale = append(st.stale, old.State)
	default:
		// Replaced since: only a remake of the step after it reads it.
		d.lineage.replaced[old.State] = []runFile{{Path: res.State}}
		d.lineage.revived = append(d.lineage.revived, runFile{Path: res.State})
		os.Remove(old.State)
		states.forget([]string{old.State})
	}
}

// swapRuns replaces old's runs in runs by new, where the first of them
// was; ok is false if runs holds none of them.
func swapRuns(runs, old, new []runFile) (_ []runFile, ok bool) {
	var out []runFile
	for _, r := range runs {
		if !slices.ContainsFunc(old, func(o runFile) bool { return o.Path == r.Path }) {
			out = append(out, r)
		} else if !ok {
			ok = true
			out = append(out, new...)
		}
	}
	return out, ok
}

// sweep removes the runs no stage will read or need to make again: a
// collection whose readers have all committed, if a read stage made it
// (its runs can be made from the input files), or once every stage
// reading what its readers made has committed too; and the runs revived
// for remakes, once none is in flight.
func (d *driver) sweep() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.cfg.KeepWorkDir {
		return
	}
	for _, c := range d.p.colls {
		if d.lineage.released[c] || c.loopVar != nil || !c.stored() || !d.readersDone(c) {
			continue
		}
		if l := c.carries; l != nil {
			// A loop's initial value and result: once the loop is
			// done, and what reads its result has committed.
			kept, done := d.lineage.loopKept[l]
			if !done || d.remaining[l.init] > 0 || d.remaining[l.next] > 0 {
				continue
			}
			d.removeLocked(kept)
			delete(d.lineage.loopKept, l)
		}
		d.lineage.released[c] = true
		d.removeLocked(d.runs[c])
		delete(d.runs, c)
	}
	if len(d.lineage.inflight) == 0 {
		d.removeLocked(d.lineage.revived)
		d.lineage.revived = nil
	}
}

// readersDone reports whether c's runs may go: its readers have all
// committed and, unless a read stage made c, so have the readers of what
// they made. d.mu is held.
func (d *driver) readersDone(c *collection) bool {
	if d.remaining[c] > 0 {
		return false
	}
	if c.producer == nil || c.producer.kind == readStage {
		return true
	}
	for _, t := range c.consumers {
		for _, o := range d.p.colls {
			if o.producer == t && o.stored() && d.remaining[o] > 0 {
				return false
			}
		}
	}
	return true
}

// skipped lists the records the read stages skipped (SkipBadRecords), in
// stage and task order.
func (d *driver) skipped() []mapreduce.SkippedRecord {
	d.mu.Lock()
	defer d.mu.Unlock()
	var keys []taskKey
	for k := range d.lineage.committed {
		if k.stage.kind == readStage {
			keys = append(keys, k)
		}
	}
	sort.Slice(keys, func(i, j int) bool {
		a, b := keys[i], keys[j]
		if a.stage.index != b.stage.index {
			return a.stage.index < b.stage.index
		}
		return a.task < b.task
	})
	var all []mapreduce.SkippedRecord
	for _, k := range keys {
		all = append(all, d.lineage.committed[k].result.Skipped...)
	}
	return all
}
