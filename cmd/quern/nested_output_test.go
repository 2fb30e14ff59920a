package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestOutputInsideInputFolderWarns: a user who keeps a job's output inside
// the folder it read (--input data --output data/out) and runs again with
// another --output reads the first answer as more input. The rule stays
// Hadoop's (a folder is every file below it, so that a folder of outputs
// can be read), but the second run says so, also under -q, on stderr and
// in _job.json, naming the folder; and --dry-run says it before anything
// runs.
func TestOutputInsideInputFolderWarns(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "data"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "data", "a.txt"), "apple pear\napple\n")
	if r := quern(t, dir, "run", "wordcount", "-i", "data", "-o", filepath.Join("data", "out"), "--reducers", "1", "-q"); r.code != 0 || strings.Contains(r.stderr, "finished job") {
		t.Fatalf("first run: want no warning\n%s", r)
	}
	if got := string(readFile(t, filepath.Join(dir, "data", "out", "part-00000"))); got != "apple\t2\npear\t1\n" {
		t.Fatalf("first run counted %q", got)
	}

	nested := filepath.Join("data", "out")
	r := quern(t, dir, "run", "wordcount", "-i", "data", "-o", "again", "--dry-run")
	if r.code != 0 || !strings.Contains(r.stdout, "warning: ") || !strings.Contains(r.stdout, nested) {
		t.Fatalf("--dry-run does not warn of %s\n%s", nested, r)
	}
	r = quern(t, dir, "run", "wordcount", "-i", "data", "-o", "again", "--reducers", "1", "-q")
	if r.code != 0 {
		t.Fatal(r)
	}
	if !strings.Contains(r.stderr, "the output of a finished job") || !strings.Contains(r.stderr, nested) {
		t.Fatalf("second run does not warn of %s on stderr\n%s", nested, r)
	}
	// The rule itself is unchanged: the first answer's lines were read.
	if got := string(readFile(t, filepath.Join(dir, "again", "part-00000"))); got != "apple\t3\npear\t2\n" {
		t.Fatalf("second run counted %q", got)
	}
	var summary struct{ Warnings []string }
	if err := json.Unmarshal(readFile(t, filepath.Join(dir, "again", "_job.json")), &summary); err != nil {
		t.Fatal(err)
	}
	if len(summary.Warnings) != 1 || !strings.Contains(summary.Warnings[0], nested) {
		t.Fatalf("_job.json warnings %q, want one naming %s", summary.Warnings, nested)
	}
}

// TestPipelineOutputInsideInputFolderWarns: the same for a pipeline
// (topwords): the warning is printed by --dry-run, in the summary, and
// kept in _job.json's warnings, as a job's is.
func TestPipelineOutputInsideInputFolderWarns(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "data"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "data", "a.txt"), "apple pear\napple\n")
	if r := quern(t, dir, "run", "wordcount", "-i", "data", "-o", filepath.Join("data", "out"), "-q"); r.code != 0 {
		t.Fatal(r)
	}
	nested := filepath.Join("data", "out")
	r := quern(t, dir, "run", "topwords", "-i", "data", "-o", "top", "--dry-run")
	if r.code != 0 || !strings.Contains(r.stdout, "warning: ") || !strings.Contains(r.stdout, nested) {
		t.Fatalf("--dry-run does not warn of %s\n%s", nested, r)
	}
	r = quern(t, dir, "run", "topwords", "-i", "data", "-o", "top")
	if r.code != 0 || !strings.Contains(r.stdout, "  warning: ") || !strings.Contains(r.stdout, nested) {
		t.Fatalf("the summary does not warn of %s\n%s", nested, r)
	}
	var summary struct{ Warnings []string }
	if err := json.Unmarshal(readFile(t, filepath.Join(dir, "top", "_job.json")), &summary); err != nil {
		t.Fatal(err)
	}
	if len(summary.Warnings) != 1 || !strings.Contains(summary.Warnings[0], nested) {
		t.Fatalf("_job.json warnings %q, want one naming %s", summary.Warnings, nested)
	}
}
