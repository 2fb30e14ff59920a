package driver

import (
	"runtime"
	"testing"

	"github.com/quern-dev/quern/input"
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
