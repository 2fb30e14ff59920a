package mapreduce_test

import (
	"bytes"
	"context"
	"errors"
	"iter"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/stretchr/testify/require"

	"github.com/quern-dev/quern/bench/gen"
	"github.com/quern-dev/quern/mapreduce"
)

// heldMap holds its map task at the first record at or past the offset
// param "hold" until the file named by "release" exists, so that a test can
// look at the job's progress while the task is part done. It writes
// RELEASE.held when it starts to wait. The wait has a
// bound only so that a broken test fails instead of hanging.
var heldMap = mapreduce.Register(&mapreduce.Job[string, int64, string, int64]{
	Name:   "test-held-map",
	Params: []mapreduce.Param{{Name: "hold", Required: true}, {Name: "release", Required: true}},
	Map: func(tc *mapreduce.TaskContext, rec mapreduce.Record, emit func(string, int64)) error {
		hold, err := strconv.ParseInt(tc.Param("hold"), 10, 64)
		if err != nil {
			return err
		}
		if rec.Offset >= hold && !released.Load() {
			if err := os.WriteFile(tc.Param("release")+".held", nil, 0o644); err != nil {
				return err
			}
			for deadline := time.Now().Add(time.Minute); ; {
				if _, err := os.Stat(tc.Param("release")); err == nil {
					released.Store(true)
					break
				}
				if time.Now().After(deadline) {
					return errors.New("held a minute and never released: the driver saw no progress mid-task")
				}
				time.Sleep(10 * time.Millisecond)
			}
		}
		emit("lines", 1)
		return nil
	},
	Combine: func(a, b int64) int64 { return a + b },
	Reduce:  sumReduce,
})

// released is set in the worker once the held task has been let go.
var released atomic.Bool

// TestMapProgressMovesDuringATask runs one map task over one file, plain
// and gzipped, holds it at a third of its input, and requires the map
// phase's progress to show bytes between none and all before it ends:
// progress comes from the running task's heartbeats, in the file's stored
// (compressed) bytes, not only from tasks that ended.
func TestMapProgressMovesDuringATask(t *testing.T) {
	var text bytes.Buffer
	_, err := gen.Generate("text", &text, 16<<20, 3)
	require.NoError(t, err)
	for _, compress := range []bool{false, true} {
		name := "plain"
		if compress {
			name = "gzip"
		}
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			in := filepath.Join(dir, "in.txt")
			data := text.Bytes()
			if compress {
				in += ".gz"
				var z bytes.Buffer
				zw := gzip.NewWriter(&z)
				_, err := zw.Write(data)
				require.NoError(t, err)
				require.NoError(t, zw.Close())
				data = z.Bytes()
			}
			require.NoError(t, os.WriteFile(in, data, 0o644))
			release := filepath.Join(dir, "release")
			var mu sync.Mutex
			var seen []mapreduce.Progress
			_, err := mapreduce.Run(context.Background(), heldMap, mapreduce.Config{
				Engine: mapreduce.EngineLocal, Workers: 1, Reducers: 1, SplitSize: 1 << 30, MaxAttempts: 1,
				Inputs: []string{in}, Output: filepath.Join(dir, "out"), TmpDir: t.TempDir(),
				Params: map[string]string{"hold": strconv.Itoa(text.Len() / 3), "release": release},
				// The phase's progress is reported when it moves, so
				// the last report before the hold may be the last
				// one: once the read-ahead has filled its buffers,
				// the held task reads nothing more. Every report is
				// kept, and the task let go once it is held and one
				// showed it part done (with no task ended, Done 0),
				// or after a bound.
				OnProgress: func(p mapreduce.Progress) {
					mu.Lock()
					defer mu.Unlock()
					if p.Phase == "map" && p.Bytes > 0 && p.Bytes < p.TotalBytes {
						seen = append(seen, p)
					}
				},
				OnStart: func(func() mapreduce.JobStatus) {
					go func() {
						defer os.WriteFile(release, nil, 0o644)
						for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
							if _, err := os.Stat(release + ".held"); err != nil {
								continue
							}
							mu.Lock()
							n := len(seen)
							mu.Unlock()
							if n > 0 {
								return
							}
						}
					}()
				},
			})
			require.NoError(t, err)
			mu.Lock()
			defer mu.Unlock()
			require.NotEmpty(t, seen, "no map progress between 0 and all bytes before the held task ended")
			p := seen[0]
			require.Equal(t, 0, p.Done, "the task had not ended")
			// Held at a third of its lines: about a third of the file's
			// bytes, and for gzip of its compressed bytes (its
			// uncompressed third is 95% of the compressed size), plus
			// what the read-ahead took beyond the held line.
			t.Logf("held at %.2f of the input", float64(p.Bytes)/float64(p.TotalBytes))
			require.Less(t, p.Bytes, p.TotalBytes*7/10, "held at a third of its input: %+v", p)
		})
	}
}

// heldReduce holds its Reduce in the middle of one key's values (after the
// param "hold" values) until the file named by "release" exists, writing
// RELEASE.held when it starts to wait. Its one key has all the input's
// lines as values, as a hot key with millions of values has.
var heldReduce = mapreduce.Register(&mapreduce.Job[string, int64, string, int64]{
	Name:   "test-held-reduce",
	Params: []mapreduce.Param{{Name: "hold", Required: true}, {Name: "release", Required: true}},
	Map: func(_ *mapreduce.TaskContext, _ mapreduce.Record, emit func(string, int64)) error {
		emit("hot", 1)
		return nil
	},
	Reduce: func(tc *mapreduce.TaskContext, key string, values iter.Seq[int64], emit func(string, int64)) error {
		hold, err := strconv.ParseInt(tc.Param("hold"), 10, 64)
		if err != nil {
			return err
		}
		var n int64
		for v := range values {
			if n++; n == hold {
				if err := waitForFile(tc.Param("release")); err != nil {
					return err
				}
			}
			_ = v
		}
		emit(key, n)
		return nil
	},
})

// waitForFile writes PATH.held and waits until PATH exists. The wait has a
// bound only so that a broken test fails instead of hanging.
func waitForFile(path string) error {
	if err := os.WriteFile(path+".held", nil, 0o644); err != nil {
		return err
	}
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(10 * time.Millisecond) {
		if _, err := os.Stat(path); err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return errors.New("held a minute and never released: the driver saw no progress mid-key")
		}
	}
}

// TestReduceProgressMovesWithinAKey holds a reducer in the middle of one
// key's 60,000 values and requires its attempt's progress, as the driver
// sees it from heartbeats, to have moved past zero while it is held: the
// values read count as progress, not only the keys finished, so that a
// task timeout does not kill a reducer reading a hot key.
func TestReduceProgressMovesWithinAKey(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.txt")
	require.NoError(t, os.WriteFile(in, bytes.Repeat([]byte("x\n"), 60000), 0o644))
	release := filepath.Join(dir, "release")
	var done int64
	_, err := mapreduce.Run(context.Background(), heldReduce, mapreduce.Config{
		Engine: mapreduce.EngineLocal, Workers: 1, Reducers: 1, MaxAttempts: 1,
		Inputs: []string{in}, Output: filepath.Join(dir, "out"), TmpDir: t.TempDir(),
		Params: map[string]string{"hold": "20000", "release": release},
		OnStart: func(status func() mapreduce.JobStatus) {
			go func() {
				// Let the reducer go once it is held and the driver
				// has seen its progress, or after a bound.
				defer os.WriteFile(release, nil, 0o644)
				for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
					if _, err := os.Stat(release + ".held"); err != nil {
						continue
					}
					for _, task := range status().Tasks {
						for _, a := range task.Attempts {
							if task.Phase == "reduce" && a.State == mapreduce.AttemptRunning && a.Done > 0 {
								atomic.StoreInt64(&done, a.Done)
								return
							}
						}
					}
				}
			}()
		},
	})
	require.NoError(t, err)
	got := atomic.LoadInt64(&done)
	require.Positive(t, got, "no reduce progress while the reducer was held inside its one key")
	require.LessOrEqual(t, got, int64(20000), "held after 20,000 values")
}
