//go:build unix

package lockfile_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/quern-dev/quern/internal/lockfile"
)

// On Unix Release removes the lock file; on Windows it stays (an open file
// cannot be removed there) and the next Acquire reuses it.
func TestReleaseRemovesFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.lock")
	l, err := lockfile.Acquire(path)
	require.NoError(t, err)
	l.Release()
	_, err = os.Stat(path)
	require.True(t, errors.Is(err, os.ErrNotExist), "Release removes the file")
}
