//go:build unix

package driver

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/quern-dev/quern/internal/lockfile"
)

// TestTombstoneIsRemovedByCleanStale: a work directory that a dying driver
// left half removed, its "driver" file already gone, is still found and
// removed, because it was renamed to a tombstone before removal began.
func TestTombstoneIsRemovedByCleanStale(t *testing.T) {
	tmp := t.TempDir()
	w, err := createWorkDir(tmp, "wc")
	require.NoError(t, err)
	w.lock.Release() // the driver died
	dir := w.Path
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "map-00000", "attempt-1"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "map-00000", "attempt-1", "run-0000.run"), []byte("x"), 0o644))

	// What WorkDir.Remove does, cut short after the marker went.
	tomb := dir + tombstoneTag
	require.NoError(t, os.Rename(dir, tomb))
	require.NoError(t, os.Remove(filepath.Join(tomb, "driver")))

	removed, err := CleanStale(tmp)
	require.NoError(t, err)
	require.Equal(t, []string{tomb}, removed)
	left, _ := os.ReadDir(tmp)
	require.Empty(t, left)

	// And the whole removal leaves nothing.
	w, err = createWorkDir(tmp, "wc")
	require.NoError(t, err)
	require.NoError(t, w.Remove())
	left, _ = os.ReadDir(tmp)
	require.Empty(t, left)
}

// TestLockedWorkDirIsLive: a work directory whose driver runs where its pid
// means nothing here (another container's PID namespace, another machine
// sharing the folder over NFS) is known live by its lock, and removed once
// the lock is free; the pid decides only for a directory without a lock
// file. The pid file here names a process that has ended, as a pid from
// elsewhere looks.
func TestLockedWorkDirIsLive(t *testing.T) {
	tmp := t.TempDir()
	owner := endedOwner(t)

	elsewhere := filepath.Join(tmp, workPrefix+"wc-elsewhere")
	require.NoError(t, os.Mkdir(elsewhere, 0o755))
	// Held through a descriptor of its own, as another process holds it.
	lock, err := lockfile.Acquire(filepath.Join(elsewhere, lockFile))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(elsewhere, ownerFile), []byte(owner), 0o644))
	// Made before work directories had locks, its driver gone.
	old := filepath.Join(tmp, workPrefix+"wc-old")
	require.NoError(t, os.Mkdir(old, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(old, ownerFile), []byte(owner), 0o644))

	removed, err := CleanStale(tmp)
	require.NoError(t, err)
	require.Equal(t, []string{old}, removed, "a work directory whose driver holds its lock was removed")
	require.DirExists(t, elsewhere)

	lock.Release() // its driver ends, or is killed
	removed, err = CleanStale(tmp)
	require.NoError(t, err)
	require.Equal(t, []string{elsewhere}, removed)
}

// TestKeptWorkDirIsLeftAtStartUp: a work directory kept for inspection, or
// for --resume (a pipeline's), is left by the clean-up every job does when
// it starts, and removed by an explicit CleanStale (quern clean) once its
// driver is gone.
func TestKeptWorkDirIsLeftAtStartUp(t *testing.T) {
	tmp := t.TempDir()
	w, err := createWorkDir(tmp, "wc")
	require.NoError(t, err)
	require.NoError(t, w.Keep())
	dir := w.Path
	// Its driver gone: the pid file rewritten to name an ended process.
	owner := endedOwner(t)
	require.NoError(t, os.WriteFile(filepath.Join(dir, ownerFile), []byte(owner), 0o644))

	// A pipeline's, held kept for --resume, its driver killed.
	pipeline := filepath.Join(tmp, workPrefix+"pipeline-wc-0123")
	require.NoError(t, os.Mkdir(pipeline, 0o755))
	p, err := HoldWorkDir(pipeline, true)
	require.NoError(t, err)
	p.lock.Release() // by its death
	require.NoError(t, os.WriteFile(filepath.Join(pipeline, ownerFile), []byte(owner), 0o644))

	removed, err := cleanStale(tmp, true)
	require.NoError(t, err)
	require.Empty(t, removed, "the next job removed a kept work directory")
	removed, err = CleanStale(tmp)
	require.NoError(t, err)
	require.ElementsMatch(t, []string{dir, pipeline}, removed)
}

// endedOwner returns what a work directory's pid file holds for a driver
// that has ended.
func endedOwner(t *testing.T) string {
	t.Helper()
	p := exec.Command("sleep", "60")
	require.NoError(t, p.Start())
	owner, err := processID(p.Process.Pid)
	require.NoError(t, err)
	require.NoError(t, p.Process.Kill())
	p.Wait()
	return owner
}

// TestWorkDirWithoutLocks: on a file system that takes no locks, a job
// still runs, its work directory told live or dead by its pid file alone.
func TestWorkDirWithoutLocks(t *testing.T) {
	defer func(acquire func(string) (*lockfile.Lock, error)) { acquireLock = acquire }(acquireLock)
	acquireLock = func(path string) (*lockfile.Lock, error) {
		return nil, fmt.Errorf("lock %s: %w", path, syscall.ENOLCK)
	}
	tmp := t.TempDir()
	w, err := createWorkDir(tmp, "wc")
	require.NoError(t, err, "a temp directory without locks refused the job")
	removed, err := CleanStale(tmp)
	require.NoError(t, err)
	require.Empty(t, removed, "a live driver's work directory was removed")
	require.NoError(t, os.WriteFile(filepath.Join(w.Path, ownerFile), []byte(endedOwner(t)), 0o644))
	removed, err = CleanStale(tmp)
	require.NoError(t, err)
	require.Equal(t, []string{w.Path}, removed)
}
