package exec_test

import (
	"context"
	"errors"
	"testing"

	"github.com/quern-dev/quern/exec"
	"github.com/stretchr/testify/require"
)

// On Windows the pool refuses to start, saying why; mapreduce then uses its
// inline engine.
func TestStartPoolUnsupported(t *testing.T) {
	require.False(t, exec.Supported)
	require.False(t, exec.IsWorker())
	_, err := exec.StartPool(context.Background(), exec.PoolOptions{Workers: 1})
	require.ErrorIs(t, err, errors.ErrUnsupported)
	require.Contains(t, err.Error(), "inline engine")
}
