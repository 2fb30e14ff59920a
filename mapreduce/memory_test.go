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
// must be exact and each worker's peak RSS must stay under 56 MiB above an
// idle worker's (about 20 MiB above measured). The idle worker, which
// counts one line with the same configuration, is measured in the same test
// because what a process costs before it reads a record differs by
// platform: 25 MiB on Linux, 61 MiB under Wine, whose own libraries are in
// the working set. The full-size case, 150 MB with a 16 MiB buffer,
// is measured with the CLI: 146 MiB peak (docs/benchmarks.md).
func TestMemoryStaysBounded(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "words.txt")
	f, err := os.Create(path)
	require.NoError(t, err)
	_, err = gen.DistinctWords(f, 8<<20, 5)
	require.NoError(t, err)
	require.NoError(t, f.Close())
	line := filepath.Join(dir, "line.txt")
	require.NoError(t, os.WriteFile(line, []byte("one line\n"), 0o644))

	count := func(in string) (*mapreduce.Result, string) {
		out := filepath.Join(t.TempDir(), "out")
		res, err := mapreduce.Run(context.Background(), wordcount.Job, mapreduce.Config{
			Inputs: []string{in}, Output: out, Workers: 2, Reducers: 2,
			SplitSize: 2 << 20, SortBuffer: 1 << 20, MergeFanIn: 8, TmpDir: t.TempDir(),
		})
		require.NoError(t, err)
		return res, out
	}
	idle, _ := count(line)
	res, out := count(path)
	grown := res.WorkerPeakRSS - idle.WorkerPeakRSS
	t.Logf("worker peak RSS %d MiB (idle %d MiB), %d runs, %d merge passes", res.WorkerPeakRSS>>20,
		idle.WorkerPeakRSS>>20, res.Counters[mapreduce.SpillFiles], res.Counters[mapreduce.MergePasses])
	require.Positive(t, idle.WorkerPeakRSS, "a worker's peak RSS is measured")
	require.Less(t, grown, int64(56<<20), "worker peak RSS %d MiB above an idle worker's", grown>>20)
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
