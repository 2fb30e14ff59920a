//go:build linux

package main

import (
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

	// --reducers 0: the mapper's lines are the output.
	r = quern(t, dir, "stream", "-i", "in.txt", "-o", "maponly", "--workers", "2", "-q", "--reducers", "0",
		"--mapper", "sh words.sh", "--file", "words.sh")
	require.Equal(t, 0, r.code, r.String())
	require.Equal(t, []string{"a\t", "a\t", "a\t", "b\t", "c\t"}, outputLinesIn(t, filepath.Join(dir, "maponly")))
}

func TestStreamUsageErrors(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "in.txt"), []byte("x\n"), 0o644))
	for name, args := range map[string][]string{
		"no mapper":           {"--reducer", "cat"},
		"missing file":        {"--mapper", "cat", "--file", "nowhere.py"},
		"map-only reducer":    {"--mapper", "cat", "--reducer", "cat", "--reducers", "0"},
		"file is a directory": {"--mapper", "cat", "--file", "."},
		"unknown input key":   {"--mapper", "cat", "--input-key", "name"},
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
