package memlimit

import (
	"context"
	"math"
	"runtime"
	"runtime/debug"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func setLimit(t *testing.T, limit int64) {
	t.Helper()
	old := debug.SetMemoryLimit(limit)
	t.Cleanup(func() { debug.SetMemoryLimit(old) })
}

// TestRaise checks the rule: only a thrashing interval (the collector
// over a tenth of the CPU) with the live heap near the limit raises it.
func TestRaise(t *testing.T) {
	const limit = 100 << 20
	for _, c := range []struct {
		name       string
		limit      int64
		live       int64
		gcCPU, cpu float64
		want       int64
	}{
		{"thrashing at the limit", limit, 120 << 20, 0.5, 1, 180 << 20},
		{"thrashing just under it", limit, 95 << 20, 0.2, 1, 95 << 20 / 2 * 3},
		{"collector busy, heap far below", limit, 50 << 20, 0.5, 1, limit},
		{"heap at the limit, collector quiet", limit, 120 << 20, 0.05, 1, limit},
		{"no CPU time measured", limit, 120 << 20, 0, 0, limit},
		{"no limit", math.MaxInt64, 120 << 20, 0.5, 1, math.MaxInt64},
	} {
		t.Run(c.name, func(t *testing.T) {
			setLimit(t, c.limit)
			if got := raise(c.limit, c.live, c.gcCPU, c.cpu); got != c.want || debug.SetMemoryLimit(-1) != c.want {
				t.Fatalf("raise = %d, limit in force %d; want %d", got, debug.SetMemoryLimit(-1), c.want)
			}
		})
	}
}

// held keeps the test's live data reachable across collections.
var held [][]byte

// TestFollowEndsThrashing holds twice the limit live and allocates
// garbage, so that the collector runs without pause, until follow raises
// the limit above what is held; then it checks follow stops with its
// context (goleak checks the goroutine is gone).
func TestFollowEndsThrashing(t *testing.T) {
	setLimit(t, 16<<20)
	for range 32 {
		b := make([]byte, 1<<20)
		for i := range b {
			b[i] = byte(i)
		}
		held = append(held, b)
	}
	t.Cleanup(func() { held = nil; runtime.GC() })

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { follow(ctx, 5*time.Millisecond); close(done) }()
	thrash(t, 16<<20)
	cancel()
	<-done
	if l := debug.SetMemoryLimit(-1); l < 32<<20 {
		t.Fatalf("limit %d after follow, want it above the 32 MiB held", l)
	}
}

// thrash allocates garbage until the memory limit is no longer limit,
// which the test has made too small for what it holds. A minute without
// the change fails the test rather than hang it.
func thrash(t *testing.T, limit int64) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	var sink []byte
	for debug.SetMemoryLimit(-1) == limit {
		if time.Now().After(deadline) {
			t.Fatalf("the limit stayed %d for a minute of thrashing", limit)
		}
		sink = make([]byte, 64<<10)
	}
	_ = sink
}

// TestDuringRestores checks that During puts back the limit it started
// with, after it was raised while f thrashed.
func TestDuringRestores(t *testing.T) {
	setLimit(t, 16<<20)
	raised := false
	During(5*time.Millisecond, func() {
		for range 32 {
			held = append(held, make([]byte, 1<<20))
		}
		thrash(t, 16<<20)
		raised = true
		held = nil
	})
	if !raised || debug.SetMemoryLimit(-1) != 16<<20 {
		t.Fatalf("limit %d after During (raised inside: %v), want 16 MiB back", debug.SetMemoryLimit(-1), raised)
	}
}
