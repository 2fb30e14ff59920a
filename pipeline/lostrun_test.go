package pipeline_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/quern-dev/quern/mapreduce"
	"github.com/quern-dev/quern/pipeline"
)

// loseRun corrupts (flips a byte in the middle) or deletes the first run
// file matching pattern.
func loseRun(t *testing.T, pattern, action string) string {
	runs, err := filepath.Glob(pattern)
	require.NoError(t, err)
	require.NotEmpty(t, runs, "no run matches %s", pattern)
	run := runs[0]
	if action == "delete" {
		require.NoError(t, os.Remove(run))
		return run
	}
	data, err := os.ReadFile(run)
	require.NoError(t, err)
	data[len(data)/2] ^= 0xff
	require.NoError(t, os.WriteFile(run, data, 0o644))
	return run
}

// lostRun runs pl with one of its runs lost: when stage after has
// committed done tasks (0: all of them), before the stages that read its
// runs start, the first run matching runs (a pattern under the work
// directory) is corrupted or deleted (action), and then lose, if set, is
// called. It checks that a pipeline that succeeds wrote want and one that
// fails left only its report, and that no run is left behind either way.
func lostRun(t *testing.T, pl *pipeline.Pipeline, engine, in, want string, params map[string]string,
	after string, done int, runs, action string, lose func()) (_ *pipeline.Result, lost string, remakes map[string]int, _ error) {
	t.Helper()
	tmp, out := t.TempDir(), filepath.Join(t.TempDir(), "out")
	cfg := config(engine, in, tmp, out, params)
	var once sync.Once
	cfg.OnProgress = func(p mapreduce.Progress) {
		// A read stage reports its start too (Done 0), with its bytes.
		if p.Phase == after && (done > 0 && p.Done == done || done == 0 && p.Done == p.Total) {
			once.Do(func() {
				lost = loseRun(t, filepath.Join(tmp, "_quern-pipeline-*", runs), action)
				if lose != nil {
					lose()
				}
			})
		}
	}
	res, err := pl.Run(context.Background(), cfg)
	require.NotEmpty(t, lost, "no run was lost")
	if err == nil {
		require.Equal(t, want, readOutput(t, out))
	} else {
		entries, rerr := os.ReadDir(out)
		require.NoError(t, rerr)
		require.Len(t, entries, 1, "a failed pipeline leaves only its report")
	}
	left, rerr := os.ReadDir(tmp)
	require.NoError(t, rerr)
	require.Empty(t, left, "runs left in %s", tmp)
	return res, lost, extraAttempts(t, out), err
}

// extraAttempts counts, by stage, the attempts after each task's first
// in out's _job.json.
func extraAttempts(t *testing.T, out string) map[string]int {
	data, err := os.ReadFile(filepath.Join(out, "_job.json"))
	require.NoError(t, err)
	var report struct {
		Tasks []struct {
			ID       string
			Attempts []json.RawMessage
		}
	}
	require.NoError(t, json.Unmarshal(data, &report))
	extra := map[string]int{}
	for _, task := range report.Tasks {
		stage, _, _ := strings.Cut(task.ID, "-")
		extra[stage] += len(task.Attempts) - 1
	}
	return extra
}

// TestLostRunIsMadeAgain checks what a stage does with an input run that
// is corrupt or gone when it reads it (the output of a stage that has
// committed, lost between the stages), on both engines: the run is made
// again by running the task that wrote it, from the input files (a read
// stage's run) or from the runs it read (a group stage's), the output is
// right and the counters are one attempt's per task. A group stage's
// input runs are kept until the readers of its output have committed
// (same's run is made from count's runs); those gone by then are made
// again first (count's run is made from split's runs, made again from the
// input file). A run that cannot be made again fails the pipeline naming
// it, with nothing committed.
func TestLostRunIsMadeAgain(t *testing.T) {
	in, want := writeInput(t)
	clean, err := words.Run(context.Background(), config(mapreduce.EngineInline, in, t.TempDir(), filepath.Join(t.TempDir(), "out"), nil))
	require.NoError(t, err)
	for _, engine := range []string{mapreduce.EngineInline, mapreduce.EngineLocal} {
		for _, action := range []string{"corrupt", "delete"} {
			for _, c := range []struct {
				name, after, runs string
				remade, untouched []string // stages whose tasks ran again, or did not
			}{
				{"read stage's run", "split", "s00-split/*/c00-split-*.run", []string{"split"}, []string{"same", "list"}},
				// split's runs are removed once count has committed.
				{"group stage's run made from a read stage's", "count", "s01-count/*/c01-count.run", []string{"split", "count"}, []string{"list"}},
				// count's runs are kept until list has committed.
				{"group stage's run made from a group stage's", "same", "s02-same/*/c03-invert-*.run", []string{"same"}, []string{"split", "count"}},
			} {
				t.Run(engine+"/"+action+"/"+c.name, func(t *testing.T) {
					res, _, remakes, err := lostRun(t, words, engine, in, want, nil, c.after, 0, c.runs, action, nil)
					require.NoError(t, err)
					for _, s := range c.remade {
						require.Positive(t, remakes[s], "stage %s ran no task again", s)
					}
					for _, s := range c.untouched {
						require.Zero(t, remakes[s], "stage %s ran a task again", s)
					}
					// The remake's counters replace the lost attempt's.
					for i := range clean.Stages {
						require.Equal(t, clean.Stages[i].Counters, res.Stages[i].Counters, "stage %s", clean.Stages[i].Name)
					}
					require.Equal(t, clean.Counters, res.Counters)
				})
			}
			t.Run(engine+"/"+action+"/cannot be made again", func(t *testing.T) {
				// The input file goes too: split's runs, which count's
				// task needs again, cannot be made.
				gone := filepath.Join(t.TempDir(), "in.txt")
				data, err := os.ReadFile(in)
				require.NoError(t, err)
				require.NoError(t, os.WriteFile(gone, data, 0o644))
				_, lost, _, err := lostRun(t, words, engine, gone, want, nil, "count", 0, "s01-count/*/c01-count.run", action,
					func() { require.NoError(t, os.Remove(gone)) })
				require.ErrorContains(t, err, "make lost run "+lost)
				require.ErrorContains(t, err, gone)
				require.ErrorContains(t, err, "stage same failed")
			})
		}
	}
}

// TestLostLoopRunIsMadeAgain loses a run of a loop's round 1 before round
// 2 reads it, on both engines: the round's task runs again from the runs
// round 1 read, kept until round 2 has committed, and the output is right.
func TestLostLoopRunIsMadeAgain(t *testing.T) {
	in := filepath.Join(t.TempDir(), "numbers.txt")
	var b strings.Builder
	var want []string
	for n := 1000; n <= 1100; n++ {
		fmt.Fprintf(&b, "%d\n", n)
		want = append(want, fmt.Sprintf("%d\t%d", n, n>>3))
	}
	slices.Sort(want)
	require.NoError(t, os.WriteFile(in, []byte(b.String()), 0o644))
	params := map[string]string{"rounds": "3"}
	for _, engine := range []string{mapreduce.EngineInline, mapreduce.EngineLocal} {
		for _, action := range []string{"corrupt", "delete"} {
			for _, round := range []int{1, 2} {
				t.Run(fmt.Sprintf("%s/%s/round %d", engine, action, round), func(t *testing.T) {
					res, _, remakes, err := lostRun(t, halving, engine, in, strings.Join(want, "\n"), params,
						"halve", 3*round, fmt.Sprintf("s01-halve-r%03d/*/c02-halve.run", round), action, nil)
					require.NoError(t, err)
					require.Equal(t, int64(101*3), res.Stages[1].Counters[mapreduce.ReduceInputRecords])
					// Made from the runs the round read, kept.
					require.Zero(t, remakes["numbers"], "the read stage ran again")
				})
			}
		}
	}
}
