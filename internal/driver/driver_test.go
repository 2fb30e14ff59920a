package driver

import (
	"runtime"
	"testing"

	"github.com/quern-dev/quern/input"
	"github.com/quern-dev/quern/internal/task"
)

// TestMapInputReadsAheadAtTheEnd: the driver counts the map tasks left
// from the phase's progress, spooled chunks included, when it hands out a
// task's input.
func TestMapInputReadsAheadAtTheEnd(t *testing.T) {
	cores := runtime.GOMAXPROCS(0)
	d := &driver{cfg: Config{Workers: cores}}
	for range cores + 1 {
		d.inputs = append(d.inputs, input.Task{Splits: []input.Split{{End: 1}}})
	}
	if d.mapInput(0).ReadAhead {
		t.Errorf("before any progress, with %d tasks for %d workers: reads ahead", len(d.inputs), cores)
	}
	d.recordProgress(Progress{Phase: "map", Done: 0, Total: cores + 1})
	if d.mapInput(0).ReadAhead {
		t.Errorf("%d tasks left for %d workers: reads ahead", cores+1, cores)
	}
	d.recordProgress(Progress{Phase: "map", Done: 2, Total: cores + 1})
	if !d.mapInput(cores).ReadAhead {
		t.Errorf("%d tasks left for %d workers: does not read ahead", cores-1, cores)
	}
	if d.inputs[cores].ReadAhead {
		t.Error("mapInput changed the planned task")
	}
}

// TestWorkerMemoryCountsTheCombiner: a worker's memory limit is its map
// task's (the sort buffer, and half as much again for a combining table)
// or its reduce task's merge, whichever is larger, plus the slack.
func TestWorkerMemoryCountsTheCombiner(t *testing.T) {
	cfg := Config{SortBuffer: 64 << 20, MergeFanIn: 4}
	if got, want := workerMemory(cfg, false), int64(64<<20+workerSlack); got != want {
		t.Errorf("without a combiner: %d, want %d", got, want)
	}
	if got, want := workerMemory(cfg, true), int64(96<<20+workerSlack); got != want {
		t.Errorf("with a combiner: %d, want %d", got, want)
	}
	cfg.MergeFanIn = 1000 // two blocks of each of 1,000 runs outweigh both
	if got, want := workerMemory(cfg, true), int64(2000*task.RunBlockSize+workerSlack); got != want {
		t.Errorf("a wide merge: %d, want %d", got, want)
	}
}
