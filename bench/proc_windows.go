package bench

import (
	"os/exec"

	"github.com/quern-dev/quern/internal/winjob"
)

// Windows has no process groups nor rusage; a Job Object gives both (see
// package winjob): kill terminates the job, which also dies with the
// suite, and the job counts its processes' peak memory.

// processTree is a started command in its Job Object.
type processTree struct{ tree *winjob.Tree }

func startTree(cmd *exec.Cmd) (*processTree, error) {
	t, err := winjob.New()
	if err != nil {
		return nil, err
	}
	if err := t.Start(cmd); err != nil {
		t.Close()
		return nil, err
	}
	return &processTree{t}, nil
}

func (t *processTree) kill() { _ = t.tree.Kill() }

// peakRSS is the largest peak commit of the tree's processes (see
// winjob.Tree.PeakProcessMemory for how it differs from Unix's peak RSS).
func (t *processTree) peakRSS() int64 { return t.tree.PeakProcessMemory() }

func (t *processTree) close() { t.tree.Close() }
