package beamtest

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/quern-dev/quern/bench/gen"
)

// Generate writes size bytes of bench/gen's kind of data, from seed, to the
// file named name in dir and returns its path.
func Generate(t testing.TB, dir, name, kind string, size int64, seed uint64) string {
	t.Helper()
	path := filepath.Join(dir, name)
	f, err := os.Create(path)
	require.NoError(t, err)
	_, err = gen.Generate(kind, f, size, seed)
	require.NoError(t, err)
	require.NoError(t, f.Close())
	return path
}
