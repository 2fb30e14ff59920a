package beamjob_test

import (
	"iter"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/quern-dev/quern/beam/beamjob"
	"github.com/quern-dev/quern/beam/internal/beamtest"
	"github.com/quern-dev/quern/mapreduce"
	"github.com/quern-dev/quern/pipeline"
)

// writeGraph writes a generated R-MAT graph (quern gen graph) followed by
// the edges the generator may not make: a repeated edge, a self loop, a
// node without in-edges (7000001), a dangling node (7000003, which only
// has in-edges), a blank line and spaces instead of a tab.
func writeGraph(t *testing.T, dir string) string {
	t.Helper()
	path := beamtest.Generate(t, dir, "edges.txt", "graph", 256<<10, 8) // 1024 nodes
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteString("7000001\t7000002\n7000001\t7000002\n7000002\t7000002\n\n7000002  7000003\n7000001\t1\n")
	require.NoError(t, err)
	require.NoError(t, f.Close())
	return path
}

// ranks reads an output's "node<TAB>rank" lines.
func ranks(t *testing.T, lines []string) map[uint64]float64 {
	t.Helper()
	out := make(map[uint64]float64, len(lines))
	for _, line := range lines {
		node, rank, ok := strings.Cut(line, "\t")
		require.True(t, ok, "line %q", line)
		id, err := strconv.ParseUint(node, 10, 64)
		require.NoError(t, err, "line %q", line)
		r, err := strconv.ParseFloat(rank, 64)
		require.NoError(t, err, "line %q", line)
		_, dup := out[id]
		require.False(t, dup, "node %d twice", id)
		out[id] = r
	}
	return out
}

// TestPageRankMatchesLocalEngine runs pagerank on Prism, its rounds
// unrolled into one Beam pipeline, and on the local engine, for one round
// and for several, and compares every node's rank numerically: the sums
// add the shares in another order, so they agree to a relative 1e-9, not
// bit for bit.
func TestPageRankMatchesLocalEngine(t *testing.T) {
	edges := writeGraph(t, t.TempDir())
	for _, rounds := range []string{"1", "4"} {
		t.Run(rounds, func(t *testing.T) {
			cfg := beamjob.Config{Job: "pagerank", Inputs: []string{edges}, SplitSize: 64 << 10,
				Params: map[string]string{"iterations": rounds}}
			local, wantLines := runLocal(t, cfg)
			res, gotLines := runBeam(t, cfg)
			want, got := ranks(t, wantLines), ranks(t, gotLines)
			require.Equal(t, len(want), len(got), "nodes")
			require.Greater(t, len(want), 900) // most of the 1024, and the 3 added
			for id, w := range want {
				g, ok := got[id]
				require.True(t, ok, "node %d missing on Beam", id)
				require.LessOrEqual(t, math.Abs(g-w), 1e-9*math.Abs(w), "node %d: rank %v on Beam, %v locally", id, g, w)
			}
			require.Equal(t, 1-0.85, got[7000001], "a node without in-edges")
			for _, name := range []string{mapreduce.MapInputRecords, mapreduce.MapInputBytes, mapreduce.ReduceOutputRecords} {
				require.Equal(t, local.Counters[name], res.Counters[name], "counter %s", name)
			}
		})
	}
}

// TestPageRankIterationsRefused: a bad --iterations is refused before
// the output is touched, as on the local engine.
func TestPageRankIterationsRefused(t *testing.T) {
	dir := t.TempDir()
	edges := filepath.Join(dir, "edges.txt")
	require.NoError(t, os.WriteFile(edges, []byte("1\t2\n2\t1\n"), 0o644))
	out := filepath.Join(dir, "out")
	for _, n := range []string{"0", "x"} {
		_, err := beamjob.Build(beamjob.Config{Job: "pagerank", Inputs: []string{edges}, Output: out,
			Params: map[string]string{"iterations": n}})
		require.ErrorIs(t, err, beamjob.ErrConfig)
		require.ErrorContains(t, err, "--iterations must be a whole number of at least 1")
		require.NoDirExists(t, out)
	}
}

// statefulPipeline has a state stage that no translation knows: Beam
// refuses it (TestUnportablePipelineIsRefused).
var statefulPipeline = pipeline.Register("beamjob-test-stateful", "a state stage Beam does not run (test)", nil, func(p *pipeline.Pipeline) {
	lines := pipeline.Read(p, "read", func(_ *mapreduce.TaskContext, rec mapreduce.Record, emit func(string, int)) error {
		emit(string(rec.Value), 1)
		return nil
	})
	pipeline.Output(pipeline.Stateful(lines, "keep", pipeline.StateLoop[string, int, string, int]{
		Rounds: func(map[string]string) (int, error) { return 1, nil },
		Build:  func(*pipeline.StateTask[string], iter.Seq2[string, int]) error { return nil },
		Step:   func(*pipeline.StateTask[string]) error { return nil },
		Finish: func(*pipeline.StateTask[string], func(string, int)) error { return nil },
	}))
})

// TestUnportablePipelineIsRefused: a pipeline whose state stage keeps each
// partition's state between rounds, which the translation cannot express
// (only pagerank's is translated by hand), is refused as a configuration
// error that points to quern run, before the output is touched.
func TestUnportablePipelineIsRefused(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.txt")
	require.NoError(t, os.WriteFile(in, []byte("a\nb\n"), 0o644))
	out := filepath.Join(dir, "out")
	require.Error(t, beamjob.CanRun(statefulPipeline))
	_, err := beamjob.Build(beamjob.Config{Job: statefulPipeline.Name, Inputs: []string{in}, Output: out})
	require.ErrorIs(t, err, beamjob.ErrConfig)
	require.ErrorContains(t, err, "run it with 'quern run beamjob-test-stateful'")
	require.ErrorContains(t, err, "state")
	require.NoDirExists(t, out)
}
