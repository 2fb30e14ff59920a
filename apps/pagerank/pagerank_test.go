package pagerank_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
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
	"github.com/quern-dev/quern/pipeline"
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
	for _, line := range strings.Split(string(data), "\n") {
		ids := strings.Fields(line)
		if len(ids) == 0 || strings.HasPrefix(ids[0], "#") || strings.HasPrefix(ids[0], "%") {
			continue
		}
		require.Len(t, ids, 2, line)
		src, err := strconv.ParseUint(ids[0], 10, 64)
		require.NoError(t, err)
		dst, err := strconv.ParseUint(ids[1], 10, 64)
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

// TestPageRankStages checks, from _job.json, that the edges are sent
// once, unsorted, and that each round sends shares per target node and
// partition, not per edge.
func TestPageRankStages(t *testing.T) {
	const iterations = 4
	in := apptest.Generate(t, t.TempDir(), "edges.txt", "graph", 64<<10, 5)
	out, _ := runPageRank(t, mapreduce.EngineInline, in, iterations, apptest.Small)
	data, err := os.ReadFile(filepath.Join(out, "_job.json"))
	require.NoError(t, err)
	var summary struct {
		State  string
		Stages []struct {
			Name     string
			Kind     string
			Rounds   int
			Tasks    int
			Counters map[string]int64
		}
	}
	require.NoError(t, json.Unmarshal(data, &summary))
	require.Equal(t, "succeeded", summary.State)
	require.Len(t, summary.Stages, 2)
	edges, rank := summary.Stages[0], summary.Stages[1]
	require.Equal(t, "state", rank.Kind)
	require.Equal(t, iterations, rank.Rounds)
	require.Equal(t, (iterations+2)*apptest.Small.Reducers, rank.Tasks, "a build, a task per round and a finish per partition")
	require.Equal(t, edges.Counters["map_output_records"], rank.Counters["reduce_input_records"], "Build reads every edge")
	n := edges.Counters["map_input_records"]
	require.Equal(t, n, edges.Counters["map_output_records"], "one record per edge")
	require.Positive(t, rank.Counters["shuffle_bytes"], "rank reads the edges through a shuffle")
	require.Zero(t, rank.Counters["spilled_records"], "nothing is sorted")
	nodes := int64(len(readRanks(t, out, apptest.Small.Reducers)))
	// Each round sends each partition one float64 per target node it owns
	// (and Build one id), so the messages are bounded by the nodes, not the
	// edges: at most steps × partitions × (header + 8 × nodes).
	r := int64(apptest.Small.Reducers)
	bound := (iterations + 1) * r * (24*r + 8*nodes)
	require.Positive(t, rank.Counters["message_bytes"])
	require.LessOrEqual(t, rank.Counters["message_bytes"], bound, "shares are summed per target node")
	require.Less(t, bound, iterations*8*n, "the bound above must be below one share per edge per round")
	// The graph is written twice per partition: by Build, and completed by
	// round 1; later rounds keep it.
	require.Positive(t, rank.Counters["state_bytes"])
	require.Less(t, rank.Counters["state_bytes"], 2*(64*r+16*n+16*nodes*r), "the state is written in Build and round 1 only")
}

// TestPageRankSmallGraphs checks hand-made graphs against the reference:
// ids at both ends of the range, self-loops, repeated edges, dangling
// nodes, a node that is only a target, blank lines and spaces, the
// comment lines of SNAP's and KONECT's files.
func TestPageRankSmallGraphs(t *testing.T) {
	graphs := map[string]string{
		"cycle":     "1\t2\n2\t1\n",
		"star":      "0\t7\n1\t7\n2\t7\n3\t7\n7\t0\n",
		"extremes":  "0\t18446744073709551614\n18446744073709551614\t0\n18446744073709551614\t18446744073709551614\n",
		"multi":     "5\t6\n5\t6\n5\t7\n6\t5\n\n8  9\n 9\t9 \n",
		"dangling":  "1\t2\n2\t3\n3\t4\n1\t4\n",
		"one-edge":  "42\t43\n",
		"self-loop": "3\t3\n",
		"snap": "# Directed graph (each unordered pair of nodes is saved once): web-Google.txt\n" +
			"# Nodes: 4 Edges: 5\n# FromNodeId\tToNodeId\n0\t1\n0\t2\n1\t2\n  # a comment indented\n2\t0\n3\t3\n",
		"konect": "% asym unweighted\n% 5 4 4\n1 2\n1 3\n2 3\n3 1\n4 4\n",
	}
	for name, text := range graphs {
		t.Run(name, func(t *testing.T) {
			in := filepath.Join(t.TempDir(), "edges.txt")
			require.NoError(t, os.WriteFile(in, []byte(text), 0o644))
			for _, iterations := range []int{1, 3} {
				out, _ := runPageRank(t, mapreduce.EngineInline, in, iterations, apptest.Small)
				requireClose(t, reference(t, in, iterations), readRanks(t, out, apptest.Small.Reducers))
			}
		})
	}
	// The 2-cycle's ranks stay 1 exactly: a check that needs no reference.
	in := filepath.Join(t.TempDir(), "edges.txt")
	require.NoError(t, os.WriteFile(in, []byte(graphs["cycle"]), 0o644))
	out, _ := runPageRank(t, mapreduce.EngineInline, in, 20, apptest.Small)
	require.Equal(t, map[uint64]float64{1: 1, 2: 1}, readRanks(t, out, apptest.Small.Reducers))
}

// killEnv names the round whose first attempt, in partition 1, kills its
// worker process (see killingPageRank). Only the test sets it.
const killEnv = "PAGERANK_TEST_KILL_ROUND"

// killingPageRank is pagerank whose rank step, in the round killEnv names,
// kills its own worker process (SIGKILL, or TerminateProcess) after the
// step has run but before its messages are written: the first attempt of
// that round's partition 1 dies mid-round.
var killingPageRank = pipeline.Register("test-pagerank-killed", "pagerank whose worker dies in a round", pagerank.Pipeline.Params,
	func(p *pipeline.Pipeline) {
		pagerank.Build(p, func(step pagerank.Step) pagerank.Step {
			return func(t *pipeline.StateTask[uint64]) error {
				err := step(t)
				if strconv.Itoa(t.Round) == os.Getenv(killEnv) && t.Partition == 1 && t.TC.Attempt() == 1 {
					self, ferr := os.FindProcess(os.Getpid())
					if ferr == nil {
						ferr = self.Kill()
					}
					return fmt.Errorf("the test could not kill its worker: %v", ferr)
				}
				return err
			}
		})
	})

// TestPageRankWorkerKilledMidRound kills the worker running a round's task
// and checks that the attempt is run again and the ranks are still the
// reference's, with nothing left in the work directory.
func TestPageRankWorkerKilledMidRound(t *testing.T) {
	in := apptest.Generate(t, t.TempDir(), "edges.txt", "graph", 64<<10, 11)
	for _, round := range []int{1, 3} {
		t.Run(strconv.Itoa(round), func(t *testing.T) {
			t.Setenv(killEnv, strconv.Itoa(round))
			// slog's handler serialises its writes, and Run has returned
			// (every goroutine that logs is done) before the test reads.
			var log bytes.Buffer
			tmp, out := t.TempDir(), filepath.Join(t.TempDir(), "out")
			_, err := killingPageRank.Run(context.Background(), mapreduce.Config{
				Engine: mapreduce.EngineLocal, Inputs: []string{in}, Output: out, Workers: 2, Reducers: 3,
				TmpDir: tmp, Params: map[string]string{"iterations": "5"},
				Logger: slog.New(slog.NewTextHandler(&log, nil)),
			})
			require.NoError(t, err)
			requireClose(t, reference(t, in, 5), readRanks(t, out, 3))
			task := fmt.Sprintf("rank-r%d-00001", round)
			require.Regexp(t, `pipeline task attempt failed.*task=`+task+` attempt=1`, log.String(),
				"the killed attempt must show up as failed")
			left, err := os.ReadDir(tmp)
			require.NoError(t, err)
			require.Empty(t, left)
		})
	}
}

// loseAfterRound runs PageRank (4 iterations, the Small layout) over in
// on engine and, once round has committed in every partition, has lose
// corrupt or delete (action) one of the files that the glob pattern,
// under the work directory, matches: the first of them, or the second
// (pick). It checks that the job succeeds, the ranks are the
// reference's and nothing is left behind, and returns what the driver
// logged and the path lost.
func loseAfterRound(t *testing.T, engine, in string, want map[uint64]float64, round int, pattern, action string, pick int) (log, lost string) {
	t.Helper()
	const iterations = 4
	l := apptest.Small
	tmp, out := t.TempDir(), filepath.Join(t.TempDir(), "out")
	// slog's handler serialises its writes, and Run has returned (every
	// goroutine that logs is done) before the test reads.
	var logged bytes.Buffer
	_, err := pagerank.Pipeline.Run(context.Background(), mapreduce.Config{
		Engine: engine, Inputs: []string{in}, Output: out, Workers: l.Workers, Reducers: l.Reducers,
		SplitSize: l.SplitSize, SortBuffer: l.SortBuf, TmpDir: tmp, MaxAttempts: 2,
		Params: map[string]string{"iterations": strconv.Itoa(iterations)},
		Logger: slog.New(slog.NewTextHandler(&logged, nil)),
		// Build is step 0: round r has committed when (r+1) steps of
		// every partition have.
		OnProgress: func(p mapreduce.Progress) {
			if p.Phase != "rank" || p.Done != l.Reducers*(round+1) {
				return
			}
			files, err := filepath.Glob(filepath.Join(tmp, "_quern-pipeline-*", pattern))
			require.NoError(t, err)
			require.Greater(t, len(files), pick, "files matching %s", pattern)
			lost = files[pick]
			data, err := os.ReadFile(lost)
			require.NoError(t, err)
			if pattern == stateFiles {
				require.Greater(t, int64(len(data)), l.SortBuf, "a state this small may be read from memory")
			}
			if action == "delete" {
				require.NoError(t, os.Remove(lost))
				return
			}
			data[len(data)/2] ^= 0xff
			require.NoError(t, os.WriteFile(lost, data, 0o644))
		},
	})
	require.NoError(t, err, logged.String())
	require.NotEmpty(t, lost, "nothing was lost")
	requireClose(t, want, readRanks(t, out, l.Reducers))
	left, err := os.ReadDir(tmp)
	require.NoError(t, err)
	require.Empty(t, left, "intermediate files left in %s", tmp)
	return logged.String(), lost
}

// stateFiles are the partitions' states that round 1 set (the graph,
// completed), which every later round reads.
var stateFiles = filepath.Join("s01-rank-r001", "*", "state.blob")

// TestPageRankLostMessage corrupts or deletes one of the messages (rank
// shares) a round sent, after the round has committed and before the next
// reads it, on both engines: the step that sent it runs again from the
// state and messages it read, which are kept until the next round has
// committed, and the ranks are the reference's. Round 1 also replaces
// each partition's state (the graph, completed), which the remake's
// state replaces in turn.
func TestPageRankLostMessage(t *testing.T) {
	in := apptest.Generate(t, t.TempDir(), "edges.txt", "graph", 64<<10, 5)
	want := reference(t, in, 4)
	for _, engine := range []string{mapreduce.EngineInline, mapreduce.EngineLocal} {
		for _, action := range []string{"corrupt", "delete"} {
			for _, round := range []int{1, 3} {
				t.Run(fmt.Sprintf("%s/%s/round %d", engine, action, round), func(t *testing.T) {
					log, lost := loseAfterRound(t, engine, in, want, round, filepath.Join(fmt.Sprintf("s01-rank-r%03d", round), "*", "to*.msg"), action, 0)
					require.Contains(t, log, "run="+lost, "the lost message must be made again")
				})
			}
		}
	}
}

// TestPageRankLostState corrupts or deletes a partition's state (its part
// of the graph, set in round 1 and read by every round after) once round
// 1 or round 3 has committed, on both engines. After round 1 the step that
// wrote it runs again from its inputs, still kept; after round 3 those are
// gone too and are made again first, back to Build and the runs it read.
// The ranks are the reference's and nothing is left behind. Each state is
// larger than the sort buffer, so no process keeps a copy in memory and
// the next round must read the file.
func TestPageRankLostState(t *testing.T) {
	in := apptest.Generate(t, t.TempDir(), "edges.txt", "graph", 512<<10, 5)
	want := reference(t, in, 4)
	for _, engine := range []string{mapreduce.EngineInline, mapreduce.EngineLocal} {
		for _, action := range []string{"corrupt", "delete"} {
			for _, round := range []int{1, 3} {
				t.Run(fmt.Sprintf("%s/%s/round %d", engine, action, round), func(t *testing.T) {
					log, lost := loseAfterRound(t, engine, in, want, round, stateFiles, action, 1)
					require.Contains(t, log, "task=rank-r1-00001 run="+lost, "the lost state must be made again")
					// Build's state and messages, which round 1 read, are
					// kept until round 2 has committed.
					require.Equal(t, round == 3, strings.Contains(log, "task=rank-00001 run="),
						"Build must run again exactly when round 1's inputs are gone:\n%s", log)
				})
			}
		}
	}
}
