package driver

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/quern-dev/quern/internal/procstat"
)

// TestCleanStaleRemovesAZombiesWorkDirectory: a driver killed under a
// parent that has not waited for it yet is a zombie, which has ended:
// CleanStale removes its work directory, and keeps a live driver's.
// (Counted as live, a zombie kept its directory, spills and all, for as
// long as nobody waited for it: for good under a container's first
// process that is no init.)
func TestCleanStaleRemovesAZombiesWorkDirectory(t *testing.T) {
	tmp := t.TempDir()
	mine, err := createWorkDir(tmp, "wc")
	require.NoError(t, err)

	child := exec.Command("sleep", "600")
	require.NoError(t, child.Start())
	pid := child.Process.Pid
	id, err := processID(pid)
	require.NoError(t, err, "a running process is live")
	dead := filepath.Join(tmpName(tmp), workPrefix+"killed")
	require.NoError(t, os.MkdirAll(filepath.Join(dead, "map-00000"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dead, "driver"), []byte(id), 0o644))

	// Killed and not waited for: a zombie until the deferred Wait.
	require.NoError(t, child.Process.Kill())
	defer child.Wait()
	for procState(t, pid) != "Z" {
		time.Sleep(time.Millisecond)
	}
	_, err = processID(pid)
	require.Error(t, err, "a zombie counts as live")

	removed, err := CleanStale(tmp)
	require.NoError(t, err)
	require.Equal(t, []string{dead}, removed)
	require.DirExists(t, mine.Path, "a live driver's work directory was removed")
	require.NoError(t, mine.Remove())
}

// procState is the state letter of process pid.
func procState(t *testing.T, pid int) string {
	t.Helper()
	fields, err := procstat.Fields(pid)
	require.NoError(t, err)
	return fields[0]
}
