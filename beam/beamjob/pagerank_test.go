package beamjob_test

import (
	"iter"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/quern-dev/quern/beam/beamjob"
	"github.com/quern-dev/quern/beam/internal/beamtest"
	"github.com/quern-dev/quern/mapreduce"
	"github.com/quern-dev/quern/pipeline"
)

// TestPageRankMatchesLocalEngine runs pagerank on Prism, its rounds
// unrolled into one Beam pipeline, and on the local engine, for one round
// and for several, and compares every node's rank numerically: the sums
// add the shares in another order, so they agree to a relative 1e-9, not
// bit for bit.
func TestPageRankMatchesLocalEngine(t *testing.T) {
	edges := beamtest.Graph(t, t.TempDir())
	for _, rounds := range []string{"1", "4"} {
		t.Run(rounds, func(t *testing.T) {
			cfg := beamjob.Config{Job: "pagerank", Inputs: []string{edges}, SplitSize: 64 << 10,
				Params: map[string]string{"iterations": rounds}}
			local, wantLines := runLocal(t, cfg)
			res, gotLines := runBeam(t, cfg)
			beamtest.RanksAgree(t, wantLines, gotLines)
			got := beamtest.Ranks(t, gotLines)
			require.Greater(t, len(got), 900) // most of the 1024, and the 3 added
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
		_, err := beamjob.Build(t.Context(), beamjob.Config{Job: "pagerank", Inputs: []string{edges}, Output: out,
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
	_, err := beamjob.Build(t.Context(), beamjob.Config{Job: statefulPipeline.Name, Inputs: []string{in}, Output: out})
	require.ErrorIs(t, err, beamjob.ErrConfig)
	require.ErrorContains(t, err, "run it with 'quern run beamjob-test-stateful'")
	require.ErrorContains(t, err, "state")
	require.NoDirExists(t, out)
}
