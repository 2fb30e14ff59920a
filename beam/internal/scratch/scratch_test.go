package scratch

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestAbandonRemovesARunsDirectoriesOnly(t *testing.T) {
	parent := t.TempDir()
	a1, err := MkdirTemp("a", parent, "sort-")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(a1, "run-00000"), []byte("x"), 0o644))
	a2, err := MkdirTemp("a", parent, "part-")
	require.NoError(t, err)
	b, err := MkdirTemp("b", parent, "sort-")
	require.NoError(t, err)

	// A bundle that is done removes its own directory.
	require.NoError(t, Remove("a", a2))
	require.NoDirExists(t, a2)

	Abandon("a")
	require.NoDirExists(t, a1)
	require.DirExists(t, b, "another run's directory was removed")
	_, err = MkdirTemp("a", parent, "sort-")
	require.ErrorContains(t, err, "job run a has ended")
	entries, err := os.ReadDir(parent)
	require.NoError(t, err)
	require.Len(t, entries, 1)

	// A worker on its way out removes what every run still has.
	RemoveAll()
	require.NoDirExists(t, b)
	_, err = MkdirTemp("b", parent, "sort-")
	require.Error(t, err)
}
