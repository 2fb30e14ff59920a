package webui_test

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/quern-dev/quern/mapreduce"
	"github.com/quern-dev/quern/pipeline"
	"github.com/quern-dev/quern/webui"
)

// gatedPipeline is word count as a pipeline of two stages whose read
// stage's tasks wait until the file named by the "gate" parameter exists,
// so a test sees the first stage running and the second waiting; as the
// gated job's, the first attempt of the task whose split holds failLine
// fails after writing workerLogLine to its worker's stderr.
var gatedPipeline = pipeline.Register("webui-test-pipeline", "word count, gated", []mapreduce.Param{{Name: "gate", Required: true}},
	func(p *pipeline.Pipeline) {
		words := pipeline.Read(p, "split", func(tc *mapreduce.TaskContext, rec mapreduce.Record, emit func(string, int64)) error {
			if strings.HasPrefix(string(rec.Value), failLine) && tc.Attempt() == 1 {
				fmt.Fprintf(os.Stderr, "%s in %s\n", workerLogLine, tc.TaskID())
				return errors.New("injected failure")
			}
			for {
				if _, err := os.Stat(tc.Param("gate")); err == nil {
					break
				}
				select {
				case <-tc.Context().Done():
					return tc.Context().Err()
				case <-time.After(5 * time.Millisecond):
				}
			}
			for _, w := range strings.Fields(string(rec.Value)) {
				emit(w, 1)
			}
			return nil
		})
		pipeline.Output(pipeline.ReduceByKey(words, "count", func(_ *mapreduce.TaskContext, _ string, ones iter.Seq[int64], emit func(int64)) error {
			var n int64
			for one := range ones {
				n += one
			}
			emit(n)
			return nil
		}))
	})

// startGatedPipeline runs gatedPipeline over three small files (4 lines,
// 15 words, 12 distinct; the first line fails its first attempt) with the
// status server watching it.
func startGatedPipeline(t *testing.T) *liveJob {
	t.Helper()
	dir := t.TempDir()
	for name, text := range map[string]string{
		"a.txt": failLine + " then fine\n",
		"b.txt": "the quick brown fox\njumps over the lazy dog\n",
		"c.txt": "the dog sleeps\n",
	} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644))
	}
	srv, err := webui.Listen("127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { srv.Close() })
	j := &liveJob{srv: srv, gate: filepath.Join(dir, "gate"), out: filepath.Join(dir, "out"), done: make(chan error, 1)}
	cfg := mapreduce.Config{
		Inputs: []string{dir + "/*.txt"}, Output: j.out, Workers: 2, Reducers: 2, TmpDir: t.TempDir(),
		Params: map[string]string{"gate": j.gate}, OnStart: srv.Live(),
	}
	go func() {
		_, err := gatedPipeline.Run(context.Background(), cfg)
		j.done <- err
	}()
	t.Cleanup(func() {
		j.open(t)
		<-j.done
	})
	return j
}

// stageStates lists a pipeline status's stages as "name:state".
func stageStates(st mapreduce.JobStatus) string {
	var s []string
	for _, g := range st.Stages {
		s = append(s, g.Name+":"+g.State)
	}
	return strings.Join(s, " ")
}

// TestLivePipelineAPI follows a running pipeline through /api/job: its
// stages are its phases, the read stage runs while the group stage waits,
// its tasks are listed under their stage, with what a job's tasks show: a
// running attempt's worker pid and progress, a failed attempt's error, the
// end of its worker's output and its log; at the end every stage has
// succeeded with its own counters and every attempt its worker's peak
// memory. Its _job.json reads back (quern ui) as the same stages and
// tasks, with the failed attempt's log kept.
func TestLivePipelineAPI(t *testing.T) {
	j := startGatedPipeline(t)
	url := j.srv.URL() + "api/job"
	st := waitStatus(t, url, "split running on a worker with its progress, its failed attempt, and count waiting", func(st mapreduce.JobStatus) bool {
		_, running := attempt(st, mapreduce.AttemptRunning, func(_ mapreduce.TaskStatus, a mapreduce.AttemptStatus) bool {
			return a.Pid > 0 && a.Total > 0
		})
		_, failed := attempt(st, mapreduce.AttemptFailed, nil)
		return stageStates(st) == "split:running count:waiting" && running != nil && failed != nil
	})
	require.Equal(t, mapreduce.JobRunning, st.State)
	require.Equal(t, "split", st.Phases[0].Name)
	require.Equal(t, "count", st.Phases[1].Name)
	require.Equal(t, 2, st.Stages[1].Total, "count has one task per reducer")
	for _, task := range st.Tasks {
		require.Equal(t, "split", task.Phase, "only split's tasks have started")
	}
	task, failed := attempt(st, mapreduce.AttemptFailed, nil)
	require.Contains(t, failed.Error, "injected failure")
	require.Positive(t, failed.Pid)
	require.Contains(t, failed.LogTail, workerLogLine+" in "+task.ID)
	code, log := get(t, fmt.Sprintf("%slogs/0/%s/%d", j.srv.URL(), task.ID, failed.Attempt))
	require.Equal(t, http.StatusOK, code, log)
	require.Equal(t, workerLogLine+" in "+task.ID+"\n", log, "the attempt's log holds its worker's output, and only that")

	j.open(t)
	st = waitStatus(t, url, "the pipeline to succeed", func(st mapreduce.JobStatus) bool { return st.State == mapreduce.JobSucceeded })
	require.Equal(t, "split:succeeded count:succeeded", stageStates(st))
	split, count := st.Stages[0], st.Stages[1]
	require.Equal(t, split.Total, split.Done)
	require.Equal(t, 2, count.Done)
	require.Equal(t, int64(4), split.Counters[mapreduce.MapInputRecords])
	require.Equal(t, int64(15), split.Counters[mapreduce.MapOutputRecords])
	require.Equal(t, int64(12), count.Counters[mapreduce.ReduceOutputRecords])
	require.Equal(t, int64(12), st.Counters[mapreduce.ReduceOutputRecords])
	phases := map[string]int{}
	for _, task := range st.Tasks {
		phases[task.Phase]++
		last := task.Attempts[len(task.Attempts)-1]
		require.Equal(t, mapreduce.AttemptSucceeded, last.State, task.ID)
		require.NotEmpty(t, last.Counters, task.ID)
		require.Positive(t, last.Pid, task.ID)
		require.Positive(t, last.PeakRSS, task.ID)
	}
	require.Equal(t, map[string]int{"split": split.Total, "count": 2}, phases)
	require.NoError(t, <-j.done)
	j.done <- nil

	jobs, _, err := webui.LoadHistory([]string{j.out})
	require.NoError(t, err)
	require.Len(t, jobs, 1)
	h := jobs[0].Status
	require.Equal(t, "webui-test-pipeline", h.Job)
	require.Equal(t, mapreduce.JobSucceeded, h.State)
	require.Equal(t, "split:succeeded count:succeeded", stageStates(h))
	require.Equal(t, count.Counters, h.Stages[1].Counters)
	require.Len(t, h.Tasks, len(st.Tasks))
	require.Len(t, h.Phases, 2)
	_, kept := attempt(h, mapreduce.AttemptFailed, nil)
	require.NotNil(t, kept)
	require.Equal(t, filepath.Join("_logs", task.ID+"-attempt-1.log"), kept.Log)
	hist, err := webui.Listen("127.0.0.1:0")
	require.NoError(t, err)
	defer hist.Close()
	hist.AddFinished(jobs)
	code, log = get(t, fmt.Sprintf("%slogs/0/%s/1", hist.URL(), task.ID))
	require.Equal(t, http.StatusOK, code, log)
	require.Contains(t, log, workerLogLine)
}

// TestBrowserPipeline loads the live page of a running pipeline in
// headless Chromium: its stages table shows the read stage running and the
// group stage waiting, its failed attempt its worker's output and a link
// to its log, then, by itself, both succeeded with their counters;
// the finished pipeline's page from its _job.json shows the same.
func TestBrowserPipeline(t *testing.T) {
	ctx, problems := browser(t)
	j := startGatedPipeline(t)

	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(j.srv.URL())))
	waitFor(t, ctx, `#stages tr[data-stage="split"] .running`, `#stages tr[data-stage="count"] .waiting`, `#tasks`,
		`#failures .logtail`, `#tasks a[href^="/logs/0/split-"]`)
	require.Contains(t, text(t, ctx, `#tasks`), "split-00000")
	// The failed attempt shows its worker's output, as a job's does.
	require.Contains(t, text(t, ctx, `#failures .logtail`), workerLogLine)
	screenshot(t, ctx, "pipeline-live-running.png")

	j.open(t)
	waitFor(t, ctx, `#hstate .succeeded`, `#stages tr[data-stage="count"] .succeeded`)
	require.NotContains(t, text(t, ctx, `#stages`), "waiting")
	require.Contains(t, text(t, ctx, `#tasks`), "count-00001")
	require.NoError(t, <-j.done)
	j.done <- nil

	jobs, _, err := webui.LoadHistory([]string{j.out, j.out})
	require.NoError(t, err)
	hist, err := webui.Listen("127.0.0.1:0")
	require.NoError(t, err)
	defer hist.Close()
	hist.AddFinished(jobs)
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(hist.URL())))
	waitFor(t, ctx, `#jobs a`)
	_, err = chromedp.RunResponse(ctx, chromedp.Click(`#jobs a`))
	require.NoError(t, err)
	waitFor(t, ctx, `#stages tr[data-stage="count"] .succeeded`, `#durations rect`)
	// A stage's counters open under its row.
	require.NoError(t, chromedp.Do(ctx, chromedp.Click(`#stages tr[data-stage="count"] summary`)))
	require.Contains(t, text(t, ctx, `#stages tr[data-stage="count"]`), "reduce_output_records")
	screenshot(t, ctx, "pipeline-history.png")

	require.Empty(t, problems(), "the pages logged errors")
}
