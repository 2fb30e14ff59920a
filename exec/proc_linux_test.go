package exec

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseVmHWM(t *testing.T) {
	status := []byte("Name:\tx\nVmPeak:\t  1000 kB\nVmHWM:\t    2048 kB\nVmRSS:\t 10 kB\n")
	require.Equal(t, int64(2048<<10), parseVmHWM(status))
	require.Zero(t, parseVmHWM([]byte("Name:\tx\n")))
	require.Zero(t, parseVmHWM([]byte("VmHWM:\tlots kB\n")))
	require.Positive(t, peakRSS())
}
