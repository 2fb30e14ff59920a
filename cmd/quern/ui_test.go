//go:build linux

package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestRunUI runs a job and a pipeline with --ui and --ui-linger: the
// driver prints the page's address on the loopback interface, serves the
// page and the job's status (a pipeline's with its stages), keeps serving
// after the job succeeded, and stops at Ctrl-C.
func TestRunUI(t *testing.T) {
	t.Parallel()
	for app, stages := range map[string]string{"wordcount": "", "topwords": "split count top"} {
		t.Run(app, func(t *testing.T) {
			t.Parallel()
			runUI(t, app, stages)
		})
	}
}

func runUI(t *testing.T, app, stages string) {
	dir := t.TempDir()
	genText(t, dir, "in.txt", "64KiB")
	cmd := quernCmd(t, dir, nil, "run", app, "-q", "-i", "in.txt", "-o", "out", "--workers", "2",
		"--ui", ":0", "--ui-linger", "10m")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	lines := bufio.NewScanner(stderr)
	var url string
	for url == "" && lines.Scan() {
		if u, ok := strings.CutPrefix(lines.Text(), "quern: status page at "); ok {
			url = u
		}
	}
	if !strings.HasPrefix(url, "http://127.0.0.1:") {
		t.Fatalf("no status page on the loopback interface announced; got %q", url)
	}
	go io.Copy(io.Discard, stderr) // the linger notice

	var state string
	var names []string
	waitFor(t, time.Minute, "the job to succeed, seen on the status page", func() bool {
		resp, err := http.Get(url + "api/job")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		var st struct {
			State  string
			Stages []struct{ Name, State string }
		}
		if json.NewDecoder(resp.Body).Decode(&st) == nil {
			state = st.State
			names = nil
			for _, s := range st.Stages {
				names = append(names, s.Name)
			}
		}
		return state == "succeeded"
	})
	if got := strings.Join(names, " "); got != stages {
		t.Errorf("the status page's stages: %q, want %q", got, stages)
	}
	if _, err := os.Stat(filepath.Join(dir, "out", "_SUCCESS")); err != nil {
		t.Errorf("job done on the page but not committed: %v", err)
	}
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("the page is gone while it should linger: %v", err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(page), "<title>Quern</title>") {
		t.Errorf("front page is not the status page:\n%.300s", page)
	}
	if cmd.ProcessState != nil {
		t.Fatal("the driver exited during --ui-linger")
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("Ctrl-C did not end the linger")
	}
	if _, err := http.Get(url); err == nil {
		t.Error("the status page still answers after the driver exited")
	}
}

// TestJobHistory runs jobs with a job history folder: a job, a pipeline, a
// Streaming job that fails, and one that fails while it overwrites the
// first one's output, which keeps no report of it. `quern ui` with no
// arguments, started on the empty history, lists them as they end; started
// again once every output is deleted, it serves all four from the history,
// each with its state and its failed attempts' logs.
func TestJobHistory(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	// What QUERN_HISTORY names for a user (jobhistory.TestEnv).
	env := []string{"QUERN_TEST_HISTORY=" + filepath.Join(dir, "history")}
	genText(t, dir, "in.txt", "64KiB")
	url, stop := startUI(t, dir, env, "serving 0 jobs")
	for _, c := range []struct {
		args []string
		code int
	}{
		{[]string{"run", "wordcount", "-q", "-i", "in.txt", "-o", "wc"}, 0},
		{[]string{"run", "topwords", "-q", "-i", "in.txt", "-o", "tw"}, 0},
		{[]string{"stream", "-q", "-i", "in.txt", "-o", "bad", "--max-attempts", "1",
			"--mapper", "sh -c 'echo first failure >&2; exit 3'", "--reducer", "cat"}, 1},
		{[]string{"stream", "-q", "-i", "in.txt", "-o", "wc", "--overwrite", "--max-attempts", "1",
			"--mapper", "sh -c 'echo second failure >&2; exit 3'", "--reducer", "cat"}, 1},
	} {
		if r := quernEnv(t, dir, env, c.args...); r.code != c.code {
			t.Fatalf("quern %s: want exit status %d\n%s", strings.Join(c.args, " "), c.code, r)
		}
	}
	var before struct{ State string }
	if err := json.Unmarshal(readFile(t, filepath.Join(dir, "wc", "_job.json")), &before); err != nil || before.State != "succeeded" {
		t.Fatalf("the failed overwrite did not leave the finished output as it was: %v, state %q", err, before.State)
	}
	if _, err := os.Stat(filepath.Join(dir, "wc", "_logs")); err == nil {
		t.Fatal("the failed overwrite left its logs in the finished output it put back")
	}

	var list struct {
		Jobs []struct {
			Job    string
			State  string
			Output string
		}
	}
	listed := func() string {
		getJSON(t, url+"api/jobs", &list)
		var got []string
		for _, j := range list.Jobs {
			got = append(got, j.Job+" "+j.State+" "+j.Output)
		}
		return strings.Join(got, ", ")
	}
	// Each output named in full: the jobs ran in dir, with -o relative.
	want := fmt.Sprintf("wordcount succeeded %[1]s, topwords succeeded %[2]s, streaming failed %[3]s, streaming failed %[1]s",
		filepath.Join(dir, "wc"), filepath.Join(dir, "tw"), filepath.Join(dir, "bad"))
	waitFor(t, time.Minute, "the jobs to be listed as they end", func() bool { return listed() == want })
	stop()

	for _, out := range []string{"wc", "tw", "bad"} {
		if err := os.RemoveAll(filepath.Join(dir, out)); err != nil {
			t.Fatal(err)
		}
	}
	url, _ = startUI(t, dir, env, "serving 4 jobs")
	if got := listed(); got != want {
		t.Fatalf("the history's jobs, oldest first:\n got %q\nwant %q", got, want)
	}
	for n, text := range map[int]string{2: "first failure", 3: "second failure"} {
		var st struct {
			Tasks []struct {
				ID       string
				Attempts []struct {
					Attempt int
					State   string
					Log     string
				}
			}
		}
		getJSON(t, url+"api/jobs/"+strconv.Itoa(n), &st)
		logs := 0
		for _, task := range st.Tasks {
			for _, a := range task.Attempts {
				if a.State != "failed" || a.Log == "" {
					continue
				}
				logs++
				resp, err := http.Get(url + "logs/" + strconv.Itoa(n) + "/" + task.ID + "/" + strconv.Itoa(a.Attempt))
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), text) {
					t.Errorf("job %d, %s attempt %d: log served %d %q, want %q", n, task.ID, a.Attempt, resp.StatusCode, body, text)
				}
			}
		}
		if logs == 0 {
			t.Errorf("job %d: no failed attempt with a log in the history", n)
		}
	}
}

// startUI starts `quern ui` with no arguments in dir, checks that its
// first line starts with serving, and returns its address and a function
// that stops it (also called at the test's end).
func startUI(t *testing.T, dir string, env []string, serving string) (url string, stop func()) {
	t.Helper()
	cmd := quernCmd(t, dir, env, "ui", "--addr", "127.0.0.1:0")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stop = func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	}
	t.Cleanup(stop)
	lines := bufio.NewScanner(stdout)
	if !lines.Scan() {
		t.Fatalf("quern ui printed nothing: %v", lines.Err())
	}
	first, url, ok := strings.Cut(lines.Text(), " at ")
	url, _, _ = strings.Cut(url, " ")
	if !ok || first != serving {
		t.Fatalf("quern ui printed %q, want %q at …", lines.Text(), serving)
	}
	go io.Copy(io.Discard, stdout)
	return url, stop
}

// getJSON decodes the JSON that url answers into v.
func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}
