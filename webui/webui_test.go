package webui_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/quern-dev/quern/mapreduce"
	"github.com/quern-dev/quern/webui"
)

// TestMain doubles as the worker entry point: the local engine re-executes
// this test binary, and in a worker Main serves tasks and never returns.
func TestMain(m *testing.M) {
	mapreduce.Main()
	goleak.VerifyTestMain(m)
}

// failLine starts the input line on which the first attempt of its map task
// fails, after writing workerLogLine to the worker's stderr.
const (
	failLine      = "FAIL"
	workerLogLine = "webui test: about to fail"
)

// gated counts words, but each map task waits until the file named by the
// "gate" parameter exists, so a test sees its tasks running; and the first
// attempt of the task whose split holds failLine fails.
var gated = mapreduce.Register(&mapreduce.Job[string, int64, string, int64]{
	Name:   "webui-test-gated",
	Params: []mapreduce.Param{{Name: "gate", Required: true}},
	Map: func(tc *mapreduce.TaskContext, rec mapreduce.Record, emit func(string, int64)) error {
		line := string(rec.Value)
		if strings.HasPrefix(line, failLine) && tc.Attempt() == 1 {
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
		for _, w := range strings.Fields(line) {
			emit(w, 1)
		}
		return nil
	},
	Reduce: sumReduce,
})

// sumReduce emits the sum of a key's values.
func sumReduce(_ *mapreduce.TaskContext, k string, vs iter.Seq[int64], emit func(string, int64)) error {
	var n int64
	for v := range vs {
		n += v
	}
	emit(k, n)
	return nil
}

// liveJob is a gated job running in the background with a status server.
type liveJob struct {
	srv  *webui.Server
	gate string
	out  string
	done chan error
}

// startGatedJob runs the gated job over three small files, the first
// holding failLine, with the status server watching it.
func startGatedJob(t *testing.T) *liveJob {
	t.Helper()
	dir := t.TempDir()
	for name, text := range map[string]string{
		// First in split order, so that it fails at once with two workers.
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
		_, err := mapreduce.Run(context.Background(), gated, cfg)
		j.done <- err
	}()
	t.Cleanup(func() {
		j.open(t) // let a job that a failed test left running finish
		<-j.done
	})
	return j
}

// open lets the job's map tasks go on.
func (j *liveJob) open(t *testing.T) {
	if _, err := os.Stat(j.gate); err != nil {
		require.NoError(t, os.WriteFile(j.gate, nil, 0o644))
	}
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(body)
}

func getStatus(t *testing.T, url string) mapreduce.JobStatus {
	t.Helper()
	code, body := get(t, url)
	require.Equal(t, http.StatusOK, code, body)
	var st mapreduce.JobStatus
	require.NoError(t, json.Unmarshal([]byte(body), &st), body)
	return st
}

// waitStatus polls url until cond holds, failing after a generous
// deadline (the machine may be loaded) with the last status seen.
func waitStatus(t *testing.T, url, what string, cond func(mapreduce.JobStatus) bool) mapreduce.JobStatus {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		st := getStatus(t, url)
		if cond(st) {
			return st
		}
		if time.Now().After(deadline) {
			b, _ := json.MarshalIndent(st, "", " ")
			t.Fatalf("timed out waiting for %s; last status:\n%s", what, b)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// attempt finds an attempt of a task by its state, or returns nil.
func attempt(st mapreduce.JobStatus, state string, pred func(mapreduce.TaskStatus, mapreduce.AttemptStatus) bool) (*mapreduce.TaskStatus, *mapreduce.AttemptStatus) {
	for i := range st.Tasks {
		for k := range st.Tasks[i].Attempts {
			if a := &st.Tasks[i].Attempts[k]; a.State == state && (pred == nil || pred(st.Tasks[i], *a)) {
				return &st.Tasks[i], a
			}
		}
	}
	return nil, nil
}

// TestLiveAPI follows a real job through /api/job: its tasks appear and
// run on workers, a failed attempt shows its error and the end of its
// worker's output (also served as its log), and the job finishes with
// every task succeeded and its counters; then its _job.json reads back
// as the same status, served by a history server with the kept log.
func TestLiveAPI(t *testing.T) {
	j := startGatedJob(t)
	api := j.srv.URL() + "api/job"

	st := waitStatus(t, api, "a running map attempt on a worker and the failed attempt", func(st mapreduce.JobStatus) bool {
		_, running := attempt(st, mapreduce.AttemptRunning, func(_ mapreduce.TaskStatus, a mapreduce.AttemptStatus) bool { return a.Pid > 0 })
		_, failed := attempt(st, mapreduce.AttemptFailed, nil)
		return running != nil && failed != nil
	})
	require.Equal(t, mapreduce.JobRunning, st.State)
	require.Equal(t, "webui-test-gated", st.Job)
	task, failed := attempt(st, mapreduce.AttemptFailed, nil)
	require.Equal(t, "map", task.Phase)
	require.Contains(t, task.Input, "a.txt")
	require.Contains(t, failed.Error, "injected failure")
	require.Contains(t, failed.LogTail, workerLogLine+" in "+task.ID)
	code, log := get(t, fmt.Sprintf("%slogs/0/%s/%d", j.srv.URL(), task.ID, failed.Attempt))
	require.Equal(t, http.StatusOK, code, log)
	require.Equal(t, workerLogLine+" in "+task.ID+"\n", log, "the attempt's log holds its worker's output, and only that")
	require.Len(t, st.Phases, 1)
	require.Equal(t, 0, st.Phases[0].Done, "no map task passes the closed gate")

	j.open(t)
	st = waitStatus(t, api, "the job to finish", func(st mapreduce.JobStatus) bool { return st.State != mapreduce.JobRunning })
	require.NoError(t, <-j.done)
	j.done <- nil // for the cleanup
	require.Equal(t, mapreduce.JobSucceeded, st.State)
	require.Len(t, st.Tasks, 3+2, "three map tasks, two reduce tasks")
	for _, task := range st.Tasks {
		last := task.Attempts[len(task.Attempts)-1]
		require.Equal(t, mapreduce.AttemptSucceeded, last.State, task.ID)
		require.Positive(t, last.DurationMS, task.ID)
		require.NotEmpty(t, last.Counters, task.ID)
	}
	require.EqualValues(t, 15, st.Counters[mapreduce.MapOutputRecords])
	require.Len(t, st.Phases, 2)
	for _, ph := range st.Phases {
		require.Equal(t, ph.Total, ph.Done, ph.Name)
	}

	// History: the failed attempt's log was kept in OUTPUT/_logs.
	jobs, _, err := webui.LoadHistory([]string{j.out})
	require.NoError(t, err)
	require.Len(t, jobs, 1)
	hist, err := webui.Listen("127.0.0.1:0")
	require.NoError(t, err)
	defer hist.Close()
	hist.AddFinished(jobs)
	old := getStatus(t, hist.URL()+"api/jobs/0")
	require.Equal(t, mapreduce.JobSucceeded, old.State)
	require.Equal(t, st.Counters, old.Counters)
	_, kept := attempt(old, mapreduce.AttemptFailed, nil)
	require.NotNil(t, kept)
	require.Equal(t, filepath.Join("_logs", task.ID+"-attempt-1.log"), kept.Log)
	code, log = get(t, fmt.Sprintf("%slogs/0/%s/1", hist.URL(), task.ID))
	require.Equal(t, http.StatusOK, code, log)
	require.Contains(t, log, workerLogLine)
}

// TestReadOnly checks that no endpoint takes a write, that a bare port
// listens on loopback only, and that a report cannot point the log
// endpoint outside its output directory.
func TestReadOnly(t *testing.T) {
	dir := t.TempDir()
	secret := filepath.Join(dir, "secret")
	require.NoError(t, os.WriteFile(secret, []byte("not for the page"), 0o644))
	out := filepath.Join(dir, "out")
	require.NoError(t, os.MkdirAll(out, 0o755))
	report := `{"job":"x","state":"failed","started":"2026-01-01T00:00:00Z","tasks":[{"id":"map-00000","attempts":[{"attempt":1,"state":"failed","log":"../secret"}]}]}`
	require.NoError(t, os.WriteFile(filepath.Join(out, "_job.json"), []byte(report), 0o644))
	jobs, _, err := webui.LoadHistory([]string{out})
	require.NoError(t, err)

	srv, err := webui.Listen(":0")
	require.NoError(t, err)
	defer srv.Close()
	require.True(t, strings.HasPrefix(srv.URL(), "http://127.0.0.1:"), srv.URL())
	srv.AddFinished(jobs)

	code, body := get(t, srv.URL()+"logs/0/map-00000/1")
	require.Equal(t, http.StatusForbidden, code)
	require.NotContains(t, body, "not for the page")
	for _, path := range []string{"", "api/job", "api/jobs/0", "logs/0/map-00000/1"} {
		for _, method := range []string{http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch} {
			req, err := http.NewRequest(method, srv.URL()+path, strings.NewReader("{}"))
			require.NoError(t, err)
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			resp.Body.Close()
			require.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode, "%s /%s", method, path)
		}
	}
	require.FileExists(t, filepath.Join(out, "_job.json"))
}

func TestLoadHistoryErrors(t *testing.T) {
	dir := t.TempDir()
	_, _, err := webui.LoadHistory([]string{dir})
	require.ErrorContains(t, err, dir)
	require.ErrorContains(t, err, "holds no _job.json")
	require.NoError(t, os.WriteFile(filepath.Join(dir, "_job.json"), []byte("{"), 0o644))
	_, _, err = webui.LoadHistory([]string{dir})
	require.ErrorContains(t, err, filepath.Join(dir, "_job.json"))

	// In a folder of jobs, one that cannot be read is skipped, named.
	runs := t.TempDir()
	for name, report := range map[string]string{
		"good":    `{"job": "wordcount", "state": "succeeded", "started": "2026-12-06T10:00:00Z"}`,
		"cut":     `{"job": "wordcount", "sta`,
		"foreign": `{"name": "not a Quern report"}`,
		// A job history's entry being written (package jobhistory): not
		// read at all, not even to be skipped.
		".tmp-20261206T100000.000Z-wordcount-1-42": `{"job": "wordcount", "sta`,
	} {
		require.NoError(t, os.Mkdir(filepath.Join(runs, name), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(runs, name, "_job.json"), []byte(report), 0o644))
	}
	jobs, skipped, err := webui.LoadHistory([]string{runs})
	require.NoError(t, err)
	require.Len(t, jobs, 1)
	require.Equal(t, filepath.Join(runs, "good"), jobs[0].Dir)
	require.Len(t, skipped, 2)
	require.ErrorContains(t, skipped[0], filepath.Join(runs, "cut", "_job.json"))
	require.ErrorContains(t, skipped[1], filepath.Join(runs, "foreign", "_job.json"))
	// A folder of nothing but such jobs is an error, naming the first.
	require.NoError(t, os.RemoveAll(filepath.Join(runs, "good")))
	_, _, err = webui.LoadHistory([]string{runs})
	require.ErrorContains(t, err, "could be read")
	require.ErrorContains(t, err, filepath.Join(runs, "cut", "_job.json"))
}

// grows counts lines and appends to its input file at the first record
// of the task that reads the file's beginning: a log being written, read
// as planned, which the job warns of.
var grows = mapreduce.Register(&mapreduce.Job[string, int64, string, int64]{
	Name: "webui-test-grows",
	Map: func(_ *mapreduce.TaskContext, rec mapreduce.Record, emit func(string, int64)) error {
		if rec.Offset == 0 {
			f, err := os.OpenFile(rec.File, os.O_APPEND|os.O_WRONLY, 0)
			if err != nil {
				return err
			}
			_, err = f.WriteString("written while the job runs\n")
			if err := errors.Join(err, f.Close()); err != nil {
				return err
			}
		}
		emit("lines", 1)
		return nil
	},
	Reduce: sumReduce,
})

// TestWarnings: a job's warnings are in its status (/api/job), in the
// list of jobs as a count, and in its _job.json read back as history; so
// is its origin (how it was started).
func TestWarnings(t *testing.T) {
	dir := t.TempDir()
	// Larger than a small file, which a task reads ahead of its map
	// calls (input.Prefetcher), before the append that makes it grow.
	log := filepath.Join(dir, "access.log")
	require.NoError(t, os.WriteFile(log, []byte(strings.Repeat("a line\n", 40000)), 0o644))
	srv, err := webui.Listen("127.0.0.1:0")
	require.NoError(t, err)
	defer srv.Close()
	out := filepath.Join(dir, "out")
	res, err := mapreduce.Run(context.Background(), grows, mapreduce.Config{
		Inputs: []string{log}, Output: out, Workers: 2, Reducers: 1, TmpDir: t.TempDir(), OnStart: srv.Live(),
	})
	require.NoError(t, err)
	require.Len(t, res.Warnings, 1)
	require.Contains(t, res.Warnings[0], "input files grew while the job ran")

	st := getStatus(t, srv.URL()+"api/job")
	require.Equal(t, mapreduce.JobSucceeded, st.State)
	require.Equal(t, res.Warnings, st.Warnings)
	// How the job was started, for the page's "Run" section.
	host, _ := os.Hostname()
	wd, err := os.Getwd()
	require.NoError(t, err)
	origin := mapreduce.Origin{Version: mapreduce.Version(), CommandLine: os.Args, Host: host, WorkingDir: wd}
	require.Equal(t, origin, st.Origin)
	code, body := get(t, srv.URL()+"api/jobs")
	require.Equal(t, http.StatusOK, code, body)
	require.Contains(t, body, `"warnings": 1,`)

	jobs, _, err := webui.LoadHistory([]string{out})
	require.NoError(t, err)
	require.Equal(t, res.Warnings, jobs[0].Status.Warnings)
	require.Equal(t, origin, jobs[0].Status.Origin, "_job.json read back")
}

// TestJobsListSaysWhereOutputsAre: a job history holds jobs run from many
// folders; the list of jobs names each output directory by the folder its
// job ran in, and an absolute path, a URL, or a report written before
// Quern recorded the working directory as they are.
func TestJobsListSaysWhereOutputsAre(t *testing.T) {
	runs, home := t.TempDir(), t.TempDir()
	abs := filepath.Join(t.TempDir(), "wc")
	for name, report := range map[string]string{
		"1-relative": fmt.Sprintf(`{"job": "a", "output": "out/wc", "working_dir": %q, "started": "2026-12-06T10:00:01Z"}`, home),
		"2-absolute": fmt.Sprintf(`{"job": "b", "output": %q, "working_dir": "elsewhere", "started": "2026-12-06T10:00:02Z"}`, abs),
		"3-url":      `{"job": "c", "output": "s3://bucket/wc", "working_dir": "/home/ann", "started": "2026-12-06T10:00:03Z"}`,
		"4-older":    `{"job": "d", "output": "wc", "started": "2026-12-06T10:00:04Z"}`,
	} {
		require.NoError(t, os.Mkdir(filepath.Join(runs, name), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(runs, name, "_job.json"), []byte(report), 0o644))
	}
	jobs, _, err := webui.LoadHistory([]string{runs})
	require.NoError(t, err)
	srv, err := webui.Listen("127.0.0.1:0")
	require.NoError(t, err)
	defer srv.Close()
	srv.AddFinished(jobs)
	code, body := get(t, srv.URL()+"api/jobs")
	require.Equal(t, http.StatusOK, code, body)
	var list struct{ Jobs []webui.JobSummary }
	require.NoError(t, json.Unmarshal([]byte(body), &list))
	var outputs []string
	for _, j := range list.Jobs {
		outputs = append(outputs, j.Output)
	}
	require.Equal(t, []string{filepath.Join(home, "out", "wc"), abs, "s3://bucket/wc", "wc"}, outputs)
}

// TestFollow: a server that follows a folder of jobs lists the jobs that
// appear in it later, after those it had, so that each keeps its number;
// an entry being written (hidden) and a folder without a report are not
// listed, nor is a job listed twice.
func TestFollow(t *testing.T) {
	runs := t.TempDir()
	add := func(name, job, started string) {
		t.Helper()
		require.NoError(t, os.MkdirAll(filepath.Join(runs, name), 0o755))
		report := fmt.Sprintf(`{"job": %q, "state": "succeeded", "started": %q}`, job, started)
		require.NoError(t, os.WriteFile(filepath.Join(runs, name, "_job.json"), []byte(report), 0o644))
	}
	add("b", "second", "2026-12-06T11:00:00Z")
	jobs, _, err := webui.LoadHistory([]string{runs})
	require.NoError(t, err)
	srv, err := webui.Listen("127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { srv.Close() })
	srv.AddFinished(jobs)
	srv.Follow([]string{runs})

	listed := func() []string {
		code, body := get(t, srv.URL()+"api/jobs")
		require.Equal(t, http.StatusOK, code, body)
		var list struct{ Jobs []struct{ Job string } }
		require.NoError(t, json.Unmarshal([]byte(body), &list), body)
		var names []string
		for _, j := range list.Jobs {
			names = append(names, j.Job)
		}
		return names
	}
	waitList := func(want ...string) {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for got := listed(); !slices.Equal(got, want); got = listed() {
			if time.Now().After(deadline) {
				t.Fatalf("jobs listed: %q, want %q", got, want)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	waitList("second")

	// Older than the job shown, "first" still comes after it: numbers stay.
	add("a", "first", "2026-12-06T10:00:00Z")
	add("c", "third", "2026-12-06T12:00:00Z")
	require.NoError(t, os.Mkdir(filepath.Join(runs, "no-report"), 0o755))
	add(".tmp-d", "being written", "2026-12-06T12:30:00Z")
	waitList("second", "first", "third")
	add("e", "fourth", "2026-12-06T13:00:00Z")
	waitList("second", "first", "third", "fourth")
	require.Equal(t, "second", getStatus(t, srv.URL()+"api/jobs/0").Job)
	require.Equal(t, "fourth", getStatus(t, srv.URL()+"api/jobs/3").Job)
}
