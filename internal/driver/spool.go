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
	s := d.mapInput(i).Splits[0]
	dir := filepath.Join(d.workDir.Path, id, "chunks")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create chunk directory: %w", err)
	}
	d.mu.Lock()
	skip := d.chunks[i]
	d.mu.Unlock()
	first, size := plan.ChunkSizes(s, d.cfg.SplitSize, d.cfg.Workers)
	k := skip
	err := input.Spool(ctx, s, input.SpoolOptions{Dir: dir, First: first, Size: size, Skip: skip, DecodeCores: SpoolDecodeCores(d.cfg)},
		func(c input.Split, stored int64) error {
			d.heartbeat(exec.Status{TaskID: id, Attempt: attempt, Done: stored, Total: s.Len(),
				Text: fmt.Sprintf("decompressed %d chunks", k+1)})
			select {
			case d.joinMap <- d.chunkTask(chunkReady{spool: i, k: k, split: c}):
				k++
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
	if err != nil {
		return Refused(err)
	}
	d.attemptSucceeded(id, attempt, task.Counters{}, 0)
	return nil
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
