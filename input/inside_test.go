package input

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/quern-dev/quern/internal/testenv"
)

// insideFixture makes dir/out/sub/part-00000 and dir/in.txt and returns
// the output directory.
func insideFixture(t *testing.T, dir string) string {
	t.Helper()
	out := filepath.Join(dir, "out")
	require.NoError(t, os.MkdirAll(filepath.Join(out, "sub"), 0o755))
	for _, p := range []string{filepath.Join(out, "sub", "part-00000"), filepath.Join(dir, "in.txt")} {
		require.NoError(t, os.WriteFile(p, []byte("a b\n"), 0o644))
	}
	return out
}

func TestPathsMaybeInside(t *testing.T) {
	dir := t.TempDir()
	out := insideFixture(t, dir)
	part, in := filepath.Join(out, "sub", "part-00000"), filepath.Join(dir, "in.txt")

	// A file outside is not checked; one inside, named by its path in the
	// output, is.
	files, err := Expand([]string{part, in})
	require.NoError(t, err)
	require.Equal(t, []string{part}, PathsMaybeInside(out, files))

	// A file whose identity is unknown is always checked.
	unknown := append([]File{}, files...)
	for i := range unknown {
		unknown[i].ID = FileID{}
	}
	require.ElementsMatch(t, []string{part, in}, PathsMaybeInside(out, unknown))

	// A missing output holds nothing.
	require.Empty(t, PathsMaybeInside(filepath.Join(dir, "missing"), files))
}

// A link outside the output to a file inside it: its path is outside, its
// file inside, so it is checked.
func TestPathsMaybeInsideLinkIntoOutput(t *testing.T) {
	dir := t.TempDir()
	out := insideFixture(t, dir)
	link := filepath.Join(dir, "link.txt")
	testenv.Symlink(t, filepath.Join(out, "sub", "part-00000"), link)
	files, err := Expand([]string{filepath.Join(dir, "in.txt"), link})
	require.NoError(t, err)
	require.Equal(t, []string{link}, PathsMaybeInside(out, files))
}
