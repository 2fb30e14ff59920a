package pipeline_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/quern-dev/quern/mapreduce"
	"github.com/quern-dev/quern/pipeline"
)

// wordState is test-state-counts' state of one partition.
type wordState struct {
	Counts map[string]int64
	// Replaced is the round that last called SetState.
	Replaced int
}

// roundMessage is what every step sends every partition.
type roundMessage struct{ Round, From int }

// stateCounts counts words in a state stage, and checks on the way what a
// state stage promises: Build gets exactly its partition's keys, each step
// gets the messages every partition sent it in the step before, and a step
// that does not replace the state passes it on unchanged. With fail=N, the
// step of round N fails.
var stateCounts = pipeline.Register("test-state-counts", "word count in a state stage",
	[]mapreduce.Param{{Name: "rounds", Default: "3"}, {Name: "fail"}}, func(p *pipeline.Pipeline) {
		split := pipeline.Read(p, "split", func(tc *mapreduce.TaskContext, rec mapreduce.Record, emit func(string, int64)) error {
			for _, w := range bytes.Fields(rec.Value) {
				emit(string(w), 1)
			}
			return nil
		})
		counts := pipeline.Stateful(split, "count", pipeline.StateLoop[string, int64, string, int64]{
			Rounds: func(params map[string]string) (int, error) { return strconv.Atoi(params["rounds"]) },
			Build: func(t *pipeline.StateTask[string], pairs iter.Seq2[string, int64]) error {
				st := wordState{Counts: map[string]int64{}}
				var n int64
				for w, c := range pairs {
					if q := t.PartitionOf(w); q != t.Partition {
						return fmt.Errorf("partition %d got %q, a key of partition %d", t.Partition, w, q)
					}
					st.Counts[w] += c
					n++
				}
				if n != t.Records {
					return fmt.Errorf("Build got %d pairs, Records says %d", n, t.Records)
				}
				return setState(t, st)
			},
			Step: func(t *pipeline.StateTask[string]) error {
				if t.TC.Param("fail") == strconv.Itoa(t.Round) {
					return errors.New("the step fails on purpose")
				}
				blockIn(t.TC, "round-"+strconv.Itoa(t.Round))
				var st wordState
				if err := json.Unmarshal(t.State(), &st); err != nil {
					return err
				}
				if err := checkInbox(t); err != nil {
					return err
				}
				if want := max(t.Round-1-(t.Round-1)%2, 0); st.Replaced != want {
					return fmt.Errorf("round %d read the state of round %d, want %d's", t.Round, st.Replaced, want)
				}
				if t.Round%2 == 0 {
					return setState(t, st) // odd rounds keep the state
				}
				sendAll(t)
				return nil
			},
			Finish: func(t *pipeline.StateTask[string], emit func(string, int64)) error {
				var st wordState
				if err := json.Unmarshal(t.State(), &st); err != nil {
					return err
				}
				if err := checkInbox(t); err != nil {
					return err
				}
				for _, w := range slices.Sorted(maps.Keys(st.Counts)) {
					emit(w, st.Counts[w])
				}
				return nil
			},
		})
		pipeline.Output(counts)
	})

func setState(t *pipeline.StateTask[string], st wordState) error {
	st.Replaced = t.Round
	b, err := json.Marshal(st)
	t.SetState(b)
	sendAll(t)
	return err
}

func sendAll(t *pipeline.StateTask[string]) {
	for q := range t.Partitions {
		b, _ := json.Marshal(roundMessage{Round: t.Round, From: t.Partition})
		t.Send(q, b)
	}
}

// checkInbox checks that every partition's message of the step before
// arrived, and only that.
func checkInbox(t *pipeline.StateTask[string]) error {
	for from := range t.Partitions {
		var m roundMessage
		if err := json.Unmarshal(t.Received(from), &m); err != nil {
			return fmt.Errorf("round %d, message from %d: %w", t.Round, from, err)
		}
		if m != (roundMessage{Round: t.Round - 1, From: from}) {
			return fmt.Errorf("round %d got %+v from %d", t.Round, m, from)
		}
	}
	return nil
}

// TestStateStage runs the state stage on both engines for 0, 1 and 4
// rounds against a reference word count, and checks that its input was
// sent unsorted and its files removed.
func TestStateStage(t *testing.T) {
	var b strings.Builder
	for i := range 3000 {
		fmt.Fprintf(&b, "w%d w%d w%d\n", i%7, i%11, i%13)
	}
	in, want := writeCounted(t, b.String())
	for _, engine := range []string{mapreduce.EngineInline, mapreduce.EngineLocal} {
		for _, rounds := range []int{0, 1, 4} {
			t.Run(fmt.Sprintf("%s/%d", engine, rounds), func(t *testing.T) {
				tmp, out := t.TempDir(), filepath.Join(t.TempDir(), "out")
				_, err := stateCounts.Run(context.Background(), config(engine, in, tmp, out, map[string]string{"rounds": strconv.Itoa(rounds)}))
				require.NoError(t, err)
				require.Equal(t, want, readOutput(t, out))
				state, _, stages := readSummary(t, out)
				require.Equal(t, "succeeded", state)
				require.Zero(t, stages["split"].Counters["spilled_records"], "split's output is not sorted")
				require.Positive(t, stages["count"].Counters["shuffle_bytes"])
				require.Positive(t, stages["count"].Counters["message_bytes"])
				left, err := os.ReadDir(tmp)
				require.NoError(t, err)
				require.Empty(t, left, "files left in %s", tmp)
			})
		}
	}
}

// TestStateStageFails checks that a failing step fails the pipeline with
// an error naming the stage and round, and leaves nothing behind.
func TestStateStageFails(t *testing.T) {
	in, _ := writeInput(t)
	for _, engine := range []string{mapreduce.EngineInline, mapreduce.EngineLocal} {
		t.Run(engine, func(t *testing.T) {
			tmp, out := t.TempDir(), filepath.Join(t.TempDir(), "out")
			_, err := stateCounts.Run(context.Background(), config(engine, in, tmp, out, map[string]string{"fail": "2"}))
			var se *pipeline.StageError
			require.ErrorAs(t, err, &se)
			require.Equal(t, "count", se.Stage)
			require.Equal(t, 2, se.Round)
			require.ErrorContains(t, err, "the step fails on purpose")
			entries, err := os.ReadDir(out)
			require.NoError(t, err)
			for _, e := range entries {
				require.False(t, strings.HasPrefix(e.Name(), "part-"), "part file %s left", e.Name())
			}
			left, err := os.ReadDir(tmp)
			require.NoError(t, err)
			require.Empty(t, left)
		})
	}
}

// stateOfCounts feeds a state stage with a ByKey stage's output, which is
// written as sorted runs (not exchange files): Build then reads each run's
// segment of its partition.
var stateOfCounts = pipeline.Register("test-state-of-counts", "word count, then a state stage over the counts", nil,
	func(p *pipeline.Pipeline) {
		split := pipeline.Read(p, "split", func(tc *mapreduce.TaskContext, rec mapreduce.Record, emit func(string, int64)) error {
			for _, w := range bytes.Fields(rec.Value) {
				emit(string(w), 1)
			}
			return nil
		})
		counts := pipeline.ReduceByKey(split, "count", sumCounts)
		pipeline.Output(pipeline.Stateful(counts, "keep", pipeline.StateLoop[string, int64, string, int64]{
			Rounds: func(map[string]string) (int, error) { return 1, nil },
			Build: func(t *pipeline.StateTask[string], pairs iter.Seq2[string, int64]) error {
				st := wordState{Counts: map[string]int64{}}
				for w, n := range pairs {
					if _, dup := st.Counts[w]; dup {
						return fmt.Errorf("%q twice", w)
					}
					st.Counts[w] = n
				}
				b, err := json.Marshal(st)
				t.SetState(b)
				return err
			},
			Step: func(*pipeline.StateTask[string]) error { return nil },
			Finish: func(t *pipeline.StateTask[string], emit func(string, int64)) error {
				var st wordState
				if err := json.Unmarshal(t.State(), &st); err != nil {
					return err
				}
				for _, w := range slices.Sorted(maps.Keys(st.Counts)) {
					emit(w, st.Counts[w])
				}
				return nil
			},
		}))
	})

// TestStateStageReadsSortedRuns checks a state stage whose input is a
// ByKey stage's sorted runs against the word counts.
func TestStateStageReadsSortedRuns(t *testing.T) {
	var b strings.Builder
	for i := range 2000 {
		fmt.Fprintf(&b, "w%d ", i%37)
		if i%10 == 9 {
			b.WriteString("\n")
		}
	}
	in, want := writeCounted(t, b.String())
	for _, engine := range []string{mapreduce.EngineInline, mapreduce.EngineLocal} {
		t.Run(engine, func(t *testing.T) {
			tmp, out := t.TempDir(), filepath.Join(t.TempDir(), "out")
			_, err := stateOfCounts.Run(context.Background(), config(engine, in, tmp, out, nil))
			require.NoError(t, err)
			require.Equal(t, want, readOutput(t, out))
			_, _, stages := readSummary(t, out)
			require.Positive(t, stages["keep"].Counters["local_bytes"], "keep reads count's runs co-partitioned")
			require.EqualValues(t, strings.Count(want, "\n")+1, stages["keep"].Counters["reduce_input_records"], "one record per distinct word")
		})
	}
}

// writeCounted writes text as a test input and returns its path and its
// word count as the state stages above write it: "word<TAB>count" lines in
// word order.
func writeCounted(t *testing.T, text string) (string, string) {
	t.Helper()
	in := filepath.Join(t.TempDir(), "in.txt")
	require.NoError(t, os.WriteFile(in, []byte(text), 0o644))
	counts := map[string]int64{}
	for _, w := range strings.Fields(text) {
		counts[w]++
	}
	var lines []string
	for w, n := range counts {
		lines = append(lines, fmt.Sprintf("%s\t%d", w, n))
	}
	slices.Sort(lines)
	return in, strings.Join(lines, "\n")
}

// TestStateStageResumes kills the driver of a state stage while it runs
// round 3 of 4 and resumes it: the stage goes on from round 3 with the
// states and messages of round 2 (the steps check that they read round 2's
// state and messages), Build does not run again, and the output is an
// uninterrupted run's. A changed parameter makes the stage start over.
func TestStateStageResumes(t *testing.T) {
	var b strings.Builder
	for i := range 3000 {
		fmt.Fprintf(&b, "w%d w%d w%d\n", i%7, i%11, i%13)
	}
	in, want := writeCounted(t, b.String())
	tmp, out := t.TempDir(), filepath.Join(t.TempDir(), "out")
	params := map[string]string{"rounds": "4"}
	checkpoint := filepath.Join(tmp, "_quern-pipeline-test-state-counts-*", "unit-01-state.json")
	killedInRound3 := func() {
		killWhen(t, driverSpec{Pipeline: stateCounts.Name, In: in, Tmp: tmp, Out: out, Params: params}, "round-3", checkpointOfRound(checkpoint, 2))
	}
	killedInRound3()
	res, err := stateCounts.Resume(context.Background(), config(mapreduce.EngineInline, in, tmp, out, params))
	require.NoError(t, err)
	require.Equal(t, want, readOutput(t, out))
	require.Zero(t, res.Counters[mapreduce.MapInputRecords], "split ran again")
	require.Zero(t, res.Counters[mapreduce.ReduceInputRecords], "Build ran again")
	require.Equal(t, 4, res.Stages[1].Rounds)
	require.Positive(t, res.Stages[1].Counters[mapreduce.ReduceInputRecords], "the report counts the killed run's Build")
	left, err := os.ReadDir(tmp)
	require.NoError(t, err)
	require.Empty(t, left)

	require.NoError(t, os.RemoveAll(out))
	killedInRound3()
	params = map[string]string{"rounds": "4", "fail": "none"}
	res, err = stateCounts.Resume(context.Background(), config(mapreduce.EngineInline, in, tmp, out, params))
	require.NoError(t, err)
	require.Equal(t, want, readOutput(t, out))
	require.Positive(t, res.Counters[mapreduce.ReduceInputRecords], "a changed parameter builds the state again")
}

// adding adds 1 to every number in each round of a loop. A round's task
// calls blockIn with "add-rN" (N its round), so that a test can hold the
// driver in round N.
var adding = pipeline.Register("test-adding", "add one to numbers, round after round",
	[]mapreduce.Param{{Name: "rounds", Default: "4"}}, func(p *pipeline.Pipeline) {
		numbers := pipeline.Read(p, "numbers", func(tc *mapreduce.TaskContext, rec mapreduce.Record, emit func(int64, int64)) error {
			n, err := strconv.ParseInt(string(rec.Value), 10, 64)
			emit(n, n)
			return err
		})
		added := pipeline.Iterate("add-loop", numbers, pipeline.Loop{
			Rounds: func(params map[string]string) (int, error) { return strconv.Atoi(params["rounds"]) },
		}, func(carried pipeline.Collection[int64, int64]) pipeline.Collection[int64, int64] {
			return pipeline.ReduceByKey(carried, "add", func(tc *mapreduce.TaskContext, k int64, ns iter.Seq[int64], emit func(int64)) error {
				round := regexp.MustCompile(`-r\d+-`).FindString(tc.TaskID())
				blockIn(tc, "add"+strings.TrimSuffix(round, "-"))
				tc.Count("add_calls", 1)
				for n := range ns {
					emit(n + 1)
				}
				return nil
			})
		})
		pipeline.Output(pipeline.ReduceByKey(added, "out", func(tc *mapreduce.TaskContext, k int64, ns iter.Seq[int64], emit func(int64)) error {
			for n := range ns {
				emit(n)
			}
			return nil
		}))
	})

// TestLoopResumes kills the driver of a loop while it runs round 3 of 4
// and resumes it: the loop goes on from round 3 with round 2's runs (the
// read stage and rounds 1 and 2 do not run again), and the output is an
// uninterrupted run's. A changed round count runs the loop from round 1.
func TestLoopResumes(t *testing.T) {
	var b strings.Builder
	for n := range 1000 {
		fmt.Fprintf(&b, "%d\n", n)
	}
	in := filepath.Join(t.TempDir(), "numbers.txt")
	require.NoError(t, os.WriteFile(in, []byte(b.String()), 0o644))
	want := func(rounds int) string {
		var lines []string
		for n := range 1000 {
			lines = append(lines, fmt.Sprintf("%d\t%d", n, n+rounds))
		}
		slices.Sort(lines)
		return strings.Join(lines, "\n")
	}
	tmp, out := t.TempDir(), filepath.Join(t.TempDir(), "out")
	params := map[string]string{"rounds": "4"}
	checkpoint := filepath.Join(tmp, "_quern-pipeline-test-adding-*", "unit-01-loop.json")
	killWhen(t, driverSpec{Pipeline: adding.Name, In: in, Tmp: tmp, Out: out, Params: params}, "add-r3", checkpointOfRound(checkpoint, 2))
	res, err := adding.Resume(context.Background(), config(mapreduce.EngineInline, in, tmp, out, params))
	require.NoError(t, err)
	require.Equal(t, want(4), readOutput(t, out))
	require.Zero(t, res.Counters[mapreduce.MapInputRecords], "the read stage ran again")
	require.Equal(t, int64(2*1000), res.Counters["add_calls"], "rounds 3 and 4 only")
	require.Equal(t, 4, res.Stages[1].Rounds)
	left, err := os.ReadDir(tmp)
	require.NoError(t, err)
	require.Empty(t, left)

	require.NoError(t, os.RemoveAll(out))
	killWhen(t, driverSpec{Pipeline: adding.Name, In: in, Tmp: tmp, Out: out, Params: params}, "add-r3", func() bool {
		found, _ := filepath.Glob(checkpoint)
		return len(found) > 0
	})
	params = map[string]string{"rounds": "5"}
	res, err = adding.Resume(context.Background(), config(mapreduce.EngineInline, in, tmp, out, params))
	require.NoError(t, err)
	require.Equal(t, want(5), readOutput(t, out))
	require.Equal(t, int64(5*1000), res.Counters["add_calls"], "a changed round count runs every round")
}

// checkpointOfRound returns a killWhen condition: the loop checkpoint that
// the glob pattern names exists and records round.
func checkpointOfRound(pattern string, round int) func() bool {
	return func() bool {
		found, _ := filepath.Glob(pattern)
		if len(found) == 0 {
			return false
		}
		var cp struct{ Round int }
		b, err := os.ReadFile(found[0])
		return err == nil && json.Unmarshal(b, &cp) == nil && cp.Round == round
	}
}
