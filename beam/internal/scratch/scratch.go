// Package scratch makes the temporary directories of a Beam job's bundles
// (a sort's spilled runs, a part on its way to an object store) and
// removes those that their bundles could not.
//
// A bundle removes its directory when it is done with it. But when a job
// fails or is cancelled (Ctrl-C on quern-beam, a cancel on the runner),
// the runner abandons the bundles it was running: in loopback mode they
// are goroutines of the launcher, which returns and exits; in a worker
// process, the worker exits. Either way the bundle's clean-up never runs,
// and each abandoned sort left its runs in /tmp. So every directory is
// made here, under the id of the job's run, and the launcher removes its
// run's directories when the pipeline ends (Abandon), a worker every
// directory it still has when it exits (RemoveAll).
package scratch

import (
	"fmt"
	"os"
	"sync"
)

var (
	mu sync.Mutex
	// live holds the directories not yet removed, by run.
	live = map[string]map[string]bool{}
	// ended holds the runs that were abandoned: a bundle of theirs that
	// is still going gets no new directory.
	ended = map[string]bool{}
)

// MkdirTemp makes a new directory in parent ("" = os.TempDir()), named
// after pattern as by os.MkdirTemp, for a bundle of run.
func MkdirTemp(run, parent, pattern string) (string, error) {
	mu.Lock()
	defer mu.Unlock()
	if ended[run] {
		return "", fmt.Errorf("temporary directory: job run %s has ended", run)
	}
	dir, err := os.MkdirTemp(parent, pattern)
	if err != nil {
		return "", err
	}
	if live[run] == nil {
		live[run] = map[string]bool{}
	}
	live[run][dir] = true
	return dir, nil
}

// Remove removes a directory made by MkdirTemp, and what it holds.
func Remove(run, dir string) error {
	mu.Lock()
	delete(live[run], dir)
	if len(live[run]) == 0 {
		delete(live, run)
	}
	mu.Unlock()
	return os.RemoveAll(dir)
}

// Abandon removes every directory that run's bundles still have in this
// process, and refuses them new ones: the launcher calls it when the
// pipeline has ended, successfully or not.
func Abandon(run string) {
	mu.Lock()
	ended[run] = true
	dirs := live[run]
	delete(live, run)
	mu.Unlock()
	for dir := range dirs {
		removeDir(dir)
	}
}

// Ended reports whether run was abandoned (Abandon) in this process: its
// launcher has given up on it, and may have removed its output already.
func Ended(run string) bool {
	mu.Lock()
	defer mu.Unlock()
	return ended[run]
}

// RemoveAll removes every directory made in this process that is still
// there: a worker calls it on its way out.
func RemoveAll() {
	mu.Lock()
	runs := live
	live = map[string]map[string]bool{}
	for run := range runs {
		ended[run] = true
	}
	mu.Unlock()
	for _, dirs := range runs {
		for dir := range dirs {
			removeDir(dir)
		}
	}
}

// removeDir removes an abandoned bundle's directory. The bundle may still
// be writing into it (a runner stops a bundle at its next element, not at
// once; a sort with a small buffer spills a file every few records), and a
// file it makes while os.RemoveAll runs fails the removal of the
// directory: retried in place five times, the removal still lost to a
// writer making files in a loop within a few rounds of
// TestAbandonWhileABundleWrites (every one of 20 runs failed), and
// beamjob's TestCancelledJobLeavesNoSortRuns found a sort's directory
// left in 1 run of 49. So the directory is renamed aside
// first: the bundle makes its files by path, and its next one fails since
// the directory of that path is gone, while the renamed one gets no new
// files. Where the rename fails (Windows refuses it while a file inside is
// open), the directory is removed in place, a few times.
func removeDir(dir string) {
	if aside := dir + ".abandoned"; os.Rename(dir, aside) == nil {
		dir = aside
	}
	for range 5 {
		if err := os.RemoveAll(dir); err == nil {
			return
		}
	}
}
