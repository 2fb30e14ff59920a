package driver

import (
	"encoding/json"
	"fmt"

	"github.com/quern-dev/quern/internal/sched"
	"github.com/quern-dev/quern/internal/task"
)

// Splitting a running map task: the map phase's tail.
//
// Map tasks are cut to about equal sizes, but they do not take equal time:
// a host's cores run at different speeds from moment to moment (on the
// 2-core machine the benchmarks run on, the same 64 MiB task took 437 to
// 948 ms within one job), so at the end of the map phase one worker maps
// its last task while the others idle. The scheduler then asks the
// running task with the most left to give up half of it (sched.Phase.
// Split): its attempt passes the request to its worker (exec.Task.Split),
// the task cuts its input where it is (task.GaveUp: within a plain file
// of lines, or at a later split's start), and the part it gave up joins
// the phase as a new map task (splitMap) for the idle worker. Dataflow calls this
// dynamic work rebalancing; Hadoop and Spark leave the tail to
// speculation, which runs the whole task again.
//
// The task answers before it reports its result, and the scheduler settles
// an attempt of a task being split only after the split, so a retry of the
// task reads only what it kept. Map-only jobs are not split: their parts
// follow the input's order, one per task. Nor are spool tasks, which run
// in the driver; the chunks they make are, as a plain file is.

// splitMap takes what the running attempt of map task i gave up
// (sched.Phase.Split): a cut of its input (task.GaveUp), of which the
// part after the cut becomes a new map task. A cut the driver cannot make
// is an error that fails the job: the attempt has not read what it gave
// up, and no task would.
func (d *driver) splitMap(i int, gave []byte) (func(j int) (split, kept sched.Task), error) {
	var g task.GaveUp
	if err := json.Unmarshal(gave, &g); err != nil {
		return nil, fmt.Errorf("map task %s gave up part of its input in an answer the driver cannot read (%q): %w", mapTaskID(i), gave, err)
	}
	kept, rest, ok := d.mapInput(i).CutAt(g.Split, g.At)
	if !ok {
		return nil, fmt.Errorf("map task %s gave up its input from split %d offset %d, which is not in it", mapTaskID(i), g.Split, g.At)
	}
	return func(j int) (sched.Task, sched.Task) {
		d.mu.Lock()
		defer d.mu.Unlock()
		if j != len(d.inputs) {
			panic(fmt.Sprintf("driver: split map task %d as task %d, but %d tasks are known", i, j, len(d.inputs)))
		}
		d.inputs[i] = kept
		d.inputs = append(d.inputs, rest)
		d.maps = append(d.maps, mapState{})
		if r := d.tasks[mapTaskID(i)]; r != nil {
			r.Input = kept.String()
		}
		return mapTaskOf(j, rest), mapTaskOf(i, kept)
	}, nil
}
