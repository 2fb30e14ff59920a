//go:build linux

package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/quern-dev/quern/internal/testenv"
	"github.com/quern-dev/quern/mapreduce"
	"github.com/quern-dev/quern/pipeline"
)

// exampleShell returns a command that runs script with sh -e in dir, where
// `quern` and `./quern` are this CLI, as a user who built it would have it.
func exampleShell(t *testing.T, dir, script string) *exec.Cmd {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := t.TempDir()
	for _, link := range []string{filepath.Join(bin, "quern"), filepath.Join(dir, "quern")} {
		if err := os.Symlink(self, link); err != nil && !os.IsExist(err) {
			t.Fatal(err)
		}
	}
	cmd := exec.Command("sh", "-e", "-c", script)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), cliEnv+"=1", "TMPDIR="+t.TempDir(),
		"PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	return cmd
}

// skipUnderRace skips the examples in the race detector's pass over this
// package (.ci/run's go test -race): they are whole jobs on megabytes of
// data that the plain pass of go test ./... runs anyway, and would take
// minutes more under the detector without exercising any code it does not.
func skipUnderRace(t *testing.T) {
	testenv.SkipUnderRace(t, "whole example jobs on megabytes of data")
}

// printedExample returns the example that `quern run APP --help` prints:
// the indented lines after "Example:".
func printedExample(t *testing.T, app string) string {
	t.Helper()
	r := quern(t, t.TempDir(), "run", app, "--help")
	if r.code != 0 {
		t.Fatal(r)
	}
	_, after, ok := strings.Cut(r.stdout, "Example:\n\n")
	if !ok {
		t.Fatalf("quern run %s --help prints no example\n%s", app, r.stdout)
	}
	var lines []string
	for _, line := range strings.Split(after, "\n") {
		if !strings.HasPrefix(line, "   ") {
			break
		}
		lines = append(lines, strings.TrimPrefix(line, "   "))
	}
	return strings.Join(lines, "\n")
}

// TestHelpExamplesRunAsPrinted runs the example that `quern run APP --help`
// prints for every registered app, exactly as printed, each in an empty
// folder: an example that rots (a renamed flag, a missing input) fails here
// rather than in a new user's terminal.
func TestHelpExamplesRunAsPrinted(t *testing.T) {
	skipUnderRace(t)
	var apps []string
	for _, job := range mapreduce.Jobs() {
		apps = append(apps, job.Name)
	}
	for _, p := range pipeline.All() {
		apps = append(apps, p.Name)
	}
	for _, app := range apps {
		t.Run(app, func(t *testing.T) {
			// Each example has folders of its own, and much of one is
			// single-threaded (quern gen, a job's start and commit):
			// two at once keep both cores of a CI machine busy.
			t.Parallel()
			script := printedExample(t, app)
			dir := t.TempDir()
			out, err := exampleShell(t, dir, script).CombinedOutput()
			if err != nil {
				t.Fatalf("example of %s failed: %v\n%s\n--- output:\n%s", app, err, script, out)
			}
			if _, err := os.Stat(filepath.Join(dir, exampleOutput(script), "_SUCCESS")); err != nil {
				t.Fatalf("example of %s left no committed output: %v\n%s", app, err, script)
			}
		})
	}
}

var outputFlag = regexp.MustCompile(`--output (\S+)`)

// exampleOutput returns the output folder the last job of an example names.
func exampleOutput(script string) string {
	m := outputFlag.FindAllStringSubmatch(script, -1)
	if m == nil {
		return "."
	}
	return m[len(m)-1][1]
}

// guideCommands are the commands a docs/guide.md shell block may use to be
// run by TestGuideExamplesRunAsPrinted: quern and standard tools. Blocks
// that build the guide's Go programs, serve pages or fetch them are not run
// here.
var guideCommands = map[string]bool{
	"quern": true, "./quern": true, "head": true, "sort": true, "cat": true,
	"ls": true, "jq": true, "mkdir": true, "printf": true,
}

// guideBlocks returns the ```sh blocks of docs/guide.md, in order, and how
// many it left out for using other commands.
func guideBlocks(t *testing.T) (run []string, skipped int) {
	t.Helper()
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "guide.md"))
	if err != nil {
		t.Fatal(err)
	}
	blocks := strings.Split(string(doc), "```sh\n")[1:]
blocks:
	for _, b := range blocks {
		b, _, _ = strings.Cut(b, "```")
		for _, line := range strings.Split(b, "\n") {
			fields := strings.Fields(line)
			for len(fields) > 0 && strings.Contains(fields[0], "=") {
				fields = fields[1:] // VAR=value before the command
			}
			if len(fields) == 0 || strings.HasPrefix(fields[0], "#") {
				continue
			}
			if !guideCommands[fields[0]] || slicesContain(fields, "--ui") || fields[1] == "ui" {
				skipped++
				continue blocks
			}
		}
		run = append(run, b)
	}
	return run, skipped
}

func slicesContain(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// TestGuideExamplesRunAsPrinted runs the shell blocks of docs/guide.md that
// use only quern and standard tools, exactly as printed, in order, in one
// folder (later blocks read what earlier ones wrote, as a reader following
// the guide would).
func TestGuideExamplesRunAsPrinted(t *testing.T) {
	skipUnderRace(t)
	t.Parallel() // its blocks build on each other, but not on other tests
	blocks, skipped := guideBlocks(t)
	if len(blocks) < 8 {
		t.Fatalf("only %d runnable shell blocks found in docs/guide.md (%d left out): is the parser wrong?", len(blocks), skipped)
	}
	t.Logf("%d blocks run, %d left out (they build Go programs or serve pages)", len(blocks), skipped)
	dir := t.TempDir()
	for i, b := range blocks {
		out, err := exampleShell(t, dir, b).CombinedOutput()
		if err != nil {
			t.Fatalf("guide block %d failed: %v\n%s\n--- output:\n%s", i+1, err, b, out)
		}
	}
}
