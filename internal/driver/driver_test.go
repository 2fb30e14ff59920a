package driver

import (
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
