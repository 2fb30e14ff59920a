package pipeline_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"os"
	osexec "os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/quern-dev/quern/mapreduce"
	"github.com/quern-dev/quern/pipeline"
)

// sides reads the files a* and b* in two stages, which depend on nothing
// and so run side by side, then cogroups their words: "word<TAB>count in
// a files<TAB>count in b files". With the parameter rendezvous=DIR, each
// side's task waits until the other side's task has started (a file in
// DIR), which only happens if the two stages run at the same time.
var sides = pipeline.Register("test-sides", "words counted in the a and b files",
	[]mapreduce.Param{{Name: "rendezvous"}}, func(p *pipeline.Pipeline) {
		side := func(name, prefix, other string) pipeline.Collection[string, int64] {
			keep := func(_ map[string]string, file string) (bool, error) {
				return strings.HasPrefix(filepath.Base(file), prefix), nil
			}
			met := false
			return pipeline.ReadFiles(p, name, keep, func(tc *mapreduce.TaskContext, rec mapreduce.Record, emit func(string, int64)) error {
				if dir := tc.Param("rendezvous"); dir != "" && !met {
					if err := meet(dir, name, other); err != nil {
						return err
					}
					met = true
				}
				for _, w := range bytes.Fields(rec.Value) {
					emit(string(w), 1)
				}
				return nil
			})
		}
		a, b := side("read-a", "a", "read-b"), side("read-b", "b", "read-a")
		pipeline.Output(pipeline.CoGroupByKey(a, b, "pair", func(tc *mapreduce.TaskContext, w string, as, bs iter.Seq[int64], emit func(string)) error {
			var na, nb int
			for range as {
				na++
			}
			for range bs {
				nb++
			}
			emit(fmt.Sprintf("%d\t%d", na, nb))
			return nil
		}))
	})

// meet says that stage me is running (a file in dir) and waits until
// stage other says so too, or fails after a minute: the two were not
// scheduled at the same time.
func meet(dir, me, other string) error {
	if err := os.WriteFile(filepath.Join(dir, me), nil, 0o644); err != nil {
		return err
	}
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if _, err := os.Stat(filepath.Join(dir, other)); err == nil {
			return nil
		}
	}
	return fmt.Errorf("stage %s ran alone: %s never started beside it", me, other)
}

// TestIndependentStagesRunSideBySide runs the two read stages of
// test-sides on 2 workers; each task waits for the other stage's task, so
// the pipeline succeeds only if the scheduler starts both stages at once.
// It also checks ReadFiles (each side reads only its files) and CoGroup.
func TestIndependentStagesRunSideBySide(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "a1.txt"), []byte("x y y\nz\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "b1.txt"), []byte("y w\nw w\n"), 0o644))
	tmp, out := t.TempDir(), filepath.Join(t.TempDir(), "out")
	cfg := config(mapreduce.EngineLocal, dir, tmp, out, map[string]string{"rendezvous": t.TempDir()})
	res, err := sides.Run(context.Background(), cfg)
	require.NoError(t, err)
	require.Equal(t, "w\t0\t3\nx\t1\t0\ny\t2\t1\nz\t1\t0", readOutput(t, out))
	for _, s := range res.Stages[:2] {
		require.Equal(t, 1, s.Tasks, s.Name)
		require.Equal(t, int64(2), s.Counters[mapreduce.MapInputRecords], "%s reads its own file only", s.Name)
	}
}

// TestStageFailsBesideAnother checks that when one of two independent
// stages fails, the pipeline fails naming it and the stage that depends on
// both, which never starts.
func TestStageFailsBesideAnother(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "a1.txt"), []byte("x\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "b1.txt"), []byte("y\n"), 0o644))
	tmp, out := t.TempDir(), filepath.Join(t.TempDir(), "out")
	// A rendezvous directory that does not exist: the first side to start
	// fails to write its file.
	cfg := config(mapreduce.EngineInline, dir, tmp, out, map[string]string{"rendezvous": filepath.Join(dir, "missing")})
	_, err := sides.Run(context.Background(), cfg)
	var se *pipeline.StageError
	require.ErrorAs(t, err, &se)
	require.Contains(t, []string{"read-a", "read-b"}, se.Stage)
	require.Equal(t, []string{"pair"}, se.Dependants)
	left, err := os.ReadDir(tmp)
	require.NoError(t, err)
	require.Empty(t, left, "intermediate runs left in %s", tmp)
}

// The driver TestResume kills: TestMain runs words with the config in
// driverEnv (JSON), inline, and blocks in the stage named by blockEnv.
const (
	driverEnv = "PIPELINE_TEST_DRIVER"
	blockEnv  = "PIPELINE_TEST_BLOCK"
)

// driverSpec is what the killed driver runs: a pipeline ("" for words)
// and config's arguments.
type driverSpec struct {
	Pipeline     string
	In, Tmp, Out string
	Params       map[string]string
}

func runDriver(spec string) {
	var s driverSpec
	if err := json.Unmarshal([]byte(spec), &s); err != nil {
		panic(err)
	}
	p := words
	if s.Pipeline != "" {
		p, _ = pipeline.Lookup(s.Pipeline)
	}
	if _, err := p.Run(context.Background(), config(mapreduce.EngineInline, s.In, s.Tmp, s.Out, s.Params)); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// blockIn blocks the task of stage for good in the driver TestResume
// kills.
func blockIn(tc *mapreduce.TaskContext, stage string) {
	if os.Getenv(blockEnv) == stage {
		<-tc.Context().Done()
	}
}

// killAfter starts a driver of words with cfg (inline, no parameters) that blocks in stage block,
// waits until the unit whose first stage has index committed (its
// manifest is in the work directory), and kills the driver.
func killAfter(t *testing.T, cfg mapreduce.Config, block string, committed int) {
	t.Helper()
	manifest := filepath.Join(cfg.TmpDir, "_quern-pipeline-test-words-*", fmt.Sprintf("unit-%02d.json", committed))
	killWhen(t, driverSpec{In: cfg.Inputs[0], Tmp: cfg.TmpDir, Out: cfg.Output}, block, func() bool {
		found, _ := filepath.Glob(manifest)
		return len(found) > 0
	})
}

// killWhen starts a driver of spec whose tasks block in block (blockIn),
// waits until ready holds, and kills the driver.
func killWhen(t *testing.T, spec driverSpec, block string, ready func() bool) {
	t.Helper()
	b, err := json.Marshal(spec)
	require.NoError(t, err)
	cmd := osexec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), driverEnv+"="+string(b), blockEnv+"="+block)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	// A failure guard, not a timing: a state that never comes (a driver
	// that saves no checkpoint) fails the test instead of hanging it.
	guard := time.After(5 * time.Minute)
	for !ready() {
		select {
		case err := <-exited:
			t.Fatalf("the driver ended before it was killed: %v\n%s", err, stderr.String())
		case <-guard:
			cmd.Process.Kill()
			<-exited
			t.Fatalf("the state to kill the driver in never came\n%s", stderr.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
	require.NoError(t, cmd.Process.Kill())
	<-exited
}

func reusedStages(res *pipeline.Result) []string {
	var names []string
	for _, s := range res.Stages {
		if s.Reused {
			names = append(names, s.Name)
		}
	}
	return names
}

// TestResume kills a driver between stages and resumes it: the committed
// stages are reused (their functions do not run again: no map input is
// read), the rest run, the output is right and nothing is left in the temp
// directory. A changed input file or parameter makes every stage run again;
// resuming a finished pipeline runs nothing.
func TestResume(t *testing.T) {
	in, want := writeInput(t)
	tmp, out := t.TempDir(), filepath.Join(t.TempDir(), "out")
	cfg := config(mapreduce.EngineInline, in, tmp, out, nil)

	t.Run("after split", func(t *testing.T) {
		killAfter(t, cfg, "count", 0)
		res, err := words.Resume(context.Background(), cfg)
		require.NoError(t, err)
		require.Equal(t, want, readOutput(t, out))
		require.Equal(t, []string{"split"}, reusedStages(res))
		require.Zero(t, res.Counters[mapreduce.MapInputRecords], "split ran again")
		require.Equal(t, int64(3000), res.Stages[0].Counters[mapreduce.MapInputRecords], "split's report is the run's that made it")
		left, err := os.ReadDir(tmp)
		require.NoError(t, err)
		require.Empty(t, left)
	})
	t.Run("finished", func(t *testing.T) {
		res, err := words.Resume(context.Background(), cfg)
		require.NoError(t, err)
		require.Equal(t, []string{"split", "count", "same", "list"}, reusedStages(res))
		require.Equal(t, want, readOutput(t, out))
	})
	t.Run("after count", func(t *testing.T) {
		require.NoError(t, os.RemoveAll(out))
		killAfter(t, cfg, "same", 1)
		res, err := words.Resume(context.Background(), cfg)
		require.NoError(t, err)
		require.Equal(t, want, readOutput(t, out))
		// split's runs were removed when count committed; count is
		// reused, so split need not run to remake them.
		require.Equal(t, []string{"split", "count"}, reusedStages(res))
	})
	t.Run("cleaned", func(t *testing.T) {
		// quern clean removes a killed pipeline's work directory (other
		// jobs leave it, for --resume: internal/driver's
		// TestKeptWorkDirIsLeftAtStartUp); resuming then runs it all.
		require.NoError(t, os.RemoveAll(out))
		killAfter(t, cfg, "count", 0)
		removed, err := mapreduce.CleanStale(tmp)
		require.NoError(t, err)
		require.Len(t, removed, 1)
		require.Contains(t, filepath.Base(removed[0]), "_quern-pipeline-test-words-")
		res, err := words.Resume(context.Background(), cfg)
		require.NoError(t, err)
		require.Empty(t, reusedStages(res))
		require.Equal(t, want, readOutput(t, out))
	})
	t.Run("changed parameter", func(t *testing.T) {
		require.NoError(t, os.RemoveAll(out))
		killAfter(t, cfg, "count", 0)
		changed := cfg
		changed.Params = map[string]string{"fail": "none"}
		res, err := words.Resume(context.Background(), changed)
		require.NoError(t, err)
		require.Empty(t, reusedStages(res))
		require.Equal(t, want, readOutput(t, out))
	})
	t.Run("changed input", func(t *testing.T) {
		require.NoError(t, os.RemoveAll(out))
		killAfter(t, cfg, "count", 0)
		f, err := os.OpenFile(in, os.O_APPEND|os.O_WRONLY, 0)
		require.NoError(t, err)
		_, err = f.WriteString("zebra\n")
		require.NoError(t, err)
		require.NoError(t, f.Close())
		res, err := words.Resume(context.Background(), cfg)
		require.NoError(t, err)
		require.Empty(t, reusedStages(res))
		lines := strings.Split(readOutput(t, out), "\n")
		require.Equal(t, 1+len(strings.Split(want, "\n")), len(lines), "a count of 1 for zebra")
		require.True(t, slices.Contains(lines, "1\tzebra"), lines)
	})
	t.Run("refused", func(t *testing.T) {
		require.NoError(t, os.RemoveAll(out))
		killAfter(t, cfg, "count", 0)
		// Resume refuses an output holding a file a pipeline does not
		// write...
		notes := filepath.Join(out, "notes.txt")
		require.NoError(t, os.WriteFile(notes, nil, 0o644))
		_, err := words.Resume(context.Background(), cfg)
		require.True(t, errors.Is(err, mapreduce.ErrConfig), "%v", err)
		require.ErrorContains(t, err, "notes.txt")
		require.FileExists(t, notes)
		require.NoError(t, os.Remove(notes))
		// ...and Run (not resuming) any output that holds anything.
		_, err = words.Resume(context.Background(), cfg)
		require.NoError(t, err)
		_, err = words.Run(context.Background(), cfg)
		require.ErrorIs(t, err, mapreduce.ErrConfig)
	})
}

// straggling is word count whose count task 1 hangs on its first attempt
// until it is cancelled: only a speculative backup can finish it.
var straggling = pipeline.Register("test-straggling", "word count with a straggling task", nil, func(p *pipeline.Pipeline) {
	split := pipeline.Read(p, "split", func(tc *mapreduce.TaskContext, rec mapreduce.Record, emit func(string, int64)) error {
		for _, w := range bytes.Fields(rec.Value) {
			emit(string(w), 1)
		}
		return nil
	})
	pipeline.Output(pipeline.ReduceByKey(split, "count", func(tc *mapreduce.TaskContext, w string, ones iter.Seq[int64], emit func(int64)) error {
		if strings.HasSuffix(tc.TaskID(), "-00001") && tc.Attempt() == 1 {
			<-tc.Context().Done()
			return tc.Context().Err()
		}
		var n int64
		for one := range ones {
			n += one
		}
		emit(n)
		return nil
	}))
})

// TestSpeculativeBackup checks that --speculative backs up a straggling
// stage task in a pipeline: the backup commits, the hung attempt is
// cancelled, and the output holds each word's count once.
func TestSpeculativeBackup(t *testing.T) {
	in, _ := writeInput(t)
	data, err := os.ReadFile(in)
	require.NoError(t, err)
	counts := map[string]int{}
	for _, w := range strings.Fields(string(data)) {
		counts[w]++
	}
	var want []string
	for w, n := range counts {
		want = append(want, fmt.Sprintf("%s\t%d", w, n))
	}
	slices.Sort(want)
	// The local engine only: the inline engine has one slot, which the
	// straggler holds.
	tmp, out := t.TempDir(), filepath.Join(t.TempDir(), "out")
	cfg := config(mapreduce.EngineLocal, in, tmp, out, nil)
	cfg.Speculative, cfg.SpeculativeAfter = true, 100*time.Millisecond
	// A failure guard, not a timing: without a backup the run
	// never ends.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	_, err = straggling.Run(ctx, cfg)
	require.NoError(t, err)
	require.Equal(t, strings.Join(want, "\n"), readOutput(t, out))
	entries, err := os.ReadDir(out)
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	require.Equal(t, []string{"_SUCCESS", "_job.json", "part-00000", "part-00001", "part-00002"}, names)
	left, err := os.ReadDir(tmp)
	require.NoError(t, err)
	require.Empty(t, left, "attempt files left in %s", tmp)
}
