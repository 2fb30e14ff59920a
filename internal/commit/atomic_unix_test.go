//go:build unix

package commit

import (
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

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
	err := WriteFileAtomic(path, make([]byte, 1000))
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
