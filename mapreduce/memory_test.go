// The race detector multiplies memory use (110 MiB against 48 MiB here), so
// this measurement runs in the plain test run only; the test command (README)
// runs both.

//go:build !race

package mapreduce_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/quern-dev/quern/apps/wordcount"
	"github.com/quern-dev/quern/bench/gen"
	"github.com/quern-dev/quern/mapreduce"
)

// TestMemoryStaysBounded counts 8 MB of almost all distinct words (about
// 800,000 keys) with a 1 MiB sort buffer and a merge fan-in of 8, so that map
// tasks spill dozens of runs and reducers merge them in passes. The counts
// must be exact and each worker's peak RSS must stay under 80 MiB (60 MiB
// measured). The full-size case, 150 MB with a 16 MiB buffer, is
// measured with the CLI: 146 MiB peak (docs/benchmarks.md).
func TestMemoryStaysBounded(t *testing.T) {
	path := filepath.Join(t.TempDir(), "words.txt")
	f, err := os.Create(path)
	require.NoError(t, err)
	_, err = gen.DistinctWords(f, 8<<20, 5)
	require.NoError(t, err)
	require.NoError(t, f.Close())

	out := filepath.Join(t.TempDir(), "out")
	res, err := mapreduce.Run(context.Background(), wordcount.Job, mapreduce.Config{
		Inputs: []string{path}, Output: out, Workers: 2, Reducers: 2,
		SplitSize: 2 << 20, SortBuffer: 1 << 20, MergeFanIn: 8, TmpDir: t.TempDir(),
	})
	require.NoError(t, err)
	t.Logf("worker peak RSS %d MiB, %d runs, %d merge passes", res.WorkerPeakRSS>>20,
		res.Counters[mapreduce.SpillFiles], res.Counters[mapreduce.MergePasses])
	require.Less(t, res.WorkerPeakRSS, int64(80<<20), "worker peak RSS %d MiB", res.WorkerPeakRSS>>20)
	require.Positive(t, res.Counters[mapreduce.MergePasses], "dozens of runs with fan-in 8 merge in passes")

	data, err := os.ReadFile(path)
	require.NoError(t, err)
	want := map[string]int64{}
	for _, w := range bytes.Fields(data) {
		want[string(w)]++
	}
	got := parseCounts(t, readParts(t, out, 2))
	require.Equal(t, len(want), len(got))
	for w, n := range want {
		if got[w] != n {
			t.Fatalf("count of %q: got %d, want %d", w, got[w], n)
		}
	}
}
