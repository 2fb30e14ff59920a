package beamjob_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/runners/prism"
	"github.com/stretchr/testify/require"

	"github.com/quern-dev/quern/beam/beamjob"
	"github.com/quern-dev/quern/beam/internal/beamtest"
	"github.com/quern-dev/quern/internal/commit"
	"github.com/quern-dev/quern/mapreduce"
)

// snapshot is an output directory's files and their contents.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	files := map[string]string{}
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	require.NoError(t, err)
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			data = []byte("(directory)")
		}
		files[e.Name()] = string(data)
	}
	return files
}

// TestOutputDirectoryMatchesLocalEngine takes the output directory in each
// state a user meets (a committed output, a failed run's report, another
// job's files, an output another job holds), with and without
// --overwrite, on both engines: Beam's launcher commits through the local
// engine's committer, so it refuses and replaces exactly what quern run
// does, and leaves the same names behind.
func TestOutputDirectoryMatchesLocalEngine(t *testing.T) {
	dir := t.TempDir()
	text := beamtest.Generate(t, dir, "a.txt", "text", 8<<10, 1)
	committed := func(t *testing.T, out string) {
		_, err := mapreduce.RunNamed(context.Background(), "wordcount", mapreduce.Config{
			Inputs: []string{text}, Output: out, Workers: 1, Reducers: 2, TmpDir: t.TempDir(), Engine: mapreduce.EngineInline})
		require.NoError(t, err)
	}
	for _, c := range []struct {
		name      string
		prepare   func(t *testing.T, out string)
		overwrite bool
		refused   bool
	}{
		{"absent", func(*testing.T, string) {}, false, false},
		{"empty", func(t *testing.T, out string) { require.NoError(t, os.Mkdir(out, 0o755)) }, false, false},
		{"committed", committed, false, true},
		{"committed, overwrite", committed, true, false},
		{"failure report", func(t *testing.T, out string) {
			require.NoError(t, os.MkdirAll(filepath.Join(out, commit.LogsName), 0o755))
			require.NoError(t, os.WriteFile(filepath.Join(out, commit.SummaryName), []byte(`{"state":"failed"}`), 0o644))
		}, false, false},
		{"killed job's leftovers", func(t *testing.T, out string) {
			require.NoError(t, os.MkdirAll(filepath.Join(out, commit.TempName, "map-00000-1"), 0o755))
			require.NoError(t, os.WriteFile(filepath.Join(out, commit.TempName, "map-00000-1", "run-0"), []byte("x"), 0o644))
		}, false, false},
		{"foreign file, overwrite", func(t *testing.T, out string) {
			require.NoError(t, os.Mkdir(out, 0o755))
			require.NoError(t, os.WriteFile(filepath.Join(out, "notes.txt"), []byte("mine"), 0o644))
		}, true, true},
		{"held by another job, overwrite", func(t *testing.T, out string) {
			// A running job's lock, as quern run holds it.
			held, err := commit.Open(out, commit.Options{})
			require.NoError(t, err)
			t.Cleanup(held.Close)
		}, true, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			var outcomes [2]string
			var listings [2]map[string]string
			for i, engine := range []string{"local", "beam"} {
				out := filepath.Join(t.TempDir(), "out")
				c.prepare(t, out)
				before := snapshot(t, out)
				var err error
				if engine == "local" {
					_, err = mapreduce.RunNamed(context.Background(), "wordcount", mapreduce.Config{
						Inputs: []string{text}, Output: out, Overwrite: c.overwrite, Workers: 1, Reducers: 1,
						TmpDir: t.TempDir(), Engine: mapreduce.EngineInline})
				} else {
					_, err = beamjob.Run(context.Background(), beamjob.Config{Job: "wordcount", Inputs: []string{text},
						Output: out, Overwrite: c.overwrite}, prism.Execute)
				}
				switch {
				case err == nil:
					outcomes[i] = "done"
				case errors.Is(err, mapreduce.ErrConfig) || errors.Is(err, beamjob.ErrConfig):
					outcomes[i] = "refused"
					require.Equal(t, before, snapshot(t, out), "%s: a refused job touched the output", engine)
				default:
					outcomes[i] = "failed: " + err.Error()
				}
				listings[i] = snapshot(t, out)
				for name := range listings[i] {
					listings[i][name] = "" // names only: the parts' contents differ by engine
				}
			}
			require.Equal(t, outcomes[0], outcomes[1], "quern run and quern-beam disagree")
			require.Equal(t, map[bool]string{true: "refused", false: "done"}[c.refused], outcomes[1])
			require.ElementsMatch(t, keys(listings[0]), namesLike(keys(listings[1]), keys(listings[0])))
		})
	}
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// namesLike maps Beam's part names onto the local engine's: the engines
// write a different number of parts (Beam: one per reduce bundle), so
// only the presence of part files and the markers compare.
func namesLike(got, want []string) []string {
	hasPart := func(names []string) bool {
		return slices.ContainsFunc(names, func(n string) bool { return len(n) > 5 && n[:5] == "part-" })
	}
	var out []string
	for _, n := range got {
		if len(n) <= 5 || n[:5] != "part-" {
			out = append(out, n)
		}
	}
	if hasPart(got) {
		for _, n := range want {
			if len(n) > 5 && n[:5] == "part-" {
				out = append(out, n)
			}
		}
	}
	return out
}

// TestFailedJobLeavesReportAndKeepsCommittedOutput: a job refused on a
// committed output (no --overwrite) leaves every file as it was, and so
// does one that was to overwrite it and fails while it runs; a job that
// fails on a new output leaves only its report (_job.json, state failed,
// no _SUCCESS), which the next run replaces without --overwrite, as quern
// run does.
func TestFailedJobLeavesReportAndKeepsCommittedOutput(t *testing.T) {
	dir := t.TempDir()
	history := filepath.Join(dir, "history")
	t.Setenv("QUERN_TEST_HISTORY", history) // QUERN_HISTORY, in a test binary
	text := beamtest.Generate(t, dir, "a.txt", "text", 4<<10, 1)
	bad := filepath.Join(dir, "bad.csv")
	require.NoError(t, os.WriteFile(bad, []byte("a,b\n1,2\n1,2,3\n"), 0o644))
	out := filepath.Join(dir, "out")
	_, err := beamjob.Run(context.Background(), beamjob.Config{Job: "wordcount", Inputs: []string{text}, Output: out}, prism.Execute)
	require.NoError(t, err)
	before := snapshot(t, out)
	require.Contains(t, before, "_SUCCESS")

	_, err = beamjob.Run(context.Background(), beamjob.Config{Job: "topk", Inputs: []string{bad}, Output: out}, prism.Execute)
	require.ErrorIs(t, err, beamjob.ErrConfig)
	require.Equal(t, before, snapshot(t, out), "a refused job changed a committed output")

	// Now the job runs, and its map bundle refuses the short record (an
	// input problem, ErrConfig too).
	_, err = beamjob.Run(context.Background(), beamjob.Config{Job: "topk", Inputs: []string{bad}, Output: out, Overwrite: true}, prism.Execute)
	require.ErrorContains(t, err, "map-00000: input: malformed delimited record")
	require.Equal(t, before, snapshot(t, out), "a failed overwrite changed the committed output")

	fresh := filepath.Join(dir, "fresh")
	_, err = beamjob.Run(context.Background(), beamjob.Config{Job: "topk", Inputs: []string{bad}, Output: fresh}, prism.Execute)
	require.ErrorContains(t, err, "map-00000: input: malformed delimited record")
	left := snapshot(t, fresh)
	require.Equal(t, []string{"_job.json"}, keys(left), "a failed job leaves only its report")
	var report map[string]any
	require.NoError(t, json.Unmarshal([]byte(left["_job.json"]), &report))
	require.Equal(t, mapreduce.JobFailed, report["state"])
	require.Contains(t, report["error"], "bad.csv")

	_, err = beamjob.Run(context.Background(), beamjob.Config{Job: "wordcount", Inputs: []string{text}, Output: fresh}, prism.Execute)
	require.NoError(t, err, "a failed run's report is replaced without --overwrite")
	require.Equal(t, keys(before), keys(snapshot(t, fresh)))

	// Every job that ran left its report in the job history, the failed
	// overwrite too, whose output kept none; the refused job never ran.
	// Each says, as the local engine's do, when it ran, where its output
	// went, and from where and by what command it was run.
	entries, err := os.ReadDir(history)
	require.NoError(t, err)
	var states, outputs []string
	var started time.Time
	wd, err := os.Getwd()
	require.NoError(t, err)
	for _, e := range entries {
		var report mapreduce.JobStatus
		var origin struct {
			CommandLine []string `json:"command_line"`
			Version     string
		}
		data, err := os.ReadFile(filepath.Join(history, e.Name(), "_job.json"))
		require.NoError(t, err)
		require.NoError(t, json.Unmarshal(data, &report))
		require.NoError(t, json.Unmarshal(data, &origin))
		require.Equal(t, "beam", report.Engine)
		require.True(t, report.Started.After(started), "%s: started %v, not after the job before it", e.Name(), report.Started)
		started = report.Started
		require.Equal(t, wd, report.WorkingDir)
		require.NotEmpty(t, origin.CommandLine)
		require.NotEmpty(t, origin.Version)
		states, outputs = append(states, report.State), append(outputs, report.Output)
	}
	require.Equal(t, []string{"succeeded", "failed", "failed", "succeeded"}, states, "the history's reports, oldest first")
	require.Equal(t, []string{out, out, fresh, fresh}, outputs)
}
