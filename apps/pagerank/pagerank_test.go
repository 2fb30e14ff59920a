package pagerank_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/quern-dev/quern/apps/internal/apptest"
	"github.com/quern-dev/quern/apps/pagerank"
	"github.com/quern-dev/quern/mapreduce"
)

// TestMain doubles as the worker entry point of the local engine.
func TestMain(m *testing.M) {
	mapreduce.Main()
	goleak.VerifyTestMain(m)
}

// reference ranks the graph in the plainest way: maps keyed by node id,
// every edge visited once per iteration.
func reference(t *testing.T, path string, iterations int) map[uint64]float64 {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	type edge struct{ src, dst uint64 }
	var edges []edge
	outdeg := map[uint64]int{}
	rank := map[uint64]float64{}
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		a, b, ok := strings.Cut(line, "\t")
		require.True(t, ok, line)
		src, err := strconv.ParseUint(a, 10, 64)
		require.NoError(t, err)
		dst, err := strconv.ParseUint(b, 10, 64)
		require.NoError(t, err)
		edges = append(edges, edge{src, dst})
		outdeg[src]++
		rank[src], rank[dst] = 1, 1
	}
	for range iterations {
		sum := map[uint64]float64{}
		for _, e := range edges {
			sum[e.dst] += rank[e.src] / float64(outdeg[e.src])
		}
		for n := range rank {
			rank[n] = 0.15 + 0.85*sum[n]
		}
	}
	return rank
}

// readRanks reads the "node<TAB>rank" part files of an output directory.
func readRanks(t *testing.T, out string, reducers int) map[uint64]float64 {
	t.Helper()
	got := map[uint64]float64{}
	for r := range reducers {
		f, err := os.Open(filepath.Join(out, fmt.Sprintf("part-%05d", r)))
		require.NoError(t, err)
		s := bufio.NewScanner(f)
		for s.Scan() {
			a, b, ok := strings.Cut(s.Text(), "\t")
			require.True(t, ok, s.Text())
			n, err := strconv.ParseUint(a, 10, 64)
			require.NoError(t, err)
			v, err := strconv.ParseFloat(b, 64)
			require.NoError(t, err)
			_, dup := got[n]
			require.False(t, dup, "node %d ranked twice", n)
			got[n] = v
		}
		require.NoError(t, s.Err())
		f.Close()
	}
	return got
}

// requireClose compares ranks within a relative 1e-9: the pipeline sums a
// node's shares in another order than the reference.
func requireClose(t *testing.T, want, got map[uint64]float64) {
	t.Helper()
	require.Equal(t, len(want), len(got), "number of ranked nodes")
	for n, w := range want {
		g, ok := got[n]
		require.True(t, ok, "node %d has no rank", n)
		require.LessOrEqual(t, math.Abs(g-w), 1e-9*math.Abs(w), "node %d: rank %v, want %v", n, g, w)
	}
}

func runPageRank(t *testing.T, engine, in string, iterations int, l apptest.Layout) (string, string) {
	t.Helper()
	tmp, out := t.TempDir(), filepath.Join(t.TempDir(), "out")
	_, err := pagerank.Pipeline.Run(context.Background(), mapreduce.Config{
		Engine: engine, Inputs: []string{in}, Output: out, Workers: l.Workers, Reducers: l.Reducers,
		SplitSize: l.SplitSize, SortBuffer: l.SortBuf, TmpDir: tmp,
		Params: map[string]string{"iterations": strconv.Itoa(iterations)},
	})
	require.NoError(t, err)
	return out, tmp
}

// TestPageRank checks the ranks against the reference for one and for
// many iterations, on both engines, with small splits and sort buffers so
// that every stage has several tasks and spills.
func TestPageRank(t *testing.T) {
	dir := t.TempDir()
	in := apptest.Generate(t, dir, "edges.txt", "graph", 200<<10, 3)
	for _, engine := range []string{mapreduce.EngineInline, mapreduce.EngineLocal} {
		for _, iterations := range []int{1, 2, 7} {
			t.Run(fmt.Sprintf("%s/%d", engine, iterations), func(t *testing.T) {
				out, tmp := runPageRank(t, engine, in, iterations, apptest.Small)
				requireClose(t, reference(t, in, iterations), readRanks(t, out, apptest.Small.Reducers))
				left, err := os.ReadDir(tmp)
				require.NoError(t, err)
				require.Empty(t, left, "intermediate runs left in %s", tmp)
			})
		}
	}
}

// TestPageRankStages checks, from _job.json, that the graph is made once
// and read without a shuffle, and that each round shuffles only the
// shares: the rank stage's shuffled bytes are the shares, and its
// co-partitioned bytes are the graph's.
func TestPageRankStages(t *testing.T) {
	in := apptest.Generate(t, t.TempDir(), "edges.txt", "graph", 64<<10, 5)
	out, _ := runPageRank(t, mapreduce.EngineInline, in, 4, apptest.Small)
	data, err := os.ReadFile(filepath.Join(out, "_job.json"))
	require.NoError(t, err)
	var summary struct {
		State  string
		Stages []struct {
			Name     string
			Rounds   int
			Tasks    int
			Counters map[string]int64
		}
	}
	require.NoError(t, json.Unmarshal(data, &summary))
	require.Equal(t, "succeeded", summary.State)
	stages := map[string]map[string]int64{}
	for _, s := range summary.Stages {
		stages[s.Name] = s.Counters
		if s.Name == "rank" {
			require.Equal(t, 3, s.Rounds, "rank runs iterations-1 rounds")
			require.Equal(t, 3*apptest.Small.Reducers, s.Tasks)
		}
	}
	graph, rank, ranks := stages["graph"], stages["rank"], stages["ranks"]
	require.Zero(t, graph["local_bytes"], "graph reads the shuffled edges")
	require.Positive(t, graph["shuffle_bytes"])
	// Every round reads the whole graph without a shuffle, and the shares
	// with one; the last stage likewise.
	require.Positive(t, rank["local_bytes"])
	require.Positive(t, rank["shuffle_bytes"])
	require.Positive(t, ranks["local_bytes"])
	require.Equal(t, rank["local_bytes"], 3*ranks["local_bytes"], "each round reads the same graph")
	// Each round emits a share per edge, and writes one per target node
	// and task: the combiner sums the rest away.
	edges := stages["edges"]["map_input_records"]
	require.Equal(t, 3*edges, rank["combine_input_records"], "rank emits one share per edge per round")
	require.Equal(t, rank["combine_output_records"], rank["map_output_records"])
	require.Less(t, 2*rank["map_output_records"], rank["combine_input_records"], "combining should halve the shares at least")
}
