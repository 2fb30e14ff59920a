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
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/quern-dev/quern/mapreduce"
	"github.com/quern-dev/quern/pipeline"
)

// byCount lists each count's words, as words does, but keyed by the word
// again and written in count order: its part files are not sorted by key,
// so --merge must sort them, not only merge them.
var byCount = pipeline.Register("test-by-count", "words in count order", nil, func(p *pipeline.Pipeline) {
	split := pipeline.Read(p, "split", func(tc *mapreduce.TaskContext, rec mapreduce.Record, emit func(string, int64)) error {
		for _, w := range bytes.Fields(rec.Value) {
			emit(string(w), 1)
		}
		return nil
	})
	counts := pipeline.ReduceByKey(split, "count", sumCounts)
	inverted := pipeline.Map(counts, "invert", func(tc *mapreduce.TaskContext, w string, n int64, emit func(int64, string)) error {
		emit(n, w)
		return nil
	})
	pipeline.Output(pipeline.Reduce(inverted, "list", func(tc *mapreduce.TaskContext, n int64, ws iter.Seq[string], emit func(string, int64)) error {
		all := slices.Collect(ws)
		slices.Sort(all)
		slices.Reverse(all) // against key order within a part too
		for _, w := range all {
			emit(w, n)
		}
		return nil
	}))
})

// TestMerge checks --merge (Config.Merge) on both engines: merged holds
// every output record in key order although the parts are not sorted by
// key, also when the output tasks spill several sorted runs each (a small
// sort buffer) and the driver merges them in passes (a fan-in of 2); it is
// committed beside the parts and named in the result.
func TestMerge(t *testing.T) {
	// 20000 words: more output per task than a 64 KiB sort buffer holds.
	in := filepath.Join(t.TempDir(), "in.txt")
	var b strings.Builder
	counts := map[string]int64{}
	for i := range 30000 {
		for _, w := range []string{fmt.Sprintf("x%d", i%20000), fmt.Sprintf("x%d", i%7000)} {
			b.WriteString(w + " ")
			counts[w]++
		}
		b.WriteString("\n")
	}
	require.NoError(t, os.WriteFile(in, []byte(b.String()), 0o644))
	var want []string
	for w, n := range counts {
		want = append(want, fmt.Sprintf("%s\t%d", w, n))
	}
	slices.Sort(want) // the words' order: the string key's
	for _, engine := range []string{mapreduce.EngineInline, mapreduce.EngineLocal} {
		t.Run(engine, func(t *testing.T) {
			tmp, out := t.TempDir(), filepath.Join(t.TempDir(), "out")
			cfg := config(engine, in, tmp, out, nil)
			cfg.Merge, cfg.SplitSize, cfg.MergeFanIn = true, 256<<10, 2
			res, err := byCount.Run(context.Background(), cfg)
			require.NoError(t, err)
			require.Equal(t, filepath.Join(out, "merged"), res.Merged)
			merged, err := os.ReadFile(res.Merged)
			require.NoError(t, err)
			require.True(t, string(merged) == strings.Join(want, "\n")+"\n", "merged is not every record in key order")

			var parts []string
			for _, p := range res.Parts {
				data, err := os.ReadFile(p)
				require.NoError(t, err)
				parts = append(parts, strings.FieldsFunc(string(data), func(r rune) bool { return r == '\n' })...)
			}
			require.False(t, slices.IsSorted(parts), "the parts are in count order, not key order")
			require.True(t, slices.Equal(want, slices.Sorted(slices.Values(parts))), "the parts hold every record")
			list := res.Stages[len(res.Stages)-1]
			require.Greater(t, list.Counters[mapreduce.SpillFiles], int64(2*cfg.Reducers), "the output tasks sorted more than two runs each")
			left, err := os.ReadDir(tmp)
			require.NoError(t, err)
			require.Empty(t, left, "runs left in %s", tmp)
		})
	}
}

// badLines counts the words of lines, failing on a line that says "bad"
// and panicking on one that says "boom": a read stage's bad records.
var badLines = pipeline.Register("test-bad-lines", "count words; bad lines fail", nil, func(p *pipeline.Pipeline) {
	words := pipeline.Read(p, "split", func(tc *mapreduce.TaskContext, rec mapreduce.Record, emit func(string, int64)) error {
		for _, w := range bytes.Fields(rec.Value) {
			emit(string(w), 1) // emitted before the line fails: skipping drops them
			switch string(w) {
			case "bad":
				return errors.New("a bad line")
			case "boom":
				panic("a line that panics")
			}
		}
		return nil
	})
	pipeline.Output(pipeline.ReduceByKey(words, "count", sumCounts))
})

// TestSkipBadRecords checks --skip-bad-records (Config.SkipBadRecords) on
// both engines: a read stage's retry drops whole the records its function
// fails or panics on, the output counts only the good lines, and the
// skipped records are reported (Result.Skipped, the skipped_records
// counter, _job.json) with their file and offset. Without it, or with too
// low a limit, the pipeline fails naming the record.
func TestSkipBadRecords(t *testing.T) {
	in := filepath.Join(t.TempDir(), "in.txt")
	var b strings.Builder
	var bad []int64 // the bad lines' offsets
	for i := range 2000 {
		switch i {
		case 700:
			bad = append(bad, int64(b.Len()))
			b.WriteString("good bad good\n")
		case 1500:
			bad = append(bad, int64(b.Len()))
			b.WriteString("boom good\n")
		default:
			b.WriteString("good line\n")
		}
	}
	require.NoError(t, os.WriteFile(in, []byte(b.String()), 0o644))
	for _, engine := range []string{mapreduce.EngineInline, mapreduce.EngineLocal} {
		t.Run(engine, func(t *testing.T) {
			tmp, out := t.TempDir(), filepath.Join(t.TempDir(), "out")
			cfg := config(engine, in, tmp, out, nil)
			cfg.SplitSize, cfg.SkipBadRecords = 64<<10, 2 // one task reads both bad lines
			res, err := badLines.Run(context.Background(), cfg)
			require.NoError(t, err)
			require.Equal(t, "good\t1998\nline\t1998", strings.TrimSpace(readOutput(t, out)))
			require.Equal(t, int64(2), res.Counters[mapreduce.SkippedRecords])
			require.Len(t, res.Skipped, 2)
			for i, s := range res.Skipped {
				require.Equal(t, in, s.File)
				require.Equal(t, bad[i], s.Offset)
			}
			require.Contains(t, res.Skipped[0].Error, "a bad line")
			require.Contains(t, res.Skipped[1].Error, "a line that panics")
			var summary struct {
				Skipped []mapreduce.SkippedRecord
				Stages  []struct{ Counters map[string]int64 }
			}
			data, err := os.ReadFile(filepath.Join(out, "_job.json"))
			require.NoError(t, err)
			require.NoError(t, json.Unmarshal(data, &summary))
			require.Equal(t, res.Skipped, summary.Skipped)
			require.Equal(t, int64(2), summary.Stages[0].Counters[mapreduce.SkippedRecords])

			for limit, want := range map[int]string{0: "a bad line", 1: "more than 1 bad records (skip limit)"} {
				out := filepath.Join(t.TempDir(), "out")
				cfg := config(engine, in, t.TempDir(), out, nil)
				cfg.SplitSize, cfg.SkipBadRecords = 64<<10, limit
				_, err := badLines.Run(context.Background(), cfg)
				require.ErrorContains(t, err, want, "limit %d", limit)
				require.ErrorContains(t, err, "record at byte "+strconv.FormatInt(bad[limit], 10), "limit %d", limit)
			}
		})
	}
}
