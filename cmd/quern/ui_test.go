//go:build linux

package main

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
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
