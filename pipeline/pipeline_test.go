package pipeline_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/quern-dev/quern/internal/commit"
	"github.com/quern-dev/quern/mapreduce"
	"github.com/quern-dev/quern/pipeline"
)

// TestMain doubles as the worker entry point of the local engine.
func TestMain(m *testing.M) {
	mapreduce.Main()
	if spec := os.Getenv(driverEnv); spec != "" {
		runDriver(spec) // a pipeline driver for TestResume to kill
		os.Exit(0)
	}
	goleak.VerifyTestMain(m)
}

// words is word count then "words by count": count, a fused map that makes
// the count the key, and a stage that groups words by count. With the
// parameter fail=STAGE, that stage fails on every attempt.
var words = pipeline.Register("test-words", "word count, then words by count",
	[]mapreduce.Param{{Name: "fail", Usage: "stage that fails"}}, func(p *pipeline.Pipeline) {
		split := pipeline.Read(p, "split", func(tc *mapreduce.TaskContext, rec mapreduce.Record, emit func(string, int64)) error {
			for _, w := range bytes.Fields(rec.Value) {
				emit(string(w), 1)
			}
			return nil
		})
		counts := pipeline.ReduceByKey(split, "count", func(tc *mapreduce.TaskContext, w string, ones iter.Seq[int64], emit func(int64)) error {
			if tc.Param("fail") == "count" {
				return errors.New("count fails on purpose")
			}
			blockIn(tc, "count")
			var n int64
			for one := range ones {
				n += one
			}
			emit(n)
			return nil
		})
		// A stage that groups counts by word again: its input is
		// co-partitioned, so it reads without a shuffle.
		same := pipeline.ReduceByKey(counts, "same", func(tc *mapreduce.TaskContext, w string, ns iter.Seq[int64], emit func(int64)) error {
			blockIn(tc, "same")
			for n := range ns {
				emit(n)
			}
			return nil
		})
		byCount := pipeline.Map(same, "invert", func(tc *mapreduce.TaskContext, w string, n int64, emit func(int64, string)) error {
			emit(n, w)
			return nil
		})
		out := pipeline.Reduce(byCount, "list", func(tc *mapreduce.TaskContext, n int64, ws iter.Seq[string], emit func(int64, string)) error {
			var all []string
			for w := range ws {
				all = append(all, w)
			}
			slices.Sort(all)
			emit(n, strings.Join(all, ","))
			return nil
		})
		pipeline.Output(out)
	})

func writeInput(t *testing.T) (string, string) {
	t.Helper()
	in := filepath.Join(t.TempDir(), "in.txt")
	var b strings.Builder
	for i := range 3000 {
		fmt.Fprintf(&b, "w%d w%d w%d\n", i%7, i%11, i%13)
	}
	require.NoError(t, os.WriteFile(in, []byte(b.String()), 0o644))
	return in, wordsByCount([][]byte{[]byte(b.String())})
}

// wordsByCount is the words pipeline's output over texts, made here: each
// count, a tab and the words counted that often, sorted.
func wordsByCount(texts [][]byte) string {
	counts := map[string]int64{}
	for _, b := range texts {
		for _, w := range strings.Fields(string(b)) {
			counts[w]++
		}
	}
	byCount := map[int64][]string{}
	for w, n := range counts {
		byCount[n] = append(byCount[n], w)
	}
	var lines []string
	for n, ws := range byCount {
		slices.Sort(ws)
		lines = append(lines, fmt.Sprintf("%d\t%s", n, strings.Join(ws, ",")))
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}

func config(engine, in, tmp, out string, params map[string]string) mapreduce.Config {
	return mapreduce.Config{Engine: engine, Inputs: []string{in}, Output: out, Workers: 2, Reducers: 3,
		SplitSize: 8 << 10, SortBuffer: 64 << 10, TmpDir: tmp, MaxAttempts: 2, Params: params}
}

func readOutput(t *testing.T, out string) string {
	t.Helper()
	var lines []string
	for r := range 3 {
		data, err := os.ReadFile(filepath.Join(out, fmt.Sprintf("part-%05d", r)))
		require.NoError(t, err)
		lines = append(lines, strings.Split(strings.TrimSpace(string(data)), "\n")...)
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}

type stageSummary struct {
	Name     string
	Reads    []string
	Counters map[string]int64
}

func readSummary(t *testing.T, out string) (state, errText string, stages map[string]stageSummary) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(out, "_job.json"))
	require.NoError(t, err)
	var s struct {
		State, Error string
		Stages       []stageSummary
	}
	require.NoError(t, json.Unmarshal(data, &s))
	stages = map[string]stageSummary{}
	for _, st := range s.Stages {
		stages[st.Name] = st
	}
	return s.State, s.Error, stages
}

// TestPipeline runs the pipeline on both engines against the reference,
// and checks from the counters that a ByKey stage's consumer reads it
// without a shuffle (shuffle_bytes 0) and the fused map writes nothing of
// its input.
func TestPipeline(t *testing.T) {
	in, want := writeInput(t)
	for _, engine := range []string{mapreduce.EngineInline, mapreduce.EngineLocal} {
		t.Run(engine, func(t *testing.T) {
			tmp, out := t.TempDir(), filepath.Join(t.TempDir(), "out")
			res, err := words.Run(context.Background(), config(engine, in, tmp, out, nil))
			require.NoError(t, err)
			require.Equal(t, want, readOutput(t, out))
			require.Len(t, res.Parts, 3)
			_, err = os.Stat(filepath.Join(out, "_SUCCESS"))
			require.NoError(t, err)
			left, err := os.ReadDir(tmp)
			require.NoError(t, err)
			require.Empty(t, left, "intermediate runs left in %s", tmp)

			state, _, stages := readSummary(t, out)
			require.Equal(t, "succeeded", state)
			require.Positive(t, stages["count"].Counters["shuffle_bytes"], "count reads split's output through a shuffle")
			require.Zero(t, stages["same"].Counters["shuffle_bytes"], "same reads count's output without a shuffle")
			require.Positive(t, stages["same"].Counters["local_bytes"])
			require.Equal(t, []string{"count: co-partitioned, no shuffle"}, stages["same"].Reads)
			// The fused map runs in same's reducers: same's input groups
			// are the distinct words, and what list reads was written by
			// same's tasks.
			require.Equal(t, stages["same"].Counters["reduce_input_groups"], stages["list"].Counters["reduce_input_records"])
			_, hasInvert := stages["invert"]
			require.False(t, hasInvert, "a Map is not a stage")

			// The read stage's progress counts the input's bytes, as a
			// job's map phase does; the group stages' tasks have none.
			data, err := os.ReadFile(filepath.Join(out, "_job.json"))
			require.NoError(t, err)
			var report struct {
				Phases []struct {
					Name       string
					Bytes      int64
					TotalBytes int64 `json:"total_bytes"`
				}
			}
			require.NoError(t, json.Unmarshal(data, &report))
			info, err := os.Stat(in)
			require.NoError(t, err)
			for _, ph := range report.Phases {
				if ph.Name == "split" {
					require.Equal(t, info.Size(), ph.TotalBytes, "split's input bytes")
					require.Equal(t, info.Size(), ph.Bytes, "split's bytes read, once done")
				} else {
					require.Zero(t, ph.TotalBytes, ph.Name)
				}
			}
		})
	}
}

// TestProfiles checks that a pipeline writes the profiles its
// configuration asks for (--cpuprofile, --memprofile), as a job does: the
// driver's and every worker's.
func TestProfiles(t *testing.T) {
	in, _ := writeInput(t)
	tmp, out, prof := t.TempDir(), filepath.Join(t.TempDir(), "out"), t.TempDir()
	cfg := config(mapreduce.EngineLocal, in, tmp, out, nil)
	cfg.CPUProfile, cfg.MemProfile = filepath.Join(prof, "cpu"), filepath.Join(prof, "mem")
	_, err := words.Run(context.Background(), cfg)
	require.NoError(t, err)
	for _, kind := range []string{"cpu", "mem"} {
		files, err := filepath.Glob(filepath.Join(prof, kind+".*"))
		require.NoError(t, err)
		var workers int
		for _, f := range files {
			fi, err := os.Stat(f)
			require.NoError(t, err)
			require.Positive(t, fi.Size(), "%s is empty", f)
			if strings.HasPrefix(filepath.Base(f), kind+".worker-") {
				workers++
			}
		}
		require.Contains(t, files, filepath.Join(prof, kind+".driver"))
		require.Equal(t, cfg.Workers, workers, "%s profiles of workers: %v", kind, files)
	}
}

// TestStageFails checks that a failing stage fails the pipeline with an
// error naming it and its dependants, that the dependants never start, that
// no part file or intermediate run is left, and that _job.json says why.
func TestStageFails(t *testing.T) {
	in, _ := writeInput(t)
	for _, engine := range []string{mapreduce.EngineInline, mapreduce.EngineLocal} {
		t.Run(engine, func(t *testing.T) {
			tmp, out := t.TempDir(), filepath.Join(t.TempDir(), "out")
			_, err := words.Run(context.Background(), config(engine, in, tmp, out, map[string]string{"fail": "count"}))
			var se *pipeline.StageError
			require.ErrorAs(t, err, &se)
			require.Equal(t, "count", se.Stage)
			require.Equal(t, []string{"same", "list"}, se.Dependants)
			require.ErrorContains(t, err, "count fails on purpose")
			require.ErrorContains(t, err, "not run, as they depend on it: same, list")

			left, err := os.ReadDir(tmp)
			require.NoError(t, err)
			require.Empty(t, left, "intermediate runs left in %s", tmp)
			entries, err := os.ReadDir(out)
			require.NoError(t, err)
			var names []string
			for _, e := range entries {
				names = append(names, e.Name())
			}
			require.Equal(t, []string{"_job.json"}, names, "a failed pipeline leaves only its report")
			state, errText, stages := readSummary(t, out)
			require.Equal(t, "failed", state)
			require.Contains(t, errText, "stage count failed")
			require.Zero(t, stages["same"].Counters["reduce_input_groups"], "same never started")
			require.Zero(t, stages["list"].Counters["reduce_input_groups"], "list never started")
		})
	}
}

// TestStageFailsIntoHistory checks that with QUERN_HISTORY set a pipeline
// that succeeds, and one that then fails while it overwrites the first
// one's output, both leave their report in the job history, the failed
// one although the output it was to replace keeps no report of it.
func TestStageFailsIntoHistory(t *testing.T) {
	history := filepath.Join(t.TempDir(), "history")
	t.Setenv("QUERN_TEST_HISTORY", history) // QUERN_HISTORY, in a test binary
	in, _ := writeInput(t)
	tmp, out := t.TempDir(), filepath.Join(t.TempDir(), "out")
	_, err := words.Run(context.Background(), config(mapreduce.EngineInline, in, tmp, out, nil))
	require.NoError(t, err)
	cfg := config(mapreduce.EngineInline, in, tmp, out, map[string]string{"fail": "count"})
	cfg.Overwrite = true
	_, err = words.Run(context.Background(), cfg)
	require.ErrorContains(t, err, "count fails on purpose")
	state, _, _ := readSummary(t, out)
	require.Equal(t, "succeeded", state, "the failed overwrite put the finished output back")

	entries, err := os.ReadDir(history)
	require.NoError(t, err)
	var states []string
	for _, e := range entries {
		state, errText, stages := readSummary(t, filepath.Join(history, e.Name()))
		states = append(states, state)
		if state == "failed" {
			require.Contains(t, errText, "stage count failed")
			require.Contains(t, stages, "list", "the report has the pipeline's stages")
		}
	}
	require.Equal(t, []string{"succeeded", "failed"}, states, "the history's reports, oldest first")
}

// halving halves numbers round after round: --rounds of them, or until a
// round leaves no number above zero (a convergence test on a counter).
var halving = pipeline.Register("test-halving", "halve numbers until they are all zero",
	[]mapreduce.Param{{Name: "rounds", Default: "100"}}, func(p *pipeline.Pipeline) {
		numbers := pipeline.Read(p, "numbers", func(tc *mapreduce.TaskContext, rec mapreduce.Record, emit func(int64, int64)) error {
			n, err := strconv.ParseInt(string(rec.Value), 10, 64)
			emit(n, n)
			return err
		})
		halved := pipeline.Iterate("halve-loop", numbers, pipeline.Loop{
			Rounds: func(params map[string]string) (int, error) { return strconv.Atoi(params["rounds"]) },
			Until:  func(_ int, c mapreduce.Counters) bool { return c["above_zero"] == 0 },
		}, func(carried pipeline.Collection[int64, int64]) pipeline.Collection[int64, int64] {
			return pipeline.ReduceByKey(carried, "halve", func(tc *mapreduce.TaskContext, k int64, ns iter.Seq[int64], emit func(int64)) error {
				for n := range ns {
					if n/2 > 0 {
						tc.Count("above_zero", 1)
					}
					emit(n / 2)
				}
				return nil
			})
		})
		pipeline.Output(pipeline.ReduceByKey(halved, "out", func(tc *mapreduce.TaskContext, k int64, ns iter.Seq[int64], emit func(int64)) error {
			for n := range ns {
				emit(n)
			}
			return nil
		}))
	})

// TestLoop checks a loop's result against the arithmetic for 0, 1 and 3
// rounds, and that a convergence test on the round's counters ends it:
// numbers up to 1100 are all zero after 11 halvings.
func TestLoop(t *testing.T) {
	in := filepath.Join(t.TempDir(), "numbers.txt")
	var b strings.Builder
	for n := 1000; n <= 1100; n++ {
		fmt.Fprintf(&b, "%d\n", n)
	}
	require.NoError(t, os.WriteFile(in, []byte(b.String()), 0o644))
	for _, engine := range []string{mapreduce.EngineInline, mapreduce.EngineLocal} {
		for _, rounds := range []int{0, 1, 3, 100} {
			t.Run(fmt.Sprintf("%s/%d", engine, rounds), func(t *testing.T) {
				tmp, out := t.TempDir(), filepath.Join(t.TempDir(), "out")
				cfg := config(engine, in, tmp, out, map[string]string{"rounds": strconv.Itoa(rounds)})
				var mu sync.Mutex
				last := map[string]mapreduce.Progress{}
				cfg.OnProgress = func(p mapreduce.Progress) {
					mu.Lock()
					defer mu.Unlock()
					last[p.Phase] = p
				}
				_, err := halving.Run(context.Background(), cfg)
				require.NoError(t, err)
				ran := min(rounds, 11) // 1100 >> 11 == 0, and 1024 >> 10 == 1
				var want []string
				for n := 1000; n <= 1100; n++ {
					want = append(want, fmt.Sprintf("%d\t%d", n, n>>ran))
				}
				slices.Sort(want)
				require.Equal(t, strings.Join(want, "\n"), readOutput(t, out))
				_, _, stages := readSummary(t, out)
				require.Equal(t, int64(101*ran), stages["halve"].Counters["reduce_input_records"], "halve ran %d rounds", ran)
				// Progress: one phase per stage, a loop's over all its
				// rounds (a loop that converges early stops short of it).
				require.Equal(t, 3, last["out"].Done)
				require.Equal(t, 3, last["out"].Total)
				if ran > 0 {
					require.Equal(t, 3*ran, last["halve"].Done)
					require.Equal(t, 3*max(rounds, 1), last["halve"].Total)
				}
				left, err := os.ReadDir(tmp)
				require.NoError(t, err)
				require.Empty(t, left, "intermediate runs left in %s", tmp)
			})
		}
	}
}

// viewCount counts words emitted as views of a buffer that the map function
// overwrites after each emit, as a map function that saves copies does: the
// combiner must keep its own copy of every key, also when it updates one.
var viewCount = pipeline.Register("test-view-count", "count words emitted as views", nil, func(p *pipeline.Pipeline) {
	words := pipeline.Combine(pipeline.Read(p, "split", func(tc *mapreduce.TaskContext, rec mapreduce.Record, emit func(string, int64)) error {
		scratch := make([]byte, 0, 64)
		for _, w := range bytes.Fields(rec.Value) {
			scratch = append(scratch[:0], w...)
			emit(unsafe.String(unsafe.SliceData(scratch), len(scratch)), 1)
			for i := range scratch {
				scratch[i] = '#'
			}
		}
		return nil
	}), func(a, b int64) int64 { return a + b })
	pipeline.Output(pipeline.ReduceByKey(words, "count", sumCounts))
})

func TestCombineCopiesKeyViews(t *testing.T) {
	in := filepath.Join(t.TempDir(), "in.txt")
	var b strings.Builder
	for i := range 2000 {
		fmt.Fprintf(&b, "w%d w%d w%d\n", i%7, i%11, i%13)
	}
	require.NoError(t, os.WriteFile(in, []byte(b.String()), 0o644))
	counts := map[string]int{}
	for _, w := range strings.Fields(b.String()) {
		counts[w]++
	}
	var want []string
	for w, n := range counts {
		want = append(want, fmt.Sprintf("%s\t%d", w, n))
	}
	slices.Sort(want)
	tmp, out := t.TempDir(), filepath.Join(t.TempDir(), "out")
	_, err := viewCount.Run(context.Background(), config(mapreduce.EngineInline, in, tmp, out, nil))
	require.NoError(t, err)
	require.Equal(t, strings.Join(want, "\n"), readOutput(t, out))
}

// TestObjectStoreOutputRefused checks that an s3:// output, in a binary
// that links no object-store driver, is refused (exit status 2) rather than
// made a local directory named "s3:". Pipelines to object stores are tested
// in objstore/blobstore, which links the drivers.
func TestObjectStoreOutputRefused(t *testing.T) {
	in, _ := writeInput(t)
	dir := t.TempDir()
	t.Chdir(dir)
	_, err := words.Run(context.Background(), config(mapreduce.EngineInline, in, t.TempDir(), "s3://bucket/out", nil))
	require.ErrorIs(t, err, mapreduce.ErrConfig)
	require.ErrorContains(t, err, "s3://bucket/out")
	require.ErrorContains(t, err, "its drivers are not linked in")
	left, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Empty(t, left)
}

// TestOutputTakenAsAJobs checks that a pipeline takes its output directory
// through the job committer: a finished output is replaced only with
// Overwrite, an output held by another job is refused untouched, and a
// directory holding the input is never an output.
func TestOutputTakenAsAJobs(t *testing.T) {
	in, want := writeInput(t)
	out := filepath.Join(t.TempDir(), "out")
	cfg := config(mapreduce.EngineInline, in, t.TempDir(), out, nil)
	_, err := words.Run(context.Background(), cfg)
	require.NoError(t, err)

	_, err = words.Run(context.Background(), cfg)
	require.ErrorIs(t, err, mapreduce.ErrConfig)
	require.ErrorContains(t, err, "not empty")
	require.Equal(t, want, readOutput(t, out), "a refused run leaves the finished output")

	cfg.Overwrite = true
	_, err = words.Run(context.Background(), cfg)
	require.NoError(t, err)
	require.Equal(t, want, readOutput(t, out))
	require.FileExists(t, filepath.Join(out, "_SUCCESS"))

	busy := filepath.Join(t.TempDir(), "busy")
	held, err := commit.Open(busy, commit.Options{})
	require.NoError(t, err)
	_, err = words.Run(context.Background(), config(mapreduce.EngineInline, in, t.TempDir(), busy, nil))
	held.Close()
	require.ErrorIs(t, err, mapreduce.ErrConfig)
	require.ErrorContains(t, err, "in use by another quern job")
	require.DirExists(t, filepath.Join(busy, commit.TempName), "the other job's attempts are left alone")

	inDir := filepath.Dir(in)
	_, err = words.Run(context.Background(), config(mapreduce.EngineInline, in, t.TempDir(), inDir, nil))
	require.ErrorIs(t, err, mapreduce.ErrConfig)
	require.ErrorContains(t, err, "contains input file")
	require.FileExists(t, in)
}

// sumCounts is a ReduceByKey function that emits the sum of a word's
// counts, the count stage of the word-count pipelines here.
func sumCounts(_ *mapreduce.TaskContext, _ string, ns iter.Seq[int64], emit func(int64)) error {
	var n int64
	for c := range ns {
		n += c
	}
	emit(n)
	return nil
}
