//go:build linux

package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/quern-dev/quern/internal/testenv"
)

// TestUnusableInputOrOutput: every input or output the job cannot use is
// a usage error (exit status 2) that names it, and touches nothing: not
// the input, not the folder the user pointed at.
func TestUnusableInputOrOutput(t *testing.T) {
	testenv.SkipUnderRace(t, "unusable inputs and outputs")
	t.Parallel()
	dir := t.TempDir()
	genText(t, dir, "in.txt", "8KiB")
	// d holds an input; alias is a symlink to d.
	if err := os.Mkdir(filepath.Join(dir, "d"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "d", "in.txt"), "a b\n")
	if err := os.Symlink("d", filepath.Join(dir, "alias")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join("d", "in.txt"), filepath.Join(dir, "link.txt")); err != nil {
		t.Fatal(err)
	}
	// notes holds a file quern did not write, beside an old part file.
	if err := os.Mkdir(filepath.Join(dir, "notes"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "notes", "todo.txt"), "keep")
	writeFile(t, filepath.Join(dir, "notes", "part-00000"), "old\t1\n")
	if err := os.Mkdir(filepath.Join(dir, "home"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "home", ".profile"), "keep")
	// A path under a regular file cannot be created, even by root.
	writeFile(t, filepath.Join(dir, "file"), "not a directory")
	// A Parquet file cut short: its footer, which planning reads, is gone.
	if r := quern(t, dir, "run", "wordcount", "-i", "in.txt", "-o", "pq", "--output-format", "parquet", "--reducers", "1", "-q"); r.code != 0 {
		t.Fatal(r)
	}
	pq := readFile(t, filepath.Join(dir, "pq", "part-00000.parquet"))
	writeFile(t, filepath.Join(dir, "cut.parquet"), string(pq[:len(pq)-20]))
	if err := os.RemoveAll(filepath.Join(dir, "pq")); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, dir)

	// Rows that name a folder outside this test's own (.., /) never pass
	// --overwrite: should the refusal break, the job must not be able to
	// empty them. (Run against the code before this refusal existed, a row
	// "-o / --overwrite" emptied the machine's root as root.) Without
	// --overwrite, a broken refusal still fails the row, by its message.
	wc := []string{"run", "wordcount", "-i", "in.txt"}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"overwrite through a symlink to the input's folder", []string{"run", "wordcount", "-i", "alias/in.txt", "-o", "d", "--overwrite"}, "output directory d contains input file alias/in.txt"},
		{"input is a symlink to a file in the output", []string{"run", "wordcount", "-i", "link.txt", "-o", "d", "--overwrite"}, "output directory d contains input file link.txt"},
		{"input through a symlink in the output", []string{"run", "wordcount", "-i", "d/in.txt", "-o", "alias/.", "--overwrite"}, "contains input file d/in.txt"},
		{"current folder", append(wc, "-o", "./", "--overwrite"), "is the current folder or one above it"},
		{"parent folder", append(wc, "-o", "d/..", "--overwrite"), "is the current folder or one above it"},
		{"ancestor", append(wc, "-o", ".."), "is the current folder or one above it"},
		{"root", append(wc, "-o", "/"), "is the file system's root"},
		{"home", append(wc, "-o", "home", "--overwrite"), "is the home folder"},
		{"folder with other files", append(wc, "-o", "notes", "--overwrite"), "output directory notes is not empty and holds files quern did not write (todo.txt); choose a new output directory, or move those files away"},
		{"output is a file", append(wc, "-o", "file"), "output file is a file, not a directory"},
		{"output under a file", append(wc, "-o", "file/out"), "file/out"},
		{"tmp-dir under a file", append(wc, "-o", "out", "--tmp-dir", "file/sub"), "file/sub"},
		{"truncated parquet footer", []string{"run", "wordcount", "-i", "cut.parquet", "-o", "out"}, "cut.parquet"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := quernEnv(t, dir, []string{"HOME=" + filepath.Join(dir, "home")}, tc.args...)
			if r.code != 2 {
				t.Errorf("want exit status 2\n%s", r)
			}
			if !strings.Contains(lastLine(r.stderr), tc.want) {
				t.Errorf("error lacks %q\n%s", tc.want, r)
			}
		})
	}
	if after := snapshot(t, dir); !equalMaps(before, after) {
		t.Errorf("refused runs changed the folder:\nbefore %v\nafter  %v", before, after)
	}
}

// snapshot maps every path under dir (symlinks not followed) to its
// content, so that a test can see that nothing changed.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	m := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		switch {
		case d.Type()&os.ModeSymlink != 0:
			target, _ := os.Readlink(path)
			m[rel] = "-> " + target
		case d.IsDir():
			m[rel+"/"] = ""
		default:
			m[rel] = string(readFile(t, path))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// TestOverwriteKeepsOnlyTheNewOutput: --overwrite empties a previous job's
// output, and the folder ends with the new job's files alone.
func TestOverwriteKeepsOnlyTheNewOutput(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	genText(t, dir, "in.txt", "16KiB")
	if r := quern(t, dir, "run", "wordcount", "-i", "in.txt", "-o", "out", "--reducers", "3", "-q"); r.code != 0 {
		t.Fatal(r)
	}
	if r := quern(t, dir, "run", "wordcount", "-i", "in.txt", "-o", "out", "--reducers", "1", "--overwrite", "-q"); r.code != 0 {
		t.Fatal(r)
	}
	wantFiles(t, filepath.Join(dir, "out"), "_SUCCESS", "_job.json", "part-00000")
	wantFiles(t, dir, "in.txt", "out") // the lock beside out is gone too
}

// TestFailedOverwriteKeepsTheOutput: a job run with --overwrite over a
// finished output that fails (a corrupt input), or is killed with -9
// halfway, loses nothing of the output it was to replace: the failure
// says so and leaves it as it was, and the next run finds it whole (and
// refuses it without --overwrite).
func TestFailedOverwriteKeepsTheOutput(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	genText(t, dir, "in.txt", "64KiB")
	if r := quern(t, dir, "run", "wordcount", "-i", "in.txt", "-o", "out", "-q"); r.code != 0 {
		t.Fatal(r)
	}
	out := filepath.Join(dir, "out")
	before := snapshot(t, out)

	// gzip's magic and a cut stream: a corrupt input, refused at once.
	writeFile(t, filepath.Join(dir, "cut.gz"), "\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03\xcbH\xcd\xc9")
	r := quern(t, dir, "run", "wordcount", "-i", "in.txt,cut.gz", "-o", "out", "--overwrite")
	if r.code != 2 || !strings.Contains(r.stderr, "cut.gz") || !strings.Contains(r.stderr, "keeps the previous job's output") {
		t.Fatalf("want exit status 2 naming cut.gz and saying the output is kept\n%s", r)
	}
	if after := snapshot(t, out); !equalMaps(before, after) {
		t.Errorf("a failed overwrite changed the output:\nbefore %v\nafter  %v", before, after)
	}

	// A pipeline the same.
	if r := quern(t, dir, "run", "topwords", "-i", "in.txt", "-o", "top", "-q"); r.code != 0 {
		t.Fatal(r)
	}
	topBefore := snapshot(t, filepath.Join(dir, "top"))
	r = quern(t, dir, "run", "topwords", "-i", "in.txt,cut.gz", "-o", "top", "--overwrite")
	if r.code != 2 || !strings.Contains(r.stderr, "keeps the previous output") {
		t.Fatalf("pipeline: want exit status 2 saying the output is kept\n%s", r)
	}
	if after := snapshot(t, filepath.Join(dir, "top")); !equalMaps(topBefore, after) {
		t.Errorf("a failed overwriting pipeline changed the output:\nbefore %v\nafter  %v", topBefore, after)
	}

	j := startStuckJobOn(t, dir, out, []string{"--overwrite"})
	if _, err := os.Stat(filepath.Join(out, "_SUCCESS")); err == nil {
		t.Error("while the overwriting job runs, the output still claims to be finished")
	}
	j.sigkill(t)
	r = quern(t, dir, "run", "wordcount", "-i", "in.txt", "-o", "out", "-q")
	if r.code != 2 || !strings.Contains(r.stderr, "--overwrite") {
		t.Fatalf("after the killed overwrite, want the finished output refused without --overwrite\n%s", r)
	}
	if after := snapshot(t, out); !equalMaps(before, after) {
		t.Errorf("a killed overwrite lost the output:\nbefore %v\nafter  %v", before, after)
	}
}

// TestTwoJobsOnOneOutput: a job that finds its output directory in use by
// another fails at once with exit status 2, even with --overwrite, and
// leaves the other's files alone; once the other is killed, its lock goes
// with it.
func TestTwoJobsOnOneOutput(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	j := startStuckJob(t, dir)
	r := quern(t, dir, "run", "wordcount", "-i", "in.txt", "-o", j.out, "--overwrite", "--reducers", "1", "-q")
	if r.code != 2 || !strings.Contains(r.stderr, "is in use by another quern job") {
		t.Fatalf("want exit status 2 and a message that the output is in use\n%s", r)
	}
	if _, err := os.Stat(filepath.Join(j.out, "_temporary")); err != nil {
		t.Errorf("the loser touched the running job's output: %v", err)
	}

	if err := j.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	j.wait(t)
	j.wantNoProcesses(t)
	r = quern(t, dir, "run", "wordcount", "-i", "in.txt", "-o", j.out, "--overwrite", "--reducers", "1", "-q")
	if r.code != 0 {
		t.Fatalf("a killed job's lock must not outlive it\n%s", r)
	}
	wantFiles(t, j.out, "_SUCCESS", "_job.json", "part-00000")
}

// TestSignalAfterCommit: a SIGINT that comes when the output is committed
// does not turn the job into a failure.
func TestSignalAfterCommit(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	genText(t, dir, "in.txt", "16KiB")
	cmd := quernCmd(t, dir, []string{"QUERN_TEST_HOLD_AFTER_COMMIT=1"}, "run", "wordcount", "-i", "in.txt", "-o", "out", "--reducers", "1", "-q")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	}()
	waitFor(t, 30*1e9, "the job to commit", func() bool {
		_, err := os.Stat(filepath.Join(dir, "out", "_SUCCESS"))
		return err == nil
	})
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	if cmd.ProcessState.ExitCode() != 0 {
		t.Errorf("exit status %v (%v), want 0: the output is complete\nstderr:\n%s", cmd.ProcessState, err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "it succeeded, but its clean-up may have been cut short") {
		t.Errorf("stderr does not say the job succeeded:\n%s", stderr.String())
	}
	wantFiles(t, filepath.Join(dir, "out"), "_SUCCESS", "_job.json", "part-00000")
}

// TestWorkerExitFailureIsReported: a worker that exits with a failure
// status after its last task (as a race-enabled worker that found a race
// does) does not fail the job, but is reported in the summary and in
// _job.json.
func TestWorkerExitFailureIsReported(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	genText(t, dir, "in.txt", "16KiB")
	r := quernEnv(t, dir, []string{"QUERN_FAULTS=worker/0@worker-exit=exit"}, "run", "wordcount", "-i", "in.txt", "-o", "out", "--workers", "2", "--reducers", "1")
	if r.code != 0 {
		t.Fatal(r)
	}
	if !regexpMatch(`warning: worker pid \d+ exit status 3 after its last task`, r.stdout) {
		t.Errorf("the summary does not warn of the worker's exit status\n%s", r)
	}
	var summary struct{ Warnings []string }
	if err := json.Unmarshal(readFile(t, filepath.Join(dir, "out", "_job.json")), &summary); err != nil {
		t.Fatal(err)
	}
	if len(summary.Warnings) != 2 || !strings.Contains(summary.Warnings[0], "exit status 3") {
		t.Errorf("_job.json warnings %q, want one per worker", summary.Warnings)
	}
}
