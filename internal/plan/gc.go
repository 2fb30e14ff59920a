package plan

import (
	"os"
	"runtime/debug"
	"sync"
)

// planGCPercent is the garbage collector's target (GOGC) while a plan is
// made. Planning a folder allocates a little over a kilobyte a file (a
// stat's result, a directory entry, a path, the copies that sort and
// de-duplicate the list) and keeps about a quarter of it, on a heap that
// starts at 4 MiB: at GOGC=100 the collector runs over and over as the heap
// grows, taking a core's quarter and slowing the goroutines that stat
// files with its assists, while no task can start before the plan is done.
// Over 26,214 tiny files planning took 102-138 ms at 100 and 71-80 ms at
// 400 (alternated runs); over 104,857, 505-535 ms and 331-365 ms in one
// loop, 366-384 and 340-357 ms in a later one. The driver's peak RSS:
// 60 and 63 MB, 110-123 and 132-134 MB (the heap is mostly the plan
// itself, live either way).
const planGCPercent = 400

// raisedGC counts the plans being made, so that plans made side by side
// (a pipeline's stages) raise the target once and put it back once.
var raisedGC struct {
	sync.Mutex
	plans  int
	before int
}

// raiseGC sets the collector's target to planGCPercent, unless the user
// chose one (GOGC in the environment) or the process runs with a higher
// one or none, and returns the function that puts it back.
func raiseGC() (restore func()) {
	if _, chosen := os.LookupEnv("GOGC"); chosen {
		return func() {}
	}
	raisedGC.Lock()
	defer raisedGC.Unlock()
	if raisedGC.plans == 0 {
		before := debug.SetGCPercent(planGCPercent)
		if before < 0 || before >= planGCPercent {
			debug.SetGCPercent(before) // off, or already higher: leave it
			return func() {}
		}
		raisedGC.before = before
	}
	raisedGC.plans++
	return func() {
		raisedGC.Lock()
		defer raisedGC.Unlock()
		if raisedGC.plans--; raisedGC.plans == 0 {
			debug.SetGCPercent(raisedGC.before)
		}
	}
}
