//go:build unix

package mapreduce

import (
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
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

// TestHelperWriteAtomicOverLimit is not a test: TestWriteFileAtomicKeepsOld
// runs it in a child process whose file size limit makes the write fail
// part-way, as a full disk does.
func TestHelperWriteAtomicOverLimit(t *testing.T) {
	path := os.Getenv("QUERN_TEST_ATOMIC_PATH")
	if path == "" {
		t.Skip("helper process only")
	}
	// A write past RLIMIT_FSIZE fails with EFBIG once SIGXFSZ is ignored.
	signal.Ignore(unix.SIGXFSZ)
	unix.Setrlimit(unix.RLIMIT_FSIZE, &unix.Rlimit{Cur: 100, Max: 100})
	err := writeFileAtomic(path, make([]byte, 1000))
	if err == nil {
		os.Exit(3)
	}
	os.Exit(0)
}

// TestWriteFileAtomicKeepsOld: a summary write that fails part-way (disk
// full) leaves the old file whole, not a truncated one, and no temporary.
func TestWriteFileAtomicKeepsOld(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "_job.json")
	require.NoError(t, os.WriteFile(path, []byte(`{"old": true}`), 0o644))
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperWriteAtomicOverLimit$")
	cmd.Env = append(os.Environ(), "QUERN_TEST_ATOMIC_PATH="+path)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	got, err := os.ReadFile(path)
	require.NoError(t, err)
	require.JSONEq(t, `{"old": true}`, string(got))
	left, _ := os.ReadDir(dir)
	require.Len(t, left, 1, "no temporary file is left")
}
