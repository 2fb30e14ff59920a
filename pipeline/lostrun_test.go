package pipeline_test

import (
	"context"
	"os"
	"path/filepath"
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

// TestLostRunIsMadeAgain checks what a group stage does with an input run
// that is corrupt or gone when it reads it (the output of a stage that has
// committed, lost between the stages), on both engines: a read stage's run
// is made again by running the task that wrote it (the output is right,
// the counters are one attempt's per task); a group stage's run cannot be,
// and the pipeline fails naming the run and the stage that wrote it, with
// nothing committed. Either way no wrong answer is committed.
func TestLostRunIsMadeAgain(t *testing.T) {
	in, want := writeInput(t)
	clean, err := words.Run(context.Background(), config(mapreduce.EngineInline, in, t.TempDir(), filepath.Join(t.TempDir(), "out"), nil))
	require.NoError(t, err)
	for _, engine := range []string{mapreduce.EngineInline, mapreduce.EngineLocal} {
		for _, action := range []string{"corrupt", "delete"} {
			// When the last task of stage after has committed, before
			// the stages that read its runs start, lose one of them.
			run := func(t *testing.T, after, runs string) (*pipeline.Result, *string, error) {
				tmp, out := t.TempDir(), filepath.Join(t.TempDir(), "out")
				cfg := config(engine, in, tmp, out, nil)
				var once sync.Once
				lost := new(string)
				cfg.OnProgress = func(p mapreduce.Progress) {
					if p.Phase == after && p.Done == p.Total {
						once.Do(func() { *lost = loseRun(t, filepath.Join(tmp, "quern-pipeline-*", runs), action) })
					}
				}
				res, err := words.Run(context.Background(), cfg)
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
				return res, lost, err
			}
			t.Run(engine+"/"+action+"/read stage's run", func(t *testing.T) {
				res, lost, err := run(t, "split", "s00-split/*/c00-split-*.run")
				require.NoError(t, err)
				require.NotEmpty(t, *lost)
				// The re-run's counters replace the lost attempt's.
				require.Equal(t, clean.Stages[0].Counters, res.Stages[0].Counters)
				require.Equal(t, clean.Counters[mapreduce.MapInputRecords], res.Counters[mapreduce.MapInputRecords])
			})
			t.Run(engine+"/"+action+"/group stage's run", func(t *testing.T) {
				_, lost, err := run(t, "count", "s01-count/*/c01-count.run")
				require.ErrorContains(t, err, "run "+*lost+" of stage count is lost")
				require.ErrorContains(t, err, "stage same failed")
			})
		}
	}
}
