package mapreduce_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/quern-dev/quern/apps/wordcount"
	"github.com/quern-dev/quern/mapreduce"
)

var chaosRuns = flag.Int("chaos.runs", 20, "seeded runs of TestChaos")

// faultLayout spreads a small input over several map and reduce tasks.
// The corpus (corpus, 120 KiB) plans as 3 map tasks: a.txt in two splits,
// then its .gz and .zst parts packed together.
var faultLayout = layout{workers: 2, reducers: 3, splitSize: 24 << 10, sortBuf: 64 << 10, fanIn: 4, codec: "lz4"}

// faultInput writes the corpus once per test and returns its directory and
// the inline engine's fault-free parts: the answer every faulty run must
// reproduce byte for byte.
func faultInput(t *testing.T) (string, [][]byte) {
	t.Helper()
	dir := t.TempDir()
	corpus(t, dir, 120<<10)
	_, out := runJob(t, wordcount.Job, mapreduce.EngineInline, []string{dir}, faultLayout, nil)
	return dir, readParts(t, out, faultLayout.reducers)
}

// runWithFaults runs wordcount on the local engine with QUERN_FAULTS set.
func runWithFaults(t *testing.T, dir, faults string, tweak func(*mapreduce.Config)) (*mapreduce.Result, [][]byte) {
	t.Helper()
	require.NoError(t, mapreduce.ParseFaults(faults))
	t.Setenv("QUERN_FAULTS", faults)
	tmp, out := t.TempDir(), filepath.Join(t.TempDir(), "out")
	cfg := mapreduce.Config{
		Inputs: []string{dir}, Output: out, Workers: faultLayout.workers, Reducers: faultLayout.reducers,
		SplitSize: faultLayout.splitSize, SortBuffer: faultLayout.sortBuf, MergeFanIn: faultLayout.fanIn,
		SpillCompression: faultLayout.codec, TmpDir: tmp,
	}
	if tweak != nil {
		tweak(&cfg)
	}
	res, err := mapreduce.Run(context.Background(), wordcount.Job, cfg)
	require.NoError(t, err, "faults %q", faults)
	assertClean(t, tmp)
	return res, readParts(t, out, faultLayout.reducers)
}

func failedAttempts(res *mapreduce.Result) []string {
	var failed []string
	for _, task := range res.Tasks {
		for _, a := range task.Attempts {
			if a.Error != "" {
				failed = append(failed, fmt.Sprintf("%s/%d: %s", task.ID, a.Attempt, firstLine(a.Error)))
			}
		}
	}
	return failed
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

func TestSurvivesFaultsAtEveryPoint(t *testing.T) {
	dir, want := faultInput(t)
	points := map[string]string{
		"map-start": "map-00001", "record:100": "map-00002", "spill": "map-00000", "map-done": "map-00001",
		"reduce-start": "reduce-00001", "group:50": "reduce-00002", "commit": "reduce-00000",
	}
	for point, task := range points {
		for _, action := range []string{"kill", "exit", "panic", "error"} {
			faults := fmt.Sprintf("%s/1@%s=%s", task, point, action)
			t.Run(faults, func(t *testing.T) {
				res, got := runWithFaults(t, dir, faults, nil)
				require.Equal(t, want, got, "output differs from the fault-free run")
				failed := failedAttempts(res)
				require.Len(t, failed, 1, "exactly the injected attempt fails: %v", failed)
				require.True(t, strings.HasPrefix(failed[0], task+"/1"), failed[0])
			})
		}
	}
}

func TestLostMapOutputIsMappedAgain(t *testing.T) {
	dir, want := faultInput(t)
	for _, action := range []string{"corrupt", "delete"} {
		t.Run(action, func(t *testing.T) {
			res, got := runWithFaults(t, dir, "map-00001/1@map-done="+action, nil)
			require.Equal(t, want, got)
			var mapAttempts int
			var fetchFailures int
			for _, task := range res.Tasks {
				if task.ID == "map-00001" {
					mapAttempts = len(task.Attempts)
				}
				for _, a := range task.Attempts {
					if strings.Contains(a.Error, "bad map output") && strings.Contains(a.Error, "map-00001") {
						fetchFailures++
					}
				}
			}
			require.Equal(t, 2, mapAttempts, "the map task that lost its output runs again")
			require.Positive(t, fetchFailures, "a reducer reports the bad run")
			// Counters are those of one committed attempt per task.
			inline, _ := runJob(t, wordcount.Job, mapreduce.EngineInline, []string{dir}, faultLayout, nil)
			for _, c := range []string{mapreduce.MapInputRecords, mapreduce.MapOutputRecords, mapreduce.ReduceInputGroups} {
				require.Equal(t, inline.Counters[c], res.Counters[c], c)
			}
		})
	}
}

func TestHungTaskTimesOut(t *testing.T) {
	dir, want := faultInput(t)
	res, got := runWithFaults(t, dir, "map-00002/1@record:10=hang;reduce-00001/1@group:3=hang", func(c *mapreduce.Config) {
		// Long enough that a working task's heartbeats, on a loaded
		// machine, never leave a gap this wide.
		c.TaskTimeout = 2 * time.Second
	})
	require.Equal(t, want, got)
	failed := failedAttempts(res)
	require.Len(t, failed, 2, "%v", failed)
	for _, f := range failed {
		require.Contains(t, f, "timed out")
	}
}

func TestSpeculativeAttemptBeatsStraggler(t *testing.T) {
	dir, want := faultInput(t)
	start := time.Now()
	res, got := runWithFaults(t, dir, "map-00002/1@record:5=hang", func(c *mapreduce.Config) {
		c.Speculative = true
		c.SpeculativeAfter = 300 * time.Millisecond
	})
	require.Equal(t, want, got)
	require.Less(t, time.Since(start), 20*time.Second)
	var lost bool
	for _, task := range res.Tasks {
		if task.ID == "map-00002" {
			require.Len(t, task.Attempts, 2)
			lost = strings.Contains(task.Attempts[0].Error, "another attempt committed first")
		}
	}
	require.True(t, lost, "the straggler is killed once its backup commits: %+v", res.Tasks)
}

// slowCount is word count with a pause per record, slow enough for a test
// to kill its workers from outside while they work.
var slowCount = mapreduce.Register(&mapreduce.Job[string, int64, string, int64]{
	Name: "test-slow-count",
	Map: func(tc *mapreduce.TaskContext, rec mapreduce.Record, emit func(string, int64)) error {
		time.Sleep(time.Millisecond)
		for w := range wordcount.Words(rec.Value) {
			emit(string(w), 1)
		}
		return nil
	},
	Combine: func(a, b int64) int64 { return a + b },
	Reduce:  sumReduce,
})

func TestWorkersKilledFromOutside(t *testing.T) {
	// 3000 short lines at a millisecond each keep both workers busy with
	// map tasks for about 1.5 s; the kills below wait until a map attempt
	// has begun, so they land inside tasks (or, at worst, in a start-up,
	// which the pool survives as well).
	dir := t.TempDir()
	var lines strings.Builder
	for i := range 3000 {
		fmt.Fprintf(&lines, "the quick brown fox number%c%c\n", 'a'+i%26, 'a'+i/26%26)
	}
	path := filepath.Join(dir, "lines.txt")
	require.NoError(t, os.WriteFile(path, []byte(lines.String()), 0o644))
	want := referenceWordCount(t, []string{path})
	tmp, out := t.TempDir(), filepath.Join(t.TempDir(), "out")

	killed := make(chan int, 8)
	stop := make(chan struct{})
	go func() {
		defer close(killed)
		seen := map[int]bool{}
		for len(seen) < 2 {
			// Wait for a state, not a duration: a map attempt more than
			// the kills so far has begun, so a worker is inside a task.
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
			attempts, _ := filepath.Glob(filepath.Join(tmp, "_quern-*", "map-*", "attempt-*"))
			if len(attempts) <= len(seen) {
				continue
			}
			for _, pid := range childPids(t) {
				if !seen[pid] {
					seen[pid] = true
					if p, _ := os.FindProcess(pid); p.Kill() == nil {
						killed <- pid
					}
					break
				}
			}
		}
	}()
	res, err := mapreduce.Run(context.Background(), slowCount, mapreduce.Config{
		Inputs: []string{dir}, Output: out, Workers: 2, Reducers: 2, SplitSize: 8 << 10, TmpDir: tmp,
	})
	close(stop)
	var n int
	for range killed {
		n++
	}
	require.NoError(t, err)
	require.Positive(t, n, "the test must have killed a worker")
	t.Logf("killed %d workers; map %s, reduce %s, %d records", n, res.Timings.Map, res.Timings.Reduce, res.Counters[mapreduce.MapInputRecords])
	require.Equal(t, want, parseCounts(t, readParts(t, out, 2)))
	var died int
	for _, f := range failedAttempts(res) {
		if strings.Contains(f, "died") {
			died++
		}
	}
	require.Positive(t, died, "killed workers show up as failed attempts: %v", failedAttempts(res))
	assertClean(t, tmp)
}

var badRecords = mapreduce.Register(&mapreduce.Job[string, int64, string, int64]{
	Name: "test-bad-records",
	Map: func(_ *mapreduce.TaskContext, rec mapreduce.Record, emit func(string, int64)) error {
		emit("before", 1) // emitted before the failure: must vanish with the record
		if bytes.HasPrefix(rec.Value, []byte("BAD")) {
			panic("cannot parse " + string(rec.Value))
		}
		emit("good", 1)
		return nil
	},
	Reduce: sumReduce,
})

func TestSkipBadRecords(t *testing.T) {
	dir := t.TempDir()
	var b strings.Builder
	for i := range 3000 {
		if i%1000 == 500 {
			b.WriteString("BAD record\n")
		} else {
			fmt.Fprintf(&b, "line %d\n", i)
		}
	}
	path := filepath.Join(dir, "in.txt")
	require.NoError(t, os.WriteFile(path, []byte(b.String()), 0o644))
	for _, engine := range []string{mapreduce.EngineLocal, mapreduce.EngineInline} {
		t.Run(engine, func(t *testing.T) {
			tmp, out := t.TempDir(), filepath.Join(t.TempDir(), "out")
			res, err := mapreduce.Run(context.Background(), badRecords, mapreduce.Config{
				Engine: engine, Inputs: []string{path}, Output: out, Workers: 2, Reducers: 1,
				SplitSize: 8 << 10, SkipBadRecords: 1, TmpDir: tmp,
			})
			require.NoError(t, err)
			require.Equal(t, int64(3), res.Counters[mapreduce.SkippedRecords])
			require.Len(t, res.Skipped, 3)
			for _, s := range res.Skipped {
				data, _ := os.ReadFile(path)
				require.True(t, bytes.HasPrefix(data[s.Offset:], []byte("BAD")), "skipped offset %d is a bad record", s.Offset)
				require.Contains(t, s.Error, "cannot parse")
			}
			require.Equal(t, map[string]int64{"before": 2997, "good": 2997}, parseCounts(t, readParts(t, out, 1)))
			summary, err := os.ReadFile(filepath.Join(out, "_job.json"))
			require.NoError(t, err)
			require.Contains(t, string(summary), `"Offset"`)
			assertClean(t, tmp)
		})
	}
	// One split holding two bad records exceeds a limit of one.
	_, err := mapreduce.Run(context.Background(), badRecords, mapreduce.Config{
		Engine: mapreduce.EngineInline, Inputs: []string{path}, Output: filepath.Join(t.TempDir(), "out"),
		SplitSize: 1 << 20, SkipBadRecords: 1, MaxAttempts: 2,
	})
	require.ErrorContains(t, err, "more than 1 bad records")
}

// TestChaos runs word count under random faults, seeded so a failure can be
// replayed: `go test -run TestChaos/seed=N`. -chaos.runs=100 runs more.
func TestChaos(t *testing.T) {
	dir, want := faultInput(t)
	points := []string{"map-start", "record:7", "record:300", "spill", "map-done", "reduce-start", "group:20", "commit"}
	actions := []string{"kill", "exit", "panic", "error", "kill", "exit"}
	for seed := range *chaosRuns {
		rng := rand.New(rand.NewPCG(uint64(seed), 99))
		var faults []string
		for range 1 + rng.IntN(3) {
			point := points[rng.IntN(len(points))]
			task := fmt.Sprintf("map-%05d", rng.IntN(5))
			if strings.HasPrefix(point, "reduce") || strings.HasPrefix(point, "group") || point == "commit" {
				task = fmt.Sprintf("reduce-%05d", rng.IntN(faultLayout.reducers))
			}
			action := actions[rng.IntN(len(actions))]
			if point == "map-done" && rng.IntN(2) == 0 {
				action = "corrupt"
			}
			faults = append(faults, fmt.Sprintf("%s/%d@%s=%s", task, 1+rng.IntN(2), point, action))
		}
		plan := strings.Join(faults, ";")
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			_, got := runWithFaults(t, dir, plan, nil)
			require.Equal(t, want, got, "faults %s", plan)
		})
	}
}

// stopsOthers is a job whose task over "wait.txt" says it has started (a
// file in the folder --param marks names) and then waits for its job to
// stop, while the task over "fail.txt" waits for that file and fails: a
// job that fails while another of its tasks is running, without a timing
// to guess.
var stopsOthers = mapreduce.Register(&mapreduce.Job[string, int64, string, int64]{
	Name: "test-stops-others",
	Map: func(tc *mapreduce.TaskContext, rec mapreduce.Record, emit func(string, int64)) error {
		started := filepath.Join(tc.Param("marks"), "started")
		switch filepath.Base(rec.File) {
		case "wait.txt":
			if err := os.WriteFile(started, nil, 0o644); err != nil {
				return err
			}
			<-tc.Context().Done()
			return tc.Context().Err()
		case "fail.txt":
			for {
				if _, err := os.Stat(started); err == nil {
					return fmt.Errorf("the record at %d fails", rec.Offset)
				}
				select {
				case <-tc.Context().Done():
					return tc.Context().Err()
				case <-time.After(5 * time.Millisecond):
				}
			}
		}
		return nil
	},
	Reduce: sumReduce,
})

// TestStoppedAttemptIsKilledNotFailed: when a task fails the job, the
// attempts it stops are reported as killed ("the job stopped"), not as
// failures of their own with "context canceled" (a warning logged for
// each, and a status page with two failed tasks where one failed). The
// local engine's: the inline one runs one task at a time.
func TestStoppedAttemptIsKilledNotFailed(t *testing.T) {
	dir, marks := t.TempDir(), t.TempDir()
	for _, name := range []string{"wait.txt", "fail.txt"} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte("one line\n"), 0o644))
	}
	tmp, out := t.TempDir(), filepath.Join(t.TempDir(), "out")
	var logged bytes.Buffer
	_, err := mapreduce.Run(context.Background(), stopsOthers, mapreduce.Config{
		// A split size of one file: a task each, not packed into one.
		Inputs: []string{dir}, Output: out, Workers: 2, Reducers: 1, SplitSize: 9,
		MaxAttempts: 1, TmpDir: tmp, Params: map[string]string{"marks": marks},
		Logger: slog.New(slog.NewTextHandler(&logged, nil)),
	})
	require.ErrorContains(t, err, "the record at 0 fails")
	report, err := os.ReadFile(filepath.Join(out, "_job.json"))
	require.NoError(t, err)
	var job struct {
		Tasks []struct {
			Input    string
			Attempts []struct{ State, Error string }
		}
	}
	require.NoError(t, json.Unmarshal(report, &job))
	states, errs := map[string]string{}, map[string]string{}
	for _, task := range job.Tasks {
		require.Len(t, task.Attempts, 1, task.Input)
		file := filepath.Base(task.Input[:strings.LastIndex(task.Input, ":[")]) // PATH:[START,END), PATH maybe C:\...
		states[file], errs[file] = task.Attempts[0].State, task.Attempts[0].Error
	}
	require.Equal(t, map[string]string{"fail.txt": mapreduce.AttemptFailed, "wait.txt": mapreduce.AttemptKilled}, states)
	require.Contains(t, errs["fail.txt"], "the record at 0 fails")
	require.Equal(t, "killed: the job stopped", errs["wait.txt"])
	require.NotContains(t, logged.String(), "context canceled")
	assertClean(t, tmp)
}
