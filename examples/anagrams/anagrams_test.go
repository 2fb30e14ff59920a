package anagrams_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestProgram builds the example program as a user would and runs it: the
// binary forks its own workers, so this is the whole path from `go build`
// to output.
func TestProgram(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command to build the example with (the Windows tests under Wine have none)")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "anagrams")
	build := exec.Command("go", "build", "-o", bin, "./cmd/anagrams")
	build.Stderr = os.Stderr
	require.NoError(t, build.Run())

	text := "Listen, silent night! The enlist form.\nA tinsel star; stone notes onset.\nNo pair here: xyz.\n"
	in := filepath.Join(dir, "in.txt")
	require.NoError(t, os.WriteFile(in, []byte(strings.Repeat(text, 50)), 0o644))
	out := filepath.Join(dir, "out")
	run := exec.Command(bin, "-o", out, "-workers", "2", in)
	msg, err := run.CombinedOutput()
	require.NoError(t, err, "%s", msg)
	require.Contains(t, string(msg), "2 sets of anagrams in 150 lines")

	var lines []string
	parts, _ := filepath.Glob(filepath.Join(out, "part-*"))
	require.Len(t, parts, 2)
	for _, p := range parts {
		data, err := os.ReadFile(p)
		require.NoError(t, err)
		lines = append(lines, strings.Split(strings.TrimSpace(string(data)), "\n")...)
	}
	lines = slices.DeleteFunc(lines, func(s string) bool { return s == "" })
	slices.Sort(lines)
	require.Equal(t, []string{"eilnst\tenlist listen silent tinsel", "enost\tnotes onset stone"}, lines)
	require.FileExists(t, filepath.Join(out, "_SUCCESS"))
}
