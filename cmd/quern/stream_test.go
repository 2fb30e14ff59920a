//go:build linux

package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestStreamCommand(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "in.txt"), []byte("b a\na c a\n"), 0o644))
	// A mapper in a shipped file, one word a line; the reducer counts.
	require.NoError(t, os.WriteFile(filepath.Join(dir, "words.sh"), []byte("tr -s ' ' '\\n'\n"), 0o644))
	r := quern(t, dir, "stream", "-i", "in.txt", "-o", "out", "--workers", "2", "-q",
		"--mapper", "sh words.sh", "--file", "words.sh", "--reducer", "uniq -c | awk '{ printf \"%s\\t%d\\n\", $2, $1 }'")
	require.Equal(t, 0, r.code, r.String())
	require.Equal(t, []string{"a\t3", "b\t1", "c\t1"}, outputLinesIn(t, filepath.Join(dir, "out")))

	// --reducers 0: the mapper's lines are the output, as it wrote them.
	r = quern(t, dir, "stream", "-i", "in.txt", "-o", "maponly", "--workers", "2", "-q", "--reducers", "0",
		"--mapper", "sh words.sh", "--file", "words.sh")
	require.Equal(t, 0, r.code, r.String())
	part, err := os.ReadFile(filepath.Join(dir, "maponly", "part-m-00000"))
	require.NoError(t, err)
	require.Equal(t, "b\na\na\nc\na\n", string(part))
}

// TestStreamMapOnly runs a map-only Streaming job (--reducers 0) over
// several map tasks: each task's part holds what its mapper wrote, in that
// order, so the parts in task order are the input again (keys descend, so
// a sort would show); nothing was spilled or shuffled, and no reduce ran.
func TestStreamMapOnly(t *testing.T) {
	dir := t.TempDir()
	var in strings.Builder
	for i := range 5000 {
		fmt.Fprintf(&in, "k%05d\t%d\n", 5000-i, i)
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "in.txt"), []byte(in.String()), 0o644))
	r := quern(t, dir, "stream", "-i", "in.txt", "-o", "out", "--workers", "2", "-q", "--reducers", "0",
		"--split-size", "16KiB", "--mapper", "cat")
	require.Equal(t, 0, r.code, r.String())
	parts, err := filepath.Glob(filepath.Join(dir, "out", "part-*"))
	require.NoError(t, err)
	require.Greater(t, len(parts), 2)
	var got strings.Builder
	for i, p := range parts {
		require.Equal(t, fmt.Sprintf("part-m-%05d", i), filepath.Base(p))
		b, err := os.ReadFile(p)
		require.NoError(t, err)
		got.Write(b)
	}
	require.Equal(t, in.String(), got.String())

	data, err := os.ReadFile(filepath.Join(dir, "out", "_job.json"))
	require.NoError(t, err)
	var summary struct {
		Phases   []struct{ Name string }
		Counters map[string]int64
		Tasks    []struct{ ID string }
	}
	require.NoError(t, json.Unmarshal(data, &summary))
	require.Equal(t, []struct{ Name string }{{"map"}}, summary.Phases)
	for _, c := range []string{"shuffle_bytes", "spill_files", "reduce_input_records"} {
		require.Zero(t, summary.Counters[c], c)
	}
	require.Equal(t, int64(5000), summary.Counters["map_output_records"])
	require.Len(t, summary.Tasks, len(parts))
	for _, task := range summary.Tasks {
		require.True(t, strings.HasPrefix(task.ID, "map-"), task.ID)
	}
}

func TestStreamUsageErrors(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "in.txt"), []byte("x\n"), 0o644))
	require.NoError(t, os.Mkdir(filepath.Join(dir, "sub"), 0o755))
	for name, args := range map[string][]string{
		"no mapper":           {"--reducer", "cat"},
		"missing file":        {"--mapper", "cat", "--file", "nowhere.py"},
		"map-only reducer":    {"--mapper", "cat", "--reducer", "cat", "--reducers", "0"},
		"file is a directory": {"--mapper", "cat", "--file", "."},
		"unknown input key":   {"--mapper", "cat", "--input-key", "name"},
		"mapper not on PATH":  {"--mapper", "no-such-program-q9 -x"},
		"reducer not a file":  {"--mapper", "cat", "--reducer", "./no-such-reducer.py"},
		"program a directory": {"--mapper", "./sub"},
		"map-only combiner":   {"--mapper", "cat", "--combiner", "sort -u", "--reducers", "0"},
		"max-line zero":       {"--mapper", "cat", "--max-line", "0"},
		"max-line, dry run":   {"--mapper", "cat", "--max-line", "-1", "--dry-run"},
	} {
		t.Run(name, func(t *testing.T) {
			r := quern(t, dir, append([]string{"stream", "-i", "in.txt", "-o", "out-" + strings.ReplaceAll(name, " ", "-")}, args...)...)
			require.Equal(t, exitUsage, r.code, r.String())
		})
	}
}

// outputLinesIn reads the lines of every part file in dir, sorted.
func outputLinesIn(t *testing.T, dir string) []string {
	t.Helper()
	parts, err := filepath.Glob(filepath.Join(dir, "part-*"))
	require.NoError(t, err)
	var lines []string
	for _, p := range parts {
		b, err := os.ReadFile(p)
		require.NoError(t, err)
		for l := range strings.Lines(string(b)) {
			lines = append(lines, strings.TrimSuffix(l, "\n"))
		}
	}
	slices.Sort(lines)
	return lines
}

// The example that `quern stream --help` prints runs as printed.
func TestStreamHelpExampleRunsAsPrinted(t *testing.T) {
	skipUnderRace(t)
	r := quern(t, t.TempDir(), "stream", "--help")
	require.Equal(t, 0, r.code, r.String())
	require.Contains(t, r.stdout, strings.ReplaceAll(streamExample, "\n", "\n      "))
	dir := t.TempDir()
	out, err := exampleShell(t, dir, streamExample).CombinedOutput()
	require.NoError(t, err, "%s", out)
	require.FileExists(t, filepath.Join(dir, "counts", "_SUCCESS"))
}

// TestStreamDefaultSplitSize: a Streaming job's splits are Hadoop's 128 MiB
// blocks unless --split-size says otherwise, since each map task starts the
// mapper program anew.
func TestStreamDefaultSplitSize(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "in.txt"), []byte("x\n"), 0o644))
	r := quern(t, dir, "stream", "-i", "in.txt", "-o", "out", "--mapper", "cat", "--dry-run")
	require.Equal(t, 0, r.code, r.String())
	require.Contains(t, r.stdout, "split size 128MiB")
	r = quern(t, dir, "run", "streaming", "-i", "in.txt", "-o", "out", "--mapper", "cat", "--dry-run")
	require.Equal(t, 0, r.code, r.String())
	require.Contains(t, r.stdout, "split size 128MiB")
	r = quern(t, dir, "stream", "-i", "in.txt", "-o", "out", "--mapper", "cat", "--split-size", "1MiB", "--dry-run")
	require.Equal(t, 0, r.code, r.String())
	require.Contains(t, r.stdout, "split size 1MiB")
}

// TestStreamSplitsGrowToOnePerWorker: an input larger than a 128 MiB split
// per worker is cut into one map task per worker (up to 1 GiB each), since
// each task starts the mapper and writes its in-mapper totals again; a
// --split-size given is kept. The input is a sparse file: a dry run reads
// no more than its sizes.
func TestStreamSplitsGrowToOnePerWorker(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "in.txt"), nil, 0o644))
	require.NoError(t, os.Truncate(filepath.Join(dir, "in.txt"), 300<<20))
	r := quern(t, dir, "stream", "-i", "in.txt", "-o", "out", "--mapper", "cat", "--workers", "2", "--dry-run")
	require.Equal(t, 0, r.code, r.String())
	require.Contains(t, r.stdout, "map tasks: 2 (split size 150MiB)")
	r = quern(t, dir, "stream", "-i", "in.txt", "-o", "out", "--mapper", "cat", "--workers", "2", "--split-size", "128MiB", "--dry-run")
	require.Equal(t, 0, r.code, r.String())
	require.Contains(t, r.stdout, "map tasks: 3 (split size 128MiB)")
}

// TestWordcountSplitsGrowToTwoPerWorker: wordcount's split size grows from
// 32 MiB up to 64 MiB while every worker keeps two map tasks (its
// combiner flushes every distinct word once per task), and says so in its
// help; a --split-size given is kept. The inputs are sparse files.
func TestWordcountSplitsGrowToTwoPerWorker(t *testing.T) {
	dir := t.TempDir()
	for name, size := range map[string]int64{"big.txt": 300 << 20, "small.txt": 100 << 20} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), nil, 0o644))
		require.NoError(t, os.Truncate(filepath.Join(dir, name), size))
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-i", "big.txt"}, "map tasks: 5 (split size 64MiB)"},
		{[]string{"-i", "small.txt"}, "map tasks: 4 (split size 32MiB)"},
		{[]string{"-i", "big.txt", "--split-size", "32MiB"}, "map tasks: 10 (split size 32MiB)"},
	} {
		r := quern(t, dir, append([]string{"run", "wordcount", "-o", "out", "--workers", "2", "--dry-run"}, c.args...)...)
		require.Equal(t, 0, r.code, r.String())
		require.Contains(t, r.stdout, c.want, c.args)
	}
	r := quern(t, dir, "run", "wordcount", "--help")
	require.Contains(t, r.stdout, "grown up to 64MiB while every worker keeps 2 map tasks")
}
