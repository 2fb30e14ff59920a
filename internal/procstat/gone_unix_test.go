//go:build unix

package procstat

import (
	"os"
	"os/exec"
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestGone: a running child is not gone; once it has exited it is, as a
// zombie where /proc tells one (Linux) and once reaped everywhere.
func TestGone(t *testing.T) {
	require.False(t, Gone(os.Getpid()), "this process")
	cmd := exec.Command("sleep", "60")
	require.NoError(t, cmd.Start())
	defer func() { cmd.Process.Kill(); cmd.Wait() }() // not 60 s, should a check fail
	pid := cmd.Process.Pid
	require.False(t, Gone(pid), "a sleeping child")
	require.NoError(t, cmd.Process.Kill())
	if runtime.GOOS == "linux" {
		for !Gone(pid) { // a zombie until the Wait below
			runtime.Gosched()
		}
		fields, err := Fields(pid)
		require.NoError(t, err, "the child was reaped: the zombie case went untested")
		require.True(t, Exited(fields[0]))
	}
	cmd.Wait()
	require.True(t, Gone(pid), "a reaped child")
}
