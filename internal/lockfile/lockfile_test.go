package lockfile_test

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/quern-dev/quern/internal/lockfile"
)

// TestHelperHold is not a test: run as a child by TestLockDiesWithHolder, it
// takes the lock, says so on stdout and waits to be killed.
func TestHelperHold(t *testing.T) {
	path := os.Getenv("LOCKFILE_HOLD")
	if path == "" {
		t.Skip("helper process only")
	}
	l, err := lockfile.Acquire(path)
	if err != nil {
		os.Stdout.WriteString("error: " + err.Error() + "\n")
		os.Exit(1)
	}
	defer l.Release()
	os.Stdout.WriteString("held\n")
	var b [1]byte
	os.Stdin.Read(b[:]) // until the parent closes stdin or kills us
}

// TestSecondAcquireFailsUntilReleased checks the lock, and that Release
// removes its file on every platform: a lock file left free says its
// holder was killed, which a released holder may not have been.
func TestSecondAcquireFailsUntilReleased(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.lock")
	a, err := lockfile.Acquire(path)
	require.NoError(t, err)
	_, err = lockfile.Acquire(path)
	require.ErrorIs(t, err, lockfile.ErrLocked)
	require.Contains(t, err.Error(), "pid "+strconv.Itoa(os.Getpid()))
	a.Release()
	_, err = os.Stat(path)
	require.ErrorIs(t, err, fs.ErrNotExist, "Release left the lock file")
	b, err := lockfile.Acquire(path)
	require.NoError(t, err)
	b.Release()
	_, err = os.Stat(path)
	require.ErrorIs(t, err, fs.ErrNotExist, "the second Release left the lock file")
}

// TestAcquireWaitsOutAProbe: a lock taken for a moment, as another
// process's Held takes it, makes Acquire try again rather than fail;
// one held on fails it once the waits are spent.
func TestAcquireWaitsOutAProbe(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.lock")
	probe, err := lockfile.Acquire(path)
	require.NoError(t, err)
	waits := 0
	restore := lockfile.SetWaitForProbe(func(attempt int) bool {
		waits++
		probe.Release() // the probe's check ends
		return attempt < 3
	})
	defer restore()
	l, err := lockfile.Acquire(path)
	require.NoError(t, err, "Acquire while a probe held the lock")
	require.Equal(t, 1, waits)

	waits = 0
	_, err = lockfile.Acquire(path) // l holds it, and goes on holding it
	require.ErrorIs(t, err, lockfile.ErrLocked)
	require.Equal(t, 4, waits, "attempts before giving up")
	l.Release()
}

func TestLockDiesWithHolder(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.lock")
	_, err := lockfile.Held(path)
	require.ErrorIs(t, err, fs.ErrNotExist, "Held of no lock file")
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperHold$")
	cmd.Env = append(os.Environ(), "LOCKFILE_HOLD="+path)
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	defer stdin.Close()
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	var buf [5]byte
	_, err = out.Read(buf[:])
	require.NoError(t, err)
	require.Equal(t, "held\n", string(buf[:]))

	_, err = lockfile.Acquire(path)
	require.ErrorIs(t, err, lockfile.ErrLocked, "another process holds it")
	held, err := lockfile.Held(path)
	require.NoError(t, err)
	require.True(t, held, "Held of a lock another process holds")
	require.NoError(t, cmd.Process.Kill())
	_ = cmd.Wait()

	held, err = lockfile.Held(path)
	require.NoError(t, err)
	require.False(t, held, "Held of a lock whose holder was killed")
	l, err := lockfile.Acquire(path) // the file is still there, the lock is not
	require.NoError(t, err, "a killed holder leaves no lock")
	l.Release()
}
