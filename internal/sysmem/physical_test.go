//go:build darwin || windows

package sysmem

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestAvailableIsTheMachinesMemory: without cgroups, what a process may use
// is the machine's memory, which every machine Quern runs on has more of
// than 256 MiB and less than a petabyte (a wrong struct size or field
// reads 0 or garbage). Under Wine it is the Linux host's.
func TestAvailableIsTheMachinesMemory(t *testing.T) {
	got, from, ok := Available()
	require.True(t, ok, "the machine's memory is not known")
	t.Logf("the machine's memory: %d bytes", got)
	require.Equal(t, "the machine's memory", from)
	require.Greater(t, got, int64(256<<20))
	require.Less(t, got, int64(1<<50))
}
