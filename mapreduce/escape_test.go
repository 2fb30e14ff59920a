package mapreduce_test

import (
	"context"
	"fmt"
	"iter"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/quern-dev/quern/mapreduce"
)

// TestEmitAfterMapReturned: a Map that hands its emit to a goroutine which
// calls it after Map returned fails loudly, naming the job and the task,
// instead of writing into a buffer that has moved on. Same for Reduce's emit
// and values iterator. The late calls are made after the job is over, from
// the test, so nothing depends on timing.
func TestEmitAfterMapReturned(t *testing.T) {
	// A job with a combiner has an emit of its own, which calls the
	// combining table directly (adapter.go); it is guarded the same.
	for _, combine := range []func(a, b int64) int64{nil, func(a, b int64) int64 { return a + b }} {
		t.Run(fmt.Sprintf("combiner=%v", combine != nil), func(t *testing.T) { testEmitAfterMapReturned(t, combine) })
	}
}

func testEmitAfterMapReturned(t *testing.T, combine func(a, b int64) int64) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.txt")
	require.NoError(t, os.WriteFile(in, []byte("a b\n"), 0o644))

	var keptEmit func(string, int64)
	var keptReduceEmit func(string, int64)
	var keptValues iter.Seq[int64]
	job := &mapreduce.Job[string, int64, string, int64]{
		Name: "test-escaping-emit",
		Map: func(_ *mapreduce.TaskContext, rec mapreduce.Record, emit func(string, int64)) error {
			keptEmit = emit
			emit("a", 1)
			return nil
		},
		Combine: combine,
		Reduce: func(_ *mapreduce.TaskContext, k string, vs iter.Seq[int64], emit func(string, int64)) error {
			keptReduceEmit, keptValues = emit, vs
			for range vs {
			}
			emit(k, 1)
			return nil
		},
	}
	_, err := mapreduce.Run(context.Background(), job, mapreduce.Config{
		Engine: mapreduce.EngineInline, Inputs: []string{in}, Output: filepath.Join(dir, "out"), Reducers: 1,
	})
	require.NoError(t, err)

	late := func(call func()) (msg any) {
		defer func() { msg = recover() }()
		call()
		return nil
	}
	got := late(func() { keptEmit("late", 1) })
	require.NotNil(t, got, "a late map emit must fail")
	require.Contains(t, got, "job test-escaping-emit, task map-00000 attempt 1: emit used after Map returned")

	got = late(func() { keptReduceEmit("late", 1) })
	require.NotNil(t, got, "a late reduce emit must fail")
	require.Contains(t, got, "job test-escaping-emit, task reduce-00000 attempt 1: emit used after Reduce returned")

	got = late(func() {
		for range keptValues {
		}
	})
	require.NotNil(t, got, "a late values iterator must fail")
	require.Contains(t, got, "the values iterator used after Reduce returned")
}

// TestEmitDuringALaterCall: an emit or values iterator kept from one call and
// used during a later call of the same task (where a goroutine's late writes
// would mix into another record's or key's output) fails loudly too. The
// kept function is called from inside the later call, on the task's own
// goroutine, so the test needs no goroutine and no timing: what it checks is
// that the function knows which call it belongs to.
func TestEmitDuringALaterCall(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.txt")
	require.NoError(t, os.WriteFile(in, []byte("a\nb\nc\n"), 0o644))

	misuse := func(call func()) (msg any) {
		defer func() { msg = recover() }()
		call()
		return nil
	}
	var mapMsg, reduceEmitMsg, valuesMsg any
	var keptEmit func(string, int64)
	var keptReduceEmit func(string, int64)
	var keptValues iter.Seq[int64]
	job := &mapreduce.Job[string, int64, string, int64]{
		Name: "test-kept-emit",
		Map: func(_ *mapreduce.TaskContext, rec mapreduce.Record, emit func(string, int64)) error {
			if keptEmit == nil {
				keptEmit = emit
			} else if mapMsg == nil {
				mapMsg = misuse(func() { keptEmit("stale", 1) })
			}
			emit(string(rec.Value), 1)
			return nil
		},
		Reduce: func(_ *mapreduce.TaskContext, k string, vs iter.Seq[int64], emit func(string, int64)) error {
			if keptReduceEmit == nil {
				keptReduceEmit, keptValues = emit, vs
			} else if reduceEmitMsg == nil {
				reduceEmitMsg = misuse(func() { keptReduceEmit("stale", 1) })
				valuesMsg = misuse(func() {
					for range keptValues {
					}
				})
			}
			var n int64
			for v := range vs {
				n += v
			}
			emit(k, n)
			return nil
		},
	}
	_, err := mapreduce.Run(context.Background(), job, mapreduce.Config{
		Engine: mapreduce.EngineInline, Inputs: []string{in}, Output: filepath.Join(dir, "out"), Reducers: 1,
	})
	require.NoError(t, err)

	require.NotNil(t, mapMsg, "a map emit kept from an earlier call must fail")
	require.Contains(t, mapMsg, "job test-kept-emit, task map-00000 attempt 1: emit used during a later Map call")
	require.NotNil(t, reduceEmitMsg, "a reduce emit kept from an earlier key must fail")
	require.Contains(t, reduceEmitMsg, "task reduce-00000 attempt 1: emit used during a later Reduce call")
	require.NotNil(t, valuesMsg, "a values iterator kept from an earlier key must fail")
	require.Contains(t, valuesMsg, "the values iterator used during a later Reduce call")
}
