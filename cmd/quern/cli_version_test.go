package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

func TestVersion(t *testing.T) {
	t.Parallel()
	r := quern(t, t.TempDir(), "--version")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "quern version ") || !strings.Contains(r.stdout, runtime.Version()) {
		t.Fatal(r)
	}
}

// TestAppFlagsFirstAndTyped: an app's own flags come before the common
// ones in its help, a numeric one refuses text (exit 2), and the --workers
// default is shown once, as this machine's CPU count.
func TestAppFlagsFirstAndTyped(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	r := quern(t, dir, "run", "topk", "--help")
	app, common := strings.Index(r.stdout, "-k int"), strings.Index(r.stdout, "--input PATH")
	if r.code != 0 || app < 0 || common < 0 || app > common {
		t.Fatalf("topk --help: want -k int before --input\n%s", r.stdout)
	}
	for line := range strings.Lines(r.stdout) {
		if strings.Contains(line, "--workers int") {
			want := "(default: " + strconv.Itoa(runtime.NumCPU()) + ", one per CPU; fewer under a memory limit that needs it)"
			if strings.Count(line, "default") != 1 || !strings.Contains(line, want) {
				t.Errorf("--workers help: want one %s\n%s", want, line)
			}
		}
	}
	r = quern(t, dir, "run", "topk", "--k", "ten", "--input", "x", "--output", filepath.Join(dir, "o"))
	if r.code != 2 || !strings.Contains(r.stderr, "ten") {
		t.Fatalf("--k ten: want exit 2 naming the value\n%v", r)
	}
}

// TestJobJSONSaysWhoMadeIt: the _job.json of a job and of a pipeline
// records the version, start and end, command line, host, and the working
// directory against which the command line's relative paths are named.
func TestJobJSONSaysWhoMadeIt(t *testing.T) {
	t.Parallel()
	for _, app := range []string{"wordcount", "topwords"} {
		t.Run(app, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "in.txt"), []byte("a b a\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			if r := quern(t, dir, "run", app, "-q", "--engine", "inline", "--input", "in.txt", "--output", "out"); r.code != 0 {
				t.Fatal(r)
			}
			data, err := os.ReadFile(filepath.Join(dir, "out", "_job.json"))
			if err != nil {
				t.Fatal(err)
			}
			var job map[string]any
			if err := json.Unmarshal(data, &job); err != nil {
				t.Fatal(err)
			}
			for _, k := range []string{"version", "started", "ended", "command_line", "host", "working_dir"} {
				if job[k] == nil || job[k] == "" {
					t.Errorf("_job.json has no %s\n%s", k, data)
				}
			}
			if cl, _ := job["command_line"].([]any); len(cl) < 3 || cl[1] != "run" || cl[2] != app {
				t.Errorf("command_line = %v", job["command_line"])
			}
			if job["output"] != "out" {
				t.Errorf("output = %v, want it as named, out", job["output"])
			}
			wd, _ := job["working_dir"].(string)
			if got, want := realPath(t, wd), realPath(t, dir); got != want {
				t.Errorf("working_dir = %q, want the folder the job ran in, %q", wd, dir)
			}
		})
	}
}

// realPath is path with its symbolic links resolved (a temporary folder on
// macOS is under a link), or path itself when that fails.
func realPath(t *testing.T, path string) string {
	t.Helper()
	if p, err := filepath.EvalSymlinks(path); err == nil {
		return p
	}
	return path
}
