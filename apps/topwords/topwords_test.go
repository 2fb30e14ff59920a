package topwords_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/quern-dev/quern/apps/internal/apptest"
	"github.com/quern-dev/quern/apps/topwords"
	"github.com/quern-dev/quern/apps/wordcount"
	"github.com/quern-dev/quern/input"
	"github.com/quern-dev/quern/mapreduce"
)

// TestMain doubles as the worker entry point of the local engine.
func TestMain(m *testing.M) {
	mapreduce.Main()
	goleak.VerifyTestMain(m)
}

// reference counts the words with a map and sorts all of them.
func reference(t *testing.T, path string, k int) string {
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	counts := map[string]int64{}
	for w := range wordcount.Words(data) {
		counts[string(w)]++
	}
	words := slices.Collect(maps.Keys(counts))
	slices.SortFunc(words, func(a, b string) int {
		if counts[a] != counts[b] {
			return int(counts[b] - counts[a])
		}
		return strings.Compare(a, b)
	})
	var lines []string
	for _, w := range words[:min(k, len(words))] {
		lines = append(lines, fmt.Sprintf("%s\t%d", w, counts[w]))
	}
	return strings.Join(lines, "\n") + "\n"
}

// TestTopWords checks the pipeline against the reference on both engines,
// for a k below and above the number of words with a tie at the cut.
func TestTopWords(t *testing.T) {
	in := apptest.Generate(t, t.TempDir(), "corpus.txt", "text", 300<<10, 4)
	l := apptest.Small
	for _, engine := range []string{mapreduce.EngineInline, mapreduce.EngineLocal} {
		for _, k := range []int{1, 25, 100000} {
			t.Run(fmt.Sprintf("%s/k=%d", engine, k), func(t *testing.T) {
				tmp, out := t.TempDir(), filepath.Join(t.TempDir(), "out")
				res, err := topwords.Pipeline.Run(context.Background(), mapreduce.Config{
					Engine: engine, Inputs: []string{in}, Output: out, Workers: l.Workers, Reducers: l.Reducers,
					SplitSize: l.SplitSize, SortBuffer: l.SortBuf, TmpDir: tmp, Params: map[string]string{"k": fmt.Sprint(k)},
				})
				require.NoError(t, err)
				var got strings.Builder
				for _, part := range res.Parts {
					data, err := os.ReadFile(part)
					require.NoError(t, err)
					got.Write(data)
				}
				require.Equal(t, reference(t, in, k), got.String())
				left, err := os.ReadDir(tmp)
				require.NoError(t, err)
				require.Empty(t, left)
			})
		}
	}
}

// TestCorruptInputFailsAtOnce: a gzip file cut short fails the pipeline at
// its read stage as it fails a job, on both engines: at once (one attempt,
// not four that would fail alike), as an input problem (exit status 2),
// naming the file, with nothing committed. The worker sends the refusal
// as its result, so the local engine's driver knows it as the inline one
// does.
func TestCorruptInputFailsAtOnce(t *testing.T) {
	dir := t.TempDir()
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	_, err := zw.Write(bytes.Repeat([]byte("some words to count\n"), 5000))
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	bad := filepath.Join(dir, "cut.txt.gz")
	require.NoError(t, os.WriteFile(bad, z.Bytes()[:z.Len()*2/3], 0o644))
	for _, engine := range []string{mapreduce.EngineInline, mapreduce.EngineLocal} {
		t.Run(engine, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out")
			res, err := topwords.Pipeline.Run(context.Background(), mapreduce.Config{
				Engine: engine, Inputs: []string{bad}, Output: out, Workers: 2, Reducers: 2, TmpDir: t.TempDir(),
			})
			require.ErrorIs(t, err, input.ErrCorrupt)
			require.ErrorIs(t, err, mapreduce.ErrConfig)
			require.ErrorContains(t, err, "gzip split "+bad+":[0,")
			require.NotContains(t, err.Error(), "attempt(s)", "retried")
			require.Nil(t, res)
			require.NoFileExists(t, filepath.Join(out, "_SUCCESS"))
		})
	}
}

// TestLatin1Warns: topwords over Latin-1 text warns, as wordcount does,
// that bytes that are not UTF-8 cut its words; over UTF-8 it does not.
func TestLatin1Warns(t *testing.T) {
	dir := t.TempDir()
	latin1 := filepath.Join(dir, "latin1.txt")
	require.NoError(t, os.WriteFile(latin1, []byte("caf\xe9 caf\xe9 the\n"), 0o644))
	res, parts := apptest.RunPipeline(t, topwords.Pipeline, []string{latin1}, apptest.Small, nil)
	require.Equal(t, []string{"caf\t2", "the\t1"}, apptest.Lines(parts))
	require.Equal(t, []string{"topwords: non_utf8_bytes 2: " + wordcount.NonUTF8Warning}, res.Warnings)

	utf8 := filepath.Join(dir, "utf8.txt")
	require.NoError(t, os.WriteFile(utf8, []byte("café café the\n"), 0o644))
	res, _ = apptest.RunPipeline(t, topwords.Pipeline, []string{utf8}, apptest.Small, nil)
	require.Empty(t, res.Warnings)
}
