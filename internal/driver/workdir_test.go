//go:build unix

package driver

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestTombstoneIsRemovedByCleanStale: a work directory that a dying driver
// left half removed, its "driver" file already gone, is still found and
// removed, because it was renamed to a tombstone before removal began.
func TestTombstoneIsRemovedByCleanStale(t *testing.T) {
	tmp := t.TempDir()
	dir, err := createWorkDir(tmp, "wc")
	require.NoError(t, err)
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "map-00000", "attempt-1"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "map-00000", "attempt-1", "run-0000.run"), []byte("x"), 0o644))

	// What removeWorkDir does, cut short after the marker went.
	tomb := dir + tombstoneTag
	require.NoError(t, os.Rename(dir, tomb))
	require.NoError(t, os.Remove(filepath.Join(tomb, "driver")))

	removed, err := CleanStale(tmp)
	require.NoError(t, err)
	require.Equal(t, []string{tomb}, removed)
	left, _ := os.ReadDir(tmp)
	require.Empty(t, left)

	// And the whole removal leaves nothing.
	dir, err = createWorkDir(tmp, "wc")
	require.NoError(t, err)
	require.NoError(t, removeWorkDir(dir))
	left, _ = os.ReadDir(tmp)
	require.Empty(t, left)
}
