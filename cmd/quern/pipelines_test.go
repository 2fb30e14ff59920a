package main

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestPipelineApps runs the bundled pipelines through the CLI: pagerank
// with its dry run and summary, a bad edge list failing with exit status 1
// and its stage named, and topwords, whose output is what wordcount then
// topk write.
func TestPipelineApps(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if r := quern(t, dir, "gen", "graph", "--size", "64KiB", "-o", "edges.txt"); r.code != 0 {
		t.Fatal(r)
	}
	r := quern(t, dir, "run", "pagerank", "-i", "edges.txt", "-o", "ranks", "--iterations", "5", "--workers", "2", "--dry-run")
	if r.code != 0 {
		t.Fatal(r)
	}
	for _, want := range []string{
		"pipeline pagerank, engine local, 2 workers, 2 reducers\n",
		"  makes edges (uint64, uint64): written unsorted, one exchange file per partition (no sort)\n",
		"stage rank: state per partition, 2 tasks × 7 steps (build, 5 rounds, finish); reads edges once, no sort\n",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("dry run lacks %q\n%s", want, r.stdout)
		}
	}
	wantAbsent(t, filepath.Join(dir, "ranks"))

	r = quern(t, dir, "run", "pagerank", "-i", "edges.txt", "-o", "ranks", "--iterations", "5", "--workers", "2")
	if r.code != 0 {
		t.Fatal(r)
	}
	if !strings.HasPrefix(r.stdout, "pagerank: done in ") || !regexpMatch(`(?m)^\s+rank\s+5\s+14\s`, r.stdout) {
		t.Errorf("summary lacks the rank stage's 5 rounds and 7 steps of 2 tasks:\n%s", r.stdout)
	}
	wantFiles(t, filepath.Join(dir, "ranks"), "_SUCCESS", "_job.json", "part-00000", "part-00001")

	writeFile(t, filepath.Join(dir, "bad.txt"), "1\t2\n3 x\n")
	r = quern(t, dir, "run", "pagerank", "-i", "bad.txt", "-o", "bad", "--max-attempts", "1")
	if r.code != 1 {
		t.Errorf("want exit status 1\n%s", r)
	}
	for _, want := range []string{"stage edges failed", "not run, as they depend on it: rank", `node id "x"`} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("error lacks %q:\n%s", want, r.stderr)
		}
	}
	wantFailureReport(t, filepath.Join(dir, "bad"))

	r = quern(t, dir, "run", "pagerank", "-i", "edges.txt", "-o", "zero", "--iterations", "0")
	if r.code != 2 || !strings.Contains(r.stderr, "--iterations must be a whole number of at least 1") {
		t.Errorf("--iterations 0: want exit status 2 and the rule\n%s", r)
	}

	genText(t, dir, "in.txt", "64KiB")
	for _, args := range [][]string{
		{"run", "wordcount", "-q", "-i", "in.txt", "-o", "wc"},
		{"run", "topk", "-q", "--k", "7", "-i", "wc", "-o", "top"},
		{"run", "topwords", "-q", "--k", "7", "-i", "in.txt", "-o", "tw"},
	} {
		if r := quern(t, dir, args...); r.code != 0 {
			t.Fatal(r)
		}
	}
	join := func(out string) string {
		var all string
		for _, p := range []string{"part-00000", "part-00001"} {
			all += string(readFile(t, filepath.Join(dir, out, p)))
		}
		return all
	}
	if got, want := join("tw"), join("top"); got != want || strings.Count(got, "\n") != 7 {
		t.Errorf("topwords wrote\n%s\nwordcount then topk wrote\n%s", got, want)
	}

	// --merge: one file of topwords' lines in word order (its parts are
	// in count order).
	r = quern(t, dir, "run", "topwords", "--k", "7", "-i", "in.txt", "-o", "tw-merged", "--merge")
	if r.code != 0 || !strings.Contains(r.stdout, "  merged: "+filepath.Join("tw-merged", "merged")+"\n") {
		t.Fatalf("--merge: want a merged file\n%s", r)
	}
	lines := strings.SplitAfter(join("top"), "\n")
	slices.Sort(lines)
	if got, want := string(readFile(t, filepath.Join(dir, "tw-merged", "merged"))), strings.Join(lines, ""); got != want {
		t.Errorf("topwords --merge wrote\n%s\nwant the lines in word order\n%s", got, want)
	}

	// --resume into a finished output with the same input and
	// parameters runs nothing; the summary says each stage was reused.
	r = quern(t, dir, "run", "topwords", "--k", "7", "-i", "in.txt", "-o", "tw", "--resume")
	if r.code != 0 || !regexpMatch(`(?m)^\s+split\s+1\s+\d+\s+reused\s`, r.stdout) || !regexpMatch(`(?m)^\s+top\s+1\s+2\s+reused\s`, r.stdout) {
		t.Errorf("--resume of a finished pipeline: want every stage reused\n%s", r)
	}
	if got, want := join("tw"), join("top"); got != want {
		t.Errorf("after --resume, topwords wrote\n%s\nwant\n%s", got, want)
	}
	if r := quern(t, dir, "run", "topwords", "--k", "7", "-i", "in.txt", "-o", "tw"); r.code != 2 {
		t.Errorf("without --resume, a non-empty output: want exit status 2\n%s", r)
	}
}
