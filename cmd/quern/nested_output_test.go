package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/quern-dev/quern/internal/testenv"
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
	// The log's text handler quotes the message, doubling a Windows path's
	// backslashes.
	logged := strings.ReplaceAll(nested, `\`, `\\`)
	if !strings.Contains(r.stderr, "the output of a finished job") || !strings.Contains(r.stderr, logged) {
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

// TestUnfinishedOutputRefusedAsInput: the output of a job that has not
// finished (a part committed, _temporary still there, no _SUCCESS: the job
// runs, or was killed while it committed) is refused as the next job's
// input, exit status 2, naming it, rather than read as the whole answer.
func TestUnfinishedOutputRefusedAsInput(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "half", "_temporary", "reduce-00001-attempt-1"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "half", "part-00000"), "the\t5\nbe\t3\n")
	writeFile(t, filepath.Join(dir, "half", "_temporary", "reduce-00001-attempt-1", "part-00001"), "zz\t9\n")
	r := quern(t, dir, "run", "topk", "-i", "half", "-o", "top", "--k", "3")
	if r.code != 2 || !strings.Contains(r.stderr, `"half" is the output of a job that has not finished`) {
		t.Fatalf("want exit status 2 naming the unfinished output\n%s", r)
	}
	wantAbsent(t, filepath.Join(dir, "top"))
	// Named by a glob, its files are read: the user asked for them.
	if r := quern(t, dir, "run", "topk", "-i", filepath.Join("half", "part-*"), "-o", "top", "--k", "3", "-q"); r.code != 0 {
		t.Fatal(r)
	}
}

// TestDamagedOutputRefused: a finished word count whose second part was
// lost after the commit (a copy of the folder cut short) is refused by the
// next job and by quern cat, naming the part, instead of being read as the
// whole answer; named by a glob, what is left is read.
func TestDamagedOutputRefused(t *testing.T) {
	testenv.SkipUnderRace(t, "damaged outputs as input")
	t.Parallel()
	dir := t.TempDir()
	genText(t, dir, "in.txt", "32KiB")
	if r := quern(t, dir, "run", "wordcount", "-i", "in.txt", "-o", "wc", "--reducers", "2", "-q"); r.code != 0 {
		t.Fatal(r)
	}
	if err := os.Remove(filepath.Join(dir, "wc", "part-00001")); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"run", "topk", "-i", "wc", "-o", "top", "--k", "3", "-q"},
		{"cat", "wc"},
	} {
		r := quern(t, dir, args...)
		if r.code != 2 || !strings.Contains(r.stderr, "wc: a file its _SUCCESS lists is missing or has another size: part-00001 is missing") {
			t.Errorf("%v: want exit status 2 naming the missing part\n%s", args, r)
		}
	}
	wantAbsent(t, filepath.Join(dir, "top"))
	if r := quern(t, dir, "run", "topk", "-i", filepath.Join("wc", "part-*"), "-o", "top", "--k", "3", "-q"); r.code != 0 {
		t.Fatal(r)
	}
}
