package driver

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/quern-dev/quern/internal/task"
)

// TestWorkerMemoryCountsTheCombiner: a worker's memory limit is its map
// task's (the sort buffer, and half as much again for a combining table)
// or its reduce task's merge, whichever is larger, plus the slack.
func TestWorkerMemoryCountsTheCombiner(t *testing.T) {
	cfg := Config{SortBuffer: 64 << 20, MergeFanIn: 4}
	if got, want := workerMemory(cfg, false), int64(64<<20+WorkerSlack); got != want {
		t.Errorf("without a combiner: %d, want %d", got, want)
	}
	if got, want := workerMemory(cfg, true), int64(96<<20+WorkerSlack); got != want {
		t.Errorf("with a combiner: %d, want %d", got, want)
	}
	cfg.MergeFanIn = 1000 // two blocks of each of 1,000 runs outweigh both
	if got, want := workerMemory(cfg, true), int64(2000*task.RunBlockSize+WorkerSlack); got != want {
		t.Errorf("a wide merge: %d, want %d", got, want)
	}
}

// TestUserMemoryLimit checks that workers are told when their GOMEMLIMIT
// is the user's, which their reduce tasks then keep (memlimit.During
// lifts only the driver's estimate).
func TestUserMemoryLimit(t *testing.T) {
	t.Setenv("GOMEMLIMIT", "")
	if env := userMemoryLimit(); env != nil {
		t.Fatalf("no GOMEMLIMIT: worker env %q, want none", env)
	}
	t.Setenv("GOMEMLIMIT", "300MiB")
	if env := userMemoryLimit(); len(env) != 1 || env[0] != userMemoryLimitEnv+"=1" {
		t.Fatalf("GOMEMLIMIT=300MiB: worker env %q, want %s=1", env, userMemoryLimitEnv)
	}
	if got := MemoryLimit(64 << 20); got != "300MiB" {
		t.Fatalf("MemoryLimit with the user's GOMEMLIMIT = %q, want it kept", got)
	}
}

// TestPlanStoppedIsNoRefusal: a plan whose context is done (Ctrl-C while
// a big folder is listed) fails with the context's error, not as a bad
// configuration (ErrConfig, exit status 2), which a missing input still is.
func TestPlanStoppedIsNoRefusal(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "a.txt"), []byte("a line\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := Config{Inputs: []string{dir}, SplitSize: 1 << 20, Workers: 2, Reducers: 1}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := planInputs(ctx, cfg, task.JobInfo{}); !errors.Is(err, context.Canceled) || errors.Is(err, ErrConfig) {
		t.Errorf("stopped: error %v, want context.Canceled and no ErrConfig", err)
	}
	if _, err := planInputs(t.Context(), cfg, task.JobInfo{}); err != nil {
		t.Errorf("not stopped: %v", err)
	}
	cfg.Inputs = []string{filepath.Join(dir, "missing")}
	if _, err := planInputs(t.Context(), cfg, task.JobInfo{}); !errors.Is(err, ErrConfig) {
		t.Errorf("missing input: error %v, want ErrConfig", err)
	}
}
