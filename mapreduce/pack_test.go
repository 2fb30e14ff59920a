package mapreduce_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/quern-dev/quern/apps/wordcount"
	"github.com/quern-dev/quern/mapreduce"
)

// tinyFiles writes n files of a few hundred bytes of words into a new
// directory and returns it with the files' paths.
func tinyFiles(t *testing.T, n int) (string, []string) {
	t.Helper()
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(3, uint64(n)))
	words := []string{"the", "of", "and", "Quern", "straße", "naïve", "日本語", "zebra", "a", "I"}
	var paths []string
	for i := range n {
		var b strings.Builder
		for range 1 + rng.IntN(80) {
			b.WriteString(words[rng.IntN(len(words))])
			if rng.IntN(8) == 0 {
				b.WriteByte('\n')
			} else {
				b.WriteByte(' ')
			}
		}
		p := filepath.Join(dir, fmt.Sprintf("f%05d.txt", i))
		require.NoError(t, os.WriteFile(p, []byte(b.String()), 0o644))
		paths = append(paths, p)
	}
	return dir, paths
}

// TestThousandsOfTinyFiles: a folder of 3,000 small files is read by a few
// packed map tasks, not 3,000, on both engines, with the counts of an
// independent reference.
func TestThousandsOfTinyFiles(t *testing.T) {
	dir, paths := tinyFiles(t, 3000)
	want := referenceWordCount(t, paths)
	l := layout{workers: 2, reducers: 2, splitSize: 8 << 20, sortBuf: 1 << 20, fanIn: 64, codec: "none"}
	local, localOut := runJob(t, wordcount.Job, mapreduce.EngineLocal, []string{dir}, l, nil)
	inline, inlineOut := runJob(t, wordcount.Job, mapreduce.EngineInline, []string{dir}, l, nil)
	localParts := readParts(t, localOut, l.reducers)
	require.Equal(t, readParts(t, inlineOut, l.reducers), localParts, "local and inline engines differ")
	require.Equal(t, want, parseCounts(t, localParts))
	for _, res := range []*mapreduce.Result{local, inline} {
		require.Equal(t, 3000, res.Splits)
		require.Less(t, res.MapTasks, 30, "3,000 files of ~300 bytes fit in a few tasks")
		require.GreaterOrEqual(t, res.MapTasks, 2*l.workers, "a small input still gives every worker tasks")
		require.Equal(t, res.MapTasks, len(res.Tasks)-l.reducers)
		require.Regexp(t, `^\d+ files: .*f00000\.txt:\[0,\d+\) .* … `, res.Tasks[0].Input)
	}
}

// TestBadRecordInPackedTaskNamesItsFile: in a task of many files, a record
// on which Map fails is reported by its own file and offset, both when it
// fails the job and when it is skipped.
func TestBadRecordInPackedTaskNamesItsFile(t *testing.T) {
	dir, _ := tinyFiles(t, 200)
	bad := filepath.Join(dir, "f00123.txt")
	data, err := os.ReadFile(bad)
	require.NoError(t, err)
	data = append(data, "\nBAD record\nmore words\n"...)
	require.NoError(t, os.WriteFile(bad, data, 0o644))
	offset := int64(len(data) - len("BAD record\nmore words\n"))

	for _, engine := range []string{mapreduce.EngineLocal, mapreduce.EngineInline} {
		t.Run(engine, func(t *testing.T) {
			cfg := mapreduce.Config{
				Engine: engine, Inputs: []string{dir}, Workers: 2, Reducers: 1,
				MaxAttempts: 2, TmpDir: t.TempDir(),
			}
			cfg.Output = filepath.Join(t.TempDir(), "out")
			_, err := mapreduce.Run(context.Background(), badRecords, cfg)
			var te *mapreduce.TaskError
			require.ErrorAs(t, err, &te)
			require.Regexp(t, `^\d+ files: `, te.Input, "the task is described compactly")
			require.Contains(t, err.Error(), fmt.Sprintf("map %s:[0,%d): record at byte %d", bad, len(data), offset))

			cfg.Output, cfg.SkipBadRecords = filepath.Join(t.TempDir(), "out"), 1
			res, err := mapreduce.Run(context.Background(), badRecords, cfg)
			require.NoError(t, err)
			require.Less(t, res.MapTasks, 200)
			require.Len(t, res.Skipped, 1)
			require.Equal(t, bad, res.Skipped[0].File)
			require.Equal(t, offset, res.Skipped[0].Offset)
			summary, err := os.ReadFile(filepath.Join(cfg.Output, "_job.json"))
			require.NoError(t, err)
			var job struct {
				MapTasks int `json:"map_tasks"`
				Skipped  []struct {
					File   string
					Offset int64
				} `json:"skipped"`
			}
			require.NoError(t, json.Unmarshal(summary, &job))
			require.Equal(t, res.MapTasks, job.MapTasks)
			require.Equal(t, bad, job.Skipped[0].File)
			require.Equal(t, offset, job.Skipped[0].Offset)
		})
	}
}

// TestPlanLimits: a plan that would have absurdly many tasks or processes
// is refused with a configuration error that names the flag to change,
// before anything is allocated for it. The 1 TiB file is sparse: cut at
// 1 KiB it would be a billion splits, which the driver must never make.
func TestPlanLimits(t *testing.T) {
	dir := t.TempDir()
	huge := filepath.Join(dir, "huge.txt")
	f, err := os.Create(huge)
	require.NoError(t, err)
	require.NoError(t, f.Truncate(1<<40))
	require.NoError(t, f.Close())
	small, _ := tinyFiles(t, 300)

	for _, tc := range []struct {
		name string
		cfg  mapreduce.Config
		want string
	}{
		{"split size far too small", mapreduce.Config{Inputs: []string{huge}, SplitSize: 1 << 10},
			"cuts 1099511.6 MB in one file into 1073741824 map tasks, more than the 100000 a job may have; use --split-size 21MiB or more"},
		{"tasks × reducers", mapreduce.Config{Inputs: []string{small}, SplitSize: 2 << 10, Reducers: 100000},
			"300 map tasks × 100000 reducers is 30000000 shuffle segments"},
		{"workers", mapreduce.Config{Inputs: []string{small}, Workers: 100000},
			fmt.Sprintf("workers must be at most %d", mapreduce.MaxWorkers())},
		{"merge fan-in beyond the open-file limit", mapreduce.Config{Inputs: []string{small}, MergeFanIn: 1 << 30},
			"merge fan-in 1073741824 opens as many run files at once"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.Output = filepath.Join(t.TempDir(), "out")
			_, err := mapreduce.Plan(wordcount.Job.Name, tc.cfg)
			require.ErrorIs(t, err, mapreduce.ErrConfig)
			require.ErrorContains(t, err, tc.want)
			_, err = mapreduce.Run(context.Background(), wordcount.Job, tc.cfg)
			require.ErrorIs(t, err, mapreduce.ErrConfig)
			require.NoDirExists(t, tc.cfg.Output)
		})
	}

	// The size the error suggests is accepted.
	plan, err := mapreduce.Plan(wordcount.Job.Name, mapreduce.Config{Inputs: []string{huge}, Output: filepath.Join(t.TempDir(), "out"), SplitSize: 21 << 20})
	require.NoError(t, err)
	require.LessOrEqual(t, len(plan.Tasks), mapreduce.MaxMapTasks)
}

// TestJobMaxSplitSize: a job's MaxSplitSize grows its split size from the
// default while the input makes two map tasks per worker; a split size
// given in the Config is kept, and a job without one keeps the default.
// wordcount has one. The inputs are sparse files, which a plan does not
// read.
func TestJobMaxSplitSize(t *testing.T) {
	sparse := func(size int64) string {
		p := filepath.Join(t.TempDir(), "in.txt")
		require.NoError(t, os.WriteFile(p, nil, 0o644))
		require.NoError(t, os.Truncate(p, size))
		return p
	}
	big, small := sparse(300<<20), sparse(64<<20)
	for _, tc := range []struct {
		name      string
		job       string
		input     string
		splitSize int64
		want      int64
		tasks     int
	}{
		{"grown", wordcount.Job.Name, big, 0, 64 << 20, 5},
		{"no more than two tasks per worker", wordcount.Job.Name, small, 0, 32 << 20, 2},
		{"given", wordcount.Job.Name, big, 16 << 20, 16 << 20, 19},
		{"a job without", grepLines.Name, big, 0, mapreduce.DefaultSplitSize, 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			plan, err := mapreduce.Plan(tc.job, mapreduce.Config{Inputs: []string{tc.input}, Output: filepath.Join(t.TempDir(), "out"),
				Workers: 2, SplitSize: tc.splitSize, Params: map[string]string{"pattern": "x"}})
			require.NoError(t, err)
			require.Equal(t, tc.want, plan.Config.SplitSize)
			require.Len(t, plan.Tasks, tc.tasks)
		})
	}
}
