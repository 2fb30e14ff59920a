package main

import (
	"bytes"
	"context"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/quern-dev/quern/beam/internal/beamtest"
	"github.com/quern-dev/quern/mapreduce"
)

func TestMain(m *testing.M) {
	mapreduce.Main() // the local engine's workers, for the reference outputs
	beam.Init()
	// Prism's job server is started once and serves every pipeline of the
	// process (prism.Execute); everything else must be gone.
	removeTempDir := beamtest.PrivateTempDir()
	opts := append([]goleak.Option{removeTempDir, goleak.IgnoreAnyFunction(
		"github.com/apache/beam/sdks/v2/go/pkg/beam/runners/prism/internal/jobservices.(*Server).Serve"),
		// Beam's worker pool (container/pool, v2.77.0) starts boot with
		// exec.CommandContext and never waits for it, so the goroutine
		// that kills a stopped boot waits forever to report it.
		goleak.IgnoreTopFunction("os/exec.(*Cmd).watchCtx")},
		beamtest.HarnessDeadlock()...)
	goleak.VerifyTestMain(m, opts...)
}

func runCLI(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func writeInput(t *testing.T) string {
	t.Helper()
	in := filepath.Join(t.TempDir(), "in.txt")
	require.NoError(t, os.WriteFile(in, []byte(strings.Repeat("b a b\nc b\n", 20)), 0o644))
	return in
}

// TestRunWordcount runs an app end to end on Prism through the CLI, with
// Beam flags after "--" and the meaningless --reducers.
func TestRunWordcount(t *testing.T) {
	in := writeInput(t)
	out := filepath.Join(t.TempDir(), "out")
	code, stdout, stderr := runCLI("run", "wordcount", "--input", in, "-o", out, "--reducers", "4",
		"--runner", "prism", "--", "--job_name=quern-test")
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stderr, "--reducers=4 ignored")
	require.Contains(t, stdout, "wordcount: done on beam (prism)")
	require.Contains(t, stdout, "map_input_records")
	data, err := os.ReadFile(filepath.Join(out, "part-00000"))
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	slices.Sort(lines)
	require.Equal(t, []string{"a\t20", "b\t60", "c\t20"}, lines)
	require.FileExists(t, filepath.Join(out, "_SUCCESS"))
	require.NotContains(t, stderr, "level=INFO", "Beam's progress logs need --verbose")

	code, stdout, stderr = runCLI("run", "wordcount", "-i", in, "-o", out, "--overwrite", "-q", "-v")
	require.Equal(t, 0, code, stderr)
	require.Empty(t, stdout)
	require.Contains(t, stderr, "level=INFO")
}

// TestInputListAsQuernRun checks that --input is cut at its commas as
// quern run cuts it (a list of paths), unless the value names an existing
// file, so that one command line reads the same files on both engines.
func TestInputListAsQuernRun(t *testing.T) {
	in := writeInput(t)
	comma := filepath.Join(t.TempDir(), "more, words.txt")
	require.NoError(t, os.WriteFile(comma, []byte(strings.Repeat("b a b\nc b\n", 20)), 0o644))
	for _, c := range []struct {
		input string
		want  []string
	}{
		{in + "," + comma[:strings.Index(comma, ",")] + `\` + comma[strings.Index(comma, ","):], []string{"a\t40", "b\t120", "c\t40"}},
		{comma, []string{"a\t20", "b\t60", "c\t20"}},
	} {
		out := filepath.Join(t.TempDir(), "out")
		code, _, stderr := runCLI("run", "wordcount", "--input", c.input, "-o", out, "-q", "--runner", "prism")
		require.Equal(t, 0, code, stderr)
		data, err := os.ReadFile(filepath.Join(out, "part-00000"))
		require.NoError(t, err)
		lines := strings.Split(strings.TrimSpace(string(data)), "\n")
		slices.Sort(lines)
		require.Equal(t, c.want, lines, "--input %q", c.input)
	}
}

func TestUsageErrors(t *testing.T) {
	in := writeInput(t)
	dir := t.TempDir()
	for _, c := range []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"no command", nil, exitUsage, "usage"},
		{"unknown command", []string{"walk"}, exitUsage, `unknown command "walk"`},
		{"no app", []string{"run"}, exitUsage, "name an app"},
		{"unknown app", []string{"run", "nope"}, exitUsage, `no app named "nope"`},
		{"no output", []string{"run", "wordcount", "--input", in}, exitUsage, "--output are required"},
		{"stray argument", []string{"run", "wordcount", "--input", in, "-o", filepath.Join(dir, "a"), "extra"}, exitUsage, `unexpected argument "extra"`},
		{"unknown runner", []string{"run", "wordcount", "--input", in, "-o", filepath.Join(dir, "b"), "--runner", "mapr"}, exitUsage, `unknown --runner "mapr"`},
		{"unknown beam flag", []string{"run", "wordcount", "--input", in, "-o", filepath.Join(dir, "c"), "--", "--no_such_flag=1"}, exitUsage, "no_such_flag"},
		{"bad iterations", []string{"run", "pagerank", "--input", in, "-o", filepath.Join(dir, "d"), "--iterations", "0"}, exitUsage, "--iterations must be a whole number of at least 1"},
		{"map-only", []string{"run", "sort", "--input", in, "-o", filepath.Join(dir, "e"), "--reducers", "0"}, exitUsage, "--reducers 0 (a map-only job) does not run on Beam; run it with 'quern run sort --reducers 0'"},
		{"no ranges", []string{"run", "sort", "--input", in, "-o", filepath.Join(dir, "e"), "--reducers", "-1"}, exitUsage, "--reducers -1"},
		{"bad sort buffer", []string{"run", "reverselinks", "--input", in, "-o", filepath.Join(dir, "e"), "--sort-buffer", "lots"}, exitUsage, "--sort-buffer"},
		{"bad split size", []string{"run", "wordcount", "--input", in, "-o", filepath.Join(dir, "f"), "--split-size", "-3"}, exitUsage, "--split-size"},
		{"missing input", []string{"run", "wordcount", "--input", filepath.Join(dir, "absent"), "-o", filepath.Join(dir, "g")}, exitUsage, "absent"},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, _, stderr := runCLI(c.args...)
			require.Equal(t, c.code, code, stderr)
			require.Contains(t, stderr, c.msg)
		})
	}
}

func TestApps(t *testing.T) {
	code, stdout, _ := runCLI("apps")
	require.Equal(t, 0, code)
	require.Regexp(t, `(?m)^wordcount .*beam: yes$`, stdout)
	require.Regexp(t, `(?m)^anagrams .*beam: yes$`, stdout)
	require.Regexp(t, `(?m)^grep .*beam: yes$`, stdout)
	require.Regexp(t, `(?m)^reverselinks .*beam: yes$`, stdout)
	require.Regexp(t, `(?m)^join .*beam: yes \(one Beam pipeline\)$`, stdout)
	require.Regexp(t, `(?m)^topwords .*beam: yes \(one Beam pipeline\)$`, stdout)
	require.Regexp(t, `(?m)^pagerank .*beam: yes \(one Beam pipeline\)$`, stdout)
}

// TestPipelineRuns runs a pipeline (topwords) through the command line.
func TestPipelineRuns(t *testing.T) {
	in := writeInput(t)
	out := filepath.Join(t.TempDir(), "out")
	code, stdout, stderr := runCLI("run", "topwords", "--input", in, "-o", out, "--k", "2")
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stdout, "topwords: done on beam (prism)")
	lines, err := filepath.Glob(filepath.Join(out, "part-*"))
	require.NoError(t, err)
	var got []string
	for _, p := range lines {
		data, err := os.ReadFile(p)
		require.NoError(t, err)
		got = append(got, strings.Fields(string(data))...)
	}
	require.ElementsMatch(t, []string{"b", "60", "a", "20"}, got)
}

func TestAppHelp(t *testing.T) {
	code, _, stderr := runCLI("run", "topk", "--help")
	require.Equal(t, 0, code)
	require.Contains(t, stderr, "-k string")
	require.Contains(t, stderr, "--worker_binary")
}

// TestOffersEveryQuernApp fails when quern-beam stops importing apps/all,
// which cmd/quern imports too, so that every bundled app is offered (or
// refused with its reason) on Beam as well. apps/all's own test checks that
// it imports every app.
func TestOffersEveryQuernApp(t *testing.T) {
	imports := func(path string) []string {
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		require.NoError(t, err)
		var out []string
		for _, imp := range f.Imports {
			p, err := strconv.Unquote(imp.Path.Value)
			require.NoError(t, err)
			out = append(out, p)
		}
		return out
	}
	const all = "github.com/quern-dev/quern/apps/all"
	require.Contains(t, imports(filepath.Join("..", "..", "..", "cmd", "quern", "apps.go")), all)
	require.Contains(t, imports("apps.go"), all)
}
