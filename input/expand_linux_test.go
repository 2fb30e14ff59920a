package input

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestProcFileRefused: a file of /proc has a size of 0 and content, so a
// plan made from its size would read it as empty and the job would answer
// with nothing, exit 0. It is refused, named; an empty file, found in a
// folder or named, still reads as empty (and is opened to tell them apart,
// even where small files are not).
func TestProcFileRefused(t *testing.T) {
	_, err := ExpandWith([]string{"/proc/self/status"}, ExpandOptions{GuessUpTo: 1 << 20})
	require.ErrorIs(t, err, ErrNotRegular)
	require.ErrorContains(t, err, "/proc/self/status has content but a size of 0")

	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.txt")
	require.NoError(t, os.WriteFile(empty, nil, 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "a.txt"), []byte("a line\n"), 0o644))
	files, err := ExpandWith([]string{dir, empty}, ExpandOptions{GuessUpTo: 1 << 20})
	require.NoError(t, err)
	require.Len(t, files, 2)
	require.Equal(t, empty, files[1].Path)
	require.Zero(t, files[1].Size)
}
