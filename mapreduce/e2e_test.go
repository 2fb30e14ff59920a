package mapreduce_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/stretchr/testify/require"

	"github.com/quern-dev/quern/apps/wordcount"
	"github.com/quern-dev/quern/mapreduce"
)

// wordOffsets has no combiner, so its pairs go through the Arrow sort
// buffer one by one. It emits every word with the offset of its line and
// reduces to "count,smallest offset", which depends on every value.
var wordOffsets = mapreduce.Register(&mapreduce.Job[string, int64, string, string]{
	Name: "test-word-offsets",
	Map: func(_ *mapreduce.TaskContext, rec mapreduce.Record, emit func(string, int64)) error {
		for w := range wordcount.Words(rec.Value) {
			emit(string(w), rec.Offset)
		}
		return nil
	},
	Reduce: func(_ *mapreduce.TaskContext, word string, offsets iter.Seq[int64], emit func(string, string)) error {
		n, least := 0, int64(-1)
		for o := range offsets {
			n++
			if least < 0 || o < least {
				least = o
			}
		}
		emit(word, fmt.Sprintf("%d,%d", n, least))
		return nil
	},
})

// grepLines takes a parameter and counts with a user counter. Its first
// attempt of map-00000 fails after counting, so the counter proves that only
// committed attempts count.
var grepLines = mapreduce.Register(&mapreduce.Job[string, int64, string, int64]{
	Name:   "test-grep",
	Params: []mapreduce.Param{{Name: "pattern", Required: true}},
	Map: func(tc *mapreduce.TaskContext, rec mapreduce.Record, emit func(string, int64)) error {
		if bytes.Contains(rec.Value, []byte(tc.Param("pattern"))) {
			tc.Count("matching_lines", 1)
			emit(string(rec.Value), 1)
		}
		return nil
	},
	Reduce: func(tc *mapreduce.TaskContext, line string, ones iter.Seq[int64], emit func(string, int64)) error {
		var n int64
		for o := range ones {
			n += o
		}
		emit(line, n)
		return nil
	},
})

var flaky = mapreduce.Register(&mapreduce.Job[string, int64, string, int64]{
	Name: "test-flaky",
	Map: func(tc *mapreduce.TaskContext, rec mapreduce.Record, emit func(string, int64)) error {
		tc.Count("seen", 1)
		if tc.TaskID() == "map-00000" && tc.Attempt() == 1 && rec.Offset > 0 {
			return errors.New("injected failure of the first attempt")
		}
		emit("lines", 1)
		return nil
	},
	Combine: func(a, b int64) int64 { return a + b },
	Reduce: func(tc *mapreduce.TaskContext, k string, vs iter.Seq[int64], emit func(string, int64)) error {
		var n int64
		for v := range vs {
			n += v
		}
		tc.Count("reduced", 1)
		emit(k, n)
		return nil
	},
})

var boom = mapreduce.Register(&mapreduce.Job[string, int64, string, int64]{
	Name: "test-boom",
	Map: func(_ *mapreduce.TaskContext, rec mapreduce.Record, emit func(string, int64)) error {
		if bytes.Contains(rec.Value, []byte("BOOM")) {
			panic("boom in map")
		}
		emit("x", 1)
		return nil
	},
	Reduce: func(_ *mapreduce.TaskContext, k string, vs iter.Seq[int64], emit func(string, int64)) error {
		emit(k, 1)
		return nil
	},
})

// corpus writes deterministic text with the awkward parts of real input:
// non-ASCII letters, invalid UTF-8, NUL bytes, CRLF, empty lines, a long
// line, and no final newline; as plain, gzip and zstd files.
func corpus(t testing.TB, dir string, size int) []string {
	t.Helper()
	rng := rand.New(rand.NewPCG(7, 11))
	words := []string{"the", "of", "and", "Quern", "straße", "naïve", "日本語", "données", "Ωmega", "a", "I", "x", "zebra"}
	for i := range 300 {
		words = append(words, fmt.Sprintf("w%sq", strings.Repeat("e", i%7))+string(rune('a'+i%26)))
	}
	var b bytes.Buffer
	for b.Len() < size {
		switch r := rng.IntN(100); {
		case r < 2:
			b.WriteString("\r\n")
		case r < 4:
			b.WriteString("\n\n")
		case r < 5:
			b.Write([]byte{0, 0xff, 0xfe, 'n', 'u', 'l', 0})
		case r < 6:
			b.WriteString(strings.Repeat("long", 3000) + " ")
		case r < 15:
			b.WriteString(".,; ")
		case r < 25:
			b.WriteByte('\n')
		default:
			b.WriteString(words[min(rng.IntN(len(words)), rng.IntN(len(words)))])
			b.WriteByte(' ')
		}
	}
	data := b.Bytes()
	third := len(data) / 3
	plain, gz, zst := data[:third], data[third:2*third], data[2*third:]
	paths := []string{filepath.Join(dir, "a.txt"), filepath.Join(dir, "b.txt.gz"), filepath.Join(dir, "c.txt.zst")}
	require.NoError(t, os.WriteFile(paths[0], plain, 0o644))
	var gzb bytes.Buffer
	gw := gzip.NewWriter(&gzb)
	gw.Write(gz)
	require.NoError(t, gw.Close())
	require.NoError(t, os.WriteFile(paths[1], gzb.Bytes(), 0o644))
	zw, err := zstd.NewWriter(nil)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(paths[2], zw.EncodeAll(zst[:len(zst)-1], nil), 0o644)) // no final newline
	return paths
}

// referenceWordCount counts words independently of the framework: whole
// files, bytes.FieldsFunc over runes (invalid UTF-8 decodes to U+FFFD, which
// is not a letter).
func referenceWordCount(t testing.TB, paths []string) map[string]int64 {
	counts := map[string]int64{}
	for _, p := range paths {
		for _, w := range bytes.FieldsFunc(readAll(t, p), func(r rune) bool { return !unicode.IsLetter(r) }) {
			counts[string(w)]++
		}
	}
	return counts
}

func readAll(t testing.TB, path string) []byte {
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	switch {
	case strings.HasSuffix(path, ".gz"):
		r, err := gzip.NewReader(bytes.NewReader(raw))
		require.NoError(t, err)
		var out bytes.Buffer
		_, err = out.ReadFrom(r)
		require.NoError(t, err)
		return out.Bytes()
	case strings.HasSuffix(path, ".zst"):
		d, err := zstd.NewReader(nil)
		require.NoError(t, err)
		defer d.Close()
		out, err := d.DecodeAll(raw, nil)
		require.NoError(t, err)
		return out
	}
	return raw
}

// readParts returns the part files' contents in order, and checks that the
// output directory holds exactly the parts, _SUCCESS and _job.json (and
// _logs when an attempt failed) and that
// every part is sorted by key.
func readParts(t testing.TB, out string, reducers int) [][]byte {
	t.Helper()
	entries, err := os.ReadDir(out)
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		if e.Name() != "_logs" { // failed attempts' worker output, if any
			names = append(names, e.Name())
		}
	}
	want := []string{"_SUCCESS", "_job.json"}
	for r := range reducers {
		want = append(want, fmt.Sprintf("part-%05d", r))
	}
	require.ElementsMatch(t, want, names)
	var parts [][]byte
	for r := range reducers {
		data, err := os.ReadFile(filepath.Join(out, fmt.Sprintf("part-%05d", r)))
		require.NoError(t, err)
		lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
		keys := make([]string, 0, len(lines))
		for _, l := range lines {
			k, _, _ := strings.Cut(l, "\t")
			keys = append(keys, k)
		}
		require.True(t, slices.IsSorted(keys), "part %d is not sorted by key", r)
		parts = append(parts, data)
	}
	return parts
}

func parseCounts(t testing.TB, parts [][]byte) map[string]int64 {
	got := map[string]int64{}
	for _, p := range parts {
		for _, line := range strings.Split(strings.TrimSuffix(string(p), "\n"), "\n") {
			if line == "" {
				continue
			}
			k, v, ok := strings.Cut(line, "\t")
			require.True(t, ok, "line %q has no tab", line)
			n, err := strconv.ParseInt(v, 10, 64)
			require.NoError(t, err)
			_, dup := got[k]
			require.False(t, dup, "key %q in two places", k)
			got[k] = n
		}
	}
	return got
}

// assertClean checks that a finished job left no work files and no child
// processes behind.
func assertClean(t testing.TB, tmp string) {
	t.Helper()
	entries, err := os.ReadDir(tmp)
	require.NoError(t, err)
	require.Empty(t, entries, "work directory left in %s", tmp)
	require.Empty(t, childPids(t), "worker processes left behind")
}

type layout struct {
	workers, reducers  int
	splitSize, sortBuf int64
	fanIn              int
	codec              string
}

func (l layout) String() string {
	return fmt.Sprintf("w%d-r%d-split%d-buf%d-fanin%d-%s", l.workers, l.reducers, l.splitSize, l.sortBuf, l.fanIn, l.codec)
}

var layouts = []layout{
	{workers: 1, reducers: 1, splitSize: 1 << 20, sortBuf: 64 << 20, fanIn: 64, codec: "lz4"},
	{workers: 2, reducers: 3, splitSize: 8 << 10, sortBuf: 64 << 10, fanIn: 2, codec: "zstd"},
	{workers: 3, reducers: 7, splitSize: 31 << 10, sortBuf: 96 << 10, fanIn: 3, codec: "none"},
}

func runJob[K, V, OK, OV any](t *testing.T, job *mapreduce.Job[K, V, OK, OV], engine string, inputs []string, l layout, params map[string]string) (*mapreduce.Result, string) {
	t.Helper()
	tmp, out := t.TempDir(), filepath.Join(t.TempDir(), "out")
	res, err := mapreduce.Run(context.Background(), job, mapreduce.Config{
		Engine: engine, Inputs: inputs, Output: out, Workers: l.workers, Reducers: l.reducers,
		SplitSize: l.splitSize, SortBuffer: l.sortBuf, MergeFanIn: l.fanIn, SpillCompression: l.codec,
		TmpDir: tmp, Params: params,
	})
	require.NoError(t, err)
	assertClean(t, tmp)
	return res, out
}

func TestWordCountLocalEqualsInlineAndReference(t *testing.T) {
	dir := t.TempDir()
	inputs := corpus(t, dir, 300<<10)
	want := referenceWordCount(t, inputs)
	require.Greater(t, len(want), 200)
	for _, l := range layouts {
		t.Run(l.String(), func(t *testing.T) {
			local, localOut := runJob(t, wordcount.Job, mapreduce.EngineLocal, []string{dir}, l, nil)
			inline, inlineOut := runJob(t, wordcount.Job, mapreduce.EngineInline, []string{dir}, l, nil)
			localParts := readParts(t, localOut, l.reducers)
			require.Equal(t, readParts(t, inlineOut, l.reducers), localParts, "local and inline engines differ")
			require.Equal(t, want, parseCounts(t, localParts))

			c := local.Counters
			var total int64
			for _, n := range want {
				total += n
			}
			require.Equal(t, total, c[mapreduce.MapOutputRecords])
			require.Equal(t, int64(len(want)), c[mapreduce.ReduceInputGroups])
			require.Equal(t, int64(len(want)), c[mapreduce.ReduceOutputRecords])
			require.Equal(t, c[mapreduce.CombineOutputRecords], c[mapreduce.ReduceInputRecords])
			require.Equal(t, c[mapreduce.SpilledRecords], c[mapreduce.ReduceInputRecords])
			require.Less(t, c[mapreduce.CombineOutputRecords], c[mapreduce.CombineInputRecords])
			require.Equal(t, inline.Counters[mapreduce.MapInputRecords], c[mapreduce.MapInputRecords])
			require.Equal(t, inline.Counters[mapreduce.MapInputBytes], c[mapreduce.MapInputBytes])
			require.Positive(t, c[mapreduce.ShuffleBytes])
			require.Positive(t, c[mapreduce.OutputBytes])
			var attemptShuffle int64
			for _, task := range local.Tasks {
				for _, a := range task.Attempts {
					if task.Phase == "reduce" && a.State == mapreduce.AttemptSucceeded {
						attemptShuffle += a.Counters[mapreduce.ShuffleBytes]
					}
				}
			}
			require.Equal(t, c[mapreduce.ShuffleBytes], attemptShuffle, "each reduce attempt reports the shuffle bytes it read")
			if l.fanIn < 64 {
				require.Positive(t, c[mapreduce.MergePasses], "a small fan-in must force multi-pass merges")
			}
		})
	}
}

func TestJobWithoutCombinerThroughSortBuffer(t *testing.T) {
	dir := t.TempDir()
	inputs := corpus(t, dir, 200<<10)
	// The reference: for each word, the number of occurrences and the
	// smallest offset of a line that holds it.
	type agg struct{ n, least int64 }
	want := map[string]agg{}
	for _, p := range inputs {
		data := readAll(t, p)
		off := int64(0)
		for _, line := range bytes.SplitAfter(data, []byte("\n")) {
			for _, w := range bytes.FieldsFunc(line, func(r rune) bool { return !unicode.IsLetter(r) }) {
				a, ok := want[string(w)]
				if !ok {
					a.least = off
				}
				a.n++
				want[string(w)] = a
			}
			off += int64(len(line))
		}
	}
	l := layout{workers: 2, reducers: 4, splitSize: 10 << 10, sortBuf: 64 << 10, fanIn: 4, codec: "lz4"}
	local, out := runJob(t, wordOffsets, mapreduce.EngineLocal, inputs, l, nil)
	_, inlineOut := runJob(t, wordOffsets, mapreduce.EngineInline, inputs, l, nil)
	parts := readParts(t, out, l.reducers)
	require.Equal(t, readParts(t, inlineOut, l.reducers), parts)
	got := map[string]agg{}
	for _, p := range parts {
		for _, line := range strings.Split(strings.TrimSuffix(string(p), "\n"), "\n") {
			k, v, _ := strings.Cut(line, "\t")
			var a agg
			_, err := fmt.Sscanf(v, "%d,%d", &a.n, &a.least)
			require.NoError(t, err, line)
			got[k] = a
		}
	}
	// Offsets are per file, so the smallest offset is over all files;
	// recompute the reference that way.
	require.Equal(t, len(want), len(got))
	var total int64
	for w, a := range want {
		require.Equal(t, a.n, got[w].n, w)
		total += a.n
	}
	require.Equal(t, total, local.Counters[mapreduce.SpilledRecords], "every pair is spilled when there is no combiner")
	require.Greater(t, local.Counters[mapreduce.SpillFiles], int64(len(inputs)), "a 64KiB sort buffer must spill more than once per task")
	require.Zero(t, local.Counters[mapreduce.CombineInputRecords])
}

func TestParamsAndCountersReachWorkers(t *testing.T) {
	dir := t.TempDir()
	inputs := corpus(t, dir, 100<<10)
	var matching int64
	want := map[string]int64{}
	for _, p := range inputs {
		data := readAll(t, p)
		for _, line := range strings.SplitAfter(string(data), "\n") {
			line = strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
			if strings.Contains(line, "straße") {
				matching++
				want[line]++
			}
		}
	}
	require.Positive(t, matching)
	l := layout{workers: 2, reducers: 2, splitSize: 16 << 10, sortBuf: 64 << 10, fanIn: 8, codec: "lz4"}
	res, out := runJob(t, grepLines, mapreduce.EngineLocal, inputs, l, map[string]string{"pattern": "straße"})
	require.Equal(t, matching, res.Counters["matching_lines"])
	require.Equal(t, want, parseCounts(t, readParts(t, out, l.reducers)))

	_, err := mapreduce.Run(context.Background(), grepLines, mapreduce.Config{Inputs: inputs, Output: filepath.Join(t.TempDir(), "o")})
	require.ErrorIs(t, err, mapreduce.ErrConfig, "a missing required parameter is a configuration error")
}

func TestCountersCountOnlyCommittedAttempts(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "lines.txt")
	require.NoError(t, os.WriteFile(path, []byte(strings.Repeat("a line\n", 1000)), 0o644))
	for _, engine := range []string{mapreduce.EngineLocal, mapreduce.EngineInline} {
		t.Run(engine, func(t *testing.T) {
			l := layout{workers: 2, reducers: 2, splitSize: 2 << 10, sortBuf: 64 << 10, fanIn: 8, codec: "lz4"}
			res, out := runJob(t, flaky, engine, []string{path}, l, nil)
			require.Equal(t, int64(1000), res.Counters["seen"], "the failed attempt's counts must not be added")
			require.Equal(t, int64(1000), res.Counters[mapreduce.MapInputRecords])
			require.Equal(t, int64(1), res.Counters["reduced"])
			require.Equal(t, map[string]int64{"lines": 1000}, parseCounts(t, readParts(t, out, 2)))
			var retried bool
			for _, task := range res.Tasks {
				if task.ID == "map-00000" {
					require.Len(t, task.Attempts, 2)
					require.Contains(t, task.Attempts[0].Error, "injected failure")
					retried = true
				}
			}
			require.True(t, retried)
		})
	}
}

func TestFailedJobNamesTaskAndLeavesNoOutput(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "in.txt")
	require.NoError(t, os.WriteFile(path, []byte(strings.Repeat("fine\n", 2000)+"BOOM\n"+strings.Repeat("fine\n", 10)), 0o644))
	for _, engine := range []string{mapreduce.EngineLocal, mapreduce.EngineInline} {
		t.Run(engine, func(t *testing.T) {
			tmp, out := t.TempDir(), filepath.Join(t.TempDir(), "out")
			_, err := mapreduce.Run(context.Background(), boom, mapreduce.Config{
				Engine: engine, Inputs: []string{path}, Output: out, Workers: 2, Reducers: 2,
				SplitSize: 4 << 10, MaxAttempts: 2, TmpDir: tmp,
			})
			var te *mapreduce.TaskError
			require.ErrorAs(t, err, &te)
			require.Equal(t, 2, te.Attempts)
			require.Contains(t, err.Error(), "in.txt:[8192,")
			require.Contains(t, err.Error(), "boom in map")
			require.Contains(t, err.Error(), "e2e_test.go", "the panic's stack names where it happened")
			// A failed job leaves only its report: _job.json (and _logs/
			// when a failed attempt's worker wrote anything).
			entries, err := os.ReadDir(out)
			require.NoError(t, err)
			for _, e := range entries {
				require.Contains(t, []string{"_job.json", "_logs"}, e.Name(), "a failed job leaves no parts, _SUCCESS or _temporary")
			}
			var report mapreduce.JobStatus
			data, err := os.ReadFile(filepath.Join(out, "_job.json"))
			require.NoError(t, err)
			require.NoError(t, json.Unmarshal(data, &report))
			require.Equal(t, mapreduce.JobFailed, report.State)
			require.Contains(t, report.Error, "boom in map")
			assertClean(t, tmp)

			// The next run replaces the report without --overwrite.
			_, err = mapreduce.Run(context.Background(), wordcount.Job, mapreduce.Config{
				Engine: engine, Inputs: []string{path}, Output: out, Workers: 2, Reducers: 1, TmpDir: tmp,
			})
			require.NoError(t, err)
			require.FileExists(t, filepath.Join(out, "_SUCCESS"))
		})
	}
}

// meanLength is a job whose Reduce writes the mean length of a key's
// values, which is NaN for a key without any: the empty line's key, whose
// only value Map emits as none.
var meanLength = mapreduce.Register(&mapreduce.Job[string, []int64, string, float64]{
	Name: "test-mean-length",
	Map: func(_ *mapreduce.TaskContext, rec mapreduce.Record, emit func(string, []int64)) error {
		if len(rec.Value) == 0 {
			emit("", nil)
		} else {
			emit(string(rec.Value[:1]), []int64{int64(len(rec.Value))})
		}
		return nil
	},
	Reduce: func(_ *mapreduce.TaskContext, key string, values iter.Seq[[]int64], emit func(string, float64)) error {
		var sum, n int64
		for v := range values {
			for _, x := range v {
				sum, n = sum+x, n+1
			}
		}
		emit(key, float64(sum)/float64(n))
		return nil
	},
})

// TestReduceWriteErrorNamesTheOutputOnce: a pair the output format cannot
// hold fails the reduce task with an error that names the file and the
// record once (the output writer's), and the fault.
func TestReduceWriteErrorNamesTheOutputOnce(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "in.txt")
	require.NoError(t, os.WriteFile(path, []byte("apple\navocado\n\nbanana\n"), 0o644))
	for _, engine := range []string{mapreduce.EngineLocal, mapreduce.EngineInline} {
		t.Run(engine, func(t *testing.T) {
			tmp, out := t.TempDir(), filepath.Join(t.TempDir(), "out")
			_, err := mapreduce.Run(context.Background(), meanLength, mapreduce.Config{
				Engine: engine, Inputs: []string{path}, Output: out, Reducers: 1,
				OutputFormat: "jsonl", MaxAttempts: 1, TmpDir: tmp,
			})
			require.ErrorContains(t, err, "value has no JSON form: NaN")
			require.ErrorContains(t, err, `key ""`)
			require.Equal(t, 1, strings.Count(err.Error(), "write output "), "the output is named once: %v", err)
			require.NoFileExists(t, filepath.Join(out, "_SUCCESS"))
			assertClean(t, tmp)
		})
	}
}

func TestOutputDirectoryMustBeEmpty(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.txt")
	require.NoError(t, os.WriteFile(in, []byte("a b\n"), 0o644))
	out := filepath.Join(t.TempDir(), "out")
	require.NoError(t, os.MkdirAll(out, 0o755))
	keep := filepath.Join(out, "precious")
	require.NoError(t, os.WriteFile(keep, []byte("x"), 0o644))
	_, err := mapreduce.Run(context.Background(), wordcount.Job, mapreduce.Config{Inputs: []string{in}, Output: out})
	require.ErrorIs(t, err, mapreduce.ErrConfig)
	require.FileExists(t, keep, "a refused output directory is never touched")

	_, err = mapreduce.Run(context.Background(), wordcount.Job, mapreduce.Config{Inputs: []string{dir}, Output: filepath.Join(dir, "out")})
	require.NoError(t, err, "an empty output directory inside the input directory is fine when no input lies in it")
}

func TestBadConfiguration(t *testing.T) {
	in := filepath.Join(t.TempDir(), "in.txt")
	require.NoError(t, os.WriteFile(in, []byte("a\n"), 0o644))
	for name, cfg := range map[string]mapreduce.Config{
		"negative workers": {Workers: -1},
		"tiny sort buffer": {SortBuffer: 100},
		"unknown engine":   {Engine: "spark"},
		"fan-in 1":         {MergeFanIn: 1},
		"bad codec":        {SpillCompression: "brotli"},
		"negative split":   {SplitSize: -5},
	} {
		cfg.Inputs, cfg.Output = []string{in}, filepath.Join(t.TempDir(), "out")
		_, err := mapreduce.Run(context.Background(), wordcount.Job, cfg)
		require.ErrorIs(t, err, mapreduce.ErrConfig, name)
	}
	_, err := mapreduce.Run(context.Background(), wordcount.Job, mapreduce.Config{
		Inputs: []string{filepath.Join(t.TempDir(), "missing.txt")}, Output: filepath.Join(t.TempDir(), "out"),
	})
	require.ErrorContains(t, err, "missing.txt")
}

// sumReduce is the Reduce of the test jobs that count: it emits the sum of
// a key's values.
func sumReduce(_ *mapreduce.TaskContext, k string, vs iter.Seq[int64], emit func(string, int64)) error {
	var n int64
	for v := range vs {
		n += v
	}
	emit(k, n)
	return nil
}

// TestEmptyOutputWarns: a job whose input gives no records, or whose
// records give no output, ends with a warning in its Result and its
// _job.json, which the summary and the status page show: an empty output
// otherwise looks like an answer. A map-only job's output is its map
// output.
func TestEmptyOutputWarns(t *testing.T) {
	dir := t.TempDir()
	empty, lines := filepath.Join(dir, "empty.txt"), filepath.Join(dir, "lines.txt")
	require.NoError(t, os.WriteFile(empty, nil, 0o644))
	require.NoError(t, os.WriteFile(lines, []byte("one\ntwo\nthree\n"), 0o644))
	for _, engine := range []string{mapreduce.EngineLocal, mapreduce.EngineInline} {
		for _, tc := range []struct {
			name    string
			input   string
			pattern string
			mapOnly bool
			want    string
		}{
			{"empty input", empty, "o", false, "the input produced no records: the output is empty"},
			{"nothing matches", lines, "x", false, "3 input records produced no output records"},
			{"nothing matches, map-only", lines, "x", true, "3 input records produced no output records"},
			{"matches", lines, "o", false, ""},
			{"matches, map-only", lines, "o", true, ""},
		} {
			t.Run(engine+"/"+tc.name, func(t *testing.T) {
				out := filepath.Join(t.TempDir(), "out")
				res, err := mapreduce.Run(context.Background(), grepLines, mapreduce.Config{
					Engine: engine, Inputs: []string{tc.input}, Output: out, Workers: 2, MapOnly: tc.mapOnly,
					TmpDir: t.TempDir(), Params: map[string]string{"pattern": tc.pattern},
				})
				require.NoError(t, err)
				if tc.want == "" {
					require.Empty(t, res.Warnings)
					return
				}
				require.Len(t, res.Warnings, 1)
				require.Contains(t, res.Warnings[0], tc.want)
				report, err := os.ReadFile(filepath.Join(out, "_job.json"))
				require.NoError(t, err)
				require.Contains(t, string(report), tc.want)
			})
		}
	}
}

// TestEmptyKeyIsAKey: the empty key sorts first and is grouped and reduced
// like any other; the reduce loop once took it for the end of its input
// and dropped its partition's keys, with _SUCCESS.
func TestEmptyKeyIsAKey(t *testing.T) {
	in := filepath.Join(t.TempDir(), "in.txt")
	require.NoError(t, os.WriteFile(in, []byte("b\n\na\n\nb\n"), 0o644))
	for _, engine := range []string{mapreduce.EngineLocal, mapreduce.EngineInline} {
		t.Run(engine, func(t *testing.T) {
			l := layout{workers: 2, reducers: 1, splitSize: 1 << 20, sortBuf: 1 << 20, fanIn: 8, codec: "zstd"}
			_, out := runJob(t, grepLines, engine, []string{in}, l, map[string]string{"pattern": ""})
			b, err := os.ReadFile(filepath.Join(out, "part-00000"))
			require.NoError(t, err)
			require.Equal(t, "\t2\na\t1\nb\t2\n", string(b))
		})
	}
}

// TestRefusedJobStopsItsWorkers: the local engine's workers start while
// the driver plans, so a job refused before it runs a task (by its plan,
// or by its output after the plan) has workers to stop. It leaves none
// behind, and no work directory (goleak, in TestMain, checks the pool's
// goroutines).
func TestRefusedJobStopsItsWorkers(t *testing.T) {
	dir := t.TempDir()
	text := filepath.Join(dir, "a.txt")
	require.NoError(t, os.WriteFile(text, []byte("a line\n"), 0o644))
	taken := filepath.Join(dir, "taken")
	require.NoError(t, os.MkdirAll(taken, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(taken, "keep.txt"), []byte("mine\n"), 0o644))
	for _, c := range []struct {
		name, input, output, want string
	}{
		{"by its plan", filepath.Join(dir, "missing.txt"), filepath.Join(dir, "out"), "missing.txt"},
		{"by its output", text, taken, "is not empty"},
	} {
		t.Run(c.name, func(t *testing.T) {
			tmp := t.TempDir()
			_, err := mapreduce.Run(context.Background(), grepLines, mapreduce.Config{
				Inputs: []string{c.input}, Output: c.output, TmpDir: tmp, Workers: 2,
				Params: map[string]string{"pattern": "line"},
			})
			require.ErrorIs(t, err, mapreduce.ErrConfig)
			require.ErrorContains(t, err, c.want)
			assertClean(t, tmp)
			kept, err := os.ReadFile(filepath.Join(taken, "keep.txt"))
			require.NoError(t, err)
			require.Equal(t, "mine\n", string(kept))
		})
	}
}
