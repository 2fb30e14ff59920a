package input

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestPathsMaybeInside(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	require.NoError(t, os.MkdirAll(filepath.Join(out, "sub"), 0o755))
	write := func(p string) {
		require.NoError(t, os.WriteFile(p, []byte("a b\n"), 0o644))
	}
	write(filepath.Join(out, "sub", "part-00000"))
	write(filepath.Join(dir, "in.txt"))
	inputs := []string{filepath.Join(dir, "in.txt")}
	if linkable(t, dir) {
		// A link outside the output to a file inside it: its path is
		// outside, its file inside.
		require.NoError(t, os.Symlink(filepath.Join(out, "sub", "part-00000"), filepath.Join(dir, "link.txt")))
		inputs = append(inputs, filepath.Join(dir, "link.txt"))
	}
	files, err := Expand(inputs)
	require.NoError(t, err)
	want := []string{}
	if len(files) == 2 {
		want = []string{filepath.Join(dir, "link.txt")}
	}
	require.ElementsMatch(t, want, PathsMaybeInside(out, files))

	// An input inside, named by its path in the output.
	inner, err := Expand([]string{filepath.Join(out, "sub", "part-00000"), filepath.Join(dir, "in.txt")})
	require.NoError(t, err)
	require.Equal(t, []string{filepath.Join(out, "sub", "part-00000")}, PathsMaybeInside(out, inner))

	// A file whose identity is unknown is always checked.
	unknown := append([]File{}, files...)
	unknown[0].ID = FileID{}
	require.Contains(t, PathsMaybeInside(out, unknown), unknown[0].Path)

	// A missing output holds nothing.
	require.Empty(t, PathsMaybeInside(filepath.Join(dir, "missing"), files))
}

// linkable reports whether symbolic links can be made in dir (Windows
// needs a privilege for them).
func linkable(t *testing.T, dir string) bool {
	t.Helper()
	err := os.Symlink("x", filepath.Join(dir, ".probe"))
	os.Remove(filepath.Join(dir, ".probe"))
	return err == nil
}
