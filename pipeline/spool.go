package pipeline

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/quern-dev/quern/input"
	jobdriver "github.com/quern-dev/quern/internal/driver"
	"github.com/quern-dev/quern/internal/sched"
)

// Spool tasks: one big compressed file on every core, in a read stage as
// in a job's map phase (internal/driver/spool.go says why this design).
//
// The plan makes a big compressed file a spool task (plan.Cut), at the
// front of its read stage's tasks. Its attempt runs in the driver: it
// decompresses the file into chunk files (input.Spool) and offers each
// chunk, as soon as it is on disk, to the stage's scheduler
// (sched.Phase.Join), which appends it to the stage's tasks as a read task
// of its own, mapped by any worker while the rest is decompressed. The
// spool task itself makes no runs. A chunk is cut at the same place by
// every attempt, so a retried spool attempt skips the chunks already
// offered (chunks). Chunks stay in the work directory until the pipeline
// ends: a lost run of a chunk's task is made again from it (remake.go).

// spoolKey names a spool task: task of read stage.
type spoolKey struct {
	stage *stage
	task  int
}

// spoolAttempt runs one attempt of spool task i of read stage s. offer
// makes chunk k, the split c, the offer the scheduler takes from join.
func (d *driver) spoolAttempt(ctx context.Context, s *stage, i, attempt int, join chan<- func(int) (sched.Task, bool),
	offer func(k int, c input.Split) func(int) (sched.Task, bool)) error {
	d.mu.Lock()
	skip := d.chunks[spoolKey{s, i}]
	d.mu.Unlock()
	a := jobdriver.SpoolAttempt{Task: d.schedTask(s, 0, i).ID, Attempt: attempt, Dir: d.spoolDir(s, i), Skip: skip,
		Heartbeat: d.heartbeat, Join: join, Offer: offer}
	return a.Run(ctx, d.cfg, d.readTask(s, i).Splits[0])
}

// spoolDir is the directory of spool task i's chunks: in the work
// directory, not the stage's, so that they outlive the stage. Attempts of
// the task, a retry or a speculative twin, write the same chunks there
// (each written aside and renamed into place).
func (d *driver) spoolDir(s *stage, i int) string {
	return filepath.Join(d.workDir.Path, "spool-"+safeName(d.schedTask(s, 0, i).ID))
}

// addChunk appends chunk k of spool task i of read stage s to the stage's
// tasks as task j, unless an earlier attempt of the spool task already
// offered it. d.mu is held.
func (d *driver) addChunk(s *stage, i, k, j int, c input.Split) bool {
	key := spoolKey{s, i}
	if k < d.chunks[key] {
		return false
	}
	d.chunks[key]++
	d.tasksMu.Lock()
	defer d.tasksMu.Unlock()
	if j != len(d.tasks[s]) {
		panic(fmt.Sprintf("pipeline: chunk of stage %s offered as task %d of %d", s.name, j, len(d.tasks[s])))
	}
	d.tasks[s] = append(d.tasks[s], input.Task{Splits: []input.Split{c}})
	return true
}

// spooledTasks is how many of stage s's tasks are spool tasks: the first
// ones of a read stage, none of another.
func (d *driver) spooledTasks(s *stage) int {
	if s.kind != readStage {
		return 0
	}
	return d.spooled[s]
}

// readTask returns task i of read stage s, and readTasks how many it has:
// chunks are appended while the stage runs.
func (d *driver) readTask(s *stage, i int) input.Task {
	d.tasksMu.Lock()
	defer d.tasksMu.Unlock()
	return d.tasks[s][i]
}

func (d *driver) readTasks(s *stage) int {
	d.tasksMu.Lock()
	defer d.tasksMu.Unlock()
	return len(d.tasks[s])
}
