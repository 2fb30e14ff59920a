package topk_test

import (
	"bytes"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
	"pgregory.net/rapid"

	"github.com/quern-dev/quern/apps/internal/apptest"
	"github.com/quern-dev/quern/apps/topk"
	"github.com/quern-dev/quern/mapreduce"
)

// TestMain doubles as the worker entry point of the local engine.
func TestMain(m *testing.M) {
	mapreduce.Main()
	goleak.VerifyTestMain(m)
}

type entry struct {
	key string
	n   int64
}

// reference reads every line with strings and strconv, sorts all of them
// and keeps the first k.
func reference(t *testing.T, paths []string, k int) []string {
	var all []entry
	for _, p := range paths {
		data, err := os.ReadFile(p)
		require.NoError(t, err)
		for _, line := range strings.SplitAfter(string(data), "\n") {
			if line == "" {
				continue
			}
			line = strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
			e := entry{line, 1}
			if i := strings.LastIndexByte(line, '\t'); i >= 0 {
				if n, err := strconv.ParseInt(line[i+1:], 10, 64); err == nil {
					e = entry{line[:i], n}
				}
			}
			all = append(all, e)
		}
	}
	slices.SortFunc(all, func(a, b entry) int {
		if a.n != b.n {
			if a.n > b.n {
				return -1
			}
			return 1
		}
		return strings.Compare(a.key, b.key)
	})
	var out []string
	for _, e := range all[:min(k, len(all))] {
		out = append(out, fmt.Sprintf("%s\t%d", e.key, e.n))
	}
	return out
}

func TestTopKMatchesReference(t *testing.T) {
	dir := t.TempDir()
	// counts: word counts of generated text, as a count job writes
	// them, with many ties; words.txt: plain lines (count 1 each); odd.txt:
	// lines whose last field is not a count, negative counts, CRLF.
	text := apptest.Generate(t, dir, "corpus", "text", 400<<10, 3)
	data, err := os.ReadFile(text)
	require.NoError(t, err)
	counts := map[string]int64{}
	for _, w := range bytes.Fields(data) {
		counts[string(w)]++
	}
	var tsv bytes.Buffer
	for _, w := range slices.Sorted(maps.Keys(counts)) {
		fmt.Fprintf(&tsv, "%s\t%d\n", w, counts[w])
	}
	inputs := []string{filepath.Join(dir, "counts"), apptest.Generate(t, dir, "words.txt", "words", 100<<10, 4), filepath.Join(dir, "odd.txt")}
	require.NoError(t, os.WriteFile(inputs[0], tsv.Bytes(), 0o644))
	require.NoError(t, os.WriteFile(inputs[2], []byte("a\tb\tx\nthe\t999999999\r\nneg\t-5\nbig\t99999999999999999999\n\t7\n"), 0o644))
	require.NoError(t, os.Remove(text))

	for _, k := range []int{1, 10, 250} {
		t.Run(strconv.Itoa(k), func(t *testing.T) {
			want := reference(t, inputs, k)
			res, parts := apptest.Run(t, topk.Job, inputs, apptest.Small, map[string]string{"k": strconv.Itoa(k)})
			nonEmpty := 0
			for _, p := range parts {
				if len(p) > 0 {
					nonEmpty++
				}
			}
			require.Equal(t, 1, nonEmpty, "one reducer writes all the output")
			require.Equal(t, want, apptest.Lines(parts))
			require.Greater(t, res.Splits, 10)
			// Each map task sends at most k entries, in one value.
			require.LessOrEqual(t, res.Counters[mapreduce.ReduceInputRecords], res.Counters[mapreduce.SpillFiles])
		})
	}
}

func TestDefaultAndBadK(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.txt")
	var b strings.Builder
	for i := range 30 {
		fmt.Fprintf(&b, "k%02d\t%d\n", i, i)
	}
	require.NoError(t, os.WriteFile(in, []byte(b.String()), 0o644))
	l := apptest.Small
	_, parts := apptest.RunEngine(t, topk.Job, mapreduce.EngineInline, []string{in}, l, nil)
	require.Len(t, apptest.Lines(parts), topk.DefaultK)
	require.Equal(t, "k29\t29", apptest.Lines(parts)[0])

	for _, bad := range []string{"0", "-1", "ten"} {
		_, err := mapreduce.Run(t.Context(), topk.Job, mapreduce.Config{
			Engine: mapreduce.EngineInline, Inputs: []string{in}, Output: filepath.Join(t.TempDir(), "out"),
			TmpDir: t.TempDir(), MaxAttempts: 1, Params: map[string]string{"k": bad},
		})
		require.ErrorIs(t, err, mapreduce.ErrConfig)
		require.ErrorContains(t, err, `job "topk": --k`)
	}
}

// TestColumnsOfTextRefused: naming columns of text input, which has
// none, fails the job naming the file and the flag, instead of counting
// whole lines.
func TestColumnsOfTextRefused(t *testing.T) {
	in := filepath.Join(t.TempDir(), "index.txt")
	require.NoError(t, os.WriteFile(in, []byte("the\t2\t[\"a\",\"b\"]\nzebra\t1\t[\"a\"]\n"), 0o644))
	for _, param := range []string{"key-column", "count-column"} {
		_, err := mapreduce.Run(t.Context(), topk.Job, mapreduce.Config{
			Engine: mapreduce.EngineInline, Inputs: []string{in}, Output: filepath.Join(t.TempDir(), "out"),
			TmpDir: t.TempDir(), MaxAttempts: 1, Params: map[string]string{param: "2"},
		})
		require.ErrorContains(t, err, "topk: "+in+": --"+param+" needs input with named columns")
	}
}

// TestHeaderlessTSVRefused: a KEY<TAB>COUNT file named .tsv, without a
// header, is refused naming the file, instead of its first line being read
// as a header and dropped; with a header, or named .txt, it is counted.
func TestHeaderlessTSVRefused(t *testing.T) {
	dir := t.TempDir()
	run := func(name, text string) ([]byte, error) {
		in := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(in, []byte(text), 0o644))
		out := filepath.Join(t.TempDir(), "out")
		_, err := mapreduce.Run(t.Context(), topk.Job, mapreduce.Config{
			Engine: mapreduce.EngineInline, Inputs: []string{in}, Output: out,
			TmpDir: t.TempDir(), MaxAttempts: 1, Reducers: 1, Params: map[string]string{"k": "2"},
		})
		if err != nil {
			return nil, err
		}
		return os.ReadFile(filepath.Join(out, "part-00000"))
	}
	_, err := run("counts.tsv", "the\t500\nzebra\t1\nof\t300\n")
	require.ErrorContains(t, err, "topk: "+filepath.Join(dir, "counts.tsv")+": the first line")
	got, err := run("counts.txt", "the\t500\nzebra\t1\nof\t300\n")
	require.NoError(t, err)
	require.Equal(t, "the\t500\nof\t300\n", string(got))
	got, err = run("headed.tsv", "word\tcount\nthe\t500\nzebra\t1\nof\t300\n")
	require.NoError(t, err)
	require.Equal(t, "the\t500\nof\t300\n", string(got))
}

// TestFileWithoutColumnsFailsAtOnce: a column the CSV header does not
// name, and a header that is a row of counts, are the same in every record
// and every attempt: on both engines the job fails at once, as an input
// problem (ErrConfig: exit status 2), naming the file, not after four
// attempts of every task. A JSON line without the column is one bad
// record, retried as any failed attempt so that skipping can get past it.
func TestFileWithoutColumnsFailsAtOnce(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(text), 0o644))
		return p
	}
	headed := write("headed.csv", "word,n\nthe,500\nof,300\n")
	headless := write("headless.csv", "the,500\nof,300\n")
	jsonl := write("counts.jsonl", "{\"word\":\"the\",\"n\":500}\n{\"word\":\"of\",\"m\":3}\n")
	for _, engine := range []string{mapreduce.EngineInline, mapreduce.EngineLocal} {
		for _, tc := range []struct {
			name, in, countColumn, want string
			refused                     bool
		}{
			{"missing column", headed, "count", `no such column "count" (columns: word, n)`, true},
			{"header of counts", headless, "", "names its last column \"500\", a number", true},
			{"json line without it", jsonl, "n", `no such column "n" (columns: word, m)`, false},
		} {
			t.Run(engine+"/"+tc.name, func(t *testing.T) {
				out := filepath.Join(t.TempDir(), "out")
				params := map[string]string{}
				if tc.countColumn != "" {
					params["count-column"] = tc.countColumn
				}
				_, err := mapreduce.Run(t.Context(), topk.Job, mapreduce.Config{
					Engine: engine, Inputs: []string{tc.in}, Output: out, TmpDir: t.TempDir(),
					Workers: 2, MaxAttempts: 2, Params: params,
				})
				require.ErrorContains(t, err, tc.in)
				require.ErrorContains(t, err, tc.want)
				require.NoFileExists(t, filepath.Join(out, "_SUCCESS"))
				if tc.refused {
					require.ErrorIs(t, err, mapreduce.ErrConfig)
					require.NotContains(t, err.Error(), "attempt(s)", "retried")
				} else {
					require.NotErrorIs(t, err, mapreduce.ErrConfig)
					require.ErrorContains(t, err, "failed after 2 attempt(s)")
				}
			})
		}
	}
}

// TestBrokenJSONLineNamed: a JSON line that does not parse fails the job
// saying so, at its offset, instead of "the input has []", as if the file
// had no columns.
func TestBrokenJSONLineNamed(t *testing.T) {
	in := filepath.Join(t.TempDir(), "counts.jsonl")
	require.NoError(t, os.WriteFile(in, []byte("{\"word\":\"a\",\"count\":3}\n{\"word\":\"b\",\"count\":\n"), 0o644))
	_, err := mapreduce.Run(t.Context(), topk.Job, mapreduce.Config{
		Engine: mapreduce.EngineInline, Inputs: []string{in}, Output: filepath.Join(t.TempDir(), "out"),
		TmpDir: t.TempDir(), MaxAttempts: 1,
	})
	require.ErrorContains(t, err, "topk: "+in+", offset 23")
	require.NotContains(t, err.Error(), "the input has")
}

func TestParseLine(t *testing.T) {
	for _, tc := range []struct {
		line, key string
		n         int64
	}{
		{"the\t42", "the", 42},
		{"a\tb\t-3", "a\tb", -3},
		{"a\t+3", "a", 3},
		{"a\t9223372036854775807", "a", 1<<63 - 1},
		{"a\t-9223372036854775808", "a", -1 << 63},
		{"a\t9223372036854775808", "a\t9223372036854775808", 1},
		{"a\t", "a\t", 1},
		{"a\t-", "a\t-", 1},
		{"a\t1x", "a\t1x", 1},
		{"plain line", "plain line", 1},
		{"", "", 1},
	} {
		key, n := topk.ParseLine([]byte(tc.line))
		require.Equal(t, tc.key, string(key), tc.line)
		require.Equal(t, tc.n, n, tc.line)
	}
}

// TestTopMergeAndCodec checks Top against sorting everything, through any
// grouping of merges and codec round trips, as the combiner applies them.
func TestTopMergeAndCodec(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		k := rapid.IntRange(1, 8).Draw(t, "k")
		keys := rapid.SliceOf(rapid.StringMatching(`[a-d]{0,3}`)).Draw(t, "keys")
		groups := rapid.IntRange(1, 4).Draw(t, "groups")
		tops := make([]*topk.Top, groups)
		for i := range tops {
			tops[i] = topk.NewTop(k)
		}
		var all []topk.Entry
		for i, key := range keys {
			n := int64(rapid.IntRange(-3, 3).Draw(t, "n"))
			tops[i%groups].Add([]byte(key), n)
			all = append(all, topk.Entry{Key: []byte(key), Count: n})
		}
		var c topk.TopCodec
		merged := topk.NewTop(k)
		for _, tp := range tops {
			d, err := c.Decode(c.Append(nil, *tp))
			if err != nil {
				t.Fatal(err)
			}
			merged.Merge(&d)
		}
		slices.SortFunc(all, func(a, b topk.Entry) int {
			if a.Count != b.Count {
				return int(b.Count - a.Count)
			}
			return bytes.Compare(a.Key, b.Key)
		})
		want := all[:min(k, len(all))]
		got := merged.Sorted()
		if len(want) != len(got) {
			t.Fatalf("got %d entries, want %d", len(got), len(want))
		}
		for i := range want {
			if !bytes.Equal(want[i].Key, got[i].Key) || want[i].Count != got[i].Count {
				t.Fatalf("entry %d: got %q %d, want %q %d", i, got[i].Key, got[i].Count, want[i].Key, want[i].Count)
			}
		}
	})
}

func TestTopCodecRejectsCorruption(t *testing.T) {
	var c topk.TopCodec
	top := topk.NewTop(3)
	top.Add([]byte("abc"), 5)
	top.Add([]byte("d"), 7)
	enc := c.Append(nil, *top)
	for i := range enc {
		_, err := c.Decode(enc[:i])
		require.ErrorIs(t, err, mapreduce.ErrCodec, "truncated at %d", i)
	}
	_, err := c.Decode(append(enc, 0))
	require.ErrorIs(t, err, mapreduce.ErrCodec)
}

func BenchmarkTopAdd(b *testing.B) {
	var lines [][]byte
	for i := range 100000 {
		lines = append(lines, fmt.Appendf(nil, "word%d\t%d", i, (i*7919)%100003))
	}
	var size int64
	for _, l := range lines {
		size += int64(len(l)) + 1
	}
	b.SetBytes(size)
	b.ReportAllocs()
	for b.Loop() {
		top := topk.NewTop(10)
		for _, l := range lines {
			key, n := topk.ParseLine(l)
			top.Add(key, n)
		}
	}
}
