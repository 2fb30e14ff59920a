package procstat

import (
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestFieldsOfThisProcessAndAZombie(t *testing.T) {
	if runtime.GOOS != "linux" {
		_, err := Fields(os.Getpid())
		require.Error(t, err, "no /proc here, yet Fields read one")
		return
	}
	fields, err := Fields(os.Getpid())
	require.NoError(t, err)
	require.False(t, Exited(fields[0]), "this process has exited: state %s", fields[0])
	require.Equal(t, strconv.Itoa(os.Getppid()), fields[1], "the parent's pid")

	// A child that has exited and is not yet waited for is a zombie.
	cmd := exec.Command("/bin/sh", "-c", "exit 0")
	require.NoError(t, cmd.Start())
	defer cmd.Wait()
	for {
		fields, err := Fields(cmd.Process.Pid)
		require.NoError(t, err)
		if Exited(fields[0]) {
			require.Equal(t, "Z", fields[0])
			break
		}
		runtime.Gosched()
	}
	require.NoError(t, cmd.Wait())
	_, err = Fields(cmd.Process.Pid)
	require.True(t, errors.Is(err, fs.ErrNotExist), "a reaped process's stat: %v", err)
}

// TestParse: the fields resume after the command name's last ')', which
// may hold spaces and parentheses; a line without a name or a state is
// an error rather than a slice the caller would index out of range.
func TestParse(t *testing.T) {
	fields, err := parse(7, []byte("7 (my (odd) name) S 1 7 7 0\n"))
	require.NoError(t, err)
	require.Equal(t, []string{"S", "1", "7", "7", "0"}, fields)
	for _, bad := range []string{"7 my name S 1", "7 (name)", "7 (name)  \n"} {
		_, err := parse(7, []byte(bad))
		require.Error(t, err, "%q", bad)
	}
}
