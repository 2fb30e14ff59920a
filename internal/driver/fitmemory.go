package driver

import (
	"fmt"
	"runtime"

	"github.com/quern-dev/quern/internal/sysmem"
	"github.com/quern-dev/quern/internal/task"
)

// A job's memory, as fitMemory counts it: the driver, and per worker its
// memory limit (workerMemory, with a combining table beside the sort
// buffer, as most jobs have) and what the limit does not cover. The
// binary's pages, about 30 MiB of a worker's RSS, are one copy for all the
// processes in a cgroup's count, so they are in driverMemory only. A sort
// over 256 MiB under a 150 MiB cgroup limit, sort buffer 24 MiB: driver
// 47 MiB RSS, largest worker 68 MiB, the group's peak 150 MiB with its
// page cache, no attempt killed.
const (
	driverMemory       = 48 << 20
	workerUncovered    = 16 << 20
	memoryLimitHeadway = 10 // percent of the limit left for the page cache and error
	// minFittedBuffer is the smallest sort buffer fitMemory chooses before
	// it takes a worker away: below it, sorts spill runs of a few MiB.
	minFittedBuffer = 8 << 20
)

// decodeCoreMemory is what each goroutine beyond the first adds to the
// driver's memory while its spool decodes a .bz2 on several
// (internal/parbzip2): its peak RSS over a 64 MiB .bz2 was 42 MiB decoding
// on one goroutine and 78-88 MiB on two (the decoder's tables, the blocks
// in flight, and the collector's headroom over them).
const decodeCoreMemory = 40 << 20

// spoolDecodeCores is how many goroutines a spool task of a job configured
// as c may decode on (input.SpoolOptions.DecodeCores): every core, or
// under a memory limit as many as the room the job leaves in it pays for,
// at least one.
func spoolDecodeCores(c Config) int {
	cores := runtime.GOMAXPROCS(0)
	limit, _, ok := memoryLimit()
	if !ok {
		return cores
	}
	spare := limit/100*(100-memoryLimitHeadway) - jobMemory(c)
	return int(max(1, min(int64(cores), 1+spare/decodeCoreMemory)))
}

// memoryLimit is sysmem.Limit; tests put a limit of their own in its place.
var memoryLimit = sysmem.Limit

// fitting says which of a Config's fields WithDefaults chose, and so
// fitMemory may change.
type fitting struct{ buffer, fanIn, workers bool }

// MemoryNote says how WithDefaults fitted the defaults to a memory limit,
// or that the values set do not fit it; "" when there was nothing to say.
// A driver of its own (package pipeline) logs it as Run does.
func (c Config) MemoryNote() string { return c.memoryNote }

// jobMemory is the memory a job configured as c needs, as the constants
// above count it: the driver, and each worker's memory limit
// (workerMemory, as for a combining job) and what that limit leaves out.
func jobMemory(c Config) int64 {
	return driverMemory + int64(c.Workers)*(workerMemory(c, true)+workerUncovered)
}

// inMiB rounds n down to whole MiB, for a size printed to a user.
func inMiB(n int64) string { return FormatSize(n / (1 << 20) * (1 << 20)) }

// fitMemory returns c with the fields fit allows made small enough for the
// job to fit in limit bytes, read from file from, and a memoryNote saying
// what it did; c as it is when the job fits. It shrinks the sort buffer and
// the merge fan-in first (smaller runs, more merge passes: slower, not
// wrong), and takes workers away only below minFittedBuffer. Where the job
// cannot fit, or the caller set the fields, the note says how much it
// needs and the job runs as set: the model is an estimate, and a refusal
// would be wrong where it errs.
//
// Without this, `quern run sort` over 256 MiB in a container of 150 MiB
// lost every attempt of its map tasks to the OOM killer ("signal:
// killed", four times over) and failed.
func (c Config) fitMemory(limit int64, from string, fit fitting) Config {
	budget := limit / 100 * (100 - memoryLimitHeadway)
	if jobMemory(c) <= budget {
		return c
	}
	was := c
	for {
		// What one worker may take, and the buffer and fan-in whose
		// SortMemory and MergeMemory come to it.
		per := (budget-driverMemory)/int64(c.Workers) - WorkerSlack - workerUncovered
		if fit.buffer {
			c.SortBuffer = min(was.SortBuffer, max(64<<10, per*2/3/(1<<20)*(1<<20)))
		}
		if fit.fanIn {
			c.MergeFanIn = int(min(int64(was.MergeFanIn), max(2, per/(2*task.RunBlockSize))))
		}
		if !fit.workers || c.Workers == 1 || !fit.buffer || c.SortBuffer >= minFittedBuffer {
			break
		}
		c.Workers--
	}
	need := jobMemory(c)
	limitText := fmt.Sprintf("this process runs under a memory limit of %s (%s)", inMiB(limit), from)
	changed := c.SortBuffer != was.SortBuffer || c.MergeFanIn != was.MergeFanIn || c.Workers != was.Workers
	switch {
	case need <= budget && changed:
		// The plan's per-worker figure counts the binary's pages in each
		// process, as RSS does; a cgroup counts them once, hence "of it".
		c.memoryNote = fmt.Sprintf("%s: %d workers, sort buffer %s, merge fan-in %d, so that the job fits, taking about %s of it (set --workers, --sort-buffer or --merge-fan-in to choose)",
			limitText, c.Workers, FormatSize(c.SortBuffer), c.MergeFanIn, inMiB(need))
	case changed:
		c.memoryNote = fmt.Sprintf("%s, and the job needs about %s even with %d workers, sort buffer %s, merge fan-in %d: workers may be killed for memory",
			limitText, inMiB(need), c.Workers, FormatSize(c.SortBuffer), c.MergeFanIn)
	default:
		c.memoryNote = fmt.Sprintf("%s, and the job needs about %s with %d workers and a sort buffer of %s: workers may be killed for memory; use fewer --workers or a smaller --sort-buffer",
			limitText, inMiB(need), c.Workers, FormatSize(c.SortBuffer))
	}
	return c
}
