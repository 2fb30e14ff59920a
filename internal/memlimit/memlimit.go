// Package memlimit keeps a worker's soft memory limit above what its tasks
// hold live.
//
// The driver gives each worker a GOMEMLIMIT sized to its sort buffer or
// its merge (driver.workerMemory), so that the collector keeps a worker's
// memory near what a task needs instead of at twice its live heap. A task
// may hold more than that: a reducer over large values, a user's reduce
// function that keeps state. The runtime cannot then get under the limit:
// it collects without pause and hands every freed page back to the kernel
// at once, to fault it in again on the next allocation. invertedindex over
// 26,214 tiny files, whose postings lists are large values, spent 61 s
// reducing with its reducers at 184 MiB against a 104 MiB limit (30% of
// all samples in the kernel, a good part of it TLB flushes after the
// runtime's madvise); with a limit of 400 MiB, 10 s.
//
// During watches a reduce task for that: when the collector took over a
// tenth of the CPU time the process used in the last interval (its Ps
// busy, as runtime/metrics counts it) and the live heap is within a tenth
// of the limit, it raises the limit to 3/2 of the live heap, and puts the
// limit back when the task ends. Map tasks keep the driver's limit: their
// sort buffer is what it was computed from, and a sort's map tasks, which
// also pass that share at moments, rose from 118 to 133 MiB with it, over
// the sort buffer + 64 MiB they must stay under.
package memlimit

import (
	"context"
	"math"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// During runs f while a goroutine watches as the package comment says,
// every interval, and then sets the memory limit back to what it was when
// f began.
func During(interval time.Duration, f func()) {
	base := debug.SetMemoryLimit(-1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { follow(ctx, interval); close(done) }()
	defer func() {
		cancel()
		<-done
		debug.SetMemoryLimit(base)
	}()
	f()
}

// follow checks every interval until ctx is done.
func follow(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	samples := []metrics.Sample{
		{Name: "/cpu/classes/gc/total:cpu-seconds"},
		{Name: "/cpu/classes/total:cpu-seconds"},
		{Name: "/cpu/classes/idle:cpu-seconds"},
		{Name: "/gc/heap/live:bytes"},
	}
	var gcBefore, usedBefore float64
	for {
		metrics.Read(samples)
		gc := seconds(samples[0])
		used := seconds(samples[1]) - seconds(samples[2])
		live := int64(0)
		if samples[3].Value.Kind() == metrics.KindUint64 {
			live = int64(samples[3].Value.Uint64())
		}
		if usedBefore > 0 { // not on the first look, which has no interval
			raise(debug.SetMemoryLimit(-1), live, gc-gcBefore, used-usedBefore)
		}
		gcBefore, usedBefore = gc, used
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// raise applies the rule to a limit, a live heap, and the collector's and
// the process's CPU seconds over an interval; it returns the limit in
// force.
func raise(limit, live int64, gcCPU, usedCPU float64) int64 {
	if limit == math.MaxInt64 || usedCPU <= 0 || gcCPU < usedCPU/10 || live < limit/10*9 {
		return limit
	}
	limit = live / 2 * 3
	debug.SetMemoryLimit(limit)
	return limit
}

func seconds(s metrics.Sample) float64 {
	if s.Value.Kind() != metrics.KindFloat64 {
		return 0
	}
	return s.Value.Float64()
}
