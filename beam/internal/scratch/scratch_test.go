package scratch

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sync/atomic"
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

// TestAbandonWhileABundleWrites: an abandoned bundle may go on spilling
// into its directory while the launcher removes it (a runner stops a
// bundle at its next element, not at once); the directory must be gone
// when Abandon returns, and stay gone. The removal races the writer, so
// the test plays many rounds (a removal in place lost within the first
// few).
func TestAbandonWhileABundleWrites(t *testing.T) {
	for round := range 50 {
		parent := t.TempDir()
		run := fmt.Sprintf("%s-%d", filepath.Dir(parent), round) // a new run each time
		dir, err := MkdirTemp(run, parent, "sort-")
		require.NoError(t, err)
		var written atomic.Int64
		stop := make(chan struct{})
		done := make(chan struct{})
		go func() {
			defer close(done)
			for i := range 100_000 { // bounded, should the removal never win
				select {
				case <-stop:
					return
				default:
				}
				if os.WriteFile(filepath.Join(dir, fmt.Sprintf("run-%05d", i)), []byte("x"), 0o644) == nil {
					written.Add(1)
				}
			}
		}()
		for written.Load() < 20 {
			runtime.Gosched()
		}
		Abandon(run)
		_, statErr := os.Stat(dir)
		close(stop)
		<-done
		require.ErrorIs(t, statErr, fs.ErrNotExist, "round %d: the abandoned directory is still there", round)
		entries, err := os.ReadDir(parent)
		require.NoError(t, err)
		require.Empty(t, entries, "round %d: the abandoned bundle's files are left", round)
	}
}
