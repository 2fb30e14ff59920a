package mapreduce_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/quern-dev/quern/apps/wordcount"
	"github.com/quern-dev/quern/mapreduce"
	"github.com/quern-dev/quern/output"
)

// lineOffsets is a map-only job (it has no Reduce): each line becomes the
// pair (line, byte offset). A line starting with BAD makes Map panic.
var lineOffsets = mapreduce.Register(&mapreduce.Job[string, int64, mapreduce.None, mapreduce.None]{
	Name: "test-line-offsets",
	Map: func(_ *mapreduce.TaskContext, rec mapreduce.Record, emit func(string, int64)) error {
		if bytes.HasPrefix(rec.Value, []byte("BAD")) {
			panic("cannot parse " + string(rec.Value))
		}
		emit(string(rec.Value), rec.Offset)
		return nil
	},
})

// mapOnlyInput writes lines of about width bytes, every badEvery-th (if
// positive) a bad one, and returns the file and the output lines that a
// map-only run of lineOffsets must write, counted here from the bytes.
func mapOnlyInput(t *testing.T, lines, width, badEvery int) (string, []string) {
	t.Helper()
	var b strings.Builder
	var want []string
	for i := range lines {
		line := fmt.Sprintf("line %d %s", i, strings.Repeat("abcdefghij", width/10))
		if badEvery > 0 && i%badEvery == badEvery/2 {
			line = "BAD " + line
		} else {
			want = append(want, line+"\t"+strconv.Itoa(b.Len()))
		}
		b.WriteString(line + "\n")
	}
	path := filepath.Join(t.TempDir(), "in.txt")
	require.NoError(t, os.WriteFile(path, []byte(b.String()), 0o644))
	slices.Sort(want)
	return path, want
}

// mapOnlyConfig runs map-only with several map tasks on two workers.
func mapOnlyConfig(t *testing.T, engine, in string, splitSize int64) mapreduce.Config {
	return mapreduce.Config{
		Engine: engine, Inputs: []string{in}, Output: filepath.Join(t.TempDir(), "out"),
		Workers: 2, MapOnly: true, SplitSize: splitSize, TmpDir: t.TempDir(),
	}
}

// mapOnlyLines reads every part of a map-only output, checks that each is
// in input order (no sort ran) and returns their lines, sorted.
func mapOnlyLines(t *testing.T, res *mapreduce.Result) []string {
	t.Helper()
	var all []string
	for _, p := range res.Parts {
		require.Regexp(t, `^part-m-\d{5}(\.\w+)?$`, filepath.Base(p))
		var b bytes.Buffer
		require.NoError(t, output.Cat(&b, p))
		var offsets []int64
		for line := range strings.Lines(b.String()) {
			line = strings.TrimSuffix(line, "\n")
			all = append(all, line)
			off, err := strconv.ParseInt(line[strings.LastIndexByte(line, '\t')+1:], 10, 64)
			require.NoError(t, err, line)
			offsets = append(offsets, off)
		}
		require.True(t, slices.IsSorted(offsets), "part %s is in the order its map task read the lines", p)
	}
	slices.Sort(all)
	return all
}

// requireNoShuffle checks that a map-only job had no sort, shuffle or
// reduce, in its result and in _job.json, and left no attempt's file.
func requireNoShuffle(t *testing.T, res *mapreduce.Result, cfg mapreduce.Config) {
	t.Helper()
	require.True(t, res.MapOnly)
	for _, c := range []string{mapreduce.ShuffleBytes, mapreduce.SpillFiles, mapreduce.SpilledRecords, mapreduce.ReduceInputRecords} {
		require.Zero(t, res.Counters[c], c)
	}
	require.Len(t, res.Parts, res.MapTasks, "one part per map task")
	for _, task := range res.Tasks {
		require.Equal(t, "map", task.Phase, task.ID)
	}
	data, err := os.ReadFile(filepath.Join(cfg.Output, "_job.json"))
	require.NoError(t, err)
	var summary struct {
		Phases   []struct{ Name string }
		Counters map[string]int64
		Config   map[string]any
	}
	require.NoError(t, json.Unmarshal(data, &summary))
	require.Len(t, summary.Phases, 1)
	require.Equal(t, "map", summary.Phases[0].Name)
	require.Zero(t, summary.Counters[mapreduce.ShuffleBytes])
	require.Equal(t, true, summary.Config["map_only"])
	entries, err := os.ReadDir(cfg.Output)
	require.NoError(t, err)
	for _, e := range entries {
		require.Regexp(t, `^(_SUCCESS|_job\.json|_logs|part-m-\d{5}.*)$`, e.Name(), "no attempt's file is left in the output")
	}
	assertClean(t, cfg.TmpDir)
}

func TestMapOnlyWritesMapOutputAsParts(t *testing.T) {
	in, want := mapOnlyInput(t, 3000, 20, 0)
	for _, engine := range []string{mapreduce.EngineLocal, mapreduce.EngineInline} {
		t.Run(engine, func(t *testing.T) {
			cfg := mapOnlyConfig(t, engine, in, 16<<10)
			res, err := mapreduce.Run(context.Background(), lineOffsets, cfg)
			require.NoError(t, err)
			require.Greater(t, res.MapTasks, 2)
			require.Equal(t, want, mapOnlyLines(t, res))
			require.Equal(t, int64(len(want)), res.Counters[mapreduce.MapOutputRecords])
			requireNoShuffle(t, res, cfg)
		})
	}
}

func TestMapOnlyOutputFormats(t *testing.T) {
	in, want := mapOnlyInput(t, 500, 20, 0)
	for _, format := range []string{"jsonl", "parquet", "arrow"} {
		t.Run(format, func(t *testing.T) {
			cfg := mapOnlyConfig(t, mapreduce.EngineLocal, in, 8<<10)
			cfg.OutputFormat = format
			res, err := mapreduce.Run(context.Background(), lineOffsets, cfg)
			require.NoError(t, err)
			for _, p := range res.Parts {
				require.True(t, strings.HasSuffix(p, "."+format), p)
			}
			require.Equal(t, want, mapOnlyLines(t, res))
			requireNoShuffle(t, res, cfg)
		})
	}
}

// TestMapOnlyAttemptsCommitOnce kills, fails and outruns map attempts that
// have written some or all of their part: the output still holds every
// line exactly once, since only a task's winning attempt is committed.
func TestMapOnlyAttemptsCommitOnce(t *testing.T) {
	// Lines of about 1 KB in 512 KiB splits: by the 400th record an
	// attempt has flushed its 256 KiB output buffer at least once, so a
	// kill there leaves a part half written.
	in, want := mapOnlyInput(t, 2000, 1000, 0)
	cases := map[string]struct {
		faults      string
		speculative bool
	}{
		"killed mid-write":        {faults: "map-00001/1@record:400=kill"},
		"died after writing all":  {faults: "map-00002/1@map-done=exit"},
		"error after writing all": {faults: "map-00000/1@map-done=error"},
		"speculative backup wins": {faults: "map-00001/1@record:5=hang", speculative: true},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			require.NoError(t, mapreduce.ParseFaults(c.faults))
			t.Setenv("QUERN_FAULTS", c.faults)
			cfg := mapOnlyConfig(t, mapreduce.EngineLocal, in, 512<<10)
			if c.speculative {
				cfg.Speculative, cfg.SpeculativeAfter = true, 300*time.Millisecond
			}
			res, err := mapreduce.Run(context.Background(), lineOffsets, cfg)
			require.NoError(t, err)
			require.Equal(t, want, mapOnlyLines(t, res), "every line once")
			task := regexp.MustCompile(`^map-\d+`).FindString(c.faults)
			for _, tr := range res.Tasks {
				if tr.ID == task {
					require.Len(t, tr.Attempts, 2, "%+v", tr.Attempts)
					require.NotEmpty(t, tr.Attempts[0].Error)
				}
			}
			requireNoShuffle(t, res, cfg)
		})
	}
}

func TestMapOnlySkipsBadRecords(t *testing.T) {
	in, want := mapOnlyInput(t, 3000, 20, 1000)
	for _, engine := range []string{mapreduce.EngineLocal, mapreduce.EngineInline} {
		t.Run(engine, func(t *testing.T) {
			cfg := mapOnlyConfig(t, engine, in, 16<<10)
			cfg.SkipBadRecords = 1
			res, err := mapreduce.Run(context.Background(), lineOffsets, cfg)
			require.NoError(t, err)
			require.Equal(t, want, mapOnlyLines(t, res))
			require.Len(t, res.Skipped, 3)
			data, err := os.ReadFile(in)
			require.NoError(t, err)
			for _, s := range res.Skipped {
				require.Equal(t, in, s.File)
				require.True(t, bytes.HasPrefix(data[s.Offset:], []byte("BAD")), "skipped offset %d is a bad record", s.Offset)
			}
			requireNoShuffle(t, res, cfg)
		})
	}
	// Without skipping, the failure names the task's file and range and
	// the record's offset.
	cfg := mapOnlyConfig(t, mapreduce.EngineInline, in, 1<<20)
	cfg.MaxAttempts = 1
	_, err := mapreduce.Run(context.Background(), lineOffsets, cfg)
	require.ErrorContains(t, err, in+":[0,")
	require.ErrorContains(t, err, "record at byte ")
	require.ErrorContains(t, err, "cannot parse BAD line 500")
}

func TestMapOnlyRefusals(t *testing.T) {
	in, _ := mapOnlyInput(t, 10, 20, 0)
	cases := []struct {
		name  string
		run   func(mapreduce.Config) error
		tweak func(*mapreduce.Config)
		want  string
	}{
		{"total order", runJobErr(sortLines), nil, "TotalOrder"},
		{"merge", runJobErr(wordcount.Job), func(c *mapreduce.Config) { c.Merge = true }, "merge needs reducers"},
		{"reducers too", runJobErr(wordcount.Job), func(c *mapreduce.Config) { c.Reducers = 3 }, "map-only job has no reducers"},
		{"no reduce", runJobErr(lineOffsets), func(c *mapreduce.Config) { c.MapOnly = false }, "has no Reduce: run it map-only"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := mapOnlyConfig(t, mapreduce.EngineLocal, in, 1<<20)
			if c.tweak != nil {
				c.tweak(&cfg)
			}
			err := c.run(cfg)
			require.ErrorIs(t, err, mapreduce.ErrConfig)
			require.ErrorContains(t, err, c.want)
			_, statErr := os.Stat(cfg.Output)
			require.ErrorIs(t, statErr, os.ErrNotExist, "a refused job writes nothing")
		})
	}
}

func runJobErr[K, V, OK, OV any](job *mapreduce.Job[K, V, OK, OV]) func(mapreduce.Config) error {
	return func(cfg mapreduce.Config) error {
		_, err := mapreduce.Run(context.Background(), job, cfg)
		return err
	}
}

// lineScores is a map-only job that writes (line, 1) for every line, and
// NaN, which JSON lines output cannot hold, for a line starting with BAD.
var lineScores = mapreduce.Register(&mapreduce.Job[string, float64, mapreduce.None, mapreduce.None]{
	Name: "test-line-scores",
	Map: func(_ *mapreduce.TaskContext, rec mapreduce.Record, emit func(string, float64)) error {
		score := 1.0
		if bytes.HasPrefix(rec.Value, []byte("BAD")) {
			score = math.NaN()
		}
		emit(string(rec.Value), score)
		return nil
	},
})

// TestMapOnlyWriteErrorFailsTheTask: a pair the part file cannot take fails
// its map task at once, with an error naming the output, the pair's fault
// and the record that emitted it, and the job commits nothing. A typed job
// writes its pairs to the part's typed writer itself (adapter.go,
// partEmitter), so the task layer learns of the error only from the pair's
// report (task.PartOutput.Wrote) and its check after each record.
func TestMapOnlyWriteErrorFailsTheTask(t *testing.T) {
	in, _ := mapOnlyInput(t, 1000, 20, 1000)
	data, err := os.ReadFile(in)
	require.NoError(t, err)
	bad := bytes.Index(data, []byte("BAD "))
	require.Positive(t, bad)
	for _, engine := range []string{mapreduce.EngineLocal, mapreduce.EngineInline} {
		t.Run(engine, func(t *testing.T) {
			cfg := mapOnlyConfig(t, engine, in, 16<<10)
			cfg.OutputFormat, cfg.MaxAttempts = "jsonl", 1
			_, err := mapreduce.Run(context.Background(), lineScores, cfg)
			require.ErrorContains(t, err, "value has no JSON form: NaN")
			require.Equal(t, 1, strings.Count(err.Error(), "write output "), "the part is named once: %v", err)
			require.ErrorContains(t, err, fmt.Sprintf("record at byte %d:", bad))
			_, statErr := os.Stat(filepath.Join(cfg.Output, "_SUCCESS"))
			require.ErrorIs(t, statErr, os.ErrNotExist, "a failed job commits nothing")
			parts, err := filepath.Glob(filepath.Join(cfg.Output, "part-*"))
			require.NoError(t, err)
			require.Empty(t, parts)
			assertClean(t, cfg.TmpDir)
		})
	}
}
