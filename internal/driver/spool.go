package driver

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/quern-dev/quern/exec"
	"github.com/quern-dev/quern/input"
	"github.com/quern-dev/quern/internal/plan"
	"github.com/quern-dev/quern/internal/sched"
	"github.com/quern-dev/quern/internal/task"
)

// Spooled map tasks: one big compressed file on every core.
//
// A compressed stream is read from its start, so a .gz file is one split,
// and a job over one big .gz would map it in one task on one core while
// the other workers idle. Instead the plan makes such a file a spool task
// (plan.Inputs): its attempt decompresses the file into chunk files in the
// job's work directory (input.Spool), and each chunk, as soon as it is on
// disk, joins the map phase as a map task of its own (addChunk), which any
// worker maps while the rest is still being decompressed. The chunks'
// records keep the .gz file's name and their offsets in its decompressed
// bytes, so errors, skipped records and reports name them as before.
//
// Why this design: a single-member gzip (what gzip and Go write, and the
// common case) has no point to start decoding at but its beginning, so
// some one reader must decompress it all; splitting at gzip members or
// zstd frames only helps the files written as many (bgzip, pigz -i,
// pzstd), and finding members means decoding anyway. Decompressing once
// and mapping the chunks on every core costs a write and a read of the
// decompressed bytes through the page cache, far less than decompressing
// them; it needs free space for them in the work directory until the job
// ends (a reducer's fetch failure may make a chunk's task run again).
//
// The spool attempt runs in the driver and holds one of the phase's slots
// meanwhile, so the driver's decompression and the other workers' mapping
// share the cores as the slots say. Running it in the driver announces a
// chunk the moment it is written, where a worker could only say so with
// its next heartbeat; the price is that the driver reads the file. A chunk
// is cut at the same place by every attempt, so a retried or speculative
// spool attempt skips the chunks already announced, and a chunk's task
// reads the same bytes whichever attempt wrote it.

// chunkReady is chunk k of spool task spool, ready to be mapped.
type chunkReady struct {
	spool, k int
	split    input.Split
}

// isSpool reports whether map task i is a spool task. Spool tasks come
// first (plan.Input.Spooled), so that decompressing starts at once.
func (d *driver) isSpool(i int) bool { return i < d.spooled }

// spoolAttempt runs one attempt of spool task i: it decompresses the file
// into chunks in the task's directory and passes each new chunk to the
// map phase's scheduler, waiting until the scheduler has taken it.
func (d *driver) spoolAttempt(ctx context.Context, i, attempt int, id string) error {
	d.mu.Lock()
	skip := d.chunks[i]
	d.mu.Unlock()
	a := SpoolAttempt{Task: id, Attempt: attempt, Dir: filepath.Join(d.workDir.Path, id, "chunks"), Skip: skip,
		Heartbeat: d.heartbeat, Join: d.joinMap,
		Offer: func(k int, c input.Split) func(int) (sched.Task, bool) {
			return d.chunkTask(chunkReady{spool: i, k: k, split: c})
		}}
	if err := a.Run(ctx, d.cfg, d.mapInput(i).Splits[0]); err != nil {
		return err
	}
	d.attemptSucceeded(id, attempt, task.Counters{}, 0)
	return nil
}

// SpoolAttempt is one attempt of a spool task, of a job's map phase or of
// a pipeline's read stage (pipeline/spool.go).
type SpoolAttempt struct {
	Task    string // the spool task's ID
	Attempt int
	// Dir holds the chunk files; Skip is how many of them an earlier
	// attempt of the task offered already.
	Dir  string
	Skip int
	// Heartbeat hears the attempt's progress, in compressed bytes read.
	Heartbeat func(exec.Status)
	// Join is the phase's sched.Phase.Join; Offer makes chunk k, split c,
	// the offer sent on it.
	Join  chan<- func(int) (sched.Task, bool)
	Offer func(k int, c input.Split) func(int) (sched.Task, bool)
}

// Run decompresses s, the spool task's whole compressed file, for a job
// or pipeline configured as cfg, and offers each chunk as it is written,
// waiting until the scheduler has taken it. An input that cannot be read
// (a corrupt file) is Refused: the job fails at once, as its map task
// would.
func (a SpoolAttempt) Run(ctx context.Context, cfg Config, s input.Split) error {
	if err := os.MkdirAll(a.Dir, 0o755); err != nil {
		return fmt.Errorf("create chunk directory: %w", err)
	}
	first, size := plan.ChunkSizes(s, cfg.SplitSize, cfg.Workers)
	k := a.Skip
	err := input.Spool(ctx, s, input.SpoolOptions{Dir: a.Dir, First: first, Size: size, Skip: a.Skip, DecodeCores: spoolDecodeCores(cfg)},
		func(c input.Split, stored int64) error {
			a.Heartbeat(exec.Status{TaskID: a.Task, Attempt: a.Attempt, Done: stored, Total: s.Len(),
				Text: fmt.Sprintf("decompressed %d chunks", k+1)})
			select {
			case a.Join <- a.Offer(k, c):
				k++
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
	return Refused(err)
}

// chunkTask is what the map phase's scheduler calls, in its goroutine, to
// make chunk c a map task (sched.Phase.Join).
func (d *driver) chunkTask(c chunkReady) func(int) (sched.Task, bool) {
	return func(int) (sched.Task, bool) {
		i, ok := d.addChunk(c)
		if !ok {
			return sched.Task{}, false
		}
		return d.mapTask(i), true
	}
}

// addChunk makes chunk c a map task, unless an earlier attempt of its
// spool task already did, and returns the task's number. Only the
// scheduler's goroutine calls it, so d.inputs changes in no other.
func (d *driver) addChunk(c chunkReady) (int, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if c.k < d.chunks[c.spool] {
		return 0, false
	}
	d.chunks[c.spool]++
	d.inputs = append(d.inputs, input.Task{Splits: []input.Split{c.split}})
	d.maps = append(d.maps, mapState{})
	return len(d.inputs) - 1, true
}

// mapInput returns map task i's input. Spooled chunks add tasks while
// attempts run, so it is read under the lock.
func (d *driver) mapInput(i int) input.Task {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.inputs[i]
}
